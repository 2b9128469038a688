// The deployment examples users copy (deploy/compose.yaml, deploy/kubernetes/ha-agent-sidecar.yaml)
// are valid, offline: the compose file against the Compose Specification's JSON schema (vendored in
// test/fixtures/schemas, source noted beside it) with ajv; the Kubernetes documents against the Pod and
// ConfigMap schemas of the kubernetes-models package (generated from Kubernetes' OpenAPI); and the
// ha-agent config each one embeds passes our own schema (src/config/schema.ts). Plus the sidecar
// settings the README promises: host network, every capability dropped but NET_RAW and NET_ADMIN,
// a grace period longer than the agent's hand-over, readiness on /readyz.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot } from '../support/fixtures.js';

const root = repoRoot();
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** Compose's duration strings ("10s", "1m30s") in seconds. */
function seconds(d: string): number {
  let total = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms|us)/g)) total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 }[unit as 'h'] ?? 0);
  return total;
}

function assertConfigValid(yamlText: string, where: string): void {
  const r = parseConfig(yamlText);
  assert.ok(r.ok, `${where}: the embedded ha-agent config is invalid: ${r.ok ? '' : JSON.stringify(r.errors)}`);
  assert.deepEqual(r.warnings, [], `${where}: warnings`);
}

test('deploy/compose.yaml: valid against the compose-spec schema; the sidecar settings; the embedded config passes our schema', () => {
  const schema = JSON.parse(read('test/fixtures/schemas/compose-spec.json')) as Record<string, unknown>;
  // It names draft-07 by an https URL that ajv does not know; draft-07 is ajv's own default.
  assert.match(String(schema.$schema), /draft-07/);
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  const doc = parse(read('deploy/compose.yaml')) as Record<string, any>;
  assert.ok(validate(doc), `compose.yaml: ${ajv.errorsText(validate.errors)}`);

  // The schema does catch a typo (additionalProperties: false), so the check above means something.
  const typo = structuredClone(doc);
  typo.services['ha-agent'].cap_adds = typo.services['ha-agent'].cap_add;
  assert.equal(validate(typo), false, 'a misspelt key must be rejected');

  const agent = doc.services['ha-agent'];
  assert.equal(agent.network_mode, 'host');
  assert.deepEqual(agent.cap_drop, ['ALL']);
  assert.deepEqual([...agent.cap_add].sort(), ['NET_ADMIN', 'NET_RAW']);
  assert.equal(agent.stop_signal, 'SIGTERM');
  assert.ok(seconds(agent.stop_grace_period) >= 5, `stop_grace_period ${agent.stop_grace_period} leaves the hand-over too little time`);
  assert.ok('web' in agent.depends_on, 'ha-agent depends on web, so compose stops the agent first');
  assertConfigValid(agent.environment.HA_AGENT_CONFIG, 'compose.yaml services.ha-agent.environment.HA_AGENT_CONFIG');
});

test('deploy/kubernetes/ha-agent-sidecar.yaml: valid Pod and ConfigMap; hostNetwork, two capabilities, preStop and grace period, /readyz; the config passes our schema', () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/ha-agent-sidecar.yaml')).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Record<string, any>;
  });
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  const podDoc = docs.find((d) => d.kind === 'Pod');
  assert.ok(cm && podDoc, 'a ConfigMap and a Pod');
  assert.equal(docs.length, 2);
  new ConfigMap(cm as never).validate(); // throws with the path of the first problem
  const pod = new Pod(podDoc as never);
  pod.validate();

  // The schema check is not vacuous: a wrong type is refused.
  const bad = structuredClone(podDoc);
  bad.spec.terminationGracePeriodSeconds = '30s';
  assert.throws(() => new Pod(bad as never).validate(), /terminationGracePeriodSeconds/);

  const spec = pod.spec!;
  assert.equal(spec.hostNetwork, true);
  const agent = spec.containers.find((c) => c.name === 'ha-agent')!;
  assert.ok(agent, 'a container named ha-agent');
  assert.deepEqual(agent.securityContext?.capabilities?.drop, ['ALL']);
  assert.deepEqual([...(agent.securityContext?.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
  assert.equal(agent.securityContext?.runAsUser, 0, 'UID 0: Kubernetes grants a non-root container no ambient capabilities');
  assert.equal(agent.securityContext?.privileged ?? false, false);
  assert.equal(agent.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(agent.readinessProbe?.httpGet?.host, '127.0.0.1', 'status.listen is loopback; with hostNetwork the kubelet reaches it there');
  assert.equal(agent.livenessProbe?.httpGet?.path, '/healthz');

  // Stopping: the app keeps serving (preStop) while the agent hands over, all inside the grace period.
  const app = spec.containers.find((c) => c.name !== 'ha-agent')!;
  const preStop = app.lifecycle?.preStop?.sleep?.seconds ?? 0;
  assert.ok(preStop >= 2, 'the app container sleeps in preStop while the VIP moves');
  assert.ok((spec.terminationGracePeriodSeconds ?? 30) >= preStop + 5, 'grace period longer than preStop plus the hand-over');

  // The agent reads the mounted ConfigMap, and that config is valid.
  const mount = agent.volumeMounts?.find((m) => m.name === 'config');
  assert.equal(mount?.mountPath, '/etc/ha-agent');
  const volume = spec.volumes?.find((v) => v.name === 'config');
  assert.equal(volume?.configMap?.name, cm.metadata.name);
  assert.ok(agent.args?.join(' ').includes('/etc/ha-agent/config.yaml'));
  assertConfigValid(cm.data['config.yaml'], 'ConfigMap data.config.yaml');
});

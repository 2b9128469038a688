// Status surface: HTTP server (/status, /metrics, /healthz), metrics text, table, `ha-agent status`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startStatusServer, parseListen, type StatusServer } from '../../src/status/server.js';
import { renderMetrics } from '../../src/status/metrics.js';
import { parsePrometheusText, sampleValue } from '../support/prom-text.js';
import { renderStatusTable, formatUptime } from '../../src/status/table.js';
import { statusCommand } from '../../src/commands/status.js';
import type { InstanceStatusJson, StatusJson } from '../../src/status/types.js';
import { AGENT_VERSION } from '../../src/version.js';

const log = pino({ level: 'silent' });

function instance(over: Partial<InstanceStatusJson> = {}): InstanceStatusJson {
  return {
    state: 'MASTER',
    priority: 150,
    effectivePriority: 140,
    master: '198.51.100.1',
    vips: ['198.51.100.100/24'],
    provider: {
      type: 'garp',
      ownership: 'held',
      vips: { '198.51.100.100/24': 'held' },
      lastError: null,
      lastErrorClass: null,
      fix: null,
      fault: null,
      desired: 'held',
      busy: false,
      lastChange: '2025-01-01T00:00:05.000Z',
      counters: { acquireOk: 1, acquireFail: 2, releaseOk: 0, releaseFail: 0, verifyFail: 3, drift: 1 },
    },
    interface: 'eth0',
    vrid: 51,
    version: 3,
    mode: 'multicast',
    advertIntervalCs: 100,
    masterPriority: 150,
    since: '2025-01-01T00:00:04.000Z',
    faultReason: null,
    faults: {},
    counters: { advertsSent: 42, advertSendErrors: 0, advertsReceived: 7, transitions: 2, becameMaster: 1, dropped: { 'bad-checksum': 3, 'vrid-mismatch': 1 } },
    ...over,
  };
}

let current: StatusJson = {
  version: '0.1.0',
  pid: 4242,
  startedAt: '2025-01-01T00:00:00.000Z',
  uptimeSeconds: 3725,
  instances: {
    VI_1: instance(),
    VI_2: instance({
      state: 'BACKUP',
      priority: 100,
      effectivePriority: 100,
      vips: ['198.51.100.101/24', '198.51.100.102/24'],
      provider: { ...instance().provider, type: 'aws', ownership: 'not-held', desired: 'released', lastError: 'release: throttled\nretrying' },
    }),
  },
};

let server: StatusServer;
let base: string;

before(async () => {
  server = await startStatusServer({ listen: '127.0.0.1:0', getStatus: () => current, log });
  base = `http://${server.address}`;
});
after(async () => {
  await server.close();
});

function capture() {
  const o = { out: '', err: '' };
  return { o, io: { stdout: { write: (s: string) => (o.out += s) }, stderr: { write: (s: string) => (o.err += s) } } };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function closedPort(): Promise<string> {
  const s = await startStatusServer({ listen: '127.0.0.1:0', getStatus: () => current, log });
  await s.close();
  return s.address;
}

test('server reports the address it listens on', () => {
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(server.address, '127.0.0.1:0');
});

test('GET /status serves the contract JSON', async () => {
  const res = await fetch(`${base}/status`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const date = res.headers.get('date') ?? '';
  assert.match(date, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/, 'one Date header, IMF-fixdate (written by the server itself)');
  assert.ok(Math.abs(Date.parse(date) - Date.now()) < 5_000, date);
  const body = (await res.json()) as StatusJson;
  assert.deepEqual(body, current);
  const vi1 = body.instances.VI_1!;
  for (const k of ['state', 'priority', 'effectivePriority', 'master', 'vips', 'provider'] as const) assert.ok(k in vi1, k);
  assert.deepEqual(
    { type: vi1.provider.type, ownership: vi1.provider.ownership, lastError: vi1.provider.lastError },
    { type: 'garp', ownership: 'held', lastError: null },
  );
});

test('GET /metrics is valid exposition text with the expected series', async () => {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusText(await res.text());
  const expect: [string, Record<string, string>, number][] = [
    ['ha_agent_instance_state', { instance: 'VI_1', state: 'MASTER' }, 1],
    ['ha_agent_instance_state', { instance: 'VI_1', state: 'BACKUP' }, 0],
    ['ha_agent_instance_state', { instance: 'VI_2', state: 'BACKUP' }, 1],
    ['ha_agent_priority', { instance: 'VI_1' }, 150],
    ['ha_agent_effective_priority', { instance: 'VI_1' }, 140],
    ['ha_agent_adverts_sent_total', { instance: 'VI_1' }, 42],
    ['ha_agent_adverts_received_total', { instance: 'VI_1' }, 7],
    ['ha_agent_packets_dropped_total', { instance: 'VI_1', reason: 'bad-checksum' }, 3],
    ['ha_agent_packets_dropped_total', { instance: 'VI_1', reason: 'vrid-mismatch' }, 1],
    ['ha_agent_became_master_total', { instance: 'VI_1' }, 1],
    ['ha_agent_provider_ownership', { instance: 'VI_1', ownership: 'held' }, 1],
    ['ha_agent_provider_ownership', { instance: 'VI_1', ownership: 'unknown' }, 0],
    ['ha_agent_provider_ownership', { instance: 'VI_2', ownership: 'not-held' }, 1],
    ['ha_agent_provider_failures_total', { instance: 'VI_1', op: 'acquire' }, 2],
    ['ha_agent_provider_failures_total', { instance: 'VI_1', op: 'verify' }, 3],
    ['ha_agent_provider_drift_total', { instance: 'VI_1' }, 1],
    ['ha_agent_build_info', { version: AGENT_VERSION, node: process.version }, 1],
    ['ha_agent_uptime_seconds', {}, 3725],
  ];
  for (const [name, labels, v] of expect) assert.equal(sampleValue(families, name, labels), v, `${name} ${JSON.stringify(labels)}`);
  assert.equal(families.get('ha_agent_adverts_sent_total')?.type, 'counter');
  assert.equal(families.get('ha_agent_priority')?.type, 'gauge');
  for (const f of ['ha_agent_instance_state', 'ha_agent_provider_failures_total', 'ha_agent_packets_dropped_total']) assert.ok(families.get(f)?.help, f);
  // Process metrics come along (prom-client's, read at scrape time).
  for (const f of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_open_fds', 'nodejs_eventloop_lag_seconds']) assert.ok(families.has(f), f);
});

test('metrics escape label values', async () => {
  const s: StatusJson = { ...current, instances: { 'we"ird\\': instance({ counters: { ...instance().counters, dropped: { 'x\ny': 5 } } }) } };
  const text = await renderMetrics(s);
  assert.ok(text.includes('ha_agent_packets_dropped_total{instance="we\\"ird\\\\",reason="x\\ny"} 5'), text);
  assert.ok(!text.split('\n').some((l) => l === 'y"} 5'), 'no raw newline inside a label');
  assert.equal(sampleValue(parsePrometheusText(text), 'ha_agent_packets_dropped_total', { instance: 'we"ird\\', reason: 'x\ny' }), 5);
});

test('metrics: fault sources per instance and drops nobody on the interface serves', async () => {
  const s: StatusJson = {
    ...current,
    instances: { VI_1: instance({ state: 'FAULT', faults: { link: 'interface eth0 is down', provider: 'cannot take the VIPs' } }) },
    interfaces: { eth0: { dropped: { 'unknown-vrid': 7, truncated: 1 }, socket: {}, offload: null } },
  };
  const lines = (await renderMetrics(s)).split('\n');
  assert.deepEqual(lines.filter((l) => l.startsWith('ha_agent_fault{')), ['ha_agent_fault{instance="VI_1",source="link"} 1', 'ha_agent_fault{instance="VI_1",source="provider"} 1']);
  assert.deepEqual(lines.filter((l) => l.startsWith('ha_agent_interface_dropped_total{')), [
    'ha_agent_interface_dropped_total{interface="eth0",reason="truncated"} 1',
    'ha_agent_interface_dropped_total{interface="eth0",reason="unknown-vrid"} 7',
  ]);
});

test('GET /healthz: 200 ok unless an instance is FAULT, then 503 naming it', async () => {
  let res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok\n');
  const saved = current;
  current = { ...saved, instances: { ...saved.instances, VI_2: instance({ state: 'FAULT', faultReason: 'interface eth1 down' }) } };
  try {
    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'fault: VI_2\n');
  } finally {
    current = saved;
  }
});

test('unknown paths get 404, other methods 405', async () => {
  let res = await fetch(`${base}/nope`);
  assert.equal(res.status, 404);
  await res.text();
  res = await fetch(`${base}/status`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  await res.text();
  res = await fetch(`${base}/status?pretty=1`);
  assert.equal(res.status, 200, 'query strings are ignored');
  await res.text();
});

test('a getStatus that throws gives a 500, not a crash', async () => {
  const s = await startStatusServer({
    listen: '127.0.0.1:0',
    getStatus: () => {
      throw new Error('bug');
    },
    log,
  });
  try {
    const res = await fetch(`http://${s.address}/status`);
    assert.equal(res.status, 500);
    await res.text();
  } finally {
    await s.close();
  }
});

test('listen conflicts and bad addresses reject with one clear line', async () => {
  await assert.rejects(startStatusServer({ listen: server.address, getStatus: () => current, log }), {
    message: `status server cannot listen on ${server.address}: address in use — set status.listen to another port or "off"`,
  });
  await assert.rejects(startStatusServer({ listen: 'localhost', getStatus: () => current, log }), /cannot listen on localhost: expected "host:port"/);
  assert.deepEqual(parseListen('[::1]:9721'), { host: '::1', port: 9721 });
  assert.deepEqual(parseListen('0.0.0.0:9721'), { host: '0.0.0.0', port: 9721 });
  assert.equal(parseListen('127.0.0.1:70000'), null);
  assert.equal(parseListen('::1:9721'), null);
});

test('table: aligned columns, every instance, uptime line', () => {
  const text = renderStatusTable(current);
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /^INSTANCE\s+STATE\s+PRIO\/EFF\s+MASTER\s+VIPS\s+PROVIDER\s+LAST ERROR$/);
  assert.match(lines[1]!, /^VI_1\s+MASTER\s+150\/140\s+198\.51\.100\.1\s+198\.51\.100\.100\/24\s+garp held\s+-$/);
  assert.match(lines[2]!, /^VI_2\s+BACKUP\s+100\/100\s+198\.51\.100\.1\s+198\.51\.100\.101\/24,198\.51\.100\.102\/24\s+aws not-held\s+release: throttled retrying$/);
  const col = (h: string) => lines[0]!.indexOf(h);
  for (const h of ['STATE', 'MASTER', 'PROVIDER', 'LAST ERROR']) {
    assert.equal(lines[1]!.slice(col(h)).startsWith(' '), false, `${h} column aligned in row 1`);
    assert.equal(lines[1]![col(h) - 1], ' ');
    assert.equal(lines[2]![col(h) - 1], ' ');
  }
  assert.equal(lines.at(-1), 'ha-agent 0.1.0, pid 4242, up 1h 2m 5s (since 2025-01-01T00:00:00.000Z)');
  assert.equal(formatUptime(2 * 86400 + 5), '2d 0h 0m 5s');
  assert.equal(formatUptime(59), '59s');
  const busy = renderStatusTable({
    ...current,
    instances: { X: instance({ state: 'FAULT', faultReason: 'eth0 down', provider: { ...instance().provider, ownership: 'unknown', busy: true } }) },
  });
  assert.match(busy, /FAULT \(eth0 down\)/);
  assert.match(busy, /garp unknown \(want held\) \(busy\)/);
});

test('ha-agent status prints the table from a live agent', async () => {
  const { o, io } = capture();
  assert.equal(await statusCommand({ url: base, json: false }, io), 0);
  assert.equal(o.out, renderStatusTable(current));
  assert.equal(o.err, '');
});

test('ha-agent status --json prints the JSON, pretty', async () => {
  const { o, io } = capture();
  assert.equal(await statusCommand({ url: `${base}/`, json: true }, io), 0);
  assert.deepEqual(JSON.parse(o.out), current);
  assert.ok(o.out.startsWith('{\n  "version"'));
});

test('ha-agent status against a closed port: one clear line, exit 1', async () => {
  const addr = await closedPort();
  const { o, io } = capture();
  assert.equal(await statusCommand({ url: `http://${addr}`, json: false }, io), 1);
  assert.equal(o.out, '');
  assert.equal(
    o.err,
    `no ha-agent answering at http://${addr} (connection refused) — is \`ha-agent run\` running, and is status.listen set to this address?\n`,
  );
});

test('ha-agent status: a bad --url is a usage error (2); a non-agent answer is 1', async () => {
  let c = capture();
  assert.equal(await statusCommand({ url: 'not a url', json: false }, c.io), 2);
  assert.match(c.o.err, /^invalid --url "not a url"/);
  c = capture();
  assert.equal(await statusCommand({ url: `${base}/nope`, json: false }, c.io), 1);
  assert.match(c.o.err, /answered HTTP 404/);
});

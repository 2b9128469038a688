// Where the config comes from (src/config/source.ts): --config wins; else HA_AGENT_CONFIG, an absolute
// path or the YAML itself; else /etc/ha-agent/config.yaml. An inline document loads through
// loadConfigFile("env:HA_AGENT_CONFIG") with the same checks as a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FILE, defaultConfigSource, readEnvSource } from '../../src/config/source.js';
import { loadConfigFile } from '../../src/config/load.js';
import { checkConfigCommand } from '../../src/commands/check-config.js';

const YAML = 'instances:\n  VI_1:\n    interface: eth0\n    vrid: 51\n    priority: 100\n    vips: [198.51.100.100/24]\n    provider: { type: garp }\n';

test('defaultConfigSource: unset or blank → the file; an absolute path → that path; anything else → the variable itself', () => {
  assert.equal(defaultConfigSource({}), CONFIG_FILE);
  assert.equal(defaultConfigSource({ HA_AGENT_CONFIG: '  \n' }), CONFIG_FILE);
  assert.equal(defaultConfigSource({ HA_AGENT_CONFIG: '/run/config/ha.yaml\n' }), '/run/config/ha.yaml');
  assert.equal(defaultConfigSource({ HA_AGENT_CONFIG: YAML }), 'env:HA_AGENT_CONFIG');
  assert.equal(defaultConfigSource({ HA_AGENT_CONFIG: '{instances: {}}' }), 'env:HA_AGENT_CONFIG');
});

test('readEnvSource: null for a file path; the text; an issue naming the variable when empty or neither YAML nor a path', () => {
  assert.equal(readEnvSource('/etc/ha-agent/config.yaml', {}), null);
  assert.deepEqual(readEnvSource('env:HA_AGENT_CONFIG', { HA_AGENT_CONFIG: YAML }), { text: YAML });
  const empty = readEnvSource('env:HA_AGENT_CONFIG', {});
  assert.ok(empty && 'issue' in empty && /HA_AGENT_CONFIG is not set/.test(empty.issue.message));
  const relative = readEnvSource('env:HA_AGENT_CONFIG', { HA_AGENT_CONFIG: 'config.yaml' });
  assert.ok(relative && 'issue' in relative);
  assert.match(relative.issue.message, /neither a YAML config nor an absolute path/);
  assert.match(relative.issue.fix, /absolute file path/);
});

test('loadConfigFile("env:HA_AGENT_CONFIG") validates the inline YAML like a file, errors with their path', async () => {
  const saved = process.env.HA_AGENT_CONFIG;
  try {
    process.env.HA_AGENT_CONFIG = YAML;
    const ok = await loadConfigFile('env:HA_AGENT_CONFIG');
    assert.ok(ok.ok);
    assert.deepEqual(Object.keys(ok.config.instances), ['VI_1']);
    process.env.HA_AGENT_CONFIG = YAML.replace('vrid: 51', 'vrid: 300');
    const bad = await loadConfigFile('env:HA_AGENT_CONFIG');
    assert.ok(!bad.ok);
    assert.equal(bad.errors[0]?.path, 'instances.VI_1.vrid');
    // check-config names the source the way it names a file: "env:HA_AGENT_CONFIG:4:11: error: …"
    let err = '';
    const out = { stdout: { write: () => true }, stderr: { write: (s: string) => ((err += s), true) } } as never;
    assert.equal(await checkConfigCommand('env:HA_AGENT_CONFIG', out), 1);
    assert.match(err, /^env:HA_AGENT_CONFIG:4:\d+: error: instances\.VI_1\.vrid/m);
  } finally {
    if (saved === undefined) delete process.env.HA_AGENT_CONFIG;
    else process.env.HA_AGENT_CONFIG = saved;
  }
});

test('an absolute path in HA_AGENT_CONFIG is read as a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-src-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, YAML);
    const r = await loadConfigFile(defaultConfigSource({ HA_AGENT_CONFIG: file }));
    assert.ok(r.ok);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

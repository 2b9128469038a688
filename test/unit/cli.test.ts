// The `ha-agent` command line as a user meets it: exit codes (0 ok, 1 failure, 2 usage), messages
// with a fix, and nothing started when the config is bad. Commands that touch an interface run in a
// lab namespace (test/netns/provider-cli.test.ts); nothing here opens a socket on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = join(process.cwd(), 'dist', 'src', 'cli.js');

function ha(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'ha-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--version and --help exit 0', () => {
  const v = ha('--version');
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  const h = ha('--help');
  assert.equal(h.code, 0);
  for (const cmd of ['run', 'check-config', 'status', 'events', 'provider', 'demo']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
});

test('usage errors exit 2', () => {
  assert.equal(ha('no-such-command').code, 2);
  assert.equal(ha('provider', 'test').code, 2, 'missing <type>');
  assert.equal(ha('run', '--no-such-flag').code, 2);
});

test('check-config: the example passes, a broken file lists every error with a fix', () => {
  const ok = ha('check-config', '--config', 'config.example.yaml');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /config OK/);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'instances:\n  VI_1:\n    interface: eth0\n    vrid: 300\n    prioirty: 100\n    vips: [198.51.100.100/24]\n');
  const r = ha('check-config', '--config', bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /instances\.VI_1\.vrid: .*— fix: /);
  assert.match(r.stderr, /prioirty.*did you mean "priority"/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('run with a bad config exits 1 and starts nothing', () => {
  const bad = join(dir, 'bad-run.yaml');
  writeFileSync(bad, 'instances:\n  VI_1:\n    interface: eth0\n    vrid: 51\n    version: 2\n    advertInterval: 0.5\n    vips: [198.51.100.100/24]\n');
  const r = ha('run', '--config', bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /advertInterval/);
  assert.match(r.stderr, /nothing started/);
  assert.equal(r.stdout, '', 'no agent log line: nothing started');
});

test('run with a missing config file says so', () => {
  const r = ha('run', '--config', join(dir, 'nope.yaml'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nope\.yaml/);
});

test('status with no agent answering: exit 1 and a hint', () => {
  const r = ha('status', '--url', 'http://127.0.0.1:9');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no ha-agent answering/);
});

test('status --json through a pipe is never cut short by the exit (200 instances, ~0.5 MB)', async () => {
  const { createServer } = await import('node:http');
  const { spawn } = await import('node:child_process');
  const inst = { state: 'MASTER', priority: 150, vips: ['198.51.100.100/24'], note: 'x'.repeat(2_000) };
  const body = JSON.stringify({ version: '0', pid: 1, startedAt: '', uptimeSeconds: 1, instances: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`VI_${i}`, inst])) });
  const server = createServer((_req, res) => res.end(body)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  try {
    // spawn (not spawnSync): the child's stdout is a socket pair, asynchronous on the child's side.
    const child = spawn(process.execPath, [cli, 'status', '--json', '--url', `http://127.0.0.1:${port}`]);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise((r) => child.on('close', r));
    assert.equal(code, 0);
    assert.ok(out.length > body.length, `got ${out.length} bytes of a ${body.length}-byte status`);
    assert.equal(Object.keys((JSON.parse(out) as { instances: object }).instances).length, 200);
  } finally {
    server.close();
  }
});

// `ha-agent reload` and the pid file behind it (src/reload/pid-file.ts, src/commands/reload.ts):
// written atomically, removed only while it names us, and every way of not finding the agent
// (no file, garbage, a dead pid, a pid that is not ha-agent) is a clear message and exit 1 — a
// recycled pid never gets the SIGHUP. The signal itself reaching a live ha-agent is covered by the
// netns reload suite (test/netns/reload.test.ts); here, a child whose argv names cli.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { readPidFile, removePidFile, writePidFile } from '../../src/reload/pid-file.js';
import { reloadCommand } from '../../src/commands/reload.js';
import { parseRunArgs } from '../../src/commands/run-args.js';

function out() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d) => (o += d));
  stderr.on('data', (d) => (e += d));
  return { io: { stdout, stderr }, text: () => ({ out: o, err: e }) };
}

test('pid file: written as "<pid>\\n", removed only while it names us', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-pid-'));
  try {
    const f = join(dir, 'ha-agent.pid');
    writePidFile(f, 4242);
    assert.equal(readFileSync(f, 'utf8'), '4242\n');
    removePidFile(f, 1234);
    assert.ok(existsSync(f), 'another pid does not remove it');
    removePidFile(f, 4242);
    assert.ok(!existsSync(f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload: no file, garbage, a dead pid, a pid that is not ha-agent → exit 1 with why; nothing signalled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-pid-'));
  try {
    const f = join(dir, 'ha-agent.pid');
    const cases: [string | null, RegExp][] = [
      [null, /no pid file at .*is `ha-agent run` running/],
      ['hello\n', /does not hold a process id/],
      ['999999999\n', /not running \(a stale pid file/],
      [`${process.pid}\n`, /which is not ha-agent/], // the test runner: its argv has no cli.js
    ];
    for (const [content, why] of cases) {
      if (content === null) rmSync(f, { force: true });
      else writeFileSync(f, content);
      const o = out();
      assert.equal(await reloadCommand({ pidFile: f, wait: false, url: 'http://127.0.0.1:9' }, o.io), 1);
      assert.match(o.text().err, why);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload: SIGHUP reaches the process the pid file names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-pid-'));
  // A stand-in agent: argv names cli.js, prints "HUP" on SIGHUP.
  const stub = join(dir, 'cli.js');
  writeFileSync(stub, "process.on('SIGHUP', () => { console.log('HUP'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);\n");
  const child = spawn(process.execPath, [stub], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let seen = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (seen += d));
    while (!seen.includes('up')) await new Promise((r) => setTimeout(r, 20));
    const f = join(dir, 'ha-agent.pid');
    writePidFile(f, child.pid!);
    const o = out();
    assert.equal(await reloadCommand({ pidFile: f, wait: false, url: 'http://127.0.0.1:9' }, o.io), 0);
    assert.match(o.text().out, new RegExp(`sent SIGHUP to ha-agent \\(pid ${child.pid}\\)`));
    await new Promise<void>((r) => child.once('exit', () => r()));
    assert.match(seen, /HUP/);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: --pid-file on the fast path', () => {
  assert.deepEqual(parseRunArgs(['run', '--config', '/a.yaml', '--pid-file', '/tmp/x.pid']), { config: '/a.yaml', pidFile: '/tmp/x.pid' });
  assert.deepEqual(parseRunArgs(['run', '--pid-file=/tmp/y.pid']), { config: '/etc/ha-agent/config.yaml', pidFile: '/tmp/y.pid' });
});

// The agent's stdout logger (src/log.ts) against a stdout that does not move: logging never stops the
// event loop, the buffer is bounded (drops are counted), and the process still exits — with its own
// exit code — instead of hanging in the exit flush. And against a stdout that does move: every line
// logged right before process.exit() arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fullPipe, jsonLines } from '../support/full-pipe.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'log-child.js');
/** Generous: only a hung child gets here (and then the test fails saying so). */
const WATCHDOG_MS = 30_000;

function runChild(mode: string, stdout: number | 'pipe'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, mode], { stdio: ['ignore', stdout, 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    p.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const dog = setTimeout(() => {
      killed = true;
      p.kill('SIGKILL');
    }, WATCHDOG_MS);
    p.on('close', (code, signal) => {
      clearTimeout(dog);
      resolve({ code, signal, stdout: out, stderr: err, killed });
    });
  });
}

test('stdout is a full pipe nobody reads: the loop keeps running, drops are counted, the exit is not held', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-log-'));
  const pipe = fullPipe(dir);
  try {
    const r = await runChild('stalled', pipe.writeFd);
    assert.equal(r.killed, false, `the child hung (killed after ${WATCHDOG_MS} ms): a stalled stdout held the process\n${r.stderr}`);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 3, `the child's own exit code must survive the bounded flush\n${r.stderr}`);
    const report = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { ticks: number; droppedLines: number };
    assert.ok(report.ticks > 0, `timers ran while stdout was stalled: ${r.stderr}`);
    assert.ok(report.droppedLines > 0, `more than STDOUT_BUFFER_MAX was logged: the excess is dropped and counted (${r.stderr})`);
    // Nothing got through: the pipe still holds exactly the filler it was given.
    const held = pipe.drain();
    assert.equal(held.length, pipe.filled);
    assert.deepEqual(jsonLines(held), []);
  } finally {
    pipe.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lines logged right before process.exit() all reach a reader', async () => {
  const r = await runChild('burst', 'pipe');
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines.length, 2000, `got ${lines.length} lines`);
  assert.deepEqual(
    lines.map((l) => l.n),
    Array.from({ length: 2000 }, (_, n) => n),
    'in order',
  );
});

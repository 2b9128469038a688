// The V8 flag `ha-agent run` sets on itself (src/v8-tuning.ts) must really take effect although it is
// set at run time, after V8 started: checked in a fresh node process, against a control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const tuning = pathToFileURL(join(process.cwd(), 'dist', 'src', 'v8-tuning.js')).href;

function node(script: string, tuned: boolean, flags: string[] = []): string {
  const setup = tuned ? `(await import(${JSON.stringify(tuning)})).tuneV8ForAgent();` : '';
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', setup + script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('no function is ever optimised by TurboFan (--max-opt=1)', () => {
  const hot = 'function hot(a, b) { return (a * 31 + b) | 0; } let x = 0; for (let i = 0; i < 5e6; i++) x = hot(x, i); console.log(x);';
  const optimised = (out: string) => /completed optimizing .*<JSFunction hot /.test(out);
  assert.ok(optimised(node(hot, false, ['--trace-opt'])), 'control: without the tuning, hot() is optimised');
  assert.ok(!optimised(node(hot, true, ['--trace-opt'])), 'with the tuning, hot() stays in Ignition/Sparkplug');
});

test('the young generation stays at its initial size (--semi-space-growth-factor=1)', () => {
  // Objects that survive scavenges make V8 grow the semi-spaces; with the tuning they stay as they began.
  const grow =
    "import { getHeapSpaceStatistics } from 'node:v8'; const keep = []; for (let i = 0; i < 400000; i++) keep.push({ i, s: 'x' + i });" +
    " console.log(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);";
  const control = Number(node(grow, false).trim());
  const tuned = Number(node(grow, true).trim());
  assert.ok(tuned > 0 && control > 0, `sizes: control ${control}, tuned ${tuned}`);
  assert.ok(tuned < control, `new space: control ${control} B, tuned ${tuned} B (tuned must stay smaller)`);
});

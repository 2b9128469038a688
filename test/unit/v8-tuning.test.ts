// The V8 flags `ha-agent run` sets on itself (src/v8-tuning.ts) must really take effect although they
// are set at run time, after V8 started: checked in a fresh node process each, against a control.
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

test('the young generation does not grow (--semi-space-growth-factor=1)', () => {
  const churn =
    "import { getHeapSpaceStatistics } from 'node:v8'; let keep = []; for (let i = 0; i < 2e6; i++) { keep.push({ i, b: [i] }); if (keep.length > 20000) keep = []; }" +
    " console.log(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);";
  const control = Number(node(churn, false));
  const tuned = Number(node(churn, true));
  assert.ok(tuned <= 2 * 1024 * 1024, `new space ${tuned} B: stays at its initial 2 × 1 MiB semi-spaces`);
  assert.ok(control > tuned, `control: without the tuning the new space grows (${control} B)`);
});

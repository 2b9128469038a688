// ~300 seeded, mutated configs (bench/fuzz/config-mutate.ts) through check-config in-process, exactly
// as the CLI calls it (bench/fuzz/config.ts): no exception, no stack trace, every error line names a
// path and a fix, nothing reported as "a bug in ha-agent". The seed is printed; FUZZ_SEED replays.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { checkInProcess, configSeeds, judge } from '../../bench/fuzz/config.js';
import { configCase } from '../../bench/fuzz/config-mutate.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const CASES = 300;

test('the judge recognises what counts as a finding', () => {
  const f = '/x.yaml';
  assert.deepEqual(judge(f, 1, '', `${f}:3:1: error: instances.VI_1.vrid: must be 1..255 — fix: write a number\nconfig INVALID: 1 error(s) in ${f}\n`), []);
  assert.deepEqual(judge(f, 1, '', `${f}: error: : no path — fix: x\n`), ['error-without-path']);
  assert.deepEqual(judge(f, 1, '', `${f}: error: a.b: no fix\n`), ['error-without-fix']);
  assert.ok(judge(f, 1, '', `${f}: error: (root): could not be checked: boom — fix: this is a bug in ha-agent\n`).includes('loader-caught-exception'));
  assert.ok(judge(f, 1, '', 'TypeError: x\n    at f (/a/b.js:1:2)\n').includes('stack-trace'));
  assert.deepEqual(judge(f, 0, 'config OK: 1 instance(s) (VI_1)\n', ''), []);
  assert.ok(judge(f, 1, '', `${f}: error: a: Cannot read properties of undefined — fix: x\n`).includes('javascript-error-text'));
});

test('the config mutator is deterministic', () => {
  const seeds = configSeeds();
  assert.deepEqual(configCase(SEED, 7, seeds), configCase(SEED, 7, seeds));
  assert.notDeepEqual(configCase(SEED, 7, seeds).text, configCase(SEED, 8, seeds).text);
});

// The 10⁴-config run (seed 20261203) found these: YAML thousands of levels deep made the parser throw
// a RangeError, reported as "could not be checked … a bug in ha-agent". Now a (yaml) error.
test('regressions from the 10⁴ run: deep nesting is a (yaml) error, not a caught exception', async () => {
  const seeds = configSeeds();
  const dir = mkdtempSync(join(tmpdir(), 'ha-config-fuzz-regress-'));
  try {
    for (const i of [1205, 1455, 2119, 4118]) {
      const file = join(dir, `case-${i}.yaml`);
      writeFileSync(file, configCase(20261203, i, seeds).text);
      const v = await checkInProcess(file);
      assert.deepEqual(v.problems, [], `case ${i}: ${v.stderr}`);
      assert.equal(v.code, 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${CASES} mutated configs through check-config: every error has a path, no stack trace`, { timeout: 120_000 }, async () => {
  console.log(`config fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const seeds = configSeeds();
  const dir = mkdtempSync(join(tmpdir(), 'ha-config-fuzz-test-'));
  const file = join(dir, 'case.yaml');
  let invalid = 0;
  try {
    for (let i = 0; i < CASES; i++) {
      const c = configCase(SEED, i, seeds);
      writeFileSync(file, c.text);
      const v = await checkInProcess(file);
      assert.deepEqual(v.problems, [], `case ${i} (${c.seed}; ${c.mutations.join(', ')}):\n${v.stdout}${v.stderr}`);
      if (v.code === 1) invalid++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(invalid > CASES / 2, `most mutations make the config invalid (${invalid} of ${CASES})`);
});

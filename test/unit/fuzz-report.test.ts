// The fuzz report (bench/fuzz/report.ts) and the README section it maintains: placed right after the
// Benchmarks section's end marker, replaced in place on the next run, the Benchmarks section untouched.
import assert from 'node:assert/strict';
import test from 'node:test';
import { README_END, README_START, replaceReadmeSection } from '../../bench/report.js';
import { FUZZ_END, FUZZ_START, renderFuzzReport, updateFuzzReadme, type FuzzResults } from '../../bench/fuzz/report.js';

const results = (date: string): FuzzResults => ({
  date,
  startedAt: `${date}T01:00:00.000Z`,
  finishedAt: `${date}T01:03:00.000Z`,
  quick: true,
  seed: 7,
  host: { cpus: 2, loadavgStart: '0.1 0.1 0.1', loadavgEnd: '0.2 0.2 0.2', node: 'v20', kernel: '6', keepalived: '2.2.7' },
  config: {
    ok: true,
    seconds: 30,
    data: { seed: 7, cases: 10, valid: 1, invalid: 9, errorLines: 20, findings: [], byProblem: {}, byMutation: {}, cli: { cases: 2, same: 2, differences: [] }, msMedian: 1, msMax: 9, seconds: 30 },
  },
  flood: { ok: false, error: 'no keepalived\nmore', seconds: 1 },
});

const README = `# x\n\nintro\n\n## Benchmarks\n\n${README_START}\n\nbench tables\n\n${README_END}\n\n## Next\n\ntext\n`;

test('the Fuzzing section goes right after the Benchmarks section, and is replaced in place', () => {
  const once = updateFuzzReadme(README, results('2026-12-03'), 'bench/results/2026-12-03-fuzz-quick');
  assert.ok(once.indexOf(FUZZ_START) > once.indexOf(README_END));
  assert.ok(once.indexOf(FUZZ_END) < once.indexOf('## Next'));
  assert.match(once, /## Fuzzing\n\n<!-- fuzz:start/);
  assert.ok(once.includes('bench tables'));
  assert.ok(once.includes('(bench/results/2026-12-03-fuzz-quick/results.json)'));
  const twice = updateFuzzReadme(once, results('2026-12-04'), 'bench/results/2026-12-04-fuzz-quick');
  assert.equal(twice.split(FUZZ_START).length, 2);
  assert.equal(twice.split('## Fuzzing').length, 2);
  assert.ok(twice.includes('**2026-12-04**') && !twice.includes('**2026-12-03**'));
  assert.equal(twice.slice(0, twice.indexOf(README_END)), README.slice(0, README.indexOf(README_END)));
});

test('replaceReadmeSection appends at the end when the anchor is missing', () => {
  const out = replaceReadmeSection('# y\n', { start: '<!-- a -->', end: '<!-- b -->', heading: 'A', after: '<!-- nowhere -->' }, 'body');
  assert.equal(out, '# y\n\n## A\n\n<!-- a -->\n\nbody\n\n<!-- b -->\n');
});

test('the report shows each part, or why it is missing', () => {
  const text = renderFuzzReport(results('2026-12-03'));
  assert.match(text, /_packets: not run\._/);
  assert.match(text, /\| 10 \| 1 \/ 9 \| 20 \| 0 \| 2 \/ 2 \|/);
  assert.match(text, /_flood: failed — no keepalived_/);
});

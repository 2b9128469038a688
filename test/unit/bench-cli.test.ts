// The command line the bench orchestrators share (bench/cli.ts): the usage text built from a spec (to
// the letter), the defaults, --only lists (spec order, empty items, errors), values given as the next
// argument or `--name=VALUE`, unknown options and missing values, --help winning over everything else,
// an extra option's check; and the results directory (default name, a partial re-run keeping the
// earlier results.json, results.json and README.md as written) in a temporary directory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishResults, parseCli, resultsDir, saveResults, usage, writeReport, type CliSpec } from '../../bench/cli.js';
import { rerunsText, resultsHeader } from '../../bench/host.js';

// A made-up orchestrator (the real specs live in the run.ts files, whose --help output is the check).
const DEMO: CliSpec<'alpha' | 'beta' | 'gamma'> = {
  parts: ['alpha', 'beta', 'gamma'],
  suffix: '-demo',
  section: 'Demo',
  quick: 'a short run',
  command: 'demo',
  rootFor: 'a test',
  script: 'dist/bench/demo/run.js',
  needs: 'root; nothing else',
  extra: [
    { name: 'seed', arg: 'N', help: 'the seed', check: (v) => (Number.isInteger(Number(v)) ? null : '--seed: an integer') },
    { name: 'render', arg: 'DIR', help: 'redo DIR' },
  ],
};

describe('bench cli: usage', () => {
  it('is the common options, then the extras, in 18-column fields', () => {
    assert.equal(
      usage(DEMO),
      [
        'usage: node dist/bench/demo/run.js [options]   (root; nothing else)',
        '  --quick           a short run',
        '  --only LIST       some of alpha,beta,gamma (default all)',
        '  --out DIR         results directory (default bench/results/<YYYY-MM-DD>-demo[-quick])',
        "  --no-readme       do not rewrite the README's Demo section",
        '  --seed N          the seed',
        '  --render DIR      redo DIR',
      ].join('\n'),
    );
  });

  it('has no extra lines without extras', () => {
    const { extra: _, ...plain } = DEMO;
    assert.equal(usage(plain).split('\n').length, 5);
  });
});

describe('bench cli: parseCli', () => {
  it('defaults to every part, the default directory, the README rewritten', () => {
    assert.deepEqual(parseCli(DEMO, []), { help: false, quick: false, only: ['alpha', 'beta', 'gamma'], someParts: false, out: null, readme: true, extra: {} });
  });

  it('reads every option, as the next argument or --name=VALUE', () => {
    const o = parseCli(DEMO, ['--quick', '--only', 'gamma,alpha', '--out=/tmp/x', '--no-readme', '--seed', '42']);
    assert.deepEqual(o, { help: false, quick: true, only: ['alpha', 'gamma'], someParts: true, out: '/tmp/x', readme: false, extra: { seed: '42' } });
    assert.deepEqual(parseCli(DEMO, ['--only=beta', '--seed=-3']).extra, { seed: '-3' });
    assert.deepEqual(parseCli(DEMO, ['--only=beta', '--render', 'x']).only, ['beta']);
  });

  it('keeps --only in the spec order, drops empty items and duplicates; all of them is not "some parts"', () => {
    const o = parseCli(DEMO, ['--only', 'gamma,,beta,gamma,alpha,']);
    assert.deepEqual(o.only, ['alpha', 'beta', 'gamma']);
    assert.equal(o.someParts, false);
  });

  it('refuses unknown parts and an empty --only, naming the parts', () => {
    assert.throws(() => parseCli(DEMO, ['--only', 'alpha,nope,x']), { message: '--only: alpha, beta, gamma; got nope, x' });
    assert.throws(() => parseCli(DEMO, ['--only', '']), { message: '--only: alpha, beta, gamma; got nothing' });
    assert.throws(() => parseCli(DEMO, ['--only', ',']), { message: '--only: alpha, beta, gamma; got nothing' });
  });

  it('refuses unknown options and arguments with the usage, and options with a value they do not take', () => {
    for (const a of ['--bogus', 'alpha', '-q', '--quick=1', '--no-readme=no', '--renderer']) {
      assert.throws(() => parseCli(DEMO, [a, 'x']), { message: `unknown option ${a}\n${usage(DEMO)}` });
    }
  });

  it('refuses a value option at the end', () => {
    assert.throws(() => parseCli(DEMO, ['--out']), { message: '--out: needs DIR' });
    assert.throws(() => parseCli(DEMO, ['--quick', '--only']), { message: '--only: needs LIST' });
    assert.throws(() => parseCli(DEMO, ['--seed']), { message: '--seed: needs N' });
  });

  it("applies an extra's check", () => {
    assert.throws(() => parseCli(DEMO, ['--seed', '1.5']), { message: '--seed: an integer' });
    assert.throws(() => parseCli(DEMO, ['--seed=abc']), { message: '--seed: an integer' });
  });

  it('--help / -h anywhere wins over everything else, errors included', () => {
    for (const h of ['--help', '-h']) {
      for (const argv of [[h], ['--quick', h], ['--bogus', h], [h, '--only', 'nope'], ['--seed', '1.5', h], ['--out', h]]) {
        assert.deepEqual(parseCli(DEMO, argv), { ...parseCli(DEMO, []), help: true }, argv.join(' '));
      }
    }
  });
});

describe('bench cli: results directory', () => {
  it('--out is created; a partial run gets the earlier results.json, a full run does not', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const out = join(root, 'a', 'b');
    const started = new Date('2026-12-03T08:00:00Z');
    const first = resultsDir<{ seed: number }>(DEMO, parseCli(DEMO, ['--out', out]), started);
    assert.deepEqual(first, { dir: out, earlier: null });
    const r = { ...resultsHeader(started, false), seed: 7 };
    saveResults(out, r);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), r);
    assert.ok(readFileSync(join(out, 'results.json'), 'utf8').startsWith('{\n "date": "2026-12-03",'));
    assert.deepEqual(resultsDir(DEMO, parseCli(DEMO, ['--out', out, '--only', 'beta']), started).earlier, r);
    assert.equal(resultsDir(DEMO, parseCli(DEMO, ['--out', out]), started).earlier, null);
  });

  it('finishResults stamps the end; writeReport writes DIR/README.md (the repository README untouched without an update)', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const r = resultsHeader(new Date('2026-12-03T08:00:00Z'), true);
    finishResults(r);
    assert.ok(Date.parse(r.finishedAt) >= Date.parse(r.startedAt));
    assert.match(r.host.loadavgEnd, /^\d+\.\d+ \d+\.\d+ \d+\.\d+$/);
    writeFileSync(join(dir, 'README.md'), 'old');
    writeReport(dir, '# report', null);
    assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), '# report\n');
  });

  it('parts run again into a directory keep the first run\'s header and are recorded as reruns, which the reports name', () => {
    const first = resultsHeader(new Date('2026-12-03T06:00:00Z'), false);
    finishResults(first);
    const again = resultsHeader(new Date('2026-12-03T08:00:00Z'), false, first, ['jitter']);
    assert.deepEqual([again.startedAt, again.finishedAt, again.host], [first.startedAt, first.finishedAt, first.host], 'the first run\'s times and load');
    assert.equal(again.reruns?.length, 1);
    assert.deepEqual([again.reruns![0]!.parts, again.reruns![0]!.startedAt, again.reruns![0]!.finishedAt], [['jitter'], '2026-12-03T08:00:00.000Z', '']);
    finishResults(again);
    assert.equal(again.finishedAt, first.finishedAt, 'the first run\'s end is kept');
    assert.ok(again.reruns![0]!.finishedAt !== '' && /^\d/.test(again.reruns![0]!.loadavgEnd), 'the rerun is stamped');
    assert.equal(resultsHeader(new Date('2026-12-03T09:00:00Z'), false, again, ['cost']).reruns?.length, 2, 'reruns accumulate');
    assert.equal(resultsHeader(new Date('2026-12-03T09:00:00Z'), true, again, ['cost']).reruns, undefined, 'a quick run into full results starts afresh');
    assert.equal(rerunsText(first), '');
    assert.match(rerunsText(again), /^ Run again later, on the code of then: jitter at 2026-12-03T08:00:00\.000Z–\S+ \(load average [\d. ]+ → [\d. ]+\); the other parts are from the first run\.$/);
  });

  it('the default directory is bench/results/<date><suffix>[-quick]', (t) => {
    // In a scratch working directory: the default is relative to it.
    const o = parseCli(DEMO, ['--quick']);
    const name = join('bench', 'results', '2026-12-03-demo-quick');
    const cwd = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    t.after(() => rmSync(cwd, { recursive: true, force: true }));
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      assert.equal(resultsDir(DEMO, o, new Date('2026-12-03T23:59:00Z')).dir, name);
      assert.equal(resultsDir({ ...DEMO, suffix: '' }, parseCli(DEMO, []), new Date('2026-12-03T00:00:00Z')).dir, join('bench', 'results', '2026-12-03'));
    } finally {
      process.chdir(prev);
    }
  });
});

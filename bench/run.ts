// `npm run bench`: every benchmark part, one after the other, into bench/results/<YYYY-MM-DD>/
// (bench/results/<YYYY-MM-DD>-quick/ with --quick): results.json (the raw data of every part),
// README.md (the tables: bench/report.ts) and PNG charts (bench/charts.ts); then the README's
// Benchmarks section is rewritten from them. Not a test: nothing here asserts.
//
// Each part is its own script, run as a child with --json (its progress goes to stderr):
//   failover  bench/failover.ts   kill -9 / SIGTERM, v2 1 s / v3 0.1 s, multicast / unicast (10 runs each; quick 1)
//   cost      bench/cost.ts       N = 1, 16, 64, 200 at 1 s and 0.1 s (settle 12 s, 20 s window; quick 2 s, 5 s)
//   jitter    bench/jitter.ts     10 ms adverts, idle / cpu / gc / cpu+gc (60 s windows; quick 5 s)
//   cloud     bench/cloud.ts, bench/alibaba.ts (5 runs, 120 s steady; quick 1 / 2 runs, 30 / 60 s steady)
// A part that fails is recorded with its error and the others still run. With --only, the parts not
// re-run are kept from the directory's results.json (if any). Timings on a quiet 2-core machine, quick:
// ~5 min failover, ~4 min cost, ~1 min jitter, ~4 min cloud; full: about 1.5 h.
//
// Run as root: `npm run bench [-- --quick] [-- --only failover,cost,jitter,cloud] [-- --out DIR]
// [-- --no-readme]`; `--render DIR` redoes the report, the charts and the README from DIR/results.json.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { chartSpecs, renderPng } from './charts.js';
import { renderReport, updateReadme, type BenchResults, type Part } from './report.js';
import { earlierResults, loadavg, resultsHeader } from './host.js';

const PARTS = ['failover', 'cost', 'jitter', 'cloud'] as const;
type PartName = (typeof PARTS)[number];

interface Options {
  quick: boolean;
  only: PartName[];
  out: string | null;
  readme: boolean;
  render: string | null;
}

function usage(): string {
  return [
    'usage: node dist/bench/run.js [options]   (root; keepalived, tcpdump, tshark, ping; /usr/bin/aws for the AWS comparison)',
    '  --quick           fewer runs, shorter windows (a few minutes per part): checks that everything works',
    `  --only LIST       some of ${PARTS.join(',')} (default all)`,
    '  --out DIR         results directory (default bench/results/<YYYY-MM-DD>[-quick])',
    "  --no-readme       do not rewrite the README's Benchmarks section",
    '  --render DIR      only redo DIR/README.md, the charts and the README from DIR/results.json',
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, only: [...PARTS], out: null, readme: true, render: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only') {
      const want = (argv[++i] ?? '').split(',');
      const bad = want.filter((w) => !(PARTS as readonly string[]).includes(w));
      if (bad.length) throw new Error(`--only: ${PARTS.join(', ')}; got ${bad.join(', ')}`);
      o.only = PARTS.filter((p) => want.includes(p));
    } else if (a === '--out') o.out = argv[++i] ?? null;
    else if (a === '--no-readme') o.readme = false;
    else if (a === '--render') o.render = argv[++i] ?? null;
    else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${usage()}`);
  }
  return o;
}

/** Runs `node dist/bench/<script>.js args… --json`; its stderr is passed through (and its tail kept for the error). */
function runPart<T>(script: string, args: string[]): Promise<Part<T>> {
  const t0 = Date.now();
  const seconds = () => Math.round((Date.now() - t0) / 1000);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join('dist', 'bench', `${script}.js`), ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      process.stderr.write(d);
      errTail = (errTail + d).slice(-2000);
    });
    child.on('error', (e) => resolve({ ok: false, error: e.message, seconds: seconds() }));
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const last = errTail.trim().split('\n').filter(Boolean).slice(-3).join(' ');
        resolve({ ok: false, error: `${script} exited ${code ?? signal}: ${last}`, seconds: seconds() });
        return;
      }
      try {
        resolve({ ok: true, data: JSON.parse(out) as T, seconds: seconds() });
      } catch (e) {
        resolve({ ok: false, error: `${script}: unreadable JSON (${(e as Error).message})`, seconds: seconds() });
      }
    });
  });
}

const COST_SCENARIOS = ['1@1', '1@0.1', '16@1', '16@0.1', '64@1', '64@0.1', '200@1', '200@0.1'];

/** results/<dir>/README.md, the charts, and (unless told not to) the README's section. */
async function writeOutputs(r: BenchResults, dir: string, readme: boolean): Promise<void> {
  writeFileSync(join(dir, 'README.md'), renderReport(r) + '\n');
  for (const [file, spec] of Object.entries(chartSpecs(r))) {
    try {
      writeFileSync(join(dir, file), await renderPng(spec));
    } catch (e) {
      process.stderr.write(`bench: chart ${file} failed: ${(e as Error).message}\n`);
    }
  }
  if (readme) {
    const rel = relative(process.cwd(), dir).split('\\').join('/');
    writeFileSync('README.md', updateReadme(readFileSync('README.md', 'utf8'), r, rel));
  }
  process.stderr.write(`bench: wrote ${dir}/README.md, results.json and the charts${readme ? '; README.md updated' : ''}\n`);
  console.log(renderReport(r, dir));
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
  if (o.render) {
    const r = JSON.parse(readFileSync(join(o.render, 'results.json'), 'utf8')) as BenchResults;
    await writeOutputs(r, o.render, o.readme);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const started = new Date();
  const date = started.toISOString().slice(0, 10);
  const dir = o.out ?? join('bench', 'results', o.quick ? `${date}-quick` : date);
  mkdirSync(dir, { recursive: true });
  // --only into a directory that has results: the parts not re-run are kept.
  const prev = earlierResults<BenchResults>(dir, o.only.length < PARTS.length);
  const r: BenchResults = {
    ...(prev ?? {}),
    ...resultsHeader(started, o.quick),
  };
  const q = o.quick;
  const save = () => writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
  for (const part of o.only) {
    process.stderr.write(`\n=== bench: ${part}${q ? ' (quick)' : ''} ===\n`);
    if (part === 'failover') r.failover = await runPart('failover', ['--runs', q ? '1' : '10', '--no-rss']);
    else if (part === 'cost') r.cost = await runPart('cost', ['--scenario', COST_SCENARIOS.join(','), '--garp', 'none', ...(q ? ['--quick'] : ['--settle', '12', '--measure', '20'])]);
    else if (part === 'jitter') r.jitter = await runPart('jitter', q ? ['--window', '5', '--warmup', '1'] : ['--window', '60', '--warmup', '3']);
    else if (part === 'cloud') {
      r.cloudAws = await runPart('cloud', q ? ['--runs', '1', '--steady', '30'] : ['--runs', '5', '--steady', '120']);
      r.cloudAlibaba = await runPart('alibaba', q ? ['--runs', '2', '--steady', '60'] : ['--runs', '5', '--steady', '120']);
    }
    save();
  }
  r.finishedAt = new Date().toISOString();
  r.host.loadavgEnd = loadavg();
  save();
  await writeOutputs(r, dir, o.readme);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

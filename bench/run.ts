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
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSpecs, renderPng } from './charts.js';
import { cliOptions, finishResults, requireRoot, resultsDir, saveResults, writeReport, type CliSpec } from './cli.js';
import { renderReport, updateReadme, type BenchResults, type Part } from './report.js';
import { resultsHeader } from './host.js';

const CLI: CliSpec<'failover' | 'cost' | 'jitter' | 'cloud'> = {
  command: 'bench',
  script: 'dist/bench/run.js',
  needs: 'root; keepalived, tcpdump, tshark, ping; /usr/bin/aws for the AWS comparison',
  rootFor: 'network namespaces',
  parts: ['failover', 'cost', 'jitter', 'cloud'],
  quick: 'fewer runs, shorter windows (a few minutes per part): checks that everything works',
  section: 'Benchmarks',
  suffix: '',
  extra: [{ name: 'render', arg: 'DIR', help: 'only redo DIR/README.md, the charts and the README from DIR/results.json' }],
};

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
  writeReport(dir, renderReport(r), readme ? (text, rel) => updateReadme(text, r, rel) : null);
  for (const [file, spec] of Object.entries(chartSpecs(r))) {
    try {
      writeFileSync(join(dir, file), await renderPng(spec));
    } catch (e) {
      process.stderr.write(`bench: chart ${file} failed: ${(e as Error).message}\n`);
    }
  }
  process.stderr.write(`bench: wrote ${dir}/README.md, results.json and the charts${readme ? '; README.md updated' : ''}\n`);
  console.log(renderReport(r, dir));
}

async function main(): Promise<void> {
  const o = cliOptions(CLI);
  const render = o.extra.render;
  if (render) {
    const r = JSON.parse(readFileSync(join(render, 'results.json'), 'utf8')) as BenchResults;
    await writeOutputs(r, render, o.readme);
    return;
  }
  requireRoot(CLI);
  const started = new Date();
  // --only into a directory that has results: the parts not re-run are kept.
  const { dir, earlier } = resultsDir<BenchResults>(CLI, o, started);
  const r: BenchResults = {
    ...(earlier ?? {}),
    ...resultsHeader(started, o.quick, earlier, o.only),
  };
  const q = o.quick;
  const save = () => saveResults(dir, r);
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
  finishResults(r);
  save();
  await writeOutputs(r, dir, o.readme);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

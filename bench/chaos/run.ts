// `npm run chaos`: the chaos suite (issue #11). Every scenario runs ours and keepalived at the same
// time, each in a lab of its own (bench/chaos/lab.ts), so both see the same machine conditions; the
// loss scenario runs its three levels × both implementations at once (six labs). Prints one line per
// scenario (our figure, keepalived's figure) with the VIP holder timelines under it, writes
// bench/results/<YYYY-MM-DD>-chaos[-quick]/ (README.md: bench/chaos/report.ts; results.json), and
// rewrites the README's chaos section (after the Benchmarks section). Figures, not asserts.
//
// Scenarios: partition (partition.ts), loss (loss.ts), sigstop (sigstop.ts), flap (flap.ts), clock
// (clock.ts), stall (stall.ts). Full run ≈ 16 min (10 of them the loss windows); quick ≈ 4 min.
//
// Run as root: `npm run chaos [-- --quick] [-- --only a,b] [-- --out DIR] [-- --no-readme]`; with --only
// into a directory that has results, the scenarios not re-run are kept from its results.json.
// (needs keepalived, tcpdump, tshark, nft, libfaketime).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { earlierResults, loadavg, resultsHeader } from '../host.js';
import { IMPLS, observe, timelines, transitionsText, type Impl, type RunResult, type Scenario, type Variant } from './lab.js';
import { renderChaosReport, summaryLines, updateChaosReadme, type ChaosResults, type ImplRun, type ScenarioRun } from './report.js';
import { partition } from './partition.js';
import { loss } from './loss.js';
import { sigstop } from './sigstop.js';
import { flap } from './flap.js';
import { clock } from './clock.js';
import { stall } from './stall.js';

const SCENARIOS: Scenario[] = [partition, loss, sigstop, flap, clock, stall];

interface Options {
  quick: boolean;
  only: string[];
  out: string | null;
  readme: boolean;
}

function usage(): string {
  return [
    'usage: node dist/bench/chaos/run.js [options]   (root; keepalived, tcpdump, tshark, nft, libfaketime)',
    '  --quick           fewer cycles, 1 min loss windows (~4 min in all)',
    `  --only LIST       some of ${SCENARIOS.map((s) => s.name).join(',')} (default all)`,
    '  --out DIR         results directory (default bench/results/<YYYY-MM-DD>-chaos[-quick])',
    "  --no-readme       do not rewrite the README's chaos section",
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  const names = SCENARIOS.map((s) => s.name);
  const o: Options = { quick: false, only: names, out: null, readme: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only') {
      const want = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = want.filter((w) => !names.includes(w));
      if (bad.length || !want.length) throw new Error(`--only: ${names.join(', ')}; got ${bad.join(', ') || 'nothing'}`);
      o.only = names.filter((n) => want.includes(n));
    } else if (a === '--out') o.out = argv[++i] ?? null;
    else if (a === '--no-readme') o.readme = false;
    else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${usage()}`);
  }
  return o;
}

function implRun(v: Variant, r: RunResult): ImplRun {
  if (!r.ok) return { ok: false, error: r.error };
  const o = r.obs;
  const marks = Object.fromEntries(Object.entries(o.marks).map(([k, ts]) => [k, ts.map((t) => Math.round((t - o.t0) / 100) / 10)]));
  try {
    const t = timelines(o);
    return { ok: true, figure: v.figure(o), wireTimeline: t.wire, vipTimeline: t.vip, daemons: { a: transitionsText(o, 'a', 30), b: transitionsText(o, 'b', 30) }, marks };
  } catch (e) {
    return { ok: false, error: `figure: ${(e as Error).message}` };
  }
}

/** Both implementations of one variant, at the same time. */
async function runVariant(s: Scenario, v: Variant): Promise<ScenarioRun> {
  const t0 = Date.now();
  process.stderr.write(`chaos: ${v.label}: ours and keepalived…\n`);
  const [ours, ka] = await Promise.all(IMPLS.map((impl: Impl) => observe(impl, v.spec)));
  const run: ScenarioRun = { scenario: s.name, label: v.label, how: s.how, seconds: Math.round((Date.now() - t0) / 1000), runs: { ours: implRun(v, ours!), keepalived: implRun(v, ka!) } };
  process.stderr.write(`chaos: ${summaryLines({ scenarios: [run] } as ChaosResults)[0]}\n`);
  return run;
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`chaos: ${(e as Error).message}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('chaos: needs root (network namespaces); run as root');
    process.exit(1);
  }
  const r: ChaosResults = { ...resultsHeader(new Date(), o.quick), scenarios: [] };
  const dir = o.out ?? join('bench', 'results', `${r.date}-chaos${o.quick ? '-quick' : ''}`);
  mkdirSync(dir, { recursive: true });
  // --only into a directory that has results: the scenarios not re-run are kept, in suite order.
  const file = join(dir, 'results.json');
  const prev = earlierResults<ChaosResults>(dir, o.only.length < SCENARIOS.length);
  const done = new Map<string, ScenarioRun[]>();
  for (const x of prev?.scenarios ?? []) if (!o.only.includes(x.scenario)) done.set(x.scenario, [...(done.get(x.scenario) ?? []), x]);
  const save = () => {
    r.scenarios = SCENARIOS.flatMap((x) => done.get(x.name) ?? []);
    writeFileSync(file, JSON.stringify(r, null, 1) + '\n');
  };
  for (const s of SCENARIOS.filter((x) => o.only.includes(x.name))) {
    process.stderr.write(`\n=== chaos: ${s.name}${o.quick ? ' (quick)' : ''} ===\n`);
    const variants = s.variants(o.quick);
    const runs: ScenarioRun[] = [];
    if (s.allAtOnce) runs.push(...(await Promise.all(variants.map((v) => runVariant(s, v)))));
    else for (const v of variants) runs.push(await runVariant(s, v));
    done.set(s.name, runs);
    save();
  }
  r.finishedAt = new Date().toISOString();
  r.host.loadavgEnd = loadavg();
  save();
  writeFileSync(join(dir, 'README.md'), renderChaosReport(r) + '\n');
  if (o.readme) {
    const rel = relative(process.cwd(), dir).split('\\').join('/');
    writeFileSync('README.md', updateChaosReadme(readFileSync('README.md', 'utf8'), r, rel));
  }
  process.stderr.write(`\nchaos: wrote ${dir}/README.md and results.json${o.readme ? '; README.md updated' : ''}\n\n`);
  console.log(summaryLines(r).join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

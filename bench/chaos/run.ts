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
import { cliOptions, finishResults, requireRoot, resultsDir, saveResults, writeReport, type CliSpec } from '../cli.js';
import { resultsHeader } from '../host.js';
import { IMPLS, observe, timelines, transitionsText, type Impl, type RunResult, type Scenario, type Variant } from './lab.js';
import { renderChaosReport, summaryLines, updateChaosReadme, type ChaosResults, type ImplRun, type ScenarioRun } from './report.js';
import { partition } from './partition.js';
import { loss } from './loss.js';
import { sigstop } from './sigstop.js';
import { flap } from './flap.js';
import { clock } from './clock.js';
import { stall } from './stall.js';

const SCENARIOS: Scenario[] = [partition, loss, sigstop, flap, clock, stall];

const CLI: CliSpec<string> = {
  command: 'chaos',
  script: 'dist/bench/chaos/run.js',
  needs: 'root; keepalived, tcpdump, tshark, nft, libfaketime',
  rootFor: 'network namespaces',
  parts: SCENARIOS.map((s) => s.name),
  quick: 'fewer cycles, 1 min loss windows (~4 min in all)',
  section: 'chaos',
  suffix: '-chaos',
};

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
  const o = cliOptions(CLI);
  requireRoot(CLI);
  const started = new Date();
  // --only into a directory that has results: the scenarios not re-run are kept, in suite order.
  const { dir, earlier } = resultsDir<ChaosResults>(CLI, o, started);
  const r: ChaosResults = { ...resultsHeader(started, o.quick, earlier, o.only), scenarios: [] };
  const done = new Map<string, ScenarioRun[]>();
  for (const x of earlier?.scenarios ?? []) if (!o.only.includes(x.scenario)) done.set(x.scenario, [...(done.get(x.scenario) ?? []), x]);
  const save = () => {
    r.scenarios = SCENARIOS.flatMap((x) => done.get(x.name) ?? []);
    saveResults(dir, r);
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
  finishResults(r);
  save();
  writeReport(dir, renderChaosReport(r), o.readme ? (text, rel) => updateChaosReadme(text, r, rel) : null);
  process.stderr.write(`\nchaos: wrote ${dir}/README.md and results.json${o.readme ? '; README.md updated' : ''}\n\n`);
  console.log(summaryLines(r).join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// `npm run fuzz`: the fuzz parts, one after the other, into bench/results/<YYYY-MM-DD>-fuzz/
// (…-fuzz-quick/ with --quick): results.json (raw data) and README.md (bench/fuzz/report.ts); then the
// README's Fuzzing section (right after Benchmarks) is rewritten from them. Not a test: it records
// what it finds (test/netns/fuzz.test.ts and test/unit/config-fuzz.test.ts are the asserting runs).
//
//   packets  bench/fuzz/packets.ts  10⁶ mutated packets at a running agent (quick: 10⁵), 20 000/s
//   config   bench/fuzz/config.ts   10⁴ mutated configs through check-config (quick: 10³), 100 via the CLI
//   flood    bench/fuzz/flood.ts    10⁵ adverts/s for 20 s (quick: 10 s) at ours, then at keepalived
// A part that fails is recorded with its error and the others still run; with --only, the parts not
// re-run are kept from the directory's results.json. Quick takes about 3 minutes on 2 quiet cores.
//
// Run as root: `npm run fuzz [-- --quick] [-- --only packets,config,flood] [-- --out DIR]
// [-- --no-readme] [-- --seed N]`.
import { cliOptions, finishResults, requireRoot, resultsDir, saveResults, writeReport, type CliSpec } from '../cli.js';
import { resultsHeader } from '../host.js';
import type { Part } from '../report.js';
import { runConfigFuzz } from './config.js';
import { runFlood } from './flood.js';
import { runPackets } from './packets.js';
import { renderFuzzReport, updateFuzzReadme, type FuzzResults } from './report.js';

const CLI: CliSpec<'packets' | 'config' | 'flood'> = {
  command: 'fuzz',
  script: 'dist/bench/fuzz/run.js',
  needs: 'root; keepalived, tcpdump, tshark, cc',
  rootFor: 'network namespaces, AF_PACKET',
  parts: ['packets', 'config', 'flood'],
  quick: '10⁵ packets, 10³ configs, a 10 s flood (default 10⁶, 10⁴, 20 s)',
  section: 'Fuzzing',
  suffix: '-fuzz',
  extra: [{ name: 'seed', arg: 'N', help: 'the seed (default: the date, YYYYMMDD)', check: (v) => (Number.isInteger(Number(v)) ? null : '--seed: an integer') }],
};

async function part<T>(name: string, f: () => Promise<T>): Promise<Part<T>> {
  const t0 = Date.now();
  const seconds = () => Math.round((Date.now() - t0) / 1000);
  process.stderr.write(`\n=== fuzz: ${name} ===\n`);
  try {
    return { ok: true, data: await f(), seconds: seconds() };
  } catch (e) {
    process.stderr.write(`fuzz: ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
    return { ok: false, error: (e as Error).message ?? String(e), seconds: seconds() };
  }
}

async function main(): Promise<void> {
  const o = cliOptions(CLI);
  requireRoot(CLI);
  const started = new Date();
  const seed = o.extra.seed === undefined ? Number(started.toISOString().slice(0, 10).replace(/-/g, '')) : Number(o.extra.seed);
  const { dir, earlier } = resultsDir<FuzzResults>(CLI, o, started);
  const r: FuzzResults = {
    ...(earlier ?? {}),
    ...resultsHeader(started, o.quick, earlier, o.only),
    seed,
  };
  const save = () => saveResults(dir, r);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const q = o.quick;
  console.error(`fuzz: seed ${seed} (replay with --seed ${seed})`);
  for (const p of o.only) {
    if (p === 'packets') r.packets = await part(p, () => runPackets({ cases: q ? 100_000 : 1_000_000, seed, pps: 20_000, log }));
    else if (p === 'config') r.config = await part(p, () => runConfigFuzz({ cases: q ? 1_000 : 10_000, seed, cliSample: 100, log }));
    else if (p === 'flood') r.flood = await part(p, () => runFlood({ pps: 100_000, seconds: q ? 10 : 20, log }));
    save();
  }
  finishResults(r);
  save();
  writeReport(dir, renderFuzzReport(r), o.readme ? (text, rel) => updateFuzzReadme(text, r, rel) : null);
  process.stderr.write(`fuzz: wrote ${dir}/README.md and results.json${o.readme ? '; README.md updated' : ''}\n`);
  console.log(renderFuzzReport(r));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

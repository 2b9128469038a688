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
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { earlierResults, loadavg, resultsHeader } from '../host.js';
import type { Part } from '../report.js';
import { runConfigFuzz } from './config.js';
import { runFlood } from './flood.js';
import { runPackets } from './packets.js';
import { renderFuzzReport, updateFuzzReadme, type FuzzResults } from './report.js';

const PARTS = ['packets', 'config', 'flood'] as const;
type PartName = (typeof PARTS)[number];

interface Options {
  quick: boolean;
  only: PartName[];
  out: string | null;
  readme: boolean;
  seed: number;
}

function usage(): string {
  return [
    'usage: node dist/bench/fuzz/run.js [options]   (root; keepalived, tcpdump, tshark, cc)',
    '  --quick           10⁵ packets, 10³ configs, a 10 s flood (default 10⁶, 10⁴, 20 s)',
    `  --only LIST       some of ${PARTS.join(',')} (default all)`,
    '  --out DIR         results directory (default bench/results/<YYYY-MM-DD>-fuzz[-quick])',
    "  --no-readme       do not rewrite the README's Fuzzing section",
    '  --seed N          the seed (default: the date, YYYYMMDD)',
  ].join('\n');
}

function options(argv: string[], today: number): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-readme': { type: 'boolean', default: false },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(usage());
    process.exit(0);
  }
  const want = v.only?.split(',') ?? [...PARTS];
  const bad = want.filter((w) => !(PARTS as readonly string[]).includes(w));
  if (bad.length) throw new Error(`--only: ${PARTS.join(', ')}; got ${bad.join(', ')}`);
  const seed = v.seed === undefined ? today : Number(v.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed: an integer');
  return { quick: v.quick, only: PARTS.filter((p) => want.includes(p)), out: v.out ?? null, readme: !v['no-readme'], seed };
}

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
  const started = new Date();
  const date = started.toISOString().slice(0, 10);
  let o: Options;
  try {
    o = options(process.argv.slice(2), Number(date.replace(/-/g, '')));
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('fuzz: needs root (network namespaces, AF_PACKET); run as root');
    process.exit(1);
  }
  const dir = o.out ?? join('bench', 'results', `${date}-fuzz${o.quick ? '-quick' : ''}`);
  mkdirSync(dir, { recursive: true });
  const prev = earlierResults<FuzzResults>(dir, o.only.length < PARTS.length);
  const r: FuzzResults = {
    ...(prev ?? {}),
    ...resultsHeader(started, o.quick),
    seed: o.seed,
  };
  const save = () => writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const q = o.quick;
  console.error(`fuzz: seed ${o.seed} (replay with --seed ${o.seed})`);
  for (const p of o.only) {
    if (p === 'packets') r.packets = await part(p, () => runPackets({ cases: q ? 100_000 : 1_000_000, seed: o.seed, pps: 20_000, log }));
    else if (p === 'config') r.config = await part(p, () => runConfigFuzz({ cases: q ? 1_000 : 10_000, seed: o.seed, cliSample: 100, log }));
    else if (p === 'flood') r.flood = await part(p, () => runFlood({ pps: 100_000, seconds: q ? 10 : 20, log }));
    save();
  }
  r.finishedAt = new Date().toISOString();
  r.host.loadavgEnd = loadavg();
  save();
  writeFileSync(join(dir, 'README.md'), renderFuzzReport(r) + '\n');
  if (o.readme) {
    const rel = relative(process.cwd(), dir).split('\\').join('/');
    writeFileSync('README.md', updateFuzzReadme(readFileSync('README.md', 'utf8'), r, rel));
  }
  process.stderr.write(`fuzz: wrote ${dir}/README.md and results.json${o.readme ? '; README.md updated' : ''}\n`);
  console.log(renderFuzzReport(r));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

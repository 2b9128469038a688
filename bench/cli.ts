// The command line the three bench orchestrators share (`npm run bench`: bench/run.ts, `npm run chaos`:
// bench/chaos/run.ts, `npm run fuzz`: bench/fuzz/run.ts), and the results directory they write.
//
// Each orchestrator describes itself once (CliSpec: its script, its part names, what --quick does, its
// README section, its results-directory suffix and its own extra options such as fuzz's `--seed N` or
// bench's `--render DIR`); from that come
//   - usage(spec): the help text: `--quick`, `--only LIST`, `--out DIR`, `--no-readme`, the extras;
//   - parseCli(spec, argv) (pure): the options. `--help`/`-h` anywhere wins: help, nothing else read
//     or checked. Otherwise read left to right: a value option takes the next argument or
//     `--name=VALUE`; `--only` is a comma list of part names (empty items ignored) kept in the spec's
//     order, at least one; an unknown option or argument, a missing value, a bad list or an extra's
//     failed check throws an Error whose message is the text to print (unknown: with the usage);
//   - cliOptions(spec): the driver: the options, or the usage on stdout and exit 0 (help), or
//     `<command>: <message>` on stderr and exit 2 (an error);
//   - requireRoot(spec): `<command>: needs root (…); run as root` and exit 1 unless root;
//   - resultsDir(spec, o, started): --out or bench/results/<YYYY-MM-DD><suffix>[-quick], created, with the
//     results.json already there when only some parts run (its other parts are kept);
//     saveResults writes results.json, finishResults stamps the end, writeReport writes DIR/README.md
//     and (unless --no-readme) rewrites the repository README's section.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadavg, type ResultsHeader } from './host.js';

/** An option one orchestrator has on top of the common ones; its value stays a string (o.extra[name]). */
export interface ExtraOption {
  /** `render` for --render. */
  name: string;
  /** What the value is, in the usage: `DIR`, `N`. */
  arg: string;
  /** The usage line's text. */
  help: string;
  /** The error message for a value it refuses (the whole message, e.g. '--seed: an integer'), or null. */
  check?: (value: string) => string | null;
}

export interface CliSpec<P extends string> {
  /** The prefix of its error lines: `bench`, `chaos`, `fuzz`. */
  command: string;
  /** The compiled script, as the usage names it: `dist/bench/run.js`. */
  script: string;
  /** What it needs, after the usage line: `root; keepalived, tcpdump, tshark, cc`. */
  needs: string;
  /** Why root, in the refusal: `network namespaces`. */
  rootFor: string;
  /** Every part in run order (the default of --only). */
  parts: readonly P[];
  /** What --quick does, for the usage. */
  quick: string;
  /** The README section --no-readme leaves alone: `Benchmarks`, `chaos`, `Fuzzing`. */
  section: string;
  /** After the date in the default results directory: '', '-chaos', '-fuzz' (then -quick with --quick). */
  suffix: string;
  extra?: readonly ExtraOption[];
}

export interface CliOptions<P extends string> {
  /** --help or -h: print the usage, run nothing (the other fields are then the defaults). */
  help: boolean;
  quick: boolean;
  /** The parts to run, in the spec's order. */
  only: P[];
  /** Fewer than all parts: the others are kept from an earlier results.json. */
  someParts: boolean;
  out: string | null;
  readme: boolean;
  /** The extras given, by name. */
  extra: Record<string, string>;
}

/** One usage line: the option (and its value) in an 18-column field, then the text. */
const line = (flag: string, text: string): string => `  ${flag.padEnd(18)}${text}`;

export function usage<P extends string>(spec: CliSpec<P>): string {
  return [
    `usage: node ${spec.script} [options]   (${spec.needs})`,
    line('--quick', spec.quick),
    line('--only LIST', `some of ${spec.parts.join(',')} (default all)`),
    line('--out DIR', `results directory (default bench/results/<YYYY-MM-DD>${spec.suffix}[-quick])`),
    line('--no-readme', `do not rewrite the README's ${spec.section} section`),
    ...(spec.extra ?? []).map((x) => line(`--${x.name} ${x.arg}`, x.help)),
  ].join('\n');
}

/** The --only list: known part names, at least one, in the spec's order. */
function partList<P extends string>(spec: CliSpec<P>, list: string): P[] {
  const want = list.split(',').filter(Boolean);
  const bad = want.filter((w) => !(spec.parts as readonly string[]).includes(w));
  if (bad.length || !want.length) throw new Error(`--only: ${spec.parts.join(', ')}; got ${bad.join(', ') || 'nothing'}`);
  return spec.parts.filter((p) => want.includes(p));
}

export function parseCli<P extends string>(spec: CliSpec<P>, argv: readonly string[]): CliOptions<P> {
  const o: CliOptions<P> = { help: false, quick: false, only: [...spec.parts], someParts: false, out: null, readme: true, extra: {} };
  if (argv.some((a) => a === '--help' || a === '-h')) return { ...o, help: true };
  const extras = new Map((spec.extra ?? []).map((x) => [`--${x.name}`, x]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--no-readme') o.readme = false;
    else {
      const eq = a.startsWith('--') ? a.indexOf('=') : -1;
      const flag = eq < 0 ? a : a.slice(0, eq);
      const x = extras.get(flag);
      if (flag !== '--only' && flag !== '--out' && !x) throw new Error(`unknown option ${a}\n${usage(spec)}`);
      const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
      if (value === undefined) throw new Error(`${flag}: needs ${flag === '--only' ? 'LIST' : flag === '--out' ? 'DIR' : x!.arg}`);
      if (flag === '--only') o.only = partList(spec, value);
      else if (flag === '--out') o.out = value;
      else {
        const refused = x!.check?.(value);
        if (refused) throw new Error(refused);
        o.extra[x!.name] = value;
      }
    }
  }
  o.someParts = o.only.length < spec.parts.length;
  return o;
}

/** The options of this process; --help prints the usage and exits 0, an error prints `<command>: …` and exits 2. */
export function cliOptions<P extends string>(spec: CliSpec<P>, argv: readonly string[] = process.argv.slice(2)): CliOptions<P> {
  let o: CliOptions<P>;
  try {
    o = parseCli(spec, argv);
  } catch (e) {
    console.error(`${spec.command}: ${(e as Error).message}`);
    process.exit(2);
  }
  if (o.help) {
    console.log(usage(spec));
    process.exit(0);
  }
  return o;
}

/** Exits 1 with `<command>: needs root (<why>); run as root` unless this process is root. */
export function requireRoot(spec: Pick<CliSpec<string>, 'command' | 'rootFor'>): void {
  if (process.getuid?.() !== 0) {
    console.error(`${spec.command}: needs root (${spec.rootFor}); run as root`);
    process.exit(1);
  }
}

export interface ResultsDir<R> {
  dir: string;
  /** With only some parts: the results.json already in dir (the parts not re-run are kept from it), else null. */
  earlier: R | null;
}

/** --out, or bench/results/<YYYY-MM-DD of started><suffix>[-quick]; created. */
export function resultsDir<R>(spec: CliSpec<string>, o: CliOptions<string>, started: Date): ResultsDir<R> {
  const dir = o.out ?? join('bench', 'results', `${started.toISOString().slice(0, 10)}${spec.suffix}${o.quick ? '-quick' : ''}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'results.json');
  return { dir, earlier: o.someParts && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as R) : null };
}

/** dir/results.json: the raw data, one space indented. */
export function saveResults(dir: string, r: unknown): void {
  writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
}

/** The run is over: finishedAt and the closing load average (of this rerun, when it is one: host.ts resultsHeader). */
export function finishResults(r: ResultsHeader): void {
  const rerun = r.reruns?.at(-1);
  if (rerun && !rerun.finishedAt) {
    rerun.finishedAt = new Date().toISOString();
    rerun.loadavgEnd = loadavg();
  } else {
    r.finishedAt = new Date().toISOString();
    r.host.loadavgEnd = loadavg();
  }
}

/** dir/README.md; then, given updateReadme, the repository README.md rewritten by it (dir as a relative path). */
export function writeReport(dir: string, report: string, updateReadme: ((readme: string, dir: string) => string) | null): void {
  writeFileSync(join(dir, 'README.md'), report + '\n');
  if (updateReadme) {
    const rel = relative(process.cwd(), dir).split('\\').join('/');
    writeFileSync('README.md', updateReadme(readFileSync('README.md', 'utf8'), rel));
  }
}

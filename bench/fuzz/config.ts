// The config part of `npm run fuzz` (and of test/unit/config-fuzz.test.ts): N mutated configs
// (config-mutate.ts) through `ha-agent check-config`. Most run in-process through the very function
// the CLI calls (src/commands/check-config.ts checkConfigCommand, output captured); a sample also runs
// through the real CLI process, whose exit code and output must be the same.
//
// A case passes when check-config returns 0 or 1 without throwing, prints no stack trace and no
// JavaScript error text, every "error:" line names a path and a fix ("FILE[:line:col]: error: PATH:
// problem — fix: …"), and no
// error is the loader's catch-all ("could not be checked … this is a bug in ha-agent") or the
// command's ("could not check the config"): those are crashes caught at the last moment.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { checkConfigCommand } from '../../src/commands/check-config.js';
import { agentConfig } from '../../test/netns/harness.js';
import { repoRoot } from '../../test/support/fixtures.js';
import { configCase, type ConfigCase, type ConfigSeed } from './config-mutate.js';

export interface ConfigVerdict {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What is wrong with check-config's answer (empty: nothing). */
  problems: string[];
  ms: number;
}

export interface ConfigFinding {
  index: number;
  seed: string;
  mutations: string[];
  problems: string[];
  /** The first lines of the output. */
  output: string;
}

export interface ConfigResult {
  seed: number;
  cases: number;
  valid: number;
  invalid: number;
  errorLines: number;
  findings: ConfigFinding[];
  /** Findings by kind of problem. */
  byProblem: Record<string, number>;
  byMutation: Record<string, number>;
  cli: { cases: number; same: number; differences: ConfigFinding[] };
  msMedian: number;
  msMax: number;
  seconds: number;
}

/** The seed configs: config.example.yaml, the lab's configs (v2 PASS multicast, v3 unicast), a keepalived.conf. */
export function configSeeds(): ConfigSeed[] {
  const root = repoRoot();
  const lab = (p: Parameters<typeof agentConfig>[0]) => stringify(agentConfig(p));
  return [
    { name: 'config.example.yaml', text: readFileSync(join(root, 'config.example.yaml'), 'utf8') },
    { name: 'lab-v2-pass', text: lab({ version: 2, vrid: 51, priority: 150, advertInterval: 1, vips: ['198.51.100.100/24'], auth: { type: 'pass', password: 'secret12' } }) },
    { name: 'lab-v3-unicast', text: lab({ version: 3, vrid: 52, priority: 100, advertInterval: 0.1, vips: ['198.51.100.101/24', '2001:db8::101/64'], unicast: { source: '198.51.100.1', peers: ['198.51.100.2'] } }) },
    { name: 'keepalived.conf', text: readFileSync(join(root, 'test', 'fixtures', 'keepalived-conf', 'kitchen-sink', 'keepalived.conf'), 'utf8') },
  ];
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** A JavaScript error's own words in a message meant for a person. */
const JS_ERROR = /Maximum call stack size exceeded|Cannot read properties of|is not a function|is not iterable|\[object Object\]/;

const STACK = /^\s+at\s.+(:\d+:\d+\)?|\(native\)|<anonymous>)\s*$/m;

/** The problems with check-config's answer for `file` (see the header). */
export function judge(file: string, code: number | null, stdout: string, stderr: string): string[] {
  const problems: string[] = [];
  const all = `${stdout}${stderr}`;
  if (code !== 0 && code !== 1) problems.push(`exit-code-${code}`);
  if (STACK.test(all)) problems.push('stack-trace');
  if (/could not check the config/.test(all)) problems.push('command-caught-exception');
  if (/this is a bug in ha-agent/.test(all)) problems.push('loader-caught-exception');
  if (JS_ERROR.test(all)) problems.push('javascript-error-text');
  for (const line of all.split('\n')) {
    if (!line.startsWith(file)) continue;
    const m = /^(?::\d+:\d+)?: (error|warning): (.*)$/s.exec(line.slice(file.length));
    if (!m) continue;
    const rest = m[2]!;
    const colon = rest.indexOf(': ');
    const path = colon > 0 ? rest.slice(0, colon).trim() : '';
    if (!path) problems.push(`${m[1]}-without-path`);
    if (!rest.includes(' — fix: ') || /— fix: \s*$/.test(rest)) problems.push(`${m[1]}-without-fix`);
  }
  if (code === 1 && !/: error: /.test(stderr)) problems.push('invalid-without-error');
  if (code === 0 && !/^config OK/m.test(stdout)) problems.push('ok-without-summary');
  return [...new Set(problems)];
}

/** check-config in-process, exactly as the CLI calls it. */
export async function checkInProcess(file: string): Promise<ConfigVerdict> {
  const stdout = new Capture();
  const stderr = new Capture();
  const t0 = performance.now();
  let code: number | null;
  try {
    code = await checkConfigCommand(file, { stdout, stderr });
  } catch (e) {
    stderr.text += `THREW: ${(e as Error)?.stack ?? String(e)}\n`;
    code = null;
  }
  const ms = performance.now() - t0;
  return { code, stdout: stdout.text, stderr: stderr.text, problems: code === null ? ['threw', ...judge(file, code, stdout.text, stderr.text)] : judge(file, code, stdout.text, stderr.text), ms };
}

/** check-config through the real CLI process. */
export function checkCli(file: string): Promise<ConfigVerdict> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'cli.js'), 'check-config', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, problems: judge(file, code, stdout, stderr), ms: performance.now() - t0 }));
  });
}

const first = (s: string, n = 6) => s.split('\n').slice(0, n).join('\n');

/** The CLI and in-process answers agree: same exit code and output, except that with absurd nesting
 *  (where the YAML parser runs out of stack depends on the caller's own stack: CLI or in-process, and
 *  may even let it reach a different error first) only the exit code is compared. */
function sameAnswer(a: ConfigVerdict, b: ConfigVerdict): boolean {
  const deep = (v: ConfigVerdict) => v.stderr.includes('nested too deeply for the YAML parser');
  if (a.code !== b.code) return false;
  return deep(a) || deep(b) || (a.stdout === b.stdout && a.stderr === b.stderr);
}

/** Runs the config fuzz: `cases` in-process, every (cases / cliSample)-th also through the CLI. */
export async function runConfigFuzz(o: { cases: number; seed: number; cliSample: number; log?: (l: string) => void }): Promise<ConfigResult> {
  const t0 = Date.now();
  const seeds = configSeeds();
  const dir = mkdtempSync(join(tmpdir(), 'ha-config-fuzz-'));
  const findings: ConfigFinding[] = [];
  const byProblem: Record<string, number> = {};
  const byMutation: Record<string, number> = {};
  const ms: number[] = [];
  let valid = 0;
  let errorLines = 0;
  const every = o.cliSample > 0 ? Math.max(1, Math.floor(o.cases / o.cliSample)) : Infinity;
  const cliCases: { index: number; c: ConfigCase; file: string; inProcess: ConfigVerdict }[] = [];
  try {
    for (let i = 0; i < o.cases; i++) {
      const c = configCase(o.seed, i, seeds);
      for (const m of c.mutations) byMutation[m] = (byMutation[m] ?? 0) + 1;
      const forCli = i % every === 0 && cliCases.length < o.cliSample;
      const file = join(dir, forCli ? `case-${i}.yaml` : 'case.yaml');
      writeFileSync(file, c.text);
      const v = await checkInProcess(file);
      ms.push(v.ms);
      if (v.code === 0) valid++;
      errorLines += (v.stderr.match(/: error: /g) ?? []).length;
      if (v.problems.length) {
        for (const p of v.problems) byProblem[p] = (byProblem[p] ?? 0) + 1;
        findings.push({ index: i, seed: c.seed, mutations: c.mutations, problems: v.problems, output: first(v.stdout + v.stderr) });
      }
      if (forCli) cliCases.push({ index: i, c, file, inProcess: v });
    }
    o.log?.(`fuzz config: ${o.cases} in-process, ${findings.length} findings; ${cliCases.length} through the CLI`);
    const differences: ConfigFinding[] = [];
    let same = 0;
    for (let k = 0; k < cliCases.length; k += 2) {
      const batch = cliCases.slice(k, k + 2);
      const verdicts = await Promise.all(batch.map((x) => checkCli(x.file)));
      batch.forEach((x, j) => {
        const v = verdicts[j]!;
        const problems = [...v.problems];
        if (!sameAnswer(v, x.inProcess)) problems.push('cli-differs-from-in-process');
        const output = `${first(v.stdout + v.stderr, 3)}\n--- in-process:\n${first(x.inProcess.stdout + x.inProcess.stderr, 3)}`;
        if (problems.length) differences.push({ index: x.index, seed: x.c.seed, mutations: x.c.mutations, problems, output });
        else same++;
      });
    }
    const sorted = [...ms].sort((a, b) => a - b);
    return {
      seed: o.seed,
      cases: o.cases,
      valid,
      invalid: o.cases - valid,
      errorLines,
      findings,
      byProblem,
      byMutation,
      cli: { cases: cliCases.length, same, differences },
      msMedian: sorted[Math.floor(sorted.length / 2)] ?? 0,
      msMax: sorted.at(-1) ?? 0,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

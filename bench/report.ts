// The results of `npm run bench` (bench/run.ts) as markdown: one table per part (failover, cost,
// jitter, cloud), and the README's Benchmarks section that shows them. Pure: results in, text out.
import type { FailoverResult, FailoverSample } from './failover.js';
import type { RunResult as CostRun } from './cost.js';
import type { JitterResult } from './jitter.js';
import { stats, type Summary } from './stats.js';
import { rerunsText, type ResultsHeader } from './host.js';

/** One part's output, or why it is missing. */
export type Part<T> = { ok: true; data: T; seconds: number } | { ok: false; error: string; seconds: number };

export interface FailoverData {
  runs: number;
  pingIntervalS: number;
  results: FailoverResult[];
}
export interface CostData {
  options: { settleS: number; measureS: number; scenarios: string[] };
  results: CostRun[];
}
export interface JitterData {
  intervalMs: number;
  targetP99Ms: number;
  windowS: number;
  results: JitterResult[];
}
export interface AwsSample {
  toWireMs: number | null;
  toRequestMs: number | null;
  effectiveMs: number | null;
  calls: number;
}
export interface CloudAwsData {
  runs: number;
  steadyS: number;
  remapDelayMs: number;
  samples: { ours?: AwsSample[]; keepalived?: AwsSample[] };
  steadyPerHour: { master: number; backup: number } | null;
}
export interface CloudAlibabaData {
  runs: number;
  steadyS: number;
  samples: { garpMs: number | null; masterMs: number | null; calls: number; associateCalls: number }[];
  steadyPerHour: { master: number; backup: number } | null;
}

/** Everything one `npm run bench` wrote to results.json. */
export interface BenchResults extends ResultsHeader {
  failover?: Part<FailoverData>;
  cost?: Part<CostData>;
  jitter?: Part<JitterData>;
  cloudAws?: Part<CloudAwsData>;
  cloudAlibaba?: Part<CloudAlibabaData>;
}

/** The PNG charts bench/run.ts writes, file name → caption. */
export const CHART_FILES: Record<string, string> = {
  'failover.png': 'failover: takeover and client reply, ours vs keepalived',
  'cost-cpu.png': 'CPU vs number of instances',
  'jitter.png': 'advert send-interval histogram at 10 ms',
};

const ms0 = (x: number) => x.toFixed(0);
/** "median / p95" of a summary (one sample: just the value), or n/a. */
export function medP95(s: Summary | null, f: (x: number) => string = ms0): string {
  if (!s) return 'n/a';
  return s.n === 1 ? f(s.median) : `${f(s.median)} / ${f(s.p95)}`;
}

/** ours ÷ keepalived of two medians, "1.05×", or n/a. */
export function ratioText(a: Summary | null | number, b: Summary | null | number): string {
  const x = typeof a === 'number' ? a : a?.median;
  const y = typeof b === 'number' ? b : b?.median;
  return x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y > 0 ? `${(x / y).toFixed(2)}×` : 'n/a';
}

/** A markdown table from a header row and body rows (cells escaped for `|`). */
export function mdTable(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const line = (cells: string[]) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const failed = (p: Part<unknown> | undefined, what: string): string | null =>
  !p ? `_${what}: not run._` : p.ok ? null : `_${what}: failed — ${p.error.split('\n')[0]}_`;

export function failoverTable(d: FailoverData): string {
  const cells = new Map<string, { ours?: FailoverResult; keepalived?: FailoverResult }>();
  for (const r of d.results) {
    const k = `${r.mode}|${r.kind}|${r.cast}`;
    cells.set(k, { ...cells.get(k), [r.impl]: r });
  }
  const pick = (r: FailoverResult | undefined, k: keyof FailoverSample) => stats((r?.samples ?? []).map((s) => s[k]));
  const rows = [...cells.values()].map(({ ours, keepalived }) => {
    const any = (ours ?? keepalived)!;
    const n = `${ours?.samples.length ?? 0} / ${keepalived?.samples.length ?? 0}`;
    return [
      any.mode,
      any.kind,
      any.cast,
      ms0(any.boundMs),
      medP95(pick(ours, 'takeoverMs')),
      medP95(pick(keepalived, 'takeoverMs')),
      medP95(pick(ours, 'garpMs')),
      medP95(pick(keepalived, 'garpMs')),
      medP95(pick(ours, 'clientMs')),
      medP95(pick(keepalived, 'clientMs')),
      ratioText(pick(ours, 'clientMs'), pick(keepalived, 'clientMs')),
      n,
    ];
  });
  return mdTable(['VRRP', 'master', 'cast', 'RFC bound', 'takeover ours', 'takeover ka', 'first GARP ours', 'first GARP ka', 'client reply ours', 'client reply ka', 'client ours/ka', 'runs ours / ka'], rows);
}

export function costTable(d: CostData): string {
  const byKey = new Map<string, { ours?: CostRun; keepalived?: CostRun }>();
  for (const r of d.results) byKey.set(r.scenario, { ...byKey.get(r.scenario), [r.impl]: r });
  const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)} %`);
  const cpu = (r: CostRun | undefined) => (r && !r.error ? `${pct(r.cpuMaster)} / ${pct(r.cpuBackup)}` : 'failed');
  const rss = (r: CostRun | undefined) => (r && !r.error ? `${(r.rssMasterKb / 1024).toFixed(1)} / ${(r.rssBackupKb / 1024).toFixed(1)}` : 'failed');
  const rows = d.options.scenarios.map((key) => {
    const { ours, keepalived } = byKey.get(key) ?? {};
    const s = scenarioOfKey(key);
    const sum = (r: CostRun | undefined) => (r && !r.error ? r.cpuMaster + r.cpuBackup : NaN);
    const flag = [ours, keepalived].some((r) => r && !r.error && (r.unsettled.length || r.movesDuringWindow)) ? ' (!)' : '';
    return [String(s.count), `${s.interval} s`, cpu(ours), cpu(keepalived), ratioText(sum(ours), sum(keepalived)) + flag, rss(ours), rss(keepalived), ratioText(ours?.rssMasterKb ?? NaN, keepalived?.rssMasterKb ?? NaN)];
  });
  return mdTable(['N', 'advert', 'CPU ours (master / backup)', 'CPU ka', 'CPU ours/ka', 'RSS MiB ours (m / b)', 'RSS MiB ka', 'RSS ours/ka'], rows);
}

/** N and interval of a cost scenario key: n1, n200 (cost.ts's defaults) or COUNT@INTERVAL. */
export function scenarioOfKey(key: string): { count: number; interval: number } {
  if (key === 'n1') return { count: 1, interval: 0.1 };
  if (key === 'n200') return { count: 200, interval: 1 };
  const [c, i] = key.split('@');
  return { count: Number(c), interval: Number(i) };
}

export function jitterTable(d: JitterData): string {
  const conds = [...new Set(d.results.map((r) => r.condition))];
  const f = (r: JitterResult | undefined) => (r?.summary ? `${r.summary.p50.toFixed(2)} / ${r.summary.p99.toFixed(2)} / ${r.summary.max.toFixed(2)}` : 'n/a');
  const j = (r: JitterResult | undefined) => (r?.summary ? r.summary.jitterP99.toFixed(2) : 'n/a');
  // keepalived-rt: keepalived with vrrp_rt_priority 1 (realtime like our advert thread); absent from older results.
  const withRt = d.results.some((r) => r.impl === 'keepalived-rt');
  const rows = conds.map((c) => {
    const of = (impl: JitterResult['impl']) => d.results.find((r) => r.condition === c && r.impl === impl);
    const [ours, ka, kaRt] = [of('ours'), of('keepalived'), of('keepalived-rt')];
    const target = ours?.summary ? (ours.summary.jitterP99 <= d.targetP99Ms ? '✓' : '✗') : '';
    const adverts = [ours, ka, ...(withRt ? [kaRt] : [])].map((r) => r?.adverts ?? 0).join(' / ');
    return [c, f(ours), f(ka), ...(withRt ? [f(kaRt)] : []), j(ours), j(ka), ...(withRt ? [j(kaRt)] : []), `${target}`, `${adverts} of ${ours?.expected ?? '?'}`];
  });
  return mdTable(
    [
      'load in our process',
      'interval ms ours p50 / p99 / max',
      'ka p50 / p99 / max',
      ...(withRt ? ['ka rt p50 / p99 / max'] : []),
      'jitter p99 ours',
      'jitter p99 ka',
      ...(withRt ? ['jitter p99 ka rt'] : []),
      `p99 ≤ ${d.targetP99Ms} ms`,
      withRt ? 'adverts ours / ka / ka rt' : 'adverts ours / ka',
    ],
    rows,
  );
}

export function cloudTable(aws: CloudAwsData | null, ali: CloudAlibabaData | null): string {
  const rows: string[][] = [];
  if (aws) {
    const p = (impl: 'ours' | 'keepalived', f: (s: AwsSample) => number | null) => stats((aws.samples[impl] ?? []).map(f));
    const line = (label: string, f: (s: AwsSample) => number | null, digits = 0) => {
      const a = p('ours', f);
      const b = p('keepalived', f);
      rows.push([`AWS: ${label}`, medP95(a, (x) => x.toFixed(digits)), medP95(b, (x) => x.toFixed(digits)), ratioText(a, b)]);
    };
    line('transition → first EC2 request on the wire, ms', (s) => s.toWireMs, 1);
    line(`kill → VIP on the new ENI (${aws.remapDelayMs} ms emulated remap), ms`, (s) => s.effectiveMs);
    line('EC2 calls per failover', (s) => s.calls);
    if (aws.steadyPerHour) rows.push(['AWS: steady EC2 calls per hour (master / backup)', `${aws.steadyPerHour.master.toFixed(0)} / ${aws.steadyPerHour.backup.toFixed(0)}`, '0 / 0 (never checks)', '']);
  }
  if (ali) {
    const p = (f: (s: CloudAlibabaData['samples'][number]) => number | null) => medP95(stats(ali.samples.map(f)), (x) => x.toFixed(1));
    rows.push(['Alibaba HaVip: transition → first GARP, ms', p((s) => s.garpMs), '—', '']);
    rows.push(['Alibaba HaVip: kill → MasterInstanceId moved, ms', p((s) => s.masterMs), '—', '']);
    rows.push(['Alibaba HaVip: VPC API calls per failover', p((s) => s.calls), '—', '']);
    if (ali.steadyPerHour) rows.push(['Alibaba HaVip: steady VPC calls per hour (master / backup)', `${ali.steadyPerHour.master.toFixed(0)} / ${ali.steadyPerHour.backup.toFixed(0)}`, '—', '']);
  }
  return mdTable(['cloud', 'ours', 'keepalived + notify script', 'ours/ka'], rows);
}

/** The whole report (results/<date>/README.md): the tables, how they were measured, the charts. */
export function renderReport(r: BenchResults, chartDir = '.'): string {
  const out: string[] = [];
  out.push(`# Benchmarks ${r.date}${r.quick ? ' (quick run)' : ''}`, '');
  out.push(
    `Ours (ha-agent) against keepalived ${r.host.keepalived}, same lab (network namespaces on one bridge), same run. ` +
      `${r.host.cpus} cores, load average ${r.host.loadavgStart} at the start and ${r.host.loadavgEnd} at the end; node ${r.host.node}, kernel ${r.host.kernel}. ` +
      `Started ${r.startedAt}, finished ${r.finishedAt}.${rerunsText(r)}` +
      (r.quick ? ' **Quick mode**: fewer runs and shorter windows than the full run; the figures only show that every part works.' : ''),
    '',
  );
  const took = (
    [
      ['failover', r.failover],
      ['cost', r.cost],
      ['jitter', r.jitter],
      ['AWS', r.cloudAws],
      ['Alibaba', r.cloudAlibaba],
    ] as const
  )
    .filter(([, p]) => p)
    .map(([n, p]) => `${n} ${Math.round(p!.seconds / 6) / 10} min`);
  out.push(`Cells "a / b" are median / p95 over the runs (one run: the value). Raw data: [results.json](results.json). Time per part: ${took.join(', ')}.`, '');
  out.push('## Failover', '');
  const fo = failed(r.failover, 'failover');
  if (fo) out.push(fo);
  else if (r.failover?.ok) {
    out.push(
      `ms. Takeover: the dead master's last advert (SIGTERM: its priority-0 advert) → the new master's first advert, on the wire, against the RFC 5798 bound (3 × interval + Skew_Time; after a priority-0 advert, Skew_Time). ` +
        `First GARP and client reply: from the signal to the new master's first gratuitous ARP, and to the first echo reply from the new master's MAC to a client pinging the VIP every ${r.failover.data.pingIntervalS * 1000} ms. ` +
        `kill -9 also pulls the dead master's cable. Runs interleaved (ours, keepalived, ours, …).`,
      '',
      failoverTable(r.failover.data),
    );
  }
  out.push('', '## Cost', '');
  const co = failed(r.cost, 'cost');
  if (co) out.push(co);
  else if (r.cost?.ok) {
    out.push(
      `Two nodes, N VRRPv3 multicast instances, node 1 master of all. CPU: utime + stime of each daemon's process tree over ${r.cost.data.options.measureS} s after ${r.cost.data.options.settleS} s settled, % of one core. ` +
        `RSS: VmRSS of the daemon (keepalived: parent + VRRP child), MiB. (!): the election was not settled or moved during the window.`,
      '',
      costTable(r.cost.data),
    );
  }
  out.push('', '## Advert jitter', '');
  const ji = failed(r.jitter, 'jitter');
  if (ji) out.push(ji);
  else if (r.jitter?.ok) {
    out.push(
      `VRRPv3 at ${r.jitter.data.intervalMs} ms, ${r.jitter.data.windowS} s captured on the lab bridge per load; jitter = |interval − ${r.jitter.data.intervalMs} ms|. ` +
        `The load (cpu: a 20 ms busy loop every 25 ms; gc: allocation churn) runs inside our agent's process (HA_AGENT_BENCH_HOG); keepalived runs beside it, unloaded. ` +
        `Our adverts leave from a thread of their own at SCHED_FIFO priority 1 (advertThread.realtimePriority, the default); "ka" is keepalived as Debian ships it (normal scheduling), "ka rt" keepalived with vrrp_rt_priority 1, the like-for-like comparison. ` +
        `The spread is the machine's scheduling latency as much as the daemons': compare the columns, and the load average above. ` +
        `Our adverts leave on a fixed grid (a late one is followed by a shorter interval); keepalived's intervals are never shorter than ${r.jitter.data.intervalMs} ms.`,
      '',
      jitterTable(r.jitter.data),
    );
  }
  out.push('', '## Cloud', '');
  const aws = r.cloudAws?.ok ? r.cloudAws.data : null;
  const ali = r.cloudAlibaba?.ok ? r.cloudAlibaba.data : null;
  for (const [p, what] of [
    [r.cloudAws, 'AWS (bench:cloud)'],
    [r.cloudAlibaba, 'Alibaba (bench:alibaba)'],
  ] as const) {
    const m = failed(p, what);
    if (m) out.push(m, '');
  }
  if (aws || ali) {
    out.push(
      'kill -9 of the master, unicast VRRPv2 at 1 s, against the emulators in the lab. keepalived on AWS: `notify_master` running `aws ec2 assign-private-ip-addresses` (bench/fixtures/notify-master-aws.sh).',
      '',
      cloudTable(aws, ali),
    );
  }
  out.push('', '## Charts', '');
  for (const [file, caption] of Object.entries(CHART_FILES)) out.push(`![${caption}](${chartDir}/${file})`, '');
  return out.join('\n');
}

export const README_START = '<!-- bench:start (written by npm run bench; edit bench/report.ts instead) -->';
export const README_END = '<!-- bench:end -->';

/** A README section between two HTML-comment markers, and where it goes when it is not there yet. */
export interface ReadmeSection {
  start: string;
  end: string;
  /** The `## heading` put above the markers when the section is new. */
  heading: string;
  /** A new section goes right after this text (e.g. another section's end marker), else at the end. */
  after?: string;
}

/** Puts `body` between the section's markers: replaces what is there, or adds the section. */
export function replaceReadmeSection(readme: string, s: ReadmeSection, body: string): string {
  const section = [s.start, '', body.trim(), '', s.end].join('\n');
  const a = readme.indexOf(s.start);
  const b = readme.indexOf(s.end);
  if (a >= 0 && b > a) return readme.slice(0, a) + section + readme.slice(b + s.end.length);
  const at = s.after ? readme.indexOf(s.after) : -1;
  if (at < 0) return `${readme.trimEnd()}\n\n## ${s.heading}\n\n${section}\n`;
  const cut = at + s.after!.length;
  return `${readme.slice(0, cut)}\n\n## ${s.heading}\n\n${section}${readme.slice(cut)}`;
}

/**
 * The README's Benchmarks section for results in `dir` (a path relative to the repo root): the date,
 * the tables, links to the charts. Replaces the text between the markers, or appends a section.
 */
export function updateReadme(readme: string, r: BenchResults, dir: string): string {
  const body = renderReport(r, dir)
    .replace(/^# Benchmarks .*\n/, '')
    .replace('[results.json](results.json)', `[results.json](${dir}/results.json)`)
    .replace(/^## /gm, '### ');
  const latest = `Latest: **${r.date}**${r.quick ? ' (quick run: few runs, short windows — indicative only)' : ''}, from \`npm run bench${r.quick ? ' -- --quick' : ''}\`; full report in [${dir}](${dir}/README.md).`;
  return replaceReadmeSection(readme, { start: README_START, end: README_END, heading: 'Benchmarks' }, `${latest}\n\n${body.trim()}`);
}

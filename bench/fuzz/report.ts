// The results of `npm run fuzz` (bench/fuzz/run.ts) as markdown: one table per part (packets, config,
// flood), and the README's Fuzzing section (between the fuzz markers, right after the Benchmarks
// section). Pure: results in, text out.
import { mdTable, ratioText, replaceReadmeSection, README_END as BENCH_END, type Part } from '../report.js';
import { rerunsText, type ResultsHeader } from '../host.js';
import type { ConfigResult } from './config.js';
import type { FloodResult, FloodSide } from './flood.js';
import type { PacketsResult } from './packets.js';

export interface FuzzResults extends ResultsHeader {
  seed: number;
  packets?: Part<PacketsResult>;
  config?: Part<ConfigResult>;
  flood?: Part<FloodResult>;
}

const n = (x: number) => x.toLocaleString('en-US');
const yes = (b: boolean) => (b ? 'yes' : '**NO**');

const failed = (p: Part<unknown> | undefined, what: string): string | null =>
  !p ? `_${what}: not run._` : p.ok ? null : `_${what}: failed — ${p.error.split('\n')[0]}_`;

export function packetsTable(r: PacketsResult): string {
  const summary = mdTable(
    ['cases (frames)', 'sent at', 'agent alive', 'transitions', 'reaching the agent: predicted / counted', 'lost to a full socket', 'dropped by the kernel (predicted)', 'reasons that differ', 'valid adverts clamped', 'valid advert accepted after', 'agent CPU'],
    [
      [
        `${n(r.cases)} (${n(r.frames)})`,
        `${n(Math.round(r.sender.sent / r.sender.seconds))}/s`,
        yes(r.alive),
        String(r.transitions),
        `${n(r.agentPredicted)} / ${n(r.agentMeasured)}`,
        n(r.socketOverflow ?? 0),
        n(r.kernelPredicted),
        String(r.mismatches.length),
        n(r.clamped),
        Object.values(r.validAfter).every((v) => v === 1) ? `yes (${Object.keys(r.validAfter).length} instances)` : `**NO** ${JSON.stringify(r.validAfter)}`,
        `${r.agentCpuPct.toFixed(0)} %`,
      ],
    ],
  );
  const fates = [...new Set([...Object.keys(r.predicted), ...Object.keys(r.measured)])].sort((a, b) => (r.predicted[b] ?? 0) - (r.predicted[a] ?? 0));
  const byFate = mdTable(
    ['fate', 'predicted', 'counted by the agent'],
    fates.map((f) => [f, n(r.predicted[f] ?? 0), f.startsWith('kernel:') ? '—' : n(r.measured[f] ?? 0)]),
  );
  const kernel = Object.entries(r.kernel)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  return `${summary}\n\n${byFate}\n\nKernel counters of the target's namespace over the run: ${kernel || 'none moved'}.`;
}

export function configTable(r: ConfigResult): string {
  const t = mdTable(
    ['configs', 'valid / invalid', 'error lines', 'findings (no path, stack trace, crash…)', 'through the CLI: same as in-process', 'ms per config median / max'],
    [[n(r.cases), `${n(r.valid)} / ${n(r.invalid)}`, n(r.errorLines), String(r.findings.length), `${r.cli.same} / ${r.cli.cases}`, `${r.msMedian.toFixed(1)} / ${r.msMax.toFixed(0)}`]],
  );
  const list = [...r.findings, ...r.cli.differences].slice(0, 10).map((f) => `- case ${f.index} (${f.seed}; ${f.mutations.join(', ')}): ${f.problems.join(', ')} — \`${f.output.split('\n')[0]}\``);
  return list.length ? `${t}\n\n${list.join('\n')}` : t;
}

export function floodTable(r: FloodResult): string {
  const side = (impl: string) => r.sides.find((s) => s.impl === impl);
  const ours = side('ours');
  const ka = side('keepalived');
  const iv = (s: FloodSide | undefined, which: 'intervals' | 'idle') => {
    const x = s?.[which];
    return x ? `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)}` : 'none';
  };
  const cell = (s: FloodSide | undefined, f: (s: FloodSide) => string) => (s ? f(s) : 'n/a');
  const dropped = (s: FloodSide) => (s.dropped ? n(Object.values(s.dropped).reduce((a, b) => a + b, 0)) : 'not exported');
  const rows = [
    ['flood reached, frames/s', cell(ours, (s) => n(Math.round(s.rate))), cell(ka, (s) => n(Math.round(s.rate))), ''],
    ['adverts sent during the flood (of expected)', cell(ours, (s) => `${s.adverts} of ${s.expected}`), cell(ka, (s) => `${s.adverts} of ${s.expected}`), ratioText(ours?.adverts ?? NaN, ka?.adverts ?? NaN)],
    ['send interval ms p50 / p99 / max, flood', iv(ours, 'intervals'), iv(ka, 'intervals'), ratioText(ours?.intervals?.p99 ?? NaN, ka?.intervals?.p99 ?? NaN)],
    ['send interval ms p50 / p99 / max, idle before', iv(ours, 'idle'), iv(ka, 'idle'), ''],
    ['CPU, % of one core (utime + stime)', cell(ours, (s) => s.cpuPct.toFixed(1)), cell(ka, (s) => s.cpuPct.toFixed(1)), ratioText(ours?.cpuPct ?? NaN, ka?.cpuPct ?? NaN)],
    ['CPU per datagram read, µs', cell(ours, (s) => s.cpuUsPerDatagram.toFixed(2)), cell(ka, (s) => s.cpuUsPerDatagram.toFixed(2)), ratioText(ours?.cpuUsPerDatagram ?? NaN, ka?.cpuUsPerDatagram ?? NaN)],
    ['drops counted by the daemon', cell(ours, dropped), cell(ka, dropped), ''],
    ['datagrams lost to a full receive socket (kernel)', cell(ours, (s) => `${n(s.overflow)} (${((100 * s.overflow) / Math.max(1, s.sender.sent)).toFixed(1)} %)`), cell(ka, (s) => `${n(s.overflow)} (${((100 * s.overflow) / Math.max(1, s.sender.sent)).toFixed(1)} %)`), ''],
    ['still MASTER after', cell(ours, (s) => yes(s.stayedMaster)), cell(ka, (s) => yes(s.stayedMaster)), ''],
  ];
  // A MASTER whose adverts stop for longer than Master_Down_Interval (3 × 0.1 s + skew) loses its backups.
  const silent = r.sides
    .filter((s) => s.adverts < s.expected / 2)
    .map((s) => `${s.impl} sent ${s.adverts} of ${s.expected} adverts while flooded (${s.idleAdverts} in the idle window just before): a BACKUP would have taken over (two MASTERs).`);
  return [mdTable(['hostile peer flood', 'ours', 'keepalived', 'ours/ka'], rows), ...silent.map((x) => `\n**${x}**`)].join('\n');
}

/** The whole report (results/<date>-fuzz/README.md). */
export function renderFuzzReport(r: FuzzResults): string {
  const out: string[] = [];
  out.push(`# Fuzzing ${r.date}${r.quick ? ' (quick run)' : ''}`, '');
  out.push(
    `Seed ${r.seed}. ${r.host.cpus} cores, load average ${r.host.loadavgStart} at the start and ${r.host.loadavgEnd} at the end; node ${r.host.node}, kernel ${r.host.kernel}, keepalived ${r.host.keepalived}. ` +
      `Started ${r.startedAt}, finished ${r.finishedAt}.${rerunsText(r)} Raw data: [results.json](results.json).`,
    '',
  );
  /** One part: its heading, then why it is missing, or how it was measured and its table. */
  const section = <T>(title: string, what: string, p: Part<T> | undefined, how: (d: T) => string, table: (d: T) => string) => {
    out.push(`## ${title}`, '');
    const missing = failed(p, what);
    if (missing) out.push(missing);
    else if (p?.ok) out.push(how(p.data), '', table(p.data));
    out.push('');
  };
  section('Packets', 'packets', r.packets, () =>
    "Seeded mutations of keepalived 2.2.7's own adverts (bench/fuzz/mutate.ts) sent as Ethernet frames (AF_PACKET, paced) from one lab node at a running agent on another, " +
      'MASTER of four instances (v2 multicast with PASS auth, v2 unicast, v3 multicast, v3 unicast) at priority 254 from the lowest address: ' +
      'a mutation that happens to be a valid advert able to beat it gets its priority lowered to 1..253 first (clamped), so no case may cause a transition. ' +
      "bench/fuzz/model.ts predicts each fate — dropped by the kernel (why), or the agent's drop reason or acceptance, from the very receive code the agent runs — and the agent's /metrics must move by exactly those counts.",
    packetsTable);
  section('Config', 'config', r.config, () =>
    'Mutated YAML (bench/fuzz/config-mutate.ts: keys deleted, renamed, duplicated or unknown, wrong types, out-of-range numbers, huge values, unicode, broken syntax, alias bombs) from config.example.yaml, the lab configs and a keepalived.conf, ' +
      "through check-config in-process (the CLI's own function) and a sample through the CLI process. A finding: a stack trace, an error line without a path or a fix, a caught exception, or CLI output different from in-process.",
    configTable);
  section('Hostile peer flood', 'flood', r.flood, (d) =>
    `${n(d.pps)} frames/s asked of fuzz-send.c (sendmmsg) for ${d.seconds} s at one VRRPv3 unicast instance at 0.1 s, MASTER: adverts from its peer with a wrong VIP set, a wrong checksum, a count_ip lie or another VRID. ` +
      "Ours, then keepalived, same lab, same run. Intervals from a capture on the lab bridge; CPU of the daemon's process tree. " +
      'keepalived logs to stdout, sent to /dev/null here.',
    floodTable);
  return out.join('\n').trimEnd();
}

export const FUZZ_START = '<!-- fuzz:start (written by npm run fuzz; edit bench/fuzz/report.ts instead) -->';
export const FUZZ_END = '<!-- fuzz:end -->';

/** The README's Fuzzing section for results in `dir` (relative to the repo root), right after the Benchmarks one. */
export function updateFuzzReadme(readme: string, r: FuzzResults, dir: string): string {
  const body = renderFuzzReport(r)
    .replace(/^# Fuzzing .*\n/, '')
    .replace('[results.json](results.json)', `[results.json](${dir}/results.json)`)
    .replace(/^## /gm, '### ');
  const latest = `Latest: **${r.date}**${r.quick ? ' (quick run)' : ''}, from \`npm run fuzz${r.quick ? ' -- --quick' : ''}\`; full report in [${dir}](${dir}/README.md).`;
  return replaceReadmeSection(readme, { start: FUZZ_START, end: FUZZ_END, heading: 'Fuzzing', after: BENCH_END }, `${latest}\n\n${body.trim()}`);
}

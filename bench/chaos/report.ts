// The results of `npm run chaos` (bench/chaos/run.ts) as text: the one-line-per-scenario summary it
// prints, the markdown report (results/<date>-chaos/README.md) and the README's chaos section, placed
// right after the Benchmarks section. Pure: results in, text out.
import { rerunsText, type ResultsHeader } from '../host.js';
import { mdTable, README_END, replaceReadmeSection } from '../report.js';
import type { Figure, Impl } from './lab.js';

/** One implementation's run of one scenario variant, as results.json keeps it. */
export type ImplRun =
  | {
      ok: true;
      figure: Figure;
      /** Holders on the wire and on an interface, formatTimeline() text from the action's start. */
      wireTimeline: string;
      vipTimeline: string;
      /** Each node's own state changes as its daemon logged them (transitionsText()). */
      daemons: { a: string; b: string };
      /** Seconds from the action's start of each mark (heal, stop, …). */
      marks: Record<string, number[]>;
    }
  | { ok: false; error: string };

export interface ScenarioRun {
  scenario: string;
  label: string;
  how: string;
  seconds: number;
  runs: Record<Impl, ImplRun>;
}

export interface ChaosResults extends ResultsHeader {
  scenarios: ScenarioRun[];
}

const fig = (r: ImplRun | undefined): string => (!r ? 'not run' : r.ok ? r.figure.text : `failed: ${r.error}`);

/** The console summary: one line per scenario variant (ours | keepalived), then the two VIP timelines. */
export function summaryLines(r: ChaosResults): string[] {
  const out: string[] = [];
  const w = Math.max(...r.scenarios.map((s) => s.label.length), 8);
  for (const s of r.scenarios) {
    out.push(`${s.label.padEnd(w)}  ours: ${fig(s.runs.ours)}  |  keepalived: ${fig(s.runs.keepalived)}`);
    for (const impl of ['ours', 'keepalived'] as const) {
      const run = s.runs[impl];
      if (run?.ok) out.push(`${''.padEnd(w)}    ${impl.padEnd(10)} VIP  ${run.vipTimeline}`);
    }
  }
  return out;
}

const HOW =
  'Each scenario runs our agent (garp provider) and Debian keepalived side by side, each in a lab of its own (two network namespaces on a bridge), at the same time, from the same VRRP settings: ' +
  'node A (priority 150, the master) and B (priority 100), one VIP, preempt on (keepalived\'s default). ' +
  'A holder **on the wire** is a node whose adverts (priority > 0) a capture on the lab bridge sees: from the first advert of a run until one advert interval after its last (when the next was due), cut short by the other node\'s next advert (a handover) or by its own priority-0 advert; a run breaks at a gap above 2 × the advert interval, so a zero-holder span on the wire is a silence longer than normal, minus one interval. ' +
  'A holder **on an interface** has the VIP configured (`ip -ts monitor address` in each node). ' +
  'Faults are injected on the receivers\' input (nftables), so the capture still sees what each node sent. ' +
  'Timelines: seconds from the start of the fault sequence, the holders, and (in parentheses) the length of dual- and zero-holder stretches; stretches under 50 ms with one holder are left out. ' +
  'Under them, A\'s and B\'s own state changes as each daemon logged them.';

/** results/<dir>/README.md */
export function renderChaosReport(r: ChaosResults): string {
  const out: string[] = [];
  out.push(`# Chaos ${r.date}${r.quick ? ' (quick run)' : ''}`, '');
  out.push(
    `Ours (ha-agent) against keepalived ${r.host.keepalived}. ${r.host.cpus} cores, load average ${r.host.loadavgStart} at the start and ${r.host.loadavgEnd} at the end; node ${r.host.node}, kernel ${r.host.kernel}. ` +
      `Started ${r.startedAt}, finished ${r.finishedAt}.${rerunsText(r)}` +
      (r.quick ? ' **Quick mode**: fewer cycles and 1 min loss windows; the figures only show that every scenario works.' : ''),
    '',
    HOW + ' Raw data: [results.json](results.json).',
    '',
  );
  out.push(mdTable(['scenario', 'ours', 'keepalived'], r.scenarios.map((s) => [s.label, fig(s.runs.ours), fig(s.runs.keepalived)])), '');
  const seen = new Set<string>();
  for (const s of r.scenarios) {
    if (!seen.has(s.scenario)) {
      seen.add(s.scenario);
      out.push(`## ${s.scenario}`, '', s.how, '');
    }
    out.push(`**${s.label}** (${s.seconds} s)`, '', '```');
    for (const impl of ['ours', 'keepalived'] as const) {
      const run = s.runs[impl];
      if (!run?.ok) {
        out.push(`${impl.padEnd(10)} ${fig(run)}`);
        continue;
      }
      out.push(`${impl.padEnd(10)} VIP   ${run.vipTimeline}`, `${''.padEnd(10)} wire  ${run.wireTimeline}`);
      if (run.daemons) out.push(`${''.padEnd(10)} A     ${run.daemons.a}`, `${''.padEnd(10)} B     ${run.daemons.b}`);
    }
    out.push('```', '');
  }
  return out.join('\n');
}

export const CHAOS_START = '<!-- chaos:start (written by npm run chaos; edit bench/chaos/report.ts instead) -->';
export const CHAOS_END = '<!-- chaos:end -->';

/** The README's chaos section for results in `dir` (relative to the repo root), right after the Benchmarks section. */
export function updateChaosReadme(readme: string, r: ChaosResults, dir: string): string {
  const body = [
    `Latest: **${r.date}**${r.quick ? ' (quick run — indicative only)' : ''}, from \`npm run chaos${r.quick ? ' -- --quick' : ''}\`; full report with the timelines in [${dir}](${dir}/README.md). Load average ${r.host.loadavgStart} → ${r.host.loadavgEnd}.`,
    '',
    mdTable(['scenario', 'ours', 'keepalived'], r.scenarios.map((s) => [s.label, fig(s.runs.ours), fig(s.runs.keepalived)])),
  ].join('\n');
  return replaceReadmeSection(readme, { start: CHAOS_START, end: CHAOS_END, heading: 'Chaos', after: README_END }, body);
}

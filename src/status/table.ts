// Renders the status JSON as the aligned text table printed by `ha-agent status`. Pure function.
import type { InstanceStatusJson, StatusJson } from './types.js';
import { renderChecksText } from '../checks/status-text.js';

const HEADERS = ['INSTANCE', 'STATE', 'PRIO/EFF', 'MASTER', 'VIPS', 'PROVIDER', 'LAST ERROR'] as const;

/** "3d 4h 5m 6s", leading zero units left out. */
export function formatUptime(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (d || h) parts.push(`${h}h`);
  if (d || h || m) parts.push(`${m}m`);
  parts.push(`${s}s`);
  return parts.join(' ');
}

function providerCell(i: InstanceStatusJson): string {
  const p = i.provider;
  const vips = Object.values(p.vips ?? {});
  const held = vips.filter((o) => o === 'held').length;
  // Some VIPs held, not all: say how many (the per-VIP map is in /status).
  let cell = held > 0 && held < vips.length ? `${p.type} partial (${held}/${vips.length} held)` : `${p.type} ${p.ownership}`;
  const settled = p.desired === 'held' ? p.ownership === 'held' : p.ownership === 'not-held' || p.ownership === 'elsewhere';
  if (p.desired && !settled) cell += ` (want ${p.desired})`;
  if (p.busy) cell += ' (busy)';
  return cell;
}

/** The fault reason (it includes the last error), else the last error, with its fix when there is one. */
function lastErrorCell(i: InstanceStatusJson): string {
  const p = i.provider;
  const text = p.fault ? `FAULT: ${p.fault}` : p.lastError ? `${p.lastError}${p.fix ? ` (fix: ${p.fix})` : ''}` : '-';
  return text.replace(/\s*\n\s*/g, ' ');
}

function row(name: string, i: InstanceStatusJson, lastEvent?: string): string[] {
  const state = i.state === 'FAULT' && i.faultReason ? `FAULT (${i.faultReason})` : i.state;
  return [
    name,
    state,
    `${i.priority}/${i.effectivePriority}`,
    i.master ?? '-',
    i.vips.length ? i.vips.join(',') : '-',
    providerCell(i),
    lastErrorCell(i),
    ...(lastEvent !== undefined ? [lastEvent] : []),
  ];
}

/** "config generation 3 (loaded …); last reload refused: 2 error(s)". */
function configLine(c: NonNullable<StatusJson['config']>): string {
  const r = c.lastReload;
  const last = !r ? '' : r.outcome === 'applied' ? `; last reload applied in ${r.durationMs} ms` : `; last reload ${r.outcome === 'rejected' ? 'refused' : 'partly applied'} at ${r.at}: ${r.errors.length} error(s) (see the log)`;
  return `config generation ${c.generation} (loaded ${c.loadedAt})${last}`;
}

/** One line per instance with a lease-based election (etcd): its own facts. */
function electionLines(s: StatusJson): string[] {
  const out: string[] = [];
  for (const name of Object.keys(s.instances).sort()) {
    const e = s.instances[name]!.election;
    if (!e) continue;
    const lease = e.leaseId ? `lease ${e.leaseId} ${((e.leaseTtlLeftMs ?? 0) / 1000).toFixed(1)} s left of ${e.ttlSeconds} s` : 'no lease';
    const store = e.storeReachable ? 'etcd reachable' : `etcd UNREACHABLE${e.lastError ? ` (${e.lastError})` : ''}`;
    const hold = e.holdingWithoutLease ? ', HOLDING WITHOUT LEASE (onStoreLost: hold)' : '';
    out.push(`${name} election: etcd ${e.key}, leader ${e.leader ?? '-'} (we are ${e.id}), ${lease}, ${store}${hold}`);
  }
  return out.length ? ['', ...out] : [];
}

/** `lastEvents` (status --watch): a LAST EVENT column, per instance ("-" when none). */
export function renderStatusTable(s: StatusJson, lastEvents?: Record<string, string>): string {
  const names = Object.keys(s.instances).sort();
  const rows = names.map((n) => row(n, s.instances[n]!, lastEvents ? (lastEvents[n] ?? '-') : undefined));
  const headers: string[] = lastEvents ? [...HEADERS, 'LAST EVENT'] : [...HEADERS];
  const table = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const lines = table.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  if (rows.length === 0) lines.push('(no instances)');
  lines.push(...electionLines(s));
  lines.push(...renderChecksText(s));
  lines.push('');
  lines.push(`ha-agent ${s.version}, pid ${s.pid}, up ${formatUptime(s.uptimeSeconds)} (since ${s.startedAt})`);
  if (s.config) lines.push(configLine(s.config));
  return lines.join('\n') + '\n';
}

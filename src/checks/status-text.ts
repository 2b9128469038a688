// The checks' part of `ha-agent status` (text): one line per health check (type, status, why, the
// last run), then one line per instance that tracks something (its effective priority, each
// contribution, and why the priority last moved). Pure; nothing when no check or tracking exists.
import type { StatusJson } from '../status/types.js';

export function renderChecksText(s: StatusJson): string[] {
  const lines: string[] = [];
  const checks = Object.entries(s.checks ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (checks.length > 0) {
    lines.push('', 'CHECKS');
    for (const [name, c] of checks) {
      const last = c.last ? `last: ${c.last.timedOut ? 'timed out' : c.last.detail} in ${c.last.durationMs} ms, ${c.last.agoSeconds} s ago` : 'not run yet';
      const value = c.value !== undefined ? ` value ${c.value}` : '';
      lines.push(`  ${name}  ${c.type}  ${c.status}${value}  (${c.reason}; ${last})`);
    }
  }
  const tracked = Object.entries(s.instances).filter(([, i]) => i.tracking).sort(([a], [b]) => a.localeCompare(b));
  if (tracked.length > 0) {
    lines.push('', 'TRACKING');
    for (const [name, i] of tracked) {
      const t = i.tracking!;
      const sign = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
      const parts = [
        ...Object.entries(t.checks).map(([n, c]) => `${n} ${c.status} ${c.weight === 0 ? '(weight 0)' : sign(c.contribution)}`),
        ...Object.entries(t.interfaces).map(([n, x]) => `${n} ${x.up ? 'up' : 'down'} ${x.weight === 0 ? '(weight 0)' : sign(x.contribution)}`),
        ...Object.entries(t.files).map(([n, f]) => `${n}=${f.value} ${sign(f.contribution)}`),
      ];
      const change = t.lastChange ? `; last change ${t.lastChange.from} → ${t.lastChange.to}: ${t.lastChange.reason}` : '';
      lines.push(`  ${name}  priority ${i.priority}/${t.effectivePriority}  ${parts.join(', ')}${change}`);
    }
  }
  return lines;
}

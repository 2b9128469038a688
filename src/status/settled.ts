// Has the election settled? Pure: reads a /status document, returns a verdict and one line a person
// can read. Settled means every instance has left INIT for BACKUP or MASTER, or is in FAULT with a
// reason (a fault the agent can name is a settled state: waiting longer would not change it). An
// agent with no instances has nothing to elect and is settled. Used by GET /readyz (status/server.ts:
// 200 when settled, else 503, the summary as the body) and by the systemd notifier (READY=1, STATUS=).
//
// The summary lists every instance in config order as "NAME STATE", a FAULT with its reason in
// parentheses, e.g. "VI_1 MASTER, VI_2 BACKUP, VI_3 FAULT (link: eth1 down)"; "no instances" when empty.
import type { StatusJson } from './types.js';

export function electionSettled(status: StatusJson): { settled: boolean; summary: string } {
  const entries = Object.entries(status.instances);
  if (entries.length === 0) return { settled: true, summary: 'no instances' };
  let settled = true;
  const parts: string[] = [];
  for (const [name, inst] of entries) {
    const reason = inst.state === 'FAULT' ? faultReason(inst.faultReason, inst.faults) : null;
    if (inst.state === 'INIT' || (inst.state === 'FAULT' && !reason)) settled = false;
    parts.push(reason ? `${name} ${inst.state} (${reason})` : `${name} ${inst.state}`);
  }
  return { settled, summary: parts.join(', ') };
}

/** The fault's reason: faultReason, else the first named fault source; null when neither says anything. */
function faultReason(reason: string | null, faults: Record<string, string> | undefined): string | null {
  if (reason && reason.trim()) return reason.trim();
  const first = Object.entries(faults ?? {}).find(([, why]) => why && why.trim());
  return first ? `${first[0]}: ${first[1].trim()}` : null;
}

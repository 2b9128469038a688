// Has the election settled? One answer for systemd's READY=1 (src/systemd/service.ts) and a container's
// readiness endpoint, plus a one-line summary a person can read ("VI_1 MASTER, VI_2 BACKUP").
//
// Contract: electionSettled(status, now?) is pure (status JSON and a wall clock in, answer out).
// Every instance must be settled:
// - MASTER;
// - BACKUP that knows its master (it heard an advert), or that has listened for a whole master-down
//   interval (4 × advertInterval covers 3 × interval + skew) without hearing one — then it would have
//   become MASTER unless something (a sync group) holds it, and waiting longer says nothing new;
// - FAULT with a reason, its own or its first fault source's (a FAULT is a settled answer: the operator
//   has to act, not wait).
// INIT, a BACKUP still listening, or a FAULT without a reason is not settled. No instances: settled.
// The summary names each instance's state (FAULT with its reason, an unsettled one with why); beyond
// SUMMARY_LIST_MAX instances it counts states instead and names only the faulted ones.
import type { InstanceStatusJson, StatusJson } from './types.js';

/** Up to this many instances are listed by name in the summary. */
export const SUMMARY_LIST_MAX = 8;

/** Whether one instance has settled, and the words for it in the summary. */
export function instanceSettled(i: InstanceStatusJson, now: number): { settled: boolean; words: string } {
  switch (i.state) {
    case 'MASTER':
      return { settled: true, words: 'MASTER' };
    case 'BACKUP': {
      if (i.master !== null) return { settled: true, words: 'BACKUP' };
      const since = i.since === null ? NaN : Date.parse(i.since);
      const listened = now - since >= 4 * i.advertIntervalCs * 10;
      return listened ? { settled: true, words: 'BACKUP (no master heard)' } : { settled: false, words: 'BACKUP (listening for a master)' };
    }
    case 'FAULT': {
      const why = faultWhy(i);
      return why ? { settled: true, words: `FAULT (${why})` } : { settled: false, words: 'FAULT' };
    }
    default:
      return { settled: false, words: i.state };
  }
}

export function electionSettled(status: StatusJson, now: number = Date.now()): { settled: boolean; summary: string } {
  const entries = Object.entries(status.instances);
  if (entries.length === 0) return { settled: true, summary: 'no instances' };
  let settled = true;
  const parts: string[] = [];
  const counts = new Map<string, number>();
  const faulted: string[] = [];
  for (const [name, inst] of entries) {
    const s = instanceSettled(inst, now);
    settled &&= s.settled;
    parts.push(`${name} ${s.words}`);
    counts.set(inst.state, (counts.get(inst.state) ?? 0) + 1);
    if (inst.state === 'FAULT') faulted.push(`${name} (${faultWhy(inst) ?? 'no reason'})`);
  }
  if (entries.length <= SUMMARY_LIST_MAX) return { settled, summary: parts.join(', ') };
  const byState = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  const faults = faulted.length === 0 ? '' : `; FAULT: ${faulted.slice(0, 3).join(', ')}${faulted.length > 3 ? `, +${faulted.length - 3} more` : ''}`;
  return { settled, summary: `${entries.length} instances: ${byState}${faults}` };
}

/** Why an instance is in FAULT: its reason, else its first fault source ("link: eth1 down"); null when nothing says. */
function faultWhy(i: InstanceStatusJson): string | null {
  if (i.faultReason?.trim()) return i.faultReason;
  const [source, reason] = Object.entries(i.faults ?? {}).find(([, r]) => typeof r === 'string' && r.trim()) ?? [];
  return source ? `${source}: ${reason}` : null;
}

// nftables faults inside one lab node's namespace, for the chaos suite (bench/chaos/): a partition
// (every VRRP packet dropped on the node's input) and random loss (N % of VRRP packets dropped on its
// input). Both act on the receiver's input, never on output: a capture on the lab bridge still sees
// everything each node sent. Put the rule on both nodes for "both ways". Everything lives in one
// table of our own (inet chaos), so heal() is one `delete table` and nothing else in the namespace
// is touched. The rule text is pure (unit-tested); apply/heal run `nft -f -` in the node.
import type { Lab } from '../../src/lab/lab.js';

export const CHAOS_TABLE = 'chaos';

export type NftFault = { kind: 'partition' } | { kind: 'loss'; percent: number };

/** The statement that drops VRRP for a fault. */
export function faultRule(f: NftFault): string {
  if (f.kind === 'partition') return 'ip protocol vrrp counter drop';
  const p = Math.round(f.percent);
  if (!(p >= 0 && p <= 100)) throw new Error(`nft: loss percent ${f.percent} out of 0..100`);
  return `ip protocol vrrp numgen random mod 100 < ${p} counter drop`;
}

/**
 * A whole `nft -f` script: (re)creates table inet chaos with one input chain: a counter of every VRRP
 * packet that arrives, then the fault's rule (with its own counter).
 */
export function faultScript(f: NftFault): string {
  return [
    `table inet ${CHAOS_TABLE}`,
    `delete table inet ${CHAOS_TABLE}`,
    `table inet ${CHAOS_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    '    ip protocol vrrp counter',
    `    ${faultRule(f)}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Installs the fault on `node`'s input (replacing any earlier one). */
export async function applyFault(lab: Lab, node: string, f: NftFault): Promise<void> {
  await lab.run(node, ['nft', '-f', '-'], { input: faultScript(f) });
}

/** Removes every chaos rule from `node` (no-op if none). */
export async function heal(lab: Lab, node: string): Promise<void> {
  await lab.run(node, ['nft', '-f', '-'], { input: `table inet ${CHAOS_TABLE}\ndelete table inet ${CHAOS_TABLE}\n` });
}

/** VRRP packets that reached `node`'s input since the fault was applied, and how many were dropped. */
export interface FaultCounters {
  seen: number;
  dropped: number;
}

/** The two counters of `nft -j list table inet chaos` output (in rule order: seen, dropped). */
export function parseCounters(json: string): FaultCounters {
  const doc = JSON.parse(json) as { nftables?: { rule?: { expr?: { counter?: { packets: number } }[] } }[] };
  const counts = (doc.nftables ?? []).flatMap((o) => (o.rule?.expr ?? []).flatMap((e) => (e.counter ? [e.counter.packets] : [])));
  return { seen: counts[0] ?? 0, dropped: counts[1] ?? 0 };
}

/** The fault's counters on `node` (zeros when no fault is installed). */
export async function faultCounters(lab: Lab, node: string): Promise<FaultCounters> {
  const r = await lab.exec(node, ['nft', '-j', 'list', 'table', 'inet', CHAOS_TABLE]);
  return r.code === 0 ? parseCounters(r.stdout) : { seen: 0, dropped: 0 };
}

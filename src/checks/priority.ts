// keepalived's tracking arithmetic, as pure functions (keepalived/vrrp/vrrp_track.c,
// keepalived/trackers/track_file.c, 2.2.x): what each tracked object adds to the base priority,
// which ones hold the instance in FAULT, and the effective priority that results.
//
// - Script (vrrp_script + track_script, our `checks`): weight w ≠ 0 adds w while the check succeeds
//   when w > 0, adds w (subtracts |w|) while it fails when w < 0, and nothing otherwise; a check that
//   has not reported yet (keepalived's SCRIPT_INIT_STATE_INIT) adds nothing. w = 0: FAULT while the
//   check is failed, and while it has not reported yet (keepalived's num_script_init: the instance
//   waits in FAULT for the first result, without notifying).
// - Interface (track_interface): the same rules with up/down for success/failure; w = 0 (no weight
//   given): FAULT while down.
// - File (track_file): the integer in the file × w, clamped to -254..253; -254 (or below) is FAULT.
//   w = 0: a non-zero value is FAULT, 0 is fine. A missing or unreadable file reads as 0.
// - Effective priority (vrrp_set_effective_priority): base + sum of the above, kept within 1..254;
//   the address owner (base 255) never moves, and weights never lift anyone to 255.
// - `reverse` (keepalived's `weight N reverse`) flips success and failure.

/** The top priority, the address owner's (never changed by tracking). */
export const OWNER_PRIORITY = 255;
/** A track_file status at or below this is FAULT (keepalived's -254). */
export const FILE_FAULT_STATUS = -254;
export const MAX_WEIGHT = 253;

export type CheckStatus = 'init' | 'ok' | 'failed';

/** `key`: the fault source and contribution key (default: sourceOf's). */
export type Tracked =
  | { kind: 'check'; name: string; key?: string; weight: number; reverse?: boolean; status: CheckStatus; reason: string }
  | { kind: 'interface'; name: string; key?: string; weight: number; reverse?: boolean; up: boolean; reason: string }
  | { kind: 'file'; name: string; key?: string; weight: number; reverse?: boolean; value: number; reason: string };

export interface TrackingResult {
  /** Base priority plus every contribution, kept within 1..254 (255 stays 255). */
  effectivePriority: number;
  /** The unclamped sum (keepalived's total_priority). */
  totalPriority: number;
  /** Per tracked object (by fault source name): what it adds now. */
  contributions: Record<string, number>;
  /** Fault sources present (`check:NAME`, `check:interface:NAME`, `check:file:PATH`) and why. */
  faults: Record<`check:${string}`, string>;
}

/** The fault-source key of a tracked object (also the key of its contribution). */
export function sourceOf(t: Tracked): `check:${string}` {
  if (t.key !== undefined) return t.key as `check:${string}`;
  return t.kind === 'check' ? `check:${t.name}` : t.kind === 'interface' ? `check:interface:${t.name}` : `check:file:${t.name}`;
}

/** Success/failure contribution of a weighted object (keepalived's sign rules). */
function weighted(weight: number, good: boolean): number {
  if (good) return weight > 0 ? weight : 0;
  return weight < 0 ? weight : 0;
}

/** keepalived's weight_range + the VRRP clamp of a track_file status: -254..253. */
export function fileStatus(value: number, weight: number, reverse = false): number {
  if (weight === 0) return (value !== 0) !== reverse ? FILE_FAULT_STATUS : 0;
  const s = value * weight * (reverse ? -1 : 1);
  return Math.max(FILE_FAULT_STATUS, Math.min(MAX_WEIGHT, s));
}

/** What one tracked object contributes: a priority delta, or a fault reason. */
export function contribution(t: Tracked): { delta: number; fault: string | null } {
  switch (t.kind) {
    case 'check': {
      if (t.status === 'init') return t.weight === 0 ? { delta: 0, fault: `${t.name}: waiting for its first result` } : { delta: 0, fault: null };
      const good = (t.status === 'ok') !== (t.reverse ?? false);
      if (t.weight === 0) return good ? { delta: 0, fault: null } : { delta: 0, fault: t.reason };
      return { delta: weighted(t.weight, good), fault: null };
    }
    case 'interface': {
      const good = t.up !== (t.reverse ?? false);
      if (t.weight === 0) return good ? { delta: 0, fault: null } : { delta: 0, fault: t.reason };
      return { delta: weighted(t.weight, good), fault: null };
    }
    case 'file': {
      const s = fileStatus(t.value, t.weight, t.reverse);
      return s <= FILE_FAULT_STATUS ? { delta: 0, fault: t.reason } : { delta: s, fault: null };
    }
  }
}

/** keepalived vrrp_set_effective_priority: owners never move; the rest stay within 1..254. */
export function clampPriority(base: number, total: number): number {
  if (base === OWNER_PRIORITY) return OWNER_PRIORITY;
  return Math.min(OWNER_PRIORITY - 1, Math.max(1, total));
}

/** The effective priority and the fault sources of an instance with base priority `base`. */
export function evaluateTracking(base: number, tracked: readonly Tracked[]): TrackingResult {
  let total = base;
  const contributions: Record<string, number> = {};
  const faults: Record<`check:${string}`, string> = {};
  for (const t of tracked) {
    const c = contribution(t);
    const key = sourceOf(t);
    contributions[key] = c.delta;
    if (c.fault !== null) faults[key] = c.fault;
    // The owner's priority is never changed by weights (keepalived skips them); faults still count.
    if (base !== OWNER_PRIORITY) total += c.delta;
  }
  return { effectivePriority: clampPriority(base, total), totalPriority: total, contributions, faults };
}

/**
 * keepalived's track_file parse: strtol(buf, NULL, 0) on the first 127 bytes — leading blanks, a
 * sign, 0x… hex, 0… octal; junk reads as 0 (what parsed before it otherwise). Out of the int32 range
 * (beyond INT32_MAX + 1): null, keepalived ignores the read and keeps the last value.
 */
export function parseFileValue(text: string): number | null {
  const m = /^[\s]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(text.slice(0, 127));
  const digits = m?.[2];
  if (!digits) return 0;
  const sign = m?.[1] === '-' ? -1 : 1;
  const v = sign * (digits.startsWith('0x') || digits.startsWith('0X') ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : parseInt(digits, 10));
  if (!Number.isSafeInteger(v) || v < -(2 ** 31) || v > 2 ** 31) return null;
  return v;
}

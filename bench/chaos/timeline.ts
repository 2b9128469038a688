// Who held the VIP, when: the pure core of the chaos suite (bench/chaos/). Events in, intervals out;
// no I/O, no clock.
//
// Two views of "holder", both turned into per-node hold intervals and then into one timeline:
//   - on the wire: a node holds from the first advert (priority > 0) of a run until one advert
//     interval after the last one (when the next was due), or until another node's advert comes
//     first (a handover), or until its priority-0 advert (it left); a run breaks at a gap longer than
//     `gapMs` (the daemon stopped advertising: stopped, stalled, stepped down, or its link was down);
//   - on an interface: from `ip monitor address` adds to deletes of the VIP on each node.
// The timeline is the sequence of segments in which the set of holders stays the same; from it come
// the dual-holder spans (two or more), the zero-holder spans (none, once someone has held) and the
// number of transitions (holder-set changes). Times are ms since the epoch; formatTimeline prints
// them as seconds from a chosen origin: `0.0s A | 12.3s A+B (0.8s) | 13.1s A`.

/** One advert seen on the wire (a subset of test/netns/capture.ts VrrpRow). */
export interface AdvertEvent {
  time: number;
  src: string;
  priority: number;
}

/** The VIP added to or deleted from a node's interface. */
export interface AddressEvent {
  time: number;
  node: string;
  added: boolean;
}

export interface Interval {
  from: number;
  to: number;
}

export interface Segment {
  from: number;
  to: number;
  /** Sorted node names. */
  holders: string[];
}

export interface Span extends Interval {
  ms: number;
  holders: string[];
}

/**
 * Per-node hold intervals from adverts: runs of adverts with gaps ≤ gapMs. A run ends at its node's
 * priority-0 advert if it sent one; otherwise it lasts from its first advert to its last plus holdMs
 * (one advert interval: when the next one was due), cut short by the first advert of another node
 * after its last (a handover, not a gap).
 */
export function advertIntervals(adverts: readonly AdvertEvent[], nodeOf: (src: string) => string | null, gapMs: number, holdMs: number): Map<string, Interval[]> {
  const sorted = [...adverts].sort((x, y) => x.time - y.time);
  const out = new Map<string, Interval[]>();
  const open = new Map<string, Interval>();
  const ended = new Set<Interval>();
  for (const a of sorted) {
    const node = nodeOf(a.src);
    if (!node) continue;
    const cur = open.get(node);
    if (a.priority === 0) {
      // It left: its run (if any) ends here.
      if (cur) {
        cur.to = a.time;
        ended.add(cur);
      }
      open.delete(node);
      continue;
    }
    if (cur && a.time - cur.to <= gapMs) {
      cur.to = a.time;
      continue;
    }
    const iv = { from: a.time, to: a.time };
    open.set(node, iv);
    out.set(node, [...(out.get(node) ?? []), iv]);
  }
  for (const [node, ivs] of out) {
    for (const iv of ivs) {
      if (ended.has(iv)) continue;
      const other = sorted.find((a) => a.time > iv.to && a.priority > 0 && nodeOf(a.src) !== null && nodeOf(a.src) !== node);
      iv.to = Math.min(iv.to + holdMs, other?.time ?? Infinity);
    }
  }
  return out;
}

/** Per-node hold intervals from address events; one still held at `end` is closed there. */
export function addressIntervals(events: readonly AddressEvent[], end: number): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  const since = new Map<string, number>();
  for (const e of [...events].sort((x, y) => x.time - y.time)) {
    if (e.added) {
      if (!since.has(e.node)) since.set(e.node, e.time);
    } else {
      const from = since.get(e.node);
      if (from === undefined) continue;
      since.delete(e.node);
      out.set(e.node, [...(out.get(e.node) ?? []), { from, to: e.time }]);
    }
  }
  for (const [node, from] of since) out.set(node, [...(out.get(node) ?? []), { from, to: Math.max(from, end) }]);
  return out;
}

/**
 * The segments of [start, end] with a constant set of holders; intervals are half-open [from, to), so
 * one node's end meeting another's start is a handover, not an overlap (zero-length intervals are
 * ignored). Consecutive equal sets are merged.
 */
export function segments(intervals: Map<string, Interval[]>, start: number, end: number): Segment[] {
  const cuts = new Set<number>([start, end]);
  for (const ivs of intervals.values()) for (const iv of ivs) for (const t of [iv.from, iv.to]) if (t > start && t < end) cuts.add(t);
  const times = [...cuts].sort((a, b) => a - b);
  const holdersAt = (t: number): string[] =>
    [...intervals]
      .filter(([, ivs]) => ivs.some((iv) => iv.from <= t && t < iv.to))
      .map(([n]) => n)
      .sort();
  const out: Segment[] = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const holders = holdersAt(times[i]!);
    const last = out.at(-1);
    if (last && last.holders.join() === holders.join()) last.to = times[i + 1]!;
    else out.push({ from: times[i]!, to: times[i + 1]!, holders });
  }
  return out;
}

/** Spans with two or more holders. */
export function dualSpans(segs: readonly Segment[]): Span[] {
  return segs.filter((s) => s.holders.length >= 2).map(toSpan);
}

/** Spans with no holder, after the first segment that had one (before that: not yet elected). */
export function zeroSpans(segs: readonly Segment[]): Span[] {
  const first = segs.findIndex((s) => s.holders.length > 0);
  if (first < 0) return [];
  return segs.slice(first).filter((s) => s.holders.length === 0 && s.to > s.from).map(toSpan);
}

/** Holder-set changes. */
export function transitions(segs: readonly Segment[]): number {
  return Math.max(0, segs.length - 1);
}

/** Runs of `node` that start after `after` (e.g. takeovers by the backup after the election settled). */
export function runsOf(intervals: Map<string, Interval[]>, node: string, after: number): Interval[] {
  return (intervals.get(node) ?? []).filter((iv) => iv.from > after);
}

/** The longest gap between consecutive adverts of `src` within [from, to] (0 with fewer than two). */
export function maxAdvertGap(adverts: readonly AdvertEvent[], src: string, from: number, to: number): number {
  const t = adverts.filter((a) => a.src === src && a.time >= from && a.time <= to && a.priority > 0).map((a) => a.time).sort((a, b) => a - b);
  let max = 0;
  for (let i = 1; i < t.length; i++) max = Math.max(max, t[i]! - t[i - 1]!);
  return max;
}

function toSpan(s: Segment): Span {
  return { from: s.from, to: s.to, ms: s.to - s.from, holders: s.holders };
}

/**
 * `0.0s A | 12.3s A+B (0.8s) | 13.1s A`: seconds from `origin`, holders (— for none, names upper-
 * cased), the duration of dual- and zero-holder segments in parentheses. Zero-length segments
 * shorter than `minMs` are left out unless they have two holders; at most `max` segments, then
 * `… +N`.
 */
export function formatTimeline(segs: readonly Segment[], origin: number, opts: { max?: number; minMs?: number } = {}): string {
  const max = opts.max ?? 12;
  const minMs = opts.minMs ?? 0;
  const s1 = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const shown: Segment[] = [];
  for (const s of segs) {
    if (shown.length && s.holders.length < 2 && s.to - s.from < minMs) continue;
    const last = shown.at(-1);
    if (last && last.holders.join() === s.holders.join()) shown[shown.length - 1] = { ...last, to: s.to };
    else shown.push(s);
  }
  const parts = shown.slice(0, max).map((s) => {
    const who = s.holders.length ? s.holders.map((h) => h.toUpperCase()).join('+') : '—';
    const dur = s.holders.length !== 1 && s !== shown.at(-1) ? ` (${s1(s.to - s.from)})` : '';
    return `${s1(s.from - origin)} ${who}${dur}`;
  });
  if (shown.length > max) parts.push(`… +${shown.length - max}`);
  return parts.join(' | ');
}

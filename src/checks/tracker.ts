// One instance's tracking: the checks it tracks (track_script), its tracked interfaces
// (track_interface) and files (track_file), turned into an effective priority and fault sources by
// keepalived's arithmetic (priority.ts). It listens to the shared check scheduler (driver.ts) and is
// told about interfaces by the agent's link watcher; on every change it re-evaluates and pushes the
// difference to its target — setPriority (the election's next advert carries it) and setFault for
// each source that appeared or cleared (`check:NAME`, `check:interface:NAME`, `check:file:PATH`).
// It also remembers why the priority last moved, for /status and `ha-agent status`.
import type { Logger } from 'pino';
import type { Config, InstanceConfig } from '../config/schema.js';
import type { CheckScheduler, CheckChange } from './driver.js';
import { evaluateTracking, fileStatus, sourceOf, type Tracked, type TrackingResult } from './priority.js';
import { isoTime } from '../iso-time.js';

export interface TrackerTarget {
  setPriority(priority: number): void;
  setFault(source: `check:${string}`, reason: string | null): void;
}

export interface TrackingStatusJson {
  effectivePriority: number;
  /** Base priority plus every contribution, before the 1..254 clamp (keepalived's total_priority). */
  totalPriority: number;
  /** The last change of the effective priority and why; null before the first. */
  lastChange: { at: string; from: number; to: number; reason: string } | null;
  checks: Record<string, { status: string; weight: number; contribution: number; reason: string }>;
  interfaces: Record<string, { up: boolean; weight: number; contribution: number }>;
  files: Record<string, { value: number; weight: number; contribution: number }>;
}

export class InstanceTracker {
  private readonly items: Tracked[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private applied: TrackingResult | null = null;
  private lastChange: TrackingStatusJson['lastChange'] = null;
  private closed = false;

  constructor(
    readonly instance: string,
    private readonly cfg: InstanceConfig,
    checksCfg: NonNullable<Config['checks']>,
    private readonly checks: CheckScheduler,
    private readonly target: TrackerTarget,
    private readonly log: Logger,
  ) {
    const track = cfg.track;
    for (const entry of track?.checks ?? []) {
      const name = typeof entry === 'string' ? entry : entry.check;
      const def = checksCfg[name];
      if (!def) throw new Error(`${instance}: no check named ${name}`);
      const weight = (typeof entry === 'string' ? undefined : entry.weight) ?? def.weight;
      this.follow(def.type === 'file' ? { kind: 'file', name, key: `check:${name}`, weight, value: 0, reason: '' } : { kind: 'check', name, weight, status: 'init', reason: '' }, name);
    }
    for (const f of track?.files ?? []) this.follow({ kind: 'file', name: f.path, weight: f.weight, value: 0, reason: '' }, `file:${f.path}`);
    for (const entry of track?.interfaces ?? []) {
      const name = typeof entry === 'string' ? entry : entry.interface;
      const weight = typeof entry === 'string' ? 0 : entry.weight;
      this.items.push({ kind: 'interface', name, weight, up: true, reason: '' });
    }
    this.evaluate('start-up');
  }

  /** The interfaces this instance tracks. */
  get interfaces(): string[] {
    return this.items.filter((t) => t.kind === 'interface').map((t) => t.name);
  }

  /** A tracked interface's state (the agent's link watcher); `why` says what is wrong when down. */
  setInterface(name: string, up: boolean, why: string): void {
    const i = this.items.findIndex((t) => t.kind === 'interface' && t.name === name);
    const t = this.items[i];
    if (!t || t.kind !== 'interface' || (t.up === up && t.reason === why)) return;
    this.items[i] = { ...t, up, reason: why };
    this.evaluate(up ? `interface ${name} is up` : why);
  }

  status(): TrackingStatusJson {
    const r = this.applied ?? evaluateTracking(this.cfg.priority, this.items);
    const out: TrackingStatusJson = { effectivePriority: r.effectivePriority, totalPriority: r.totalPriority, lastChange: this.lastChange, checks: {}, interfaces: {}, files: {} };
    for (const t of this.items) {
      const contribution = r.contributions[sourceOf(t)] ?? 0;
      if (t.kind === 'check') out.checks[t.name] = { status: t.status, weight: t.weight, contribution, reason: t.reason };
      else if (t.kind === 'interface') out.interfaces[t.name] = { up: t.up, weight: t.weight, contribution };
      else out.files[t.name] = { value: t.value, weight: t.weight, contribution };
    }
    return out;
  }

  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe) u();
  }

  private follow(t: Tracked, checkName: string): void {
    const index = this.items.length;
    const now = this.checks.current(checkName);
    this.items.push(this.merge(t, now));
    this.unsubscribe.push(
      this.checks.subscribe(checkName, (c) => {
        this.items[index] = this.merge(this.items[index]!, c);
        this.evaluate(c.reason);
      }),
    );
  }

  private merge(t: Tracked, c: CheckChange): Tracked {
    if (t.kind === 'check') return { ...t, status: c.status, reason: c.reason };
    if (t.kind === 'file') {
      const s = fileStatus(c.value, t.weight, t.reverse);
      const reason = `tracked file ${t.name} reads ${c.value} (× weight ${t.weight} = ${s <= -254 ? 'FAULT' : s})`;
      return { ...t, value: c.value, reason };
    }
    return t;
  }

  /** Re-evaluates and pushes what changed to the target. */
  private evaluate(why: string): void {
    if (this.closed) return;
    const r = evaluateTracking(this.cfg.priority, this.items);
    const before = this.applied;
    this.applied = r;
    for (const [source, reason] of Object.entries(r.faults) as [`check:${string}`, string][]) {
      if (before?.faults[source] !== reason) this.target.setFault(source, reason);
    }
    for (const source of Object.keys(before?.faults ?? {}) as `check:${string}`[]) {
      if (!(source in r.faults)) this.target.setFault(source, null);
    }
    const from = before?.effectivePriority ?? this.cfg.priority;
    if (before === null || r.effectivePriority !== before.effectivePriority) this.target.setPriority(r.effectivePriority);
    if (r.effectivePriority !== from) {
      this.lastChange = { at: isoTime(Date.now()), from, to: r.effectivePriority, reason: why };
      this.log.info({ evt: 'priority', instance: this.instance, from, to: r.effectivePriority, reason: why }, `${this.instance}: priority ${from} → ${r.effectivePriority} (${why})`);
    }
  }
}

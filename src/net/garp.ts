// When gratuitous ARPs go out: keepalived's schedule (GarpSchedule), on top of a LinkAnnouncer
// (announcer.ts). Shared by the garp and alibaba providers.
//
// Schedule, as keepalived 2.2 (vrrp.c, vrrp_scheduler.c), all times in seconds:
//   start():  `repeat` GARPs per VIP at once, interleaved across VIPs (round j sends VIP1, VIP2, …);
//             another `repeat` after `delay` (0 = none); then `refreshRepeat` every `refresh` (0 = off).
//   burst('lower-priority'): `lowerPrioRepeat` at once, and again after `lowerPrioDelay` (default `delay`).
//   stop():   cancels every pending burst, and frames still queued in the sender (never announce
//             what we are giving up).
import type { Logger } from 'pino';
import type { LinkAnnouncer } from './announcer.js';

export interface GarpSettings {
  /** GARPs per VIP in each burst (garp_master_repeat). */
  repeat: number;
  /** Seconds until the second burst (garp_master_delay); 0 = none. */
  delay: number;
  /** Seconds between refresh bursts while held (garp_master_refresh); 0 = off. */
  refresh: number;
  /** GARPs per VIP in a refresh burst (garp_master_refresh_repeat). */
  refreshRepeat: number;
  /** GARPs per VIP when a lower-priority advert is heard while MASTER (garp_lower_prio_repeat); 0 = none. */
  lowerPrioRepeat: number;
  /** Seconds until the second lower-priority burst (garp_lower_prio_delay); defaults to `delay`. */
  lowerPrioDelay?: number;
}

/** keepalived 2.2's defaults. */
export const KEEPALIVED_GARP_DEFAULTS: Readonly<GarpSettings> = Object.freeze({ repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 5 });

export type GarpReason = 'start' | 'delay' | 'refresh' | 'lower-priority' | 'lower-priority-delay' | 'reacquire';

export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface GarpScheduleOptions {
  announcer: LinkAnnouncer;
  ifname: string;
  mac: string;
  /** IPv4 VIPs (plain addresses, no prefix). */
  vips: readonly string[];
  settings: GarpSettings;
  timers?: TimerApi;
  log?: Logger;
  /** Called with each failed burst's first error (after logging it). */
  onError?: (err: Error, reason: GarpReason) => void;
}

type Slot = 'delay' | 'refresh' | 'lowerPrio';

export class GarpSchedule {
  private readonly timers: TimerApi;
  private readonly pending = new Map<Slot, unknown>();
  private active = false;
  /** Aborted by stop(): frames a sender still holds for this run are dropped. */
  private cancel = new AbortController();

  constructor(private readonly opts: GarpScheduleOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  get running(): boolean {
    return this.active;
  }

  /**
   * First burst now, then the delayed and refresh bursts. A no-op while already running.
   * `alreadySent`: GARPs per VIP of the first burst that already left (the takeover fast path sends
   * one, vrrp/offload.ts); the burst sends the rest, so the count stays `repeat`.
   */
  start(alreadySent = 0): void {
    if (this.active) return;
    this.active = true;
    this.cancel = new AbortController();
    const s = this.opts.settings;
    if (alreadySent > 0) void this.send('start', Math.max(0, s.repeat - alreadySent));
    else void this.burst('start');
    if (s.delay > 0) this.arm('delay', s.delay, () => void this.burst('delay'));
    if (s.refresh > 0) this.armRefresh();
  }

  /**
   * One burst now (while running; otherwise nothing). The count follows the reason: `refreshRepeat`
   * for 'refresh', `lowerPrioRepeat` for 'lower-priority' (which also arms its delayed repeat),
   * `repeat` otherwise. Resolves once every frame was handed to the sender; never rejects.
   */
  burst(reason: GarpReason): Promise<void> {
    if (!this.active) return Promise.resolve();
    const s = this.opts.settings;
    const count = reason === 'refresh' ? s.refreshRepeat : reason.startsWith('lower-priority') ? s.lowerPrioRepeat : s.repeat;
    if (reason === 'lower-priority') {
      const delay = s.lowerPrioDelay ?? s.delay;
      if (count > 0 && delay > 0) this.arm('lowerPrio', delay, () => void this.burst('lower-priority-delay'));
    }
    return this.send(reason, count);
  }

  /** Cancels every pending burst and the frames a sender still queues. start() may be called again afterwards. */
  stop(): void {
    this.active = false;
    this.cancel.abort();
    for (const slot of [...this.pending.keys()]) this.disarm(slot);
  }

  private send(reason: GarpReason, count: number): Promise<void> {
    const { announcer, ifname, mac, vips } = this.opts;
    const signal = this.cancel.signal;
    const sends: Promise<void>[] = [];
    for (let round = 0; round < count; round++)
      for (const vip of vips) {
        try {
          sends.push(announcer.sendGarp(ifname, mac, vip, 1, signal));
        } catch (e) {
          sends.push(Promise.reject(e)); // a sender that throws instead of rejecting
        }
      }
    this.opts.log?.debug({ reason, count, vips, sender: announcer.kind }, 'sending gratuitous ARPs');
    return Promise.allSettled(sends).then((results) => {
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const first = failed[0];
      if (!first) return;
      const err = first.reason instanceof Error ? first.reason : new Error(String(first.reason));
      this.opts.log?.warn({ err: err.message, reason, failed: failed.length, of: results.length }, 'gratuitous ARP burst failed');
      this.opts.onError?.(err, reason);
    });
  }

  private armRefresh(): void {
    this.arm('refresh', this.opts.settings.refresh, () => {
      void this.burst('refresh');
      if (this.active) this.armRefresh();
    });
  }

  private arm(slot: Slot, seconds: number, fn: () => void): void {
    this.disarm(slot);
    const handle = this.timers.setTimeout(() => {
      this.pending.delete(slot);
      if (this.active) fn();
    }, seconds * 1000);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.pending.set(slot, handle);
  }

  private disarm(slot: Slot): void {
    if (!this.pending.has(slot)) return;
    this.timers.clearTimeout(this.pending.get(slot));
    this.pending.delete(slot);
  }
}

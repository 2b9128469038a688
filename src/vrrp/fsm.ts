// The pure VRRP state machine: RFC 5798 §6.4 (RFC 3768 §6.4 for v2), with keepalived 2.2.x's
// behaviour where the two differ. step(config, snapshot, event, now) returns the next snapshot and
// the actions to perform; nothing here touches a socket, a timer, the clock, a logger or randomness.
// The driver arms ONE timer at nextDeadline(snapshot) and feeds {type:'tick'} when it fires (late
// is fine). Every rule carries a one-line comment naming its RFC section or keepalived function.
import { csToMs, DEFAULT_DOWN_TIMER_ADVERTS, masterDownIntervalMs, skewTimeMs } from './timers.js';
import { parseIpv4Address } from '../net/ip.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export interface FsmConfig {
  version: 2 | 3;
  priority: number; // configured base priority 1..255 (255 = address owner)
  advertIntervalCs: number; // local Advertisement_Interval, centiseconds (v2: multiple of 100)
  preempt: boolean; // default true; owner (255) always preempts
  preemptDelayMs: number; // keepalived preempt_delay
  localAddress: string; // our primary address (the advert source); tie-break compares it as unsigned
  lowerPrioNoAdvert?: boolean; // keepalived lower_prio_no_advert; default false
  downTimerAdverts?: number; // default 3
  higherPrioSendAdvert?: boolean; // keepalived higher_prio_send_advert; default false (extension)
  /**
   * Put the Adver_Timer on a grid of the interval (multiples of it on the `now` clock) instead of
   * `now + interval` after an advert sent out of turn (becoming master, answering priority 0 or a
   * lower priority). The next advert then comes 0.5–1.5 intervals later, once; after that the cadence
   * is exactly the interval, as RFC 5798 §6.4.3 says. The agent sets it so that every instance with
   * the same interval advertises in the same wake-up (scheduler.ts). Default false (RFC-literal).
   */
  advertGrid?: boolean;
  /**
   * With advertGrid: the grid's offset, ms (the grid is phase + k × interval). The agent draws one at
   * random per process, so two nodes started at the same moment are not in phase the way their
   * clocks' origins would put them (in phase, a split brain heals only at their common next advert,
   * not at the earlier of two: bench/chaos partition). Default 0.
   */
  advertGridPhaseMs?: number;
}

export interface FsmSnapshot {
  readonly state: VrrpState;
  readonly effectivePriority: number; // base priority adjusted by tracking (setPriority)
  readonly masterAdverIntervalCs: number;
  readonly masterAddress: string | null; // who we believe is master (ours when MASTER)
  readonly masterPriority: number | null;
  readonly masterDownAt: number | null; // ms; armed only in BACKUP
  readonly adverAt: number | null; // ms; armed only in MASTER
  readonly preemptAt: number | null; // ms; keepalived's preempt_time (null = not running)
  readonly faultReason: string | null;
  readonly since: number; // ms of last transition
  /** keepalived vrrp_sync_can_goto_master: a sync-group member may not take over by its own timer
   *  until every other member is MASTER or wants to be (set by the group: sync/). */
  readonly syncHold?: boolean;
  /** Its Master_Down_Timer fired while held: it wants MASTER (keepalived wantstate MASTER). */
  readonly wantsMaster?: boolean;
}

export type FsmEvent =
  | { type: 'startup' }
  | { type: 'advert'; src: string; priority: number; advertIntervalCs: number }
  | { type: 'tick' }
  | { type: 'shutdown' }
  | { type: 'fault'; reason: string }
  | { type: 'recover' }
  | { type: 'setPriority'; priority: number }
  // keepalived vrrp_sync.c: the group holds a member back, or pulls it to BACKUP / MASTER.
  | { type: 'syncHold'; hold: boolean }
  | { type: 'syncBackup'; reason: string }
  | { type: 'syncMaster'; reason: string };

export type FsmAction =
  | { type: 'transition'; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'send-advert'; priority: number }
  | { type: 'hold-vips' }
  | { type: 'release-vips' }
  | { type: 'announce'; reason: 'lower-priority' }
  | { type: 'want-master' };

export interface StepResult {
  state: FsmSnapshot;
  actions: FsmAction[];
}

export type AdvertEvent = Extract<FsmEvent, { type: 'advert' }>;

const OWNER_PRIORITY = 255;
const STOP_PRIORITY = 0;

export function initialState(cfg: FsmConfig, now: number): FsmSnapshot {
  return {
    state: 'INIT',
    effectivePriority: cfg.priority,
    masterAdverIntervalCs: cfg.advertIntervalCs,
    masterAddress: null,
    masterPriority: null,
    masterDownAt: null,
    adverAt: null,
    preemptAt: null,
    faultReason: null,
    since: now,
  };
}

/** The one deadline the driver must arm: Adver_Timer in MASTER, Master_Down_Timer in BACKUP. */
export function nextDeadline(s: FsmSnapshot): number | null {
  if (s.state === 'MASTER') return s.adverAt;
  if (s.state === 'BACKUP') return s.masterDownAt;
  return null;
}

/**
 * For a driver that lets identical adverts be absorbed without stepping (vrrp/offload.ts): when `s`
 * is the snapshot right after BACKUP accepted `rx`, the same advert again at any time t before the
 * deadline gives { ...s, masterDownAt: t + returned ms } and no actions (keepalived vrrp_state_backup
 * with an unchanged master). Null when a repeat could do anything else: priority 0, a lower priority
 * we would preempt (now or after preempt_delay), or a snapshot that did not take rx as its master.
 */
export function advertRepeats(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent): number | null {
  if (s.state !== 'BACKUP' || s.masterDownAt === null || rx.priority === STOP_PRIORITY) return null;
  if (preempts(cfg) && rx.priority < s.effectivePriority) return null;
  if (s.masterAddress !== rx.src || s.masterPriority !== rx.priority) return null;
  const interval = cfg.version === 3 ? rx.advertIntervalCs : s.masterAdverIntervalCs;
  if (interval !== s.masterAdverIntervalCs) return null;
  return downInterval(cfg, s.effectivePriority, interval);
}

export function step(cfg: FsmConfig, s: FsmSnapshot, ev: FsmEvent, now: number): StepResult {
  // keepalived vrrp_set_effective_priority: tracking changes are recorded in every state.
  if (ev.type === 'setPriority') return setPriority(cfg, s, ev.priority);
  if (ev.type === 'syncHold') return noActions(ev.hold === (s.syncHold ?? false) ? s : { ...s, syncHold: ev.hold, wantsMaster: ev.hold ? s.wantsMaster : false });
  switch (s.state) {
    case 'INIT':
      return inInit(cfg, s, ev, now);
    case 'BACKUP':
      return inBackup(cfg, s, ev, now);
    case 'MASTER':
      return inMaster(cfg, s, ev, now);
    case 'FAULT':
      return inFault(cfg, s, ev, now);
  }
}

// ---------------------------------------------------------------------------------------------
// Per-state handlers (RFC 5798 §6.4.1 Initialize, §6.4.2 Backup, §6.4.3 Master; FAULT is keepalived's)

function inInit(cfg: FsmConfig, s: FsmSnapshot, ev: FsmEvent, now: number): StepResult {
  // RFC 5798 §6.4.1: only Startup leaves Initialize; everything else is ignored…
  if (ev.type === 'startup') return startUp(cfg, s, now, 'startup');
  // …but keepalived starts an instance whose interface is down (or unusable) straight in FAULT.
  if (ev.type === 'fault') return goTo(s, 'FAULT', now, `fault: ${ev.reason}`, [], { faultReason: ev.reason });
  return noActions(s);
}

function inBackup(cfg: FsmConfig, s: FsmSnapshot, ev: FsmEvent, now: number): StepResult {
  switch (ev.type) {
    case 'tick':
      // RFC 5798 §6.4.2: Master_Down_Timer fires → send an advert, take the VIPs, become Master.
      // The reason says whether the master said goodbye (priority 0: we waited only Skew_Time) or went silent.
      if (s.masterDownAt !== null && now >= s.masterDownAt && s.syncHold) {
        // keepalived vrrp_sync_can_goto_master: another member is not ready; wait another
        // Master_Down_Interval, wanting MASTER (the group pulls us when the last one is ready).
        const wait = { ...s, masterDownAt: now + downInterval(cfg, s.effectivePriority, s.masterAdverIntervalCs), wantsMaster: true };
        return { state: wait, actions: s.wantsMaster ? [] : [{ type: 'want-master' }] };
      }
      if (s.masterDownAt !== null && now >= s.masterDownAt)
        return becomeMaster(cfg, s, now, s.masterPriority === STOP_PRIORITY ? 'master-sent-priority-0' : 'master-down-timer');
      return noActions(s);
    case 'advert':
      return backupReceives(cfg, s, ev, now);
    case 'syncMaster':
      // keepalived vrrp_sync_master: another member became MASTER → vrrp_state_goto_master.
      return becomeMaster(cfg, s, now, ev.reason);
    case 'shutdown':
      // RFC 5798 §6.4.2: Shutdown → cancel Master_Down_Timer, go to Initialize.
      return goTo(s, 'INIT', now, 'shutdown', [], { faultReason: null });
    case 'fault':
      // keepalived down_instance → vrrp_state_leave_fault: BACKUP goes to FAULT, nothing sent.
      return goTo(s, 'FAULT', now, `fault: ${ev.reason}`, [], { faultReason: ev.reason });
    default:
      return noActions(s); // startup, recover: already running
  }
}

function backupReceives(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent, now: number): StepResult {
  // RFC 5798 §6.4.2 / keepalived vrrp_state_backup: priority 0 → Master_Down_Timer := Skew_Time.
  if (rx.priority === STOP_PRIORITY) {
    return noActions({ ...s, masterDownAt: now + skew(cfg, s.effectivePriority, s.masterAdverIntervalCs), masterAddress: rx.src, masterPriority: STOP_PRIORITY });
  }
  if (backupAcceptsMaster(cfg, s, rx, now)) {
    // RFC 5798 §6.4.2: (v3) Master_Adver_Interval := rx interval; reset Master_Down_Timer.
    const interval = cfg.version === 3 ? rx.advertIntervalCs : s.masterAdverIntervalCs;
    return noActions({
      ...s,
      ...(s.wantsMaster ? { wantsMaster: false } : {}), // a master is alive: no longer ready to take over
      masterAdverIntervalCs: interval,
      masterDownAt: now + downInterval(cfg, s.effectivePriority, interval),
      masterAddress: rx.src,
      masterPriority: rx.priority,
      preemptAt: preemptClock(cfg, s, rx, now),
    });
  }
  // RFC 5798 §6.4.2: preempting and rx lower → discard; the timer keeps running, so we take over.
  // keepalived vrrp_state_backup still records the sender as the current master.
  return noActions({ ...s, masterAddress: rx.src, masterPriority: rx.priority });
}

/** keepalived vrrp_state_backup accepts when:
 *  nopreempt || rx ≥ ours || (preempt_delay && (!preempt_time || preempt_time > now)). */
function backupAcceptsMaster(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent, now: number): boolean {
  if (!preempts(cfg) || rx.priority >= s.effectivePriority) return true;
  return cfg.preemptDelayMs > 0 && (s.preemptAt === null || s.preemptAt > now);
}

/** keepalived vrrp_state_backup: an accepted ≥ advert stops preempt_time; the first lower one starts it. */
function preemptClock(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent, now: number): number | null {
  if (cfg.preemptDelayMs <= 0) return s.preemptAt;
  if (rx.priority >= s.effectivePriority) return null;
  return s.preemptAt ?? now + cfg.preemptDelayMs;
}

function inMaster(cfg: FsmConfig, s: FsmSnapshot, ev: FsmEvent, now: number): StepResult {
  switch (ev.type) {
    case 'tick':
      return masterTick(cfg, s, now);
    case 'advert':
      return masterReceives(cfg, s, ev, now);
    case 'shutdown':
      // RFC 5798 §6.4.3: Shutdown → send an advert with priority 0, go to Initialize.
      return goTo(s, 'INIT', now, 'shutdown', [sendAdvert(STOP_PRIORITY), { type: 'release-vips' }], {
        faultReason: null,
      });
    case 'syncBackup':
      // keepalived vrrp_sync_backup → vrrp_state_leave_master (wantstate BACKUP): no priority 0,
      // drop the VIPs, BACKUP with a full Master_Down_Timer.
      return goTo(s, 'BACKUP', now, ev.reason, [{ type: 'release-vips' }], {
        masterDownAt: now + downInterval(cfg, s.effectivePriority, cfg.advertIntervalCs),
      });
    case 'fault':
      // keepalived vrrp_state_leave_master (wantstate FAULT): priority 0 advert, drop the VIPs.
      return goTo(s, 'FAULT', now, `fault: ${ev.reason}`, [sendAdvert(STOP_PRIORITY), { type: 'release-vips' }], {
        faultReason: ev.reason,
      });
    default:
      return noActions(s); // startup, recover: already running
  }
}

function masterTick(cfg: FsmConfig, s: FsmSnapshot, now: number): StepResult {
  if (s.adverAt === null || now < s.adverAt) return noActions(s);
  // RFC 5798 §6.4.3: Adver_Timer fires → send an advert, restart the timer. Keep the cadence, but
  // a driver late by a whole interval or more gets one advert and a fresh schedule, not a burst.
  const interval = csToMs(cfg.advertIntervalCs);
  const advanced = s.adverAt + interval;
  const adverAt = advanced > now ? advanced : nextAdverAt(cfg, now);
  return { state: { ...s, adverAt }, actions: [sendAdvert(s.effectivePriority)] };
}

function masterReceives(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent, now: number): StepResult {
  // RFC 5798 §6.4.3 / keepalived vrrp_state_master_rx: priority 0 → send an advert at once, reset Adver_Timer.
  if (rx.priority === STOP_PRIORITY) return masterAdvertsNow(cfg, s, now, []);

  const cmp = compareAddresses(rx.src, cfg.localAddress);
  let mine = s;
  // keepalived vrrp_state_master_rx: two address owners → configuration error, drop ours to 254.
  if (rx.priority === OWNER_PRIORITY && s.effectivePriority === OWNER_PRIORITY && cmp !== 0) {
    mine = { ...s, effectivePriority: OWNER_PRIORITY - 1 };
  }
  const ours = mine.effectivePriority;
  if (rx.priority > ours || (rx.priority === ours && cmp > 0)) return masterYields(cfg, mine, rx, now);
  if (rx.priority < ours || (rx.priority === ours && cmp < 0)) {
    // keepalived vrrp_state_master_rx: lower priority → advert at once (unless lower_prio_no_advert)
    // and a fresh GARP burst (garp_lower_prio_repeat, independent of lower_prio_no_advert).
    const announce: FsmAction = { type: 'announce', reason: 'lower-priority' };
    if (cfg.lowerPrioNoAdvert) return { state: mine, actions: [announce] };
    return masterAdvertsNow(cfg, mine, now, [announce]);
  }
  // Same priority from our own address (a looped-back packet): keepalived only logs a warning.
  return noActions(mine);
}

/** RFC 5798 §6.4.3: higher priority, or equal priority from a higher address → become Backup. */
function masterYields(cfg: FsmConfig, s: FsmSnapshot, rx: AdvertEvent, now: number): StepResult {
  const interval = cfg.version === 3 ? rx.advertIntervalCs : cfg.advertIntervalCs;
  const higher = rx.priority > s.effectivePriority;
  const reason = higher ? 'higher-priority-advert' : 'equal-priority-higher-address';
  // keepalived higher_prio_send_advert: answer a higher-priority advert with one of ours first.
  const before: FsmAction[] = cfg.higherPrioSendAdvert ? [sendAdvert(s.effectivePriority)] : [];
  // keepalived vrrp_state_leave_master: VIPs are removed before the state changes to BACKUP.
  return goTo(s, 'BACKUP', now, reason, [...before, { type: 'release-vips' }], {
    masterAdverIntervalCs: interval,
    masterDownAt: now + downInterval(cfg, s.effectivePriority, interval),
    masterAddress: rx.src,
    masterPriority: rx.priority,
  });
}

function masterAdvertsNow(cfg: FsmConfig, s: FsmSnapshot, now: number, after: FsmAction[]): StepResult {
  // keepalived vrrp_dispatcher_read: having sent an advert, the Adver_Timer restarts from now (with
  // advertGrid: at the next grid point half an interval or more away).
  return {
    state: { ...s, adverAt: nextAdverAt(cfg, now) },
    actions: [sendAdvert(s.effectivePriority), ...after],
  };
}

function inFault(cfg: FsmConfig, s: FsmSnapshot, ev: FsmEvent, now: number): StepResult {
  switch (ev.type) {
    case 'recover':
      // keepalived try_up_instance: the fault cleared → start again as at Startup.
      return startUp(cfg, s, now, 'recover');
    case 'shutdown':
      return goTo(s, 'INIT', now, 'shutdown', [], { faultReason: null });
    case 'fault':
      // Still faulty, maybe for another reason: remember the latest, nothing to do.
      return noActions({ ...s, faultReason: ev.reason });
    default:
      // keepalived vrrp_dispatcher_read: adverts received in FAULT are ignored; no timers run.
      return noActions(s);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared transitions

/** RFC 5798 §6.4.1: owner (255) → Master at once; otherwise Backup with a full Master_Down_Timer. */
function startUp(cfg: FsmConfig, s: FsmSnapshot, now: number, reason: string): StepResult {
  if (s.effectivePriority === OWNER_PRIORITY) return becomeMaster(cfg, s, now, reason);
  const interval = cfg.advertIntervalCs;
  // keepalived vrrp_state_leave_fault: entering BACKUP clears preempt_time.
  return goTo(s, 'BACKUP', now, reason, [], {
    masterAdverIntervalCs: interval,
    masterDownAt: now + downInterval(cfg, s.effectivePriority, interval),
    faultReason: null,
  });
}

/** keepalived vrrp_state_master_tx: advert first (so the old master drops the VIPs), then take them. */
function becomeMaster(cfg: FsmConfig, s: FsmSnapshot, now: number, reason: string): StepResult {
  // RFC 5798 §6.4.2/§6.4.3: as Master, Master_Adver_Interval is our own Advertisement_Interval.
  return goTo(s, 'MASTER', now, reason, [sendAdvert(s.effectivePriority), { type: 'hold-vips' }], {
    masterAdverIntervalCs: cfg.advertIntervalCs,
    masterAddress: cfg.localAddress,
    masterPriority: s.effectivePriority,
    adverAt: nextAdverAt(cfg, now),
    faultReason: null,
  });
}

/** A state change with its side actions (`around`). Timers, master bookkeeping and preempt_time
 *  are cleared unless `patch` sets them. */
function goTo(
  s: FsmSnapshot,
  to: VrrpState,
  now: number,
  reason: string,
  around: FsmAction[],
  patch: Partial<FsmSnapshot>,
): StepResult {
  const transition: FsmAction = { type: 'transition', from: s.state, to, reason };
  // Entering MASTER: transition, send-advert, hold-vips (keepalived vrrp_state_goto_master order).
  // Leaving MASTER: send-advert 0 / release-vips, then transition (keepalived vrrp_state_leave_master).
  const actions = to === 'MASTER' ? [transition, ...around] : [...around, transition];
  const state: FsmSnapshot = {
    ...s,
    state: to,
    masterAddress: null,
    masterPriority: null,
    masterDownAt: null,
    adverAt: null,
    preemptAt: null,
    since: now,
    ...(s.wantsMaster ? { wantsMaster: false } : {}),
    ...patch,
  };
  return { state, actions };
}

/** keepalived vrrp_set_effective_priority: owners never move; others stay within 1..254. In BACKUP
 *  the running Master_Down_Timer moves by the change in Skew_Time; in MASTER the next adverts carry it. */
function setPriority(cfg: FsmConfig, s: FsmSnapshot, requested: number): StepResult {
  if (cfg.priority === OWNER_PRIORITY) return noActions(s);
  const priority = Math.min(OWNER_PRIORITY - 1, Math.max(1, Math.round(requested)));
  if (priority === s.effectivePriority) return noActions(s);
  let masterDownAt = s.masterDownAt;
  if (s.state === 'BACKUP' && masterDownAt !== null) {
    const oldSkew = skew(cfg, s.effectivePriority, s.masterAdverIntervalCs);
    masterDownAt += skew(cfg, priority, s.masterAdverIntervalCs) - oldSkew;
  }
  return noActions({ ...s, effectivePriority: priority, masterDownAt });
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** RFC 5798 §6.1 Preempt_Mode; "the owner always preempts" (priority 255). */
function preempts(cfg: FsmConfig): boolean {
  return cfg.preempt || cfg.priority === OWNER_PRIORITY;
}

function skew(cfg: FsmConfig, priority: number, intervalCs: number): number {
  return skewTimeMs(cfg.version, priority, intervalCs);
}

function downInterval(cfg: FsmConfig, priority: number, intervalCs: number): number {
  return masterDownIntervalMs(cfg.version, priority, intervalCs, cfg.downTimerAdverts ?? DEFAULT_DOWN_TIMER_ADVERTS);
}

/** The Adver_Timer after an advert sent at `now` out of turn: now + interval, or on the grid (advertGrid). */
function nextAdverAt(cfg: FsmConfig, now: number): number {
  const interval = csToMs(cfg.advertIntervalCs);
  if (!cfg.advertGrid) return now + interval;
  // The first grid point at least half an interval away: 0.5–1.5 intervals from now.
  const phase = cfg.advertGridPhaseMs ?? 0;
  return phase + (Math.floor((now - phase + interval / 2) / interval) + 1) * interval;
}

function sendAdvert(priority: number): FsmAction {
  return { type: 'send-advert', priority };
}

/** A step that only changes data (or nothing): no actions for the driver. */
function noActions(s: FsmSnapshot): StepResult {
  return { state: s, actions: [] };
}

/**
 * RFC 5798 §6.4.3: "primary IP address … compared as unsigned big-endian". Returns −1, 0 or 1.
 * Accepts dotted IPv4 and IPv6 (with ::, an optional embedded IPv4 tail and a %zone).
 */
export function compareAddresses(a: string, b: string): -1 | 0 | 1 {
  const x = addressToBigInt(a);
  const y = addressToBigInt(b);
  return x === y ? 0 : x > y ? 1 : -1;
}

function addressToBigInt(addr: string): bigint {
  const value = addr.includes(':') ? ipv6ToBigInt(addr) : ipv4ToBigInt(addr);
  if (value === null) throw new Error(`not an IP address: ${JSON.stringify(addr)}`);
  return value;
}

function ipv4ToBigInt(addr: string): bigint | null {
  const n = parseIpv4Address(addr);
  return n === null ? null : BigInt(n);
}

function ipv6ToBigInt(addr: string): bigint | null {
  let text = addr.split('%')[0] ?? '';
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const v4 = ipv4ToBigInt(tail[1]);
    if (v4 === null) return null;
    text = `${text.slice(0, -tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

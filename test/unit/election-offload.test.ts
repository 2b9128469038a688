// The election with an offload (src/vrrp/offload.ts) behaves exactly like one without: the same adverts
// (time, destination, IP id, VRRP bytes), the same hook calls at the same virtual times, the same status
// and trouble(). The native thread (native/vrrp_offload.c) is replaced by FakeOffload, which carries out
// the addon's contract on a virtual clock and sends through the same fake socket the election uses.
// Targeted cases (a lone master, a backup whose master goes silent or says goodbye, faults and send
// failures while handed over, an event loop that hears of a takeover late), then a fast-check property
// over random scripts of peer adverts (good, misconfigured, other VRID), silences, faults, send failures
// and a final shutdown, which also checks that the scripts reached every path of the hand-over.
// ELECTION_OFFLOAD_DEBUG=1 prints the failing assertion and that coverage; ELECTION_OFFLOAD_RUNS=n.
//
// Times: every deadline here is exact. The scheduler's platform timer fires at the deadline it was armed
// for (exactTimers below) rather than at the whole millisecond below it — the real scheduler runs such
// an entry early and tells it its own deadline, so only the clock read inside differs — and all times
// are binary fractions (gaps in 1/8 ms, skews in 1/64 ms), so no arithmetic here rounds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { VrrpElection } from '../../src/election/vrrp.js';
import type { ElectionHooks, ElectionStatus } from '../../src/election/types.js';
import { ConfigSchema, type InstanceConfig } from '../../src/config/schema.js';
import { Scheduler, type PlatformTimers, type ScheduledEntry } from '../../src/scheduler.js';
import { AdvertEncoder } from '../../src/vrrp/advert-encoder.js';
import { ReceiveDemux } from '../../src/vrrp/demux.js';
import { ENDED, type AdvertOffload, type OffloadReport, type OffloadStats, type TakeoverPlan } from '../../src/vrrp/offload.js';
import { passwordToAuthData } from '../../src/vrrp/packet.js';
import type { VrrpSocket } from '../../src/vrrp/transport.js';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.js';
import { uint32ToIp } from '../../src/net/ip.js';
import { VirtualClock } from '../support/virtual-clock.js';

const SELF = '198.51.100.1';
const PEERS = ['198.51.100.2', '198.51.100.3'] as const;
const GROUP = '224.0.0.18';
const VIPS = ['203.0.113.10/24', '203.0.113.11/24'];
const VRID = 51;
const START = 1_000;
const DEBUG = process.env['ELECTION_OFFLOAD_DEBUG'] === '1';

// ---------------------------------------------------------------------------------------------------
// The fake socket: what left, when, where.

interface SendRecord {
  t: number;
  dst: string;
  bytes: Buffer;
}

class FakeSocket {
  readonly sent: SendRecord[] = [];
  readonly stats = { lastError: null as string | null };
  /** Sends fail while this is set (returns false, lastError = the text); only to `failingDst` if that is set. */
  failing: string | null = null;
  failingDst: string | null = null;

  constructor(private readonly clock: VirtualClock) {}

  send(datagram: Buffer, dst: string): boolean {
    if (this.failing !== null && (this.failingDst === null || this.failingDst === dst)) {
      this.stats.lastError = this.failing;
      return false;
    }
    this.sent.push({ t: this.clock.now(), dst, bytes: Buffer.from(datagram) });
    return true;
  }
}

// ---------------------------------------------------------------------------------------------------
// The fake offload: AdvertOffload's public surface over native/vrrp_offload.c's behaviour, on the
// virtual clock. "Thread" work (a send falling due, a deadline passing, a datagram arriving) runs from
// clock timers or deliver(); its events reach the JS side in order, after the current JS stack (a
// microtask), as the threadsafe function's call does.

interface Dgram {
  buf: Buffer;
  dst: number;
}

interface RuleBase {
  key: number;
  ended: number;
  error: string | null;
  nlError: string | null;
  /** send: the advert; absorb: the takeover adverts (empty without a plan). */
  d: Dgram[];
  ipid: number;
  count: number;
  last: number; // −1: none
  timer: unknown;
}

interface SendRule extends RuleBase {
  kind: 'send';
  next: number;
  interval: number;
}

interface AbsorbRule extends RuleBase {
  kind: 'absorb';
  vrid: number;
  expect: Buffer;
  down: number;
  deadline: number;
  fired: number; // −1: not yet
  tookOver: boolean;
  netlink: Buffer[];
  frames: Buffer[];
  ifindex: number;
}

type Rule = SendRule | AbsorbRule;

function ipChecksum(b: Buffer, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/** vrrp_offload.c same_advert: equal but for TOS, IP id, flags/fragment and header checksum. */
function sameAdvert(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length || a.length < 20) return false;
  const hl = (a[0]! & 0x0f) * 4;
  if (a[0] !== b[0] || a[2] !== b[2] || a[3] !== b[3] || a[8] !== b[8] || a[9] !== b[9]) return false;
  if (!a.subarray(12, 20).equals(b.subarray(12, 20))) return false;
  return hl <= a.length && a.subarray(hl).equals(b.subarray(hl));
}

function copyAdverts(datagrams: Buffer[], dsts: number[]): Dgram[] {
  if (datagrams.length !== dsts.length) throw new TypeError('vrrp_offload: one destination per datagram');
  return datagrams.map((buf, i) => {
    if (buf.length < 20) throw new RangeError('vrrp_offload: a datagram shorter than an IP header');
    return { buf: Buffer.from(buf), dst: dsts[i]! >>> 0 };
  });
}

const clampIpId = (id: number): number => (id < 1 || id > 0xffff ? 1 : id);

class FakeOffload {
  /** Frames and netlink requests a takeover carried out (the real thread: AF_PACKET / rtnetlink). */
  readonly takeovers: { t: number; netlink: number; frames: number; ifindex: number }[] = [];
  /** Makes every takeover's netlink request answer this error (then no frame is sent). */
  nlError: string | null = null;
  /** What happened to the rules (for the property's coverage check). */
  readonly seen = { send: 0, absorb: 0, absorbed: 0, sentByThread: 0, deadline: 0, mismatch: 0, reclaimedSend: 0, reclaimedAbsorb: 0, sendError: 0, takeoverError: 0 };
  private readonly rules = new Map<number, Rule>();
  private handler: (datagram: Buffer) => void = () => {};
  private readonly owners = new Map<number, () => void>();
  private nextKey = 1;
  private closed = false;
  private readonly queue: (Buffer | number)[] = [];
  private callPending = false;
  private readonly counts: OffloadStats = { received: 0, absorbed: 0, forwarded: 0, sent: 0, sendErrors: 0, queueDrops: 0, rtPriority: 0, rtError: null };

  constructor(
    private readonly clock: VirtualClock,
    private readonly socket: FakeSocket,
    /** How long the event loop takes to hear the thread's events (0: right after the current stack). */
    private readonly latencyMs = 0,
  ) {}

  // --- offload.ts (the wrapper) -------------------------------------------------------------------

  onDatagram(handler: (datagram: Buffer) => void): void {
    this.handler = handler;
  }

  key(ended: () => void): number {
    const key = this.nextKey++;
    if (this.nextKey > 0xffffffff) this.nextKey = 1;
    this.owners.set(key, ended);
    return key;
  }

  send(key: number, datagrams: Buffer[], dsts: number[], ipId: number, delayMs: number, intervalMs: number): void {
    this.checkOpen();
    const delay = delayMs; // negative: overdue, sent at once, the cadence kept on its grid
    if (!(intervalMs >= 1)) throw new RangeError('vrrp_offload: intervalMs must be ≥ 1');
    const now = this.clock.now();
    const r: SendRule = {
      kind: 'send', key, ended: ENDED.running, error: null, nlError: null, d: copyAdverts(datagrams, dsts),
      ipid: clampIpId(ipId), count: 0, last: -1, timer: null, next: now + delay, interval: intervalMs,
    };
    this.install(r);
  }

  absorb(key: number, expected: Buffer, downMs: number, delayMs: number, plan: TakeoverPlan | null): void {
    this.checkOpen();
    const delay = delayMs;
    const hl = expected.length >= 1 ? (expected[0]! & 0x0f) * 4 : 0;
    if (expected.length < 22 || expected[0]! >> 4 !== 4 || hl < 20 || expected.length < hl + 2) throw new TypeError('vrrp_offload: expected must be a VRRP datagram');
    if (!(downMs >= 0)) throw new TypeError('vrrp_offload: downMs must be a number ≥ 0');
    const now = this.clock.now();
    const r: AbsorbRule = {
      kind: 'absorb', key, ended: ENDED.running, error: null, nlError: null, d: plan ? copyAdverts(plan.adverts, plan.dsts) : [],
      ipid: plan ? clampIpId(plan.ipId) : 0, count: 0, last: -1, timer: null,
      vrid: expected[hl + 1]!, expect: Buffer.from(expected), down: downMs, deadline: now + delay, fired: -1, tookOver: false,
      netlink: plan ? plan.netlink.map((b) => Buffer.from(b)) : [], frames: plan ? plan.frames.map((b) => Buffer.from(b)) : [], ifindex: plan?.ifindex ?? 0,
    };
    this.install(r);
  }

  stop(key: number): OffloadReport | null {
    this.owners.delete(key);
    if (this.closed) return null;
    const r = this.rules.get(key);
    if (!r) return null;
    const rep = this.report(r);
    if (r.kind === 'send' && r.count > 0) this.seen.reclaimedSend++;
    if (r.kind === 'absorb' && r.count > 0) this.seen.reclaimedAbsorb++;
    this.clock.clearTimeout(r.timer);
    this.rules.delete(key);
    return rep;
  }

  peek(key: number): OffloadReport | null {
    if (this.closed) return null;
    const r = this.rules.get(key);
    return r ? this.report(r) : null;
  }

  stats(): OffloadStats {
    return this.closed ? { received: 0, absorbed: 0, forwarded: 0, sent: 0, sendErrors: 0, queueDrops: 0, rtPriority: 0, rtError: null } : { ...this.counts };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owners.clear();
    for (const r of this.rules.values()) this.clock.clearTimeout(r.timer);
    this.rules.clear();
  }

  // --- for the tests ---------------------------------------------------------------------------------

  /** Rules installed and not stopped (running or ended by themselves). */
  get ruleKinds(): string[] {
    return [...this.rules.values()].map((r) => `${r.kind}${r.ended ? `:ended=${r.ended}` : ''}`);
  }

  /** A datagram the interface received (vrrp_offload.c receive): absorbed by a rule, or queued for JS. */
  deliver(datagram: Buffer): void {
    if (this.closed) return;
    const b = datagram;
    const now = this.clock.now();
    this.counts.received++;
    let vrid = -1;
    if (b.length >= 20 && b[0]! >> 4 === 4) {
      const hl = (b[0]! & 0x0f) * 4;
      if (hl >= 20 && b.length >= hl + 2 && b[9] === 112) vrid = b[hl + 1]!;
    }
    if (vrid >= 0) {
      for (const r of this.rules.values()) {
        if (r.kind !== 'absorb' || r.ended || r.vrid !== vrid) continue;
        if (sameAdvert(r.expect, b)) {
          r.count++;
          r.last = now;
          r.deadline = now + r.down;
          this.armTimer(r, r.deadline);
          this.counts.absorbed++;
          this.seen.absorbed++;
          return;
        }
      }
      for (const r of this.rules.values()) {
        if (r.kind !== 'absorb' || r.ended || r.vrid !== vrid) continue;
        r.ended = ENDED.mismatch;
        this.seen.mismatch++;
        this.clock.clearTimeout(r.timer);
        this.push(r.key);
      }
    }
    this.counts.forwarded++;
    this.push(Buffer.from(b));
  }

  // --- the "thread" --------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new Error('vrrp_offload: handle is closed');
  }

  private install(r: Rule): void {
    const old = this.rules.get(r.key);
    if (old) this.clock.clearTimeout(old.timer);
    this.rules.set(r.key, r);
    this.seen[r.kind]++;
    this.armTimer(r, r.kind === 'send' ? r.next : r.deadline);
  }

  private armTimer(r: Rule, at: number): void {
    this.clock.clearTimeout(r.timer);
    r.timer = this.clock.setTimeout(() => this.due(r), Math.max(0, at - this.clock.now()));
  }

  /** run_timers for one rule. */
  private due(r: Rule): void {
    if (this.closed || r.ended || this.rules.get(r.key) !== r) return;
    const now = this.clock.now();
    if (r.kind === 'send') {
      const err = this.sendAdvert(r);
      if (err !== null) {
        r.error = err;
        r.ended = ENDED.sendError;
        this.seen.sendError++;
        this.push(r.key);
        return;
      }
      r.count++;
      r.last = now;
      this.seen.sentByThread++;
      do r.next += r.interval;
      while (r.next <= now);
      this.armTimer(r, r.next);
    } else {
      r.fired = now;
      r.ended = ENDED.deadline;
      this.seen.deadline++;
      if (r.d.length > 0 || r.netlink.length > 0 || r.frames.length > 0) {
        r.error = this.sendAdvert(r);
        if (r.error !== null) this.seen.takeoverError++;
        if (r.netlink.length > 0 && this.nlError !== null) r.nlError = this.nlError;
        this.takeovers.push({ t: now, netlink: r.netlink.length, frames: r.nlError ? 0 : r.frames.length, ifindex: r.ifindex });
        r.tookOver = true;
      }
      this.push(r.key);
    }
  }

  /** send_advert: every destination, each datagram with the next IP id and its header checksum. */
  private sendAdvert(r: Rule): string | null {
    for (const d of r.d) {
      const b = d.buf;
      const id = r.ipid;
      r.ipid = id >= 0xffff ? 1 : id + 1;
      b[4] = id >> 8;
      b[5] = id & 0xff;
      b[10] = b[11] = 0;
      const sum = ipChecksum(b, (b[0]! & 0x0f) * 4);
      b[10] = sum >> 8;
      b[11] = sum & 0xff;
      if (!this.socket.send(b, uint32ToIp(d.dst))) {
        this.counts.sendErrors++;
        return this.socket.stats.lastError ?? 'send failed';
      }
      this.counts.sent++;
    }
    return null;
  }

  private report(r: Rule): OffloadReport {
    const now = this.clock.now();
    return {
      ended: r.ended,
      count: r.count,
      lastAgoMs: r.last < 0 ? -1 : now - r.last,
      nextIpId: r.ipid,
      nextInMs: r.kind === 'send' ? r.next - now : 0,
      firedAgoMs: r.kind === 'absorb' && r.fired >= 0 ? now - r.fired : -1,
      tookOver: r.kind === 'absorb' && r.tookOver,
      error: r.error,
      nlError: r.nlError,
    };
  }

  private push(e: Buffer | number): void {
    this.queue.push(e);
    if (this.callPending) return;
    this.callPending = true;
    const call = () => {
      this.callPending = false;
      const list = this.queue.splice(0);
      if (this.closed) return;
      for (const x of list) {
        if (typeof x === 'number') this.owners.get(x)?.();
        else this.handler(x);
      }
    };
    if (this.latencyMs > 0) this.clock.setTimeout(call, this.latencyMs);
    else queueMicrotask(call);
  }
}

// ---------------------------------------------------------------------------------------------------
// The scheduler's platform timers on the virtual clock, firing at the exact deadline armed.

function exactTimers(clock: VirtualClock, sched: () => Scheduler): PlatformTimers {
  return {
    setTimeout(fn, ms) {
      const heap = (sched() as unknown as { heap: ScheduledEntry[] }).heap;
      assert.ok(Array.isArray(heap), 'Scheduler internals changed: no heap');
      const top = heap[0];
      return clock.setTimeout(fn, top ? Math.max(0, top.at - clock.now()) : ms);
    },
    clearTimeout: (h) => clock.clearTimeout(h),
  };
}

// ---------------------------------------------------------------------------------------------------
// One election (with or without the offload), its peers, and what it did.

interface Setup {
  version: 2 | 3;
  priority: number;
  advertInterval: number;
  auth?: string;
  preempt?: boolean;
  preemptDelay?: number;
  lowerPrioNoAdvert?: boolean;
  unicastPeers?: string[];
}

function instanceConfig(s: Setup): InstanceConfig {
  const inst: Record<string, unknown> = {
    interface: 'eth0',
    vrid: VRID,
    priority: s.priority,
    version: s.version,
    advertInterval: s.advertInterval,
    vips: VIPS,
  };
  if (s.auth !== undefined) inst['auth'] = { type: 'pass', password: s.auth };
  if (s.preempt !== undefined) inst['preempt'] = s.preempt;
  if (s.preemptDelay !== undefined) inst['preemptDelay'] = s.preemptDelay;
  if (s.lowerPrioNoAdvert !== undefined) inst['lowerPrioNoAdvert'] = s.lowerPrioNoAdvert;
  if (s.unicastPeers !== undefined) inst['unicast'] = { peers: s.unicastPeers };
  return ConfigSchema.parse({ instances: { VI_1: inst } }).instances['VI_1']!;
}

/** A peer's adverts (its own IP ids); `vrid`, `intervalCs`, `auth`, `vips` can differ from ours. */
function peerEncoder(s: Setup, src: string, over: { vrid?: number; intervalCs?: number; auth?: string; vips?: string[] } = {}): AdvertEncoder {
  const auth = over.auth ?? s.auth;
  return new AdvertEncoder({
    version: s.version,
    vrid: over.vrid ?? VRID,
    addresses: (over.vips ?? VIPS).map((v) => v.split('/')[0]!),
    advertIntervalCs: over.intervalCs ?? Math.round(s.advertInterval * 100),
    authType: s.version === 2 && auth !== undefined ? 1 : 0,
    authData: s.version === 2 ? (auth !== undefined ? passwordToAuthData(auth) : Buffer.alloc(8)) : Buffer.alloc(0),
    src,
    destinations: [s.unicastPeers ? SELF : GROUP],
  });
}

interface HookRecord {
  t: number;
  call: string;
  args: string[];
}

class Run {
  readonly clock = new VirtualClock(START);
  readonly socket = new FakeSocket(this.clock);
  readonly hooks: HookRecord[] = [];
  /** tookOver() calls: when, and how many hold() calls came before (the provider must hear of it first). */
  readonly tookOver: { t: number; holdsBefore: number }[] = [];
  readonly scheduler: Scheduler;
  readonly offload: FakeOffload | null;
  readonly election: VrrpElection;
  readonly demux = new ReceiveDemux();
  private readonly peers = new Map<string, AdvertEncoder>();

  constructor(
    readonly setup: Setup,
    withOffload: boolean,
    opts: { takeover?: boolean; latencyMs?: number } = {},
  ) {
    const scheduler: Scheduler = new Scheduler(() => this.clock.now(), exactTimers(this.clock, () => scheduler));
    this.scheduler = scheduler;
    this.offload = withOffload ? new FakeOffload(this.clock, this.socket, opts.latencyMs) : null;
    const rec = (call: string, ...args: string[]) => this.hooks.push({ t: this.clock.now(), call, args });
    const hooks: ElectionHooks = {
      hold: () => rec('hold'),
      release: () => rec('release'),
      announce: (reason) => rec('announce', reason),
      transition: (from, to, reason) => rec('transition', from, to, reason),
    };
    if (opts.takeover) {
      hooks.takeover = () => ({ ifindex: 7, netlink: [Buffer.alloc(32)], frames: [Buffer.alloc(42), Buffer.alloc(42)] });
      // Not a hook the plain run has: recorded apart, so the runs' hook calls still compare.
      hooks.tookOver = () => this.tookOver.push({ t: this.clock.now(), holdsBefore: this.hooks.filter((h) => h.call === 'hold').length });
    }
    this.election = new VrrpElection('VI_1', instanceConfig(setup), {
      socket: this.socket as unknown as VrrpSocket,
      source: SELF,
      localAddresses: new Set<number>(),
      hooks,
      log: pino({ level: 'silent' }),
      scheduler,
      offload: this.offload as unknown as AdvertOffload | null,
    });
    this.demux.add({ version: setup.version, vrid: VRID, unicastPeers: setup.unicastPeers ?? null }, this.election);
    this.offload?.onDatagram((d) => this.demux.dispatch(d));
  }

  /** The next advert of peer `src` (a fresh Buffer: the encoder re-uses its own). */
  advert(src: string, priority: number, kind: 'good' | 'bad-interval' | 'bad-auth' | 'other-vrid' = 'good'): Buffer {
    const id = `${src}/${kind}`;
    let enc = this.peers.get(id);
    if (!enc) {
      const s = this.setup;
      const intervalCs = Math.round(s.advertInterval * 100);
      enc =
        kind === 'bad-interval' ? peerEncoder(s, src, { intervalCs: s.version === 3 ? intervalCs + 1 : intervalCs + 100 })
        : kind === 'bad-auth' ? (s.version === 2 ? peerEncoder(s, src, { auth: 'wrong' }) : peerEncoder(s, src, { vips: ['203.0.113.99/24'] }))
        : kind === 'other-vrid' ? peerEncoder(s, src, { vrid: VRID + 1 })
        : peerEncoder(s, src);
      this.peers.set(id, enc);
    }
    return Buffer.from(enc.next(priority)[0]!.datagram);
  }

  /** A datagram arrives on the interface: through the offload's thread, or straight to the demux. */
  receive(datagram: Buffer): void {
    if (this.offload) this.offload.deliver(datagram);
    else this.demux.dispatch(datagram);
  }

  /** Sends as compared: time, destination, IP id, the VRRP message (hex). */
  sends(): { t: number; dst: string; ipId: number; vrrp: string }[] {
    return this.socket.sent.map((s) => ({ t: round(s.t), dst: s.dst, ipId: s.bytes.readUInt16BE(4), vrrp: s.bytes.subarray((s.bytes[0]! & 0x0f) * 4).toString('hex') }));
  }

  hookCalls(): HookRecord[] {
    return this.hooks.map((h) => ({ ...h, t: round(h.t) }));
  }
}

const round = (t: number): number => Math.round(t * 1e6) / 1e6;

function assertSameRuns(plain: Run, off: Run, what = ''): void {
  assert.deepEqual(off.sends(), plain.sends(), `sends differ ${what}`);
  assert.deepEqual(off.hookCalls(), plain.hookCalls(), `hook calls differ ${what}`);
  assert.deepEqual(off.election.status(), plain.election.status(), `status differs ${what}`);
  for (const s of off.socket.sent) {
    const hl = (s.bytes[0]! & 0x0f) * 4;
    assert.equal(ipChecksum(s.bytes, hl), 0, 'IP header checksum of a sent datagram');
  }
}

/** Both runs, stepped together: `act` does the same to each. */
async function both(runs: Run[], gap: number, act?: (r: Run) => void): Promise<void> {
  for (const r of runs) {
    await r.clock.advance(gap);
    act?.(r);
    await r.clock.settle();
  }
}

const V3_1S: Setup = { version: 3, priority: 100, advertInterval: 1 };
const V2_AUTH: Setup = { version: 2, priority: 100, advertInterval: 1, auth: 'secret' };

// ---------------------------------------------------------------------------------------------------
// Targeted cases

describe('election with an offload: targeted cases', () => {
  test('a lone node becomes MASTER, hands its adverts to the offload and sends them on the same grid', async () => {
    const plain = new Run(V3_1S, false);
    const off = new Run(V3_1S, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    const down = masterDownIntervalMs(3, 100, 100); // 3609.375
    await both(runs, down + 1);
    assert.equal(off.election.status().state, 'MASTER');
    assert.deepEqual(off.offload!.ruleKinds, ['send']);
    assert.equal(off.scheduler.size, 0, 'the offloaded election has no scheduler entry');
    assert.equal(plain.scheduler.size, 1);
    const wakeups = runs.map((r) => r.scheduler.wakeups);
    await both(runs, 10_000);
    assert.equal(off.scheduler.wakeups, wakeups[1], 'no scheduler wake-up while offloaded');
    assert.equal(plain.scheduler.wakeups, wakeups[0]! + 9, 'one wake-up per advert without the offload');
    // Becoming master at START + down, then every second on the grid (the first grid point at least
    // half an interval away: 6000).
    const times = plain.sends().map((s) => s.t);
    assert.deepEqual(times, [START + down, 6000, 7000, 8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000]);
    assert.deepEqual(off.sends(), plain.sends());
    assert.deepEqual(off.sends().map((s) => s.ipId), Array.from({ length: 10 }, (_, i) => i + 1), 'consecutive IP ids');
    assert.equal(off.election.status().counters.advertsSent, 10, 'status() counts the adverts the thread sent');
    assert.equal(plain.election.status().counters.advertsSent, 10);
    assert.equal(off.offload!.stats().sent, 9);
    assertSameRuns(plain, off);
    // Shut down: the thread's rule is reclaimed, the priority-0 advert goes out at once.
    await both(runs, 0.5, (r) => r.election.shutdown());
    assertSameRuns(plain, off, 'after shutdown');
    assert.deepEqual(off.offload!.ruleKinds, []);
    assert.equal(off.election.status().counters.advertsSent, 11);
  });

  for (const setup of [V3_1S, V2_AUTH]) {
    test(`v${setup.version}${setup.auth ? ' + auth' : ''}: a BACKUP absorbs its master's adverts; when they stop, both runs take over at the same time, the advert sent once`, async () => {
      const plain = new Run(setup, false, { takeover: true });
      const off = new Run(setup, true, { takeover: true });
      const runs = [plain, off];
      await both(runs, 0, (r) => r.election.start(null));
      // The master (priority 200) advertises every second from t = 1500.
      await both(runs, 500, (r) => r.receive(r.advert(PEERS[0], 200)));
      assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
      assert.equal(off.scheduler.size, 0);
      for (let i = 0; i < 20; i++) await both(runs, 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
      assert.equal(off.offload!.stats().absorbed, 20);
      assert.equal(off.election.status().counters.advertsReceived, 21);
      assertSameRuns(plain, off, 'while absorbing');
      const lastAdvert = START + 500 + 20 * 1000;
      const down = masterDownIntervalMs(setup.version, 100, 100);
      await both(runs, down + 2000);
      const takeoverAt = lastAdvert + down;
      for (const r of runs) {
        assert.deepEqual(r.hookCalls().slice(-2), [
          { t: takeoverAt, call: 'transition', args: ['BACKUP', 'MASTER', 'master-down-timer'] },
          { t: takeoverAt, call: 'hold', args: [] },
        ]);
        assert.equal(r.sends().filter((s) => s.t === takeoverAt).length, 1, 'one advert at the takeover');
      }
      assert.deepEqual(off.offload!.takeovers, [{ t: takeoverAt, netlink: 1, frames: 2, ifindex: 7 }], 'the plan ran in the thread');
      assert.deepEqual(off.tookOver, [{ t: takeoverAt, holdsBefore: 0 }], 'the provider heard of it before hold()');
      assert.deepEqual(plain.tookOver, []);
      assert.deepEqual(off.offload!.ruleKinds, ['send'], 'and the new master hands its adverts over');
      assertSameRuns(plain, off, 'after the takeover');
    });
  }

  test('the event loop hears of the thread\'s takeover late: the FSM still takes over at the deadline, and the adverts stay on the same grid', async () => {
    const latency = 3.5; // the first advert, forwarded, also reaches JS this late: it only sets up the rule
    const plain = new Run(V3_1S, false, { takeover: true });
    const off = new Run(V3_1S, true, { takeover: true, latencyMs: latency });
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    for (let i = 0; i < 3; i++) await both(runs, 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    const down = masterDownIntervalMs(3, 100, 100);
    const takeoverAt = START + 3000 + down;
    await both(runs, down + 10);
    assert.deepEqual(off.offload!.ruleKinds, ['send']);
    for (const r of runs) assert.equal(r.election.status().since, takeoverAt, 'MASTER since the deadline');
    assert.deepEqual(
      off.hookCalls().slice(-2).map((h) => h.t),
      [takeoverAt + latency, takeoverAt + latency],
      'the hooks are called when the event loop hears of it',
    );
    assert.deepEqual(
      off.hookCalls().map((h) => ({ ...h, t: h.t > takeoverAt ? h.t - latency : h.t })),
      plain.hookCalls(),
    );
    await both(runs, 5000.25, (r) => r.election.shutdown());
    assert.deepEqual(off.sends(), plain.sends(), 'the takeover advert by the thread, then the same adverts on the same grid');
    assert.deepEqual(off.election.status(), plain.election.status());
  });

  test('the event loop hears of the takeover more than half an interval late: one late advert, then the same grid as without the offload', async () => {
    const latency = 1450; // the FSM puts its next advert 1390.625 ms after this takeover: overdue by then
    const plain = new Run(V3_1S, false, { takeover: true });
    const off = new Run(V3_1S, true, { takeover: true, latencyMs: latency });
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    for (let i = 0; i < 3; i++) await both(runs, 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
    const down = masterDownIntervalMs(3, 100, 100);
    const takeoverAt = START + 3000 + down;
    await both(runs, down + latency + 10);
    await both(runs, 5000.25, (r) => r.election.shutdown());
    const late = (r: Run) => r.sends().filter((s) => s.t > takeoverAt && s.t <= takeoverAt + latency);
    const onGrid = (r: Run) => r.sends().filter((s) => s.t > takeoverAt + latency).map((s) => ({ ...s, ipId: 0 }));
    assert.equal(late(plain).length, 1, 'without the offload: the first grid advert after the takeover');
    assert.deepEqual(late(off).map((s) => s.t), [takeoverAt + latency], 'with it: that advert leaves when the event loop hears of the takeover');
    assert.deepEqual(onGrid(off), onGrid(plain), 'then the same adverts on the same grid (IP ids aside)');
  });

  test('the master says goodbye (priority 0): both runs take over after Skew_Time', async () => {
    const plain = new Run(V3_1S, false);
    const off = new Run(V3_1S, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    for (let i = 0; i < 5; i++) await both(runs, i === 0 ? 300 : 1000, (r) => r.receive(r.advert(PEERS[1], 150)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    await both(runs, 700, (r) => r.receive(r.advert(PEERS[1], 0)));
    const byeAt = START + 300 + 4000 + 700;
    assert.deepEqual(off.offload!.ruleKinds, [], 'priority 0 ended the rule and reached JS');
    await both(runs, 2000);
    const skew = skewTimeMs(3, 100, 100);
    for (const r of runs) {
      assert.deepEqual(r.hookCalls()[1], { t: byeAt + skew, call: 'transition', args: ['BACKUP', 'MASTER', 'master-sent-priority-0'] });
      assert.equal(r.sends()[0]!.t, byeAt + skew);
    }
    assertSameRuns(plain, off);
  });

  test('setFault while the offload sends (MASTER): the same priority-0 advert and transitions; recovery likewise', async () => {
    const plain = new Run({ ...V3_1S, advertInterval: 0.1 }, false);
    const off = new Run({ ...V3_1S, advertInterval: 0.1 }, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    await both(runs, 2000.125);
    assert.deepEqual(off.offload!.ruleKinds, ['send']);
    await both(runs, 0, (r) => r.election.setFault('link down'));
    assert.deepEqual(off.offload!.ruleKinds, []);
    const last = plain.sends().at(-1)!;
    assert.equal(last.t, START + 2000.125);
    assert.equal(Buffer.from(last.vrrp, 'hex')[2], 0, 'priority 0');
    assert.equal(plain.election.status().state, 'FAULT');
    assertSameRuns(plain, off, 'in FAULT');
    await both(runs, 1000, (r) => r.election.setFault(null));
    await both(runs, 3000);
    assert.equal(off.election.status().state, 'MASTER');
    assertSameRuns(plain, off, 'after recovery');
  });

  test('setPriority while the offload sends (MASTER): the next advert carries the new priority, as without the offload', async () => {
    const plain = new Run({ ...V3_1S, advertInterval: 0.1 }, false);
    const off = new Run({ ...V3_1S, advertInterval: 0.1 }, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    await both(runs, 2000.125);
    assert.deepEqual(off.offload!.ruleKinds, ['send']);
    await both(runs, 0, (r) => r.election.setPriority(60));
    assert.deepEqual(off.offload!.ruleKinds, ['send'], 'handed over again');
    await both(runs, 500);
    const last = off.sends().at(-1)!;
    assert.equal(Buffer.from(last.vrrp, 'hex')[2], 60, 'the offload sends priority 60');
    assert.equal(off.election.status().effectivePriority, 60);
    assertSameRuns(plain, off, 'after the priority change');
  });

  test('the socket fails while the offload sends: the same failed adverts, counters and trouble()', async () => {
    const plain = new Run(V3_1S, false);
    const off = new Run(V3_1S, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    await both(runs, 5000.5);
    assert.deepEqual(off.offload!.ruleKinds, ['send']);
    await both(runs, 0, (r) => (r.socket.failing = 'ENOBUFS'));
    const trouble: (string | null)[][] = [[], []];
    for (let i = 0; i < 4; i++) {
      await both(runs, 1000);
      runs.forEach((r, j) => trouble[j]!.push(r.election.trouble()));
    }
    await both(runs, 0, (r) => (r.socket.failing = null));
    await both(runs, 3000);
    assert.deepEqual(trouble[1], trouble[0], 'trouble() after each failed advert');
    assertSameRuns(plain, off, 'after the socket recovered');
  });

  test('send failures around a takeover by the thread: the same counters, IP ids and trouble() as without the offload', async () => {
    const plain = new Run(V3_1S, false);
    const off = new Run(V3_1S, true);
    const runs = [plain, off];
    const trouble = () => runs.map((r) => r.election.trouble());
    await both(runs, 0, (r) => r.election.start(null));
    // MASTER at 4609.375; its adverts at 7000, 8000 and 9000 fail: trouble.
    await both(runs, 5000.5, (r) => (r.socket.failing = 'ENOBUFS'));
    await both(runs, 3000);
    assert.deepEqual(trouble(), Array(2).fill('cannot send adverts on eth0: ENOBUFS'));
    // The socket works again, a higher priority takes over; our BACKUP absorbs its adverts…
    await both(runs, 0, (r) => (r.socket.failing = null));
    for (let i = 0; i < 3; i++) await both(runs, i === 0 ? 250 : 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    // …until it goes silent: the thread's takeover advert is a successful send, which ends the trouble.
    const takeoverAt = 11_250.5 + masterDownIntervalMs(3, 100, 100);
    await both(runs, takeoverAt - 11_250.5 + 0.125);
    assert.equal(off.election.status().since, takeoverAt);
    assert.deepEqual(trouble(), [null, null], 'trouble() after the takeover advert');
    assertSameRuns(plain, off, 'after the first takeover');
    // Again, but the socket fails at the takeover: the thread's advert fails, JS sends it (and fails).
    for (let i = 0; i < 3; i++) await both(runs, 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    await both(runs, 0, (r) => (r.socket.failing = 'ENOBUFS'));
    await both(runs, 5000);
    assert.equal(off.election.status().state, 'MASTER');
    await both(runs, 0, (r) => (r.socket.failing = null));
    await both(runs, 3000);
    assertSameRuns(plain, off, 'after the second takeover');
  });

  test('unicast to two peers, the first unreachable: the second still gets every advert', async () => {
    const setup: Setup = { version: 3, priority: 255, advertInterval: 1, unicastPeers: [PEERS[0], PEERS[1]] };
    const plain = new Run(setup, false);
    const off = new Run(setup, true);
    const runs = [plain, off];
    for (const r of runs) {
      r.socket.failing = 'EHOSTUNREACH';
      r.socket.failingDst = PEERS[0];
    }
    await both(runs, 0, (r) => r.election.start(null));
    await both(runs, 10_000.5);
    const toSecond = (r: Run) => r.sends().filter((x) => x.dst === PEERS[1]).map((x) => x.t);
    assert.deepEqual(toSecond(off), toSecond(plain), 'adverts to the reachable peer');
    assert.deepEqual(off.election.status().counters, plain.election.status().counters);
  });

  test('setFault while the offload absorbs (BACKUP): FAULT at the same time, nothing sent; recovery likewise', async () => {
    const plain = new Run(V3_1S, false);
    const off = new Run(V3_1S, true);
    const runs = [plain, off];
    await both(runs, 0, (r) => r.election.start(null));
    for (let i = 0; i < 4; i++) await both(runs, 1000, (r) => r.receive(r.advert(PEERS[0], 200)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    await both(runs, 250, (r) => r.election.setFault('link down'));
    assert.deepEqual(off.offload!.ruleKinds, []);
    assert.equal(off.election.status().state, 'FAULT');
    assertSameRuns(plain, off, 'in FAULT');
    // Adverts in FAULT are ignored (but counted as received); recovery starts a full Master_Down.
    await both(runs, 750, (r) => r.receive(r.advert(PEERS[0], 200)));
    await both(runs, 100, (r) => r.election.setFault(null));
    await both(runs, 900, (r) => r.receive(r.advert(PEERS[0], 200)));
    assert.deepEqual(off.offload!.ruleKinds, ['absorb']);
    await both(runs, 10_000);
    assert.equal(plain.socket.sent.length > 0, true);
    assertSameRuns(plain, off, 'after recovery');
  });
});

// ---------------------------------------------------------------------------------------------------
// The property

type Step =
  | { kind: 'adverts'; gap: number; src: 0 | 1; prio: 'zero' | 'lower' | 'equal' | 'higher'; n: number; every: number; variant: 'good' | 'bad-interval' | 'bad-auth' | 'other-vrid' }
  | { kind: 'fault'; gap: number }
  | { kind: 'recover'; gap: number }
  | { kind: 'socket'; gap: number; failing: boolean; only: 0 | 1 | null };

function priorityOf(kind: 'zero' | 'lower' | 'equal' | 'higher', ours: number, pick: number): number {
  switch (kind) {
    case 'zero':
      return 0;
    case 'lower':
      return ours > 1 ? 1 + (pick % (ours - 1)) : ours;
    case 'equal':
      return ours;
    case 'higher':
      return ours < 255 ? ours + 1 + (pick % (255 - ours)) : 255;
  }
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  flavour: fc.constantFrom('v3-1s', 'v3-0.1s', 'v2-auth', 'v3-unicast'),
  priority: fc.oneof(fc.integer({ min: 1, max: 254 }), fc.constant(255)),
  preempt: fc.boolean(),
  preemptDelay: fc.constantFrom(0, 0, 2),
  lowerPrioNoAdvert: fc.boolean(),
}).map(({ flavour, ...rest }) => ({
  ...rest,
  ...(flavour === 'v2-auth'
    ? { version: 2 as const, advertInterval: 1, auth: 'secret' }
    : flavour === 'v3-unicast'
      ? { version: 3 as const, advertInterval: 1, unicastPeers: [PEERS[0], PEERS[1]] }
      : { version: 3 as const, advertInterval: flavour === 'v3-1s' ? 1 : 0.1 }),
}));

/** Gaps in eighths of an interval-scaled ms: short, around Master_Down, or long silences. */
const gapArb = (intervalMs: number): fc.Arbitrary<number> =>
  fc.oneof(
    fc.integer({ min: 0, max: 16 * intervalMs }).map((x) => x / 8),
    fc.integer({ min: 16 * intervalMs, max: 40 * intervalMs }).map((x) => x / 8),
    fc.integer({ min: 40 * intervalMs, max: 100 * intervalMs }).map((x) => x / 8),
  );

const stepArb = (intervalMs: number, ours: number): fc.Arbitrary<Step & { pick?: number }> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({
      kind: fc.constant('adverts' as const),
      gap: gapArb(intervalMs),
      src: fc.constantFrom(0 as const, 1 as const),
      prio: fc.constantFrom('zero' as const, 'lower' as const, 'equal' as const, 'higher' as const, 'higher' as const),
      n: fc.integer({ min: 1, max: 8 }),
      // Every interval, 0.5–1.5 intervals, or faster (a repeated priority 0 within Skew_Time).
      every: fc.oneof(
        fc.constant(intervalMs),
        fc.integer({ min: 4 * intervalMs, max: 12 * intervalMs }).map((x) => x / 8),
        fc.integer({ min: 1, max: 8 * intervalMs }).map((x) => x / 8),
      ),
      variant: fc.constantFrom('good' as const, 'good' as const, 'good' as const, 'good' as const, 'bad-interval' as const, 'bad-auth' as const, 'other-vrid' as const),
      pick: fc.nat(),
    }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fault' as const), gap: gapArb(intervalMs) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('recover' as const), gap: gapArb(intervalMs) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('socket' as const), gap: gapArb(intervalMs), failing: fc.boolean(), only: fc.constantFrom(null, 0 as const, 1 as const) }) },
  ).map((s) => s as Step & { pick?: number });

async function runScript(setup: Setup, steps: (Step & { pick?: number })[], tail: number, withOffload: boolean) {
  const run = new Run(setup, withOffload, { takeover: true });
  const statuses: ElectionStatus[] = [];
  const troubles: (string | null)[] = [];
  const snap = async () => {
    await run.clock.settle();
    statuses.push(run.election.status());
    troubles.push(run.election.trouble());
  };
  run.election.start(null);
  await snap();
  for (const s of steps) {
    await run.clock.advance(s.gap);
    if (s.kind === 'fault') run.election.setFault('link down');
    else if (s.kind === 'recover') run.election.setFault(null);
    else if (s.kind === 'socket') {
      // A failing socket, or (unicast) one unreachable peer.
      run.socket.failing = s.failing ? 'ENOBUFS' : null;
      run.socket.failingDst = s.only !== null && setup.unicastPeers ? PEERS[s.only] : null;
    }
    else {
      const prio = priorityOf(s.prio, setup.priority, s.pick ?? 0);
      for (let i = 0; i < s.n; i++) {
        if (i > 0) await run.clock.advance(s.every);
        run.receive(run.advert(PEERS[s.src], prio, s.variant));
        await snap();
      }
      continue;
    }
    await snap();
  }
  await run.clock.advance(tail);
  await snap();
  run.election.shutdown();
  await snap();
  await run.clock.advance(5000);
  run.election.close();
  await snap();
  return { run, statuses, troubles };
}

test('property: an election with the offload sends, calls its hooks and reports exactly as one without', async () => {
  const scenario = setupArb.chain((setup) => {
    const intervalMs = setup.advertInterval * 1000;
    return fc.record({
      setup: fc.constant(setup),
      steps: fc.array(stepArb(intervalMs, setup.priority), { minLength: 1, maxLength: 12 }),
      tail: gapArb(intervalMs),
    });
  });
  const seen: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(scenario, async ({ setup, steps, tail }) => {
      const a = await runScript(setup, steps, tail, false);
      const b = await runScript(setup, steps, tail, true);
      for (const [k, v] of Object.entries(b.run.offload!.seen)) seen[k] = (seen[k] ?? 0) + v;
      try {
        assert.deepEqual(b.run.sends(), a.run.sends(), 'sends');
        assert.deepEqual(b.run.hookCalls(), a.run.hookCalls(), 'hook calls');
        assert.deepEqual(b.statuses, a.statuses, 'status after every step');
        assert.deepEqual(b.troubles, a.troubles, 'trouble() after every step');
      } catch (e) {
        if (DEBUG) console.log((e as Error).message); // fast-check reports the counterexample, not this
        throw e;
      }
      assert.deepEqual(b.run.offload!.ruleKinds, [], 'no rule left after close()');
      for (const s of b.run.socket.sent) assert.equal(ipChecksum(s.bytes, (s.bytes[0]! & 0x0f) * 4), 0);
    }),
    { numRuns: Number(process.env['ELECTION_OFFLOAD_RUNS'] ?? 100) },
  );
  // The scripts reached every path of the hand-over: both rules, absorbed adverts, adverts sent by the
  // thread, a deadline (takeover) in the thread, a mismatch, and reclaims of rules that did something.
  if (DEBUG) console.log(seen);
  for (const k of Object.keys(new FakeOffload(new VirtualClock(), new FakeSocket(new VirtualClock())).seen))
    assert.ok((seen[k] ?? 0) >= 5, `the property exercised ${k}: ${seen[k] ?? 0}`);
});

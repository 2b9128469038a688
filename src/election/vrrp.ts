// The VRRP election of one instance: feeds the pure state machine (vrrp/fsm.ts) with validated
// adverts, ticks and faults, and carries out what it returns. Adverts leave at once through the
// interface's raw socket (pre-encoded: only the IP id, and the checksum when the priority changes,
// are rewritten); hold / release / announce go to the instance's hooks, which never make us wait.
//
// Receiving: the agent's per-interface demux (vrrp/demux.ts) has already parsed the IP header and
// picked this instance by VRID (and unicast source); receive() runs keepalived's remaining checks.
//
// The FSM snapshot, its scheduler entry and the instance's inputs (start, faults, priority, shutdown,
// sync groups) are shared with IPv6 (election/vrrp-base.ts); this file keeps IPv4's socket, encoder,
// receive checks and the offload.
//
// Offload (vrrp/offload.ts, when the interface has one): after a step that leaves the FSM in a steady
// state — MASTER sending the same advert every interval, or BACKUP whose accepted advert would, when
// repeated, only re-arm the Master_Down_Timer (fsm.ts advertRepeats) — that steady state is handed
// to the offload's thread and the scheduler entry is disarmed. Before the FSM steps again for any
// reason, reclaim() takes the rule back and replays what the thread did through the FSM (the last
// advert sent or absorbed, and the Master_Down tick if its deadline passed), so every decision is
// still the FSM's, made on the snapshot it would have had.
import type { InstanceConfig } from '../config/schema.js';
import { advertRepeats, step, type AdvertEvent } from '../vrrp/fsm.js';
import { passwordToAuthData, type ChecksumForm } from '../vrrp/packet.js';
import { AdvertEncoder } from '../vrrp/advert-encoder.js';
import { checkAdvert, compileView, type CompiledView } from '../vrrp/validate.js';
import type { DatagramHeader, DemuxTarget } from '../vrrp/demux.js';
import type { VrrpSocket } from '../vrrp/transport.js';
import { VRRP_MCAST_GROUP } from '../net/ip.js';
import { ENDED, type AdvertOffload, type OffloadReport, type TakeoverPlan } from '../vrrp/offload.js';
import { csToMs } from '../vrrp/timers.js';
import type { ElectionCounters } from './types.js';
import { VrrpElectionBase, type VrrpElectionBaseDeps } from './vrrp-base.js';

export interface VrrpElectionDeps extends VrrpElectionBaseDeps {
  socket: VrrpSocket;
  /** The advert source: unicast.source, or the interface's primary IPv4 address. */
  source: string;
  /**
   * Every address on the interface as uint32 (adverts from these are our own): a live set the agent
   * keeps up to date in place for all instances on the interface.
   */
  localAddresses: ReadonlySet<number>;
  /** The interface's offload (vrrp/offload.ts); absent or null: every advert goes through here. */
  offload?: AdvertOffload | null;
}

/** The steady state handed to the offload, and what reclaim() needs to replay it. */
type Handed =
  | { kind: 'send'; key: number; datagrams: number; ipId: number }
  | { kind: 'absorb'; key: number; rx: AdvertEvent; takeover: number; ipId: number; local: boolean }; // takeover: its advert's datagrams; local: the provider's part too

export class VrrpElection extends VrrpElectionBase implements DemuxTarget {
  protected declare readonly deps: VrrpElectionDeps;
  private view: CompiledView;
  private encoder: AdvertEncoder;
  private sendForm: ChecksumForm;
  private socket: VrrpSocket;
  private offload: AdvertOffload | null;
  private handed: Handed | null = null;
  /** The last advert accepted, and its datagram: what a BACKUP may hand to the offload to absorb. */
  private lastRx: { ev: AdvertEvent; datagram: Buffer } | null = null;

  constructor(name: string, cfg: InstanceConfig, deps: VrrpElectionDeps) {
    super(name, cfg, deps, 'adverts');
    this.socket = deps.socket;
    this.offload = deps.offload ?? null;
    this.sendForm = cfg.v3ChecksumAsV2 ? 'no-pseudo' : 'rfc';
    this.view = this.makeView();
    this.encoder = this.makeEncoder();
  }

  /**
   * Catches up with the offload when its rule ended by itself (a Master_Down deadline passed, maybe
   * with a takeover): the provider runner calls this before it acts on a result, so a verify that saw
   * the takeover's VIPs is not mistaken for drift. Cheap when nothing ended.
   */
  override sync(): void {
    const h = this.handed;
    if (!h || this.closed) return;
    const r = this.offload?.peek(h.key);
    if (r && r.ended === ENDED.running) return;
    this.reclaim();
    this.arm();
  }

  /** The agent reopened the interface's socket (the interface was re-created); call before closing the old ones. */
  setSocket(socket: VrrpSocket, offload: AdvertOffload | null = this.offload): void {
    this.reclaim();
    this.socket = socket;
    this.offload = offload;
    this.clearSendFailures();
    this.arm();
  }

  protected override rebuild(definition: boolean): void {
    if (definition) this.view = this.makeView();
    this.encoder = this.makeEncoder(this.encoder.nextIpId); // the IP ids go on
    this.lastRx = null;
  }

  protected override statusCounters(): ElectionCounters {
    const counters = super.statusCounters();
    const h = this.handed;
    const live = h ? this.offload?.peek(h.key) : null;
    if (h && live) {
      if (h.kind === 'send') counters.advertsSent += live.count * h.datagrams;
      else counters.advertsReceived += live.count;
    }
    return counters;
  }

  /** One datagram the demux routed to us (IP header included). Never throws. */
  receive(h: DatagramHeader, datagram: Buffer): void {
    if (this.closed) return;
    const r = checkAdvert(this.view, h, datagram);
    if (!r.ok) return this.drop(r.reason, r.detail);
    this.counters.advertsReceived++;
    if (this.cfg.unicast && r.checksumForm === 'mcast-pseudo' && this.sendForm === 'rfc') {
      // keepalived's automatic compatibility with pre-1.3.6 peers: answer in the form they use.
      this.sendForm = 'mcast-pseudo';
      this.encoder.setForm('mcast-pseudo');
      this.deps.log.warn({ instance: this.name, peer: r.src }, 'peer uses the old unicast VRRPv3 checksum (224.0.0.18 pseudo-header); answering in the same form');
    }
    const ev: AdvertEvent = { type: 'advert', src: r.src, priority: r.priority, advertIntervalCs: r.advertIntervalCs };
    this.lastRx = this.offload ? { ev, datagram } : null; // copied only if handed over (arm)
    this.apply(ev);
    this.lastRx = null;
  }

  // --- the offload (see the header) ----------------------------------------------------------------

  protected override offloaded(): boolean {
    return this.handed !== null || this.handOver();
  }

  /** Hands the FSM's steady state to the offload when it has one; true when it did. */
  private handOver(): boolean {
    const off = this.offload;
    const s = this.snap;
    if (!off) return false;
    if (s.state === 'MASTER' && s.adverAt !== null && this.sendFailures === 0) {
      const { datagrams, dsts } = this.encoder.template(s.effectivePriority);
      const key = off.key(() => this.sync());
      off.send(key, datagrams, dsts, this.encoder.nextIpId, s.adverAt - this.now(), csToMs(this.fsmCfg.advertIntervalCs));
      this.handed = { kind: 'send', key, datagrams: datagrams.length, ipId: this.encoder.nextIpId };
      return true;
    }
    const rx = this.lastRx;
    // Held back by a sync group: the Master_Down deadline must come back here, never take over natively.
    if (s.state === 'BACKUP' && rx && s.masterDownAt !== null && !s.syncHold) {
      const downMs = advertRepeats(this.fsmCfg, s, rx.ev);
      if (downMs === null) return false;
      const plan = this.takeoverPlan();
      const key = off.key(() => this.sync());
      off.absorb(key, Buffer.from(rx.datagram), downMs, s.masterDownAt - this.now(), plan);
      this.handed = { kind: 'absorb', key, rx: rx.ev, takeover: plan.adverts.length, ipId: plan.ipId, local: plan.netlink.length + plan.frames.length > 0 };
      return true;
    }
    return false;
  }

  /** What the offload does when the Master_Down deadline passes: our advert, and the provider's part. */
  private takeoverPlan(): TakeoverPlan {
    const { datagrams, dsts } = this.encoder.template(this.snap.effectivePriority);
    const local = this.deps.hooks.takeover?.() ?? null;
    return { adverts: datagrams, dsts, ipId: this.encoder.nextIpId, netlink: local?.netlink ?? [], frames: local?.frames ?? [], ifindex: local?.ifindex ?? 0 };
  }

  /** Takes the steady state back from the offload and replays what it did (see the header). */
  protected override reclaim(): void {
    const h = this.handed;
    if (!h) return;
    this.handed = null;
    const r = this.offload?.stop(h.key) ?? null;
    if (!r) return; // the offload was closed under us: nothing to replay
    if (h.kind === 'send') this.replaySends(h, r);
    else this.replayAbsorbed(h, r);
  }

  private replaySends(h: Extract<Handed, { kind: 'send' }>, r: OffloadReport): void {
    this.counters.advertsSent += r.count * h.datagrams;
    this.encoder.resumeIpId(r.nextIpId);
    if (r.count > 0) {
      // The last Adver_Timer tick the thread served, through the FSM (its advert is already sent).
      const at = this.now() - r.lastAgoMs;
      this.snap = step(this.fsmCfg, { ...this.snap, adverAt: at }, { type: 'tick' }, at).state;
    }
    if (r.ended === ENDED.sendError) {
      // The thread gave up on the advert due at now + nextInMs at its first failing destination: that
      // Adver_Timer tick is served here, as sendAdvert would have served it — the datagrams the thread
      // sent before the failure count as sent, the failing one and the rest are sent from here, with
      // the IP ids the thread's attempt gave them (not a second advert, not a second failure).
      const first = ipIdAfter(h.ipId, r.count * h.datagrams);
      this.encoder.resumeIpId(first);
      const due = this.now() + r.nextInMs;
      const { state, actions } = step(this.fsmCfg, { ...this.snap, adverAt: due }, { type: 'tick' }, Math.max(due, this.now()));
      this.snap = state;
      for (const a of actions) {
        if (a.type === 'send-advert') this.sendAdvert(a.priority, ipIdDistance(first, r.nextIpId) - 1);
        else this.perform(a);
      }
    }
  }

  private replayAbsorbed(h: Extract<Handed, { kind: 'absorb' }>, r: OffloadReport): void {
    this.counters.advertsReceived += r.count;
    // advertRepeats: the last absorbed advert gives the snapshot all of them would have given.
    if (r.count > 0) this.snap = step(this.fsmCfg, this.snap, h.rx, this.now() - r.lastAgoMs).state;
    if (r.firedAgoMs < 0) return;
    // The Master_Down_Timer fired in the thread, at the deadline the FSM set.
    const at = Math.max(this.now() - r.firedAgoMs, this.snap.masterDownAt ?? 0);
    const { state, actions } = step(this.fsmCfg, this.snap, { type: 'tick' }, at);
    this.snap = state;
    // The takeover advert was sent by the thread; if one of its datagrams failed, that one and the
    // rest are sent from here, with the IP ids the thread's attempt gave them (as in replaySends).
    if (r.tookOver) this.encoder.resumeIpId(r.error ? h.ipId : r.nextIpId);
    // The provider's part (VIPs added, first GARPs sent) is done: its acquire, after hold(), counts it.
    if (r.tookOver && h.local && !r.nlError && state.state === 'MASTER') this.deps.hooks.tookOver?.();
    for (const a of actions) {
      if (a.type !== 'send-advert' || !r.tookOver) this.perform(a);
      else if (r.error) this.sendAdvert(a.priority, ipIdDistance(h.ipId, r.nextIpId) - 1);
      else this.countSent(h.takeover);
    }
    if (r.nlError) this.deps.log.warn({ instance: this.name, err: r.nlError }, `the fast takeover could not add the VIPs (${r.nlError}); the provider adds them`);
  }

  /**
   * One advert, every destination. `sentAlready`: its first datagrams were sent by the offload's
   * thread (which gave up at the next one); they take their IP ids but are not sent again.
   */
  protected override sendAdvert(priority: number, sentAlready = 0): void {
    const out = this.encoder.next(priority);
    this.countSent(sentAlready);
    for (let i = sentAlready; i < out.length; i++) {
      const { dst, datagram } = out[i]!;
      if (this.socket.send(datagram, dst)) this.countSent(1);
      else this.sendFailed(this.socket.stats.lastError);
    }
  }

  // --- derived configuration ----------------------------------------------------------------------

  private authData(): Buffer {
    const c = this.cfg;
    return c.version === 2 ? (c.auth ? passwordToAuthData(c.auth.password) : Buffer.alloc(8)) : Buffer.alloc(0);
  }

  private makeView(): CompiledView {
    const c = this.cfg;
    return compileView({
      version: c.version,
      vrid: c.vrid!,
      advertIntervalCs: Math.round(c.advertInterval * 100),
      authType: c.version === 2 && c.auth ? 1 : 0,
      authData: this.authData(),
      vips: c.vips,
      unicast: c.unicast ? { peers: c.unicast.peers, checkSource: c.unicast.checkSource } : null,
      localAddresses: [],
    }, this.deps.localAddresses);
  }

  private makeEncoder(firstIpId?: number): AdvertEncoder {
    const c = this.cfg;
    return new AdvertEncoder({
      version: c.version,
      vrid: c.vrid!,
      addresses: c.vips.map((v) => v.split('/')[0]!),
      advertIntervalCs: Math.round(c.advertInterval * 100),
      authType: c.version === 2 && c.auth ? 1 : 0,
      authData: this.authData(),
      src: this.source,
      destinations: c.unicast ? c.unicast.peers : [VRRP_MCAST_GROUP],
      form: this.sendForm,
      ...(firstIpId === undefined ? {} : { firstIpId }),
    });
  }
}

/** The IP id `n` datagrams after `id` (1..0xffff, as AdvertEncoder counts). */
function ipIdAfter(id: number, n: number): number {
  return ((id - 1 + n) % 0xffff) + 1;
}

/** How many datagrams took IP ids from `from` up to (not including) `to`. */
function ipIdDistance(from: number, to: number): number {
  return (((to - from) % 0xffff) + 0xffff) % 0xffff;
}

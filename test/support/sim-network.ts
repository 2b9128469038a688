// A discrete-event simulator of N VRRP state machines on one virtual LAN with a virtual clock.
// Each node plays the driver's part: it arms one timer at nextDeadline() and feeds 'tick' when it
// fires; every send-advert is delivered to every other live node after `latencyMs` (unless lost).
// Nodes can be started, killed (kill -9: they vanish silently), stopped gracefully (shutdown
// event), restarted, faulted, recovered and re-prioritised. Everything is recorded with timestamps.
// No real time passes: a minute of VRRP runs in milliseconds.
import {
  initialState,
  nextDeadline,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
  type VrrpState,
} from '../../src/vrrp/fsm.js';
import { mulberry32 } from './prng.js';

export interface SimOptions {
  latencyMs?: number; // one-way delay of every advert; default 1
  lossRate?: number; // probability that one delivery (one sender → one receiver) is lost; default 0
  seed?: number; // for the loss generator; default 1
}

export interface SimTransition {
  at: number;
  node: string;
  from: VrrpState;
  to: VrrpState;
  reason: string;
}

export interface SimAdvert {
  at: number; // send time
  node: string;
  src: string;
  priority: number;
}

export interface SimDelivery extends SimAdvert {
  deliveredAt: number;
  to: string;
}

export interface SimActionRecord {
  at: number;
  node: string;
  action: FsmAction;
}

interface SimNode {
  name: string;
  cfg: FsmConfig;
  fsm: FsmSnapshot | null; // null while the process is not running
  holdsVips: boolean;
}

interface Delivery {
  at: number;
  seq: number;
  to: string;
  advert: SimAdvert;
  advertIntervalCs: number;
  version: 2 | 3;
}

export class SimNetwork {
  now = 0;
  latencyMs: number;
  lossRate: number;
  readonly transitions: SimTransition[] = [];
  readonly sent: SimAdvert[] = [];
  readonly delivered: SimDelivery[] = [];
  readonly actions: SimActionRecord[] = [];
  private readonly nodes = new Map<string, SimNode>();
  private readonly queue = new DeliveryQueue();
  private seq = 0;
  private readonly random: () => number;

  constructor(opts: SimOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 1;
    this.lossRate = opts.lossRate ?? 0;
    this.random = mulberry32(opts.seed ?? 1);
  }

  /** Declares a node; it does not run until start(). */
  addNode(name: string, cfg: FsmConfig): void {
    if (this.nodes.has(name)) throw new Error(`node ${name} already exists`);
    this.nodes.set(name, { name, cfg, fsm: null, holdsVips: false });
  }

  names(): string[] {
    return [...this.nodes.keys()];
  }

  config(name: string): FsmConfig {
    return this.node(name).cfg;
  }

  /** Starts the process (fresh state) and feeds it 'startup'. Restarting a live node kills it first. */
  start(name: string): void {
    const n = this.node(name);
    n.fsm = initialState(n.cfg, this.now);
    n.holdsVips = false; // a fresh process removes stale VIPs (the garp provider does so at start)
    this.feed(n, { type: 'startup' });
  }

  startAll(): void {
    for (const name of this.nodes.keys()) this.start(name);
  }

  /** kill -9: the node disappears without a word; its in-flight adverts still arrive. */
  kill(name: string): void {
    const n = this.node(name);
    n.fsm = null;
    n.holdsVips = false;
  }

  /** Graceful stop: 'shutdown' (a master sends priority 0), then the process exits. */
  stop(name: string): void {
    const n = this.node(name);
    if (n.fsm) this.feed(n, { type: 'shutdown' });
    n.fsm = null;
  }

  restart(name: string): void {
    this.kill(name);
    this.start(name);
  }

  fault(name: string, reason = 'simulated fault'): void {
    this.send(name, { type: 'fault', reason });
  }

  recover(name: string): void {
    this.send(name, { type: 'recover' });
  }

  setPriority(name: string, priority: number): void {
    this.send(name, { type: 'setPriority', priority });
  }

  /** Feeds any event to a running node (ignored if it is not running). */
  send(name: string, ev: FsmEvent): void {
    const n = this.node(name);
    if (n.fsm) this.feed(n, ev);
  }

  isRunning(name: string): boolean {
    return this.node(name).fsm !== null;
  }

  /** The node's FSM state, or null when its process is not running. */
  state(name: string): VrrpState | null {
    return this.node(name).fsm?.state ?? null;
  }

  snapshot(name: string): FsmSnapshot | null {
    return this.node(name).fsm;
  }

  /** Running nodes currently in MASTER. */
  masters(): string[] {
    return this.names().filter((name) => this.state(name) === 'MASTER');
  }

  /** Running nodes that hold the VIPs according to the hold-vips / release-vips actions they emitted. */
  holders(): string[] {
    return [...this.nodes.values()].filter((n) => n.fsm && n.holdsVips).map((n) => n.name);
  }

  transitionsOf(name: string): SimTransition[] {
    return this.transitions.filter((t) => t.node === name);
  }

  /** Runs every delivery and timer due at or before `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    if (t < this.now) throw new Error(`cannot run backwards from ${this.now} to ${t}`);
    for (;;) {
      const delivery = this.queue.peek();
      const timer = this.earliestTimer();
      const deliveryAt = delivery?.at ?? Infinity;
      const timerAt = timer?.at ?? Infinity;
      const next = Math.min(deliveryAt, timerAt);
      if (next > t) break;
      this.now = Math.max(this.now, next);
      // At equal times deliveries go first: an advert arriving as the timer fires resets it.
      if (delivery && deliveryAt <= timerAt) {
        this.queue.pop();
        this.deliver(delivery);
      } else if (timer) {
        this.fireTimer(timer.node, timer.at);
      }
    }
    this.now = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  // -------------------------------------------------------------------------------------------

  private node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private earliestTimer(): { node: SimNode; at: number } | null {
    let best: { node: SimNode; at: number } | null = null;
    for (const n of this.nodes.values()) {
      if (!n.fsm) continue;
      const at = nextDeadline(n.fsm);
      if (at !== null && (best === null || at < best.at)) best = { node: n, at };
    }
    return best;
  }

  private fireTimer(n: SimNode, deadline: number): void {
    this.feed(n, { type: 'tick' });
    // The driver re-arms at the new deadline; one that does not move would spin forever.
    if (n.fsm && nextDeadline(n.fsm) === deadline) {
      throw new Error(`${n.name}: tick at ${this.now} left the deadline at ${deadline}`);
    }
  }

  private deliver(d: Delivery): void {
    const n = this.node(d.to);
    if (!n.fsm) return; // the receiver is not running: the packet is lost
    // The receive path's checks that matter here (spec §4.6): versions must match, and a v2
    // instance drops adverts whose interval differs from its own.
    if (d.version !== n.cfg.version) return;
    if (d.version === 2 && d.advertIntervalCs !== n.cfg.advertIntervalCs) return;
    this.delivered.push({ ...d.advert, deliveredAt: this.now, to: d.to });
    this.feed(n, {
      type: 'advert',
      src: d.advert.src,
      priority: d.advert.priority,
      advertIntervalCs: d.advertIntervalCs,
    });
  }

  private feed(n: SimNode, ev: FsmEvent): void {
    if (!n.fsm) return;
    const { state, actions } = step(n.cfg, n.fsm, ev, this.now);
    n.fsm = state;
    for (const action of actions) this.perform(n, action);
  }

  private perform(n: SimNode, action: FsmAction): void {
    this.actions.push({ at: this.now, node: n.name, action });
    switch (action.type) {
      case 'transition':
        this.transitions.push({ at: this.now, node: n.name, from: action.from, to: action.to, reason: action.reason });
        break;
      case 'send-advert':
        this.broadcast(n, action.priority);
        break;
      case 'hold-vips':
        n.holdsVips = true;
        break;
      case 'release-vips':
        n.holdsVips = false;
        break;
      case 'announce':
        break;
    }
  }

  private broadcast(from: SimNode, priority: number): void {
    const advert: SimAdvert = { at: this.now, node: from.name, src: from.cfg.localAddress, priority };
    this.sent.push(advert);
    for (const to of this.nodes.values()) {
      if (to === from) continue; // whoever is running when it arrives receives it (deliver())
      if (this.lossRate > 0 && this.random() < this.lossRate) continue;
      this.queue.push({
        at: this.now + this.latencyMs,
        seq: this.seq++,
        to: to.name,
        advert,
        advertIntervalCs: from.cfg.advertIntervalCs,
        version: from.cfg.version,
      });
    }
  }
}

/** Min-heap of deliveries ordered by (time, sequence), so equal times keep their send order. */
class DeliveryQueue {
  private readonly items: Delivery[] = [];

  peek(): Delivery | undefined {
    return this.items[0];
  }

  push(d: Delivery): void {
    const a = this.items;
    a.push(d);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): Delivery | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Delivery, y: Delivery): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

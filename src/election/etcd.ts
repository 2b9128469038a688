// The etcd election of one instance (issue #12): the standard etcd election recipe on a lease, driving
// the same hooks as VRRP (hold / release / transition), so providers, notify, status and metrics stay
// the same. The decision itself is pure (./etcd-decide.ts); this file gathers the facts.
//
// - Lease: granted with election.ttl, kept alive over one LeaseKeepAlive stream every ttl/3. Our own
//   clock bounds it: alive until (send time of the last ACKNOWLEDGED keep-alive) + TTL, so we never
//   believe in a lease the server may already have expired. A response with TTL <= 0 means the lease is
//   gone (a new one is granted, a new key put). A keep-alive unanswered for ttl/3 means the stream is
//   stuck (a partition): it is dropped and reopened (etcd3 picks another endpoint).
// - Campaign: key <prefix>/<lease hex> put on the lease only if absent (txn on create revision 0);
//   value {"id","priority"}. Observe: range over <prefix>/ sorted by create revision — the oldest key
//   leads; a watch on the prefix re-runs the observation on every change (no polling while steady:
//   one keep-alive per ttl/3 per instance).
// - Faults (instance fault sources, weight-0 checks) and an effective priority below resignBelow
//   delete our key (resign) and keep us out until they clear. preempt: a leader that sees a
//   candidate with a higher effective priority resigns and campaigns again (behind it).
// - Fencing (../provider/runner/fencing.ts): current() is {lease, create revision} while MASTER with
//   a live lease; subscribers hear every change, including the instant the lease runs out.
// - onStoreLost: release — a leader that cannot confirm its lease lets go when it runs out (at most
//   ttl after the last acknowledged keep-alive); hold — it stays MASTER, logs an error now and every
//   10 s, and status says holdingWithoutLease (fencing refuses cloud acquires meanwhile).
// - shutdown(): INIT (release if MASTER), then the lease is revoked (the others take over at once).
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { EtcdElectionConfig } from '../config/election-schema.js';
import type { ElectionFactsJson } from '../status/types.js';
import type { Fence, FencingToken } from '../provider/runner/fencing.js';
import { isoTime } from '../iso-time.js';
import { EtcdClient, leaseHex, type KeepAliveStream } from './etcd-client.js';
import { decide, leaseAlive, nextDecisionAt, type DecideInput } from './etcd-decide.js';
import type { Election, ElectionCounters, ElectionHooks, ElectionState, ElectionStatus } from './types.js';

/** How often a leader holding without a lease repeats its error. */
const HOLD_LOG_EVERY_MS = 10_000;
/** Longest pause between attempts while etcd fails. */
const RETRY_MAX_MS = 1_000;

export interface EtcdElectionDeps {
  hooks: ElectionHooks;
  log: Logger;
  /** The instance's configured priority (the initial effective priority). */
  priority: number;
  /** Opens the client (tests and the benchmark may share or wrap one). */
  open?: (cfg: EtcdElectionConfig, deadlineMs: number) => Promise<EtcdClient>;
}

type Value = { id: string; priority: number };

export function defaultKey(instance: string): string {
  return `/ha-agent/${instance}`;
}

export class EtcdElection implements Election, Fence {
  readonly kind = 'etcd';
  readonly counters: ElectionCounters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, dropped: {} };
  private readonly facts = { requests: 0, requestErrors: 0, leasesGranted: 0, leasesLost: 0, campaigns: 0, resigns: 0, leaderChanges: 0 };
  readonly key: string;
  readonly id: string;
  private readonly ttlMs: number;
  private state: ElectionState = 'INIT';
  private since = performance.now();
  private faultReason: string | null = null;
  private fault: string | null = null;
  private effectivePriority: number;
  private started = false;
  private closed = false;
  private stopping = false;

  private client: EtcdClient | null = null;
  private lease: string | null = null;
  private leaseValidUntil: number | null = null;
  private myKey: string | null = null;
  private myRev: number | null = null;
  private valueDirty = false;
  private leaderIsMe = false;
  private leader: string | null = null;
  private storeReachable = false;
  private unreachableSince: number | null = performance.now();
  private lastContactWall: number | null = null;
  private holdingWithoutLease = false;
  private holdLoggedAt = -Infinity;
  private stream: KeepAliveStream | null = null;
  private sent: number[] = [];
  private watching: { cancel(): void } | null = null;

  private running = false;
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private decisionTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastToken: FencingToken | null = null;
  private readonly listeners = new Set<() => void>();
  private lastError: string | null = null;

  constructor(
    readonly name: string,
    private readonly cfg: EtcdElectionConfig,
    private readonly deps: EtcdElectionDeps,
  ) {
    this.key = cfg.key ?? defaultKey(name);
    this.id = cfg.id ?? hostname();
    this.ttlMs = cfg.ttl * 1000;
    this.effectivePriority = deps.priority;
  }

  // --- Election ----------------------------------------------------------------------------------

  start(fault: string | null): void {
    this.started = true;
    this.fault = fault;
    this.evaluate();
    this.kick();
  }

  setFault(reason: string | null): void {
    if (this.fault === reason) return;
    this.fault = reason;
    this.evaluate();
    this.kick();
  }

  setPriority(priority: number): void {
    if (priority === this.effectivePriority) return;
    this.effectivePriority = priority;
    this.valueDirty = true;
    this.evaluate();
    this.kick();
  }

  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopTimers();
    if (this.state !== 'INIT') this.transition('INIT', 'shutdown');
    const client = this.client;
    const lease = this.lease;
    this.lease = null;
    this.leaseValidUntil = null;
    this.notifyFence();
    if (client && lease) {
      // Revoking deletes our key: the next candidate leads at once instead of after ttl.
      void client.revoke(lease).catch(() => {}).finally(() => this.closed && client.close());
    }
  }

  trouble(): string | null {
    return null;
  }

  status(): ElectionStatus {
    return {
      state: this.state,
      effectivePriority: this.effectivePriority,
      master: this.leader,
      masterPriority: null,
      since: this.since,
      faultReason: this.faultReason,
      counters: this.counters,
      facts: this.factsJson(),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopping = true;
    this.stopTimers();
    this.stream?.close();
    this.stream = null;
    this.watching?.cancel();
    this.watching = null;
    this.listeners.clear();
    // A revoke from shutdown() closes the client when it settles (bounded by its deadline).
    if (this.client && this.lease !== null) this.client.close();
    else if (this.client) setTimeout(() => this.client?.close(), Math.min(this.ttlMs, 1_000)).unref();
  }

  // --- Fence ---------------------------------------------------------------------------------------

  current(): FencingToken | null {
    if (this.state !== 'MASTER' || this.holdingWithoutLease || this.closed || this.stopping) return null;
    if (this.lease === null || this.myRev === null || !leaseAlive({ leaseValidUntil: this.leaseValidUntil, now: performance.now() })) return null;
    return { lease: leaseHex(this.lease), revision: this.myRev };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- the work loop: lease, campaign, observe -----------------------------------------------------

  private kick(): void {
    if (this.closed || this.stopping || !this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (this.again && !this.stopping) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.once();
      } while (this.again && !this.stopping);
      this.failures = 0;
    } catch (err) {
      if (this.stopping) return;
      this.failures++;
      this.markUnreachable(err);
      const delay = Math.min(RETRY_MAX_MS, this.ttlMs / 6, 100 * 2 ** (this.failures - 1));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, delay);
    }
  }

  private async once(): Promise<void> {
    const client = (this.client ??= await (this.deps.open ?? EtcdClient.open)(this.cfg, Math.max(500, Math.min(this.ttlMs / 2, 5_000))));
    if (this.stopping) return;
    if (this.lease === null) {
      const sentAt = performance.now();
      const g = await client.grant(this.cfg.ttl);
      if (this.stopping) return void client.revoke(g.id).catch(() => {});
      this.lease = g.id;
      this.leaseValidUntil = sentAt + g.ttl * 1000;
      this.myKey = null;
      this.myRev = null;
      this.facts.leasesGranted++;
      this.markReachable();
      this.deps.log.debug({ lease: leaseHex(g.id), ttl: g.ttl }, 'etcd lease granted');
    }
    if (!this.stream) await this.openStream(client);
    if (!this.watching) this.watching = await client.watch(this.key, () => this.kick());
    const lease = this.lease;
    if (lease === null) return;
    const wantIn = this.fault === null && this.priorityFault() === null && !this.stopping;
    if (wantIn && this.myKey === null) {
      const key = `${this.key}/${leaseHex(lease)}`;
      this.myRev = await client.campaign(key, this.value(), lease);
      this.myKey = key;
      this.valueDirty = false;
      this.facts.campaigns++;
    } else if (!wantIn && this.myKey !== null) {
      await client.remove(this.myKey);
      this.myKey = null;
      this.myRev = null;
      this.facts.resigns++;
    } else if (this.valueDirty && this.myKey !== null) {
      this.valueDirty = false;
      await client.update(this.myKey, this.value(), lease);
    }
    const { list } = await client.candidates(this.key);
    this.markReachable();
    const first = list[0];
    const leader = first ? parseValue(first.value)?.id ?? first.key : null;
    if (leader !== this.leader) this.facts.leaderChanges++;
    this.leader = leader;
    this.leaderIsMe = first !== undefined && first.key === this.myKey;
    if (this.myKey !== null && !list.some((c) => c.key === this.myKey)) {
      // Our key is gone (lease expired, deleted by someone): campaign again on a live lease.
      this.myKey = null;
      this.myRev = null;
      this.again = true;
    }
    if (this.leaderIsMe && this.cfg.preempt) {
      const better = list.slice(1).find((c) => (parseValue(c.value)?.priority ?? 0) > this.effectivePriority);
      if (better && this.myKey) {
        this.deps.log.info({ instance: this.name, candidate: parseValue(better.value)?.id }, 'a candidate with a higher priority exists: resigning (election.preempt)');
        this.leaderIsMe = false;
        this.evaluate();
        await client.remove(this.myKey);
        this.myKey = null;
        this.myRev = null;
        this.facts.resigns++;
        this.again = true;
      }
    }
    this.evaluate();
  }

  private async openStream(client: EtcdClient): Promise<void> {
    const stream = await client.keepAliveStream();
    if (this.stopping) return stream.close();
    this.stream = stream;
    this.sent = [];
    stream.onResponse((id, ttl) => this.onKeepAlive(stream, id, ttl));
    stream.onEnd(() => {
      if (this.stream !== stream) return;
      this.stream = null;
      this.sent = [];
      if (!this.stopping) setTimeout(() => this.kick(), 50).unref();
    });
    this.sendKeepAlive();
    this.keepAliveTimer ??= setInterval(() => this.sendKeepAlive(), Math.max(100, this.ttlMs / 3));
  }

  private sendKeepAlive(): void {
    const now = performance.now();
    if (this.stopping || this.lease === null) return;
    if (!this.stream) return this.kick();
    if (this.dropStuckStream(now)) {
      this.evaluate();
      return this.kick();
    }
    this.sent.push(now);
    this.stream.write(this.lease);
  }

  /**
   * A keep-alive unanswered for a third of the TTL: the stream (or the member behind it) is stuck. It
   * is dropped (the caller reopens it) and etcd counts as unreachable. Checked at every keep-alive
   * and at every decision: the lease runs out by our clock at the same instant as the keep-alive
   * tick that would notice, and a decision that ran first would read "our lease expired" where
   * onStoreLost: hold must keep the VIPs.
   */
  private dropStuckStream(now: number): boolean {
    const stream = this.stream;
    if (!stream || this.sent.length === 0 || now - this.sent[0]! <= this.ttlMs / 3) return false;
    const ago = Math.round(now - this.sent[0]!);
    this.stream = null;
    this.sent = [];
    stream.close();
    this.markUnreachable(new Error(`keep-alive unanswered for ${ago} ms`));
    return true;
  }

  private onKeepAlive(stream: KeepAliveStream, id: string, ttl: number): void {
    if (stream !== this.stream) return;
    const sentAt = this.sent.shift();
    if (id !== this.lease || sentAt === undefined) return;
    this.markReachable();
    if (ttl <= 0) {
      this.deps.log.warn({ instance: this.name, lease: leaseHex(id) }, 'etcd lease expired: campaigning again on a new lease');
      this.facts.leasesLost++;
      this.lease = null;
      this.leaseValidUntil = null;
      this.myKey = null;
      this.myRev = null;
      this.leaderIsMe = false;
      this.evaluate();
      this.kick();
      return;
    }
    this.leaseValidUntil = sentAt + ttl * 1000;
    this.evaluate();
  }

  // --- facts ---------------------------------------------------------------------------------------

  private markReachable(): void {
    this.lastContactWall = Date.now();
    this.lastError = null;
    if (this.storeReachable) return;
    this.storeReachable = true;
    this.unreachableSince = null;
    this.deps.log.info({ instance: this.name }, 'etcd reachable');
  }

  private markUnreachable(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (!this.storeReachable) return;
    this.storeReachable = false;
    this.unreachableSince = performance.now();
    this.deps.log.warn({ instance: this.name, err: this.lastError }, 'etcd unreachable');
    this.evaluate();
  }

  private priorityFault(): string | null {
    const min = this.cfg.resignBelow;
    return min > 0 && this.effectivePriority < min ? `effective priority ${this.effectivePriority} is below election.resignBelow ${min}` : null;
  }

  private value(): string {
    return JSON.stringify({ id: this.id, priority: this.effectivePriority } satisfies Value);
  }

  private input(now: number): DecideInput {
    return {
      started: this.started && !this.stopping,
      fault: this.fault ?? this.priorityFault(),
      state: this.state,
      leaderIsMe: this.leaderIsMe && this.myKey !== null,
      leaseValidUntil: this.leaseValidUntil,
      storeReachable: this.storeReachable,
      unreachableSince: this.unreachableSince,
      ttlMs: this.ttlMs,
      onStoreLost: this.cfg.onStoreLost,
      now,
    };
  }

  /** Applies decide() to the facts now, and arms the timer for when it may answer differently. */
  private evaluate(): void {
    if (this.stopping) return;
    const now = performance.now();
    if (this.dropStuckStream(now)) this.kick();
    const input = this.input(now);
    const d = decide(input);
    this.holdingWithoutLease = d.holdingWithoutLease;
    if (d.holdingWithoutLease && now - this.holdLoggedAt >= HOLD_LOG_EVERY_MS) {
      this.holdLoggedAt = now;
      this.deps.log.error({ evt: 'hold-without-lease', instance: this.name, lastError: this.lastError }, `${this.name}: ${d.reason}`);
    }
    if (!d.holdingWithoutLease) this.holdLoggedAt = -Infinity;
    if (d.state !== this.state) this.transition(d.state, d.reason);
    this.notifyFence();
    if (this.decisionTimer) clearTimeout(this.decisionTimer);
    this.decisionTimer = null;
    const at = nextDecisionAt(input);
    const holdAgain = d.holdingWithoutLease ? now + HOLD_LOG_EVERY_MS : null;
    const next = at === null ? holdAgain : holdAgain === null ? at : Math.min(at, holdAgain);
    if (next !== null) this.decisionTimer = setTimeout(() => this.evaluate(), Math.max(0, Math.ceil(next - now)) + 1);
  }

  private transition(to: ElectionState, reason: string): void {
    const from = this.state;
    this.state = to;
    this.since = performance.now();
    this.faultReason = to === 'FAULT' ? reason : null;
    if (from === 'MASTER') this.deps.hooks.release();
    if (to === 'MASTER') this.deps.hooks.hold();
    this.deps.hooks.transition(from, to, reason);
  }

  private notifyFence(): void {
    const t = this.current();
    if (t === this.lastToken || (t && this.lastToken && t.lease === this.lastToken.lease && t.revision === this.lastToken.revision)) return;
    this.lastToken = t;
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch {
        /* a listener's problem is its own */
      }
    }
  }

  private stopTimers(): void {
    for (const t of [this.retryTimer, this.decisionTimer]) if (t) clearTimeout(t);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.retryTimer = this.decisionTimer = this.keepAliveTimer = null;
  }

  private factsJson(): ElectionFactsJson {
    const now = performance.now();
    const stats = this.client?.stats;
    return {
      type: 'etcd',
      key: this.key,
      id: this.id,
      leader: this.leader,
      leaseId: this.lease === null ? null : leaseHex(this.lease),
      leaseTtlLeftMs: this.leaseValidUntil === null ? null : Math.max(0, Math.round(this.leaseValidUntil - now)),
      ttlSeconds: this.cfg.ttl,
      storeReachable: this.storeReachable,
      lastContact: this.lastContactWall === null ? null : isoTime(this.lastContactWall),
      lastError: this.lastError,
      onStoreLost: this.cfg.onStoreLost,
      holdingWithoutLease: this.holdingWithoutLease,
      fencing: this.current(),
      counters: { ...this.facts, requests: stats?.requests ?? 0, requestErrors: stats?.errors ?? 0 },
    };
  }
}

function parseValue(v: string): Value | null {
  try {
    const o = JSON.parse(v) as Partial<Value>;
    return typeof o.id === 'string' ? { id: o.id, priority: typeof o.priority === 'number' ? o.priority : 0 } : null;
  } catch {
    return null;
  }
}

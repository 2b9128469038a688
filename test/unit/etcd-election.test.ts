// The pure parts of the etcd election (issue #12): the decision (src/election/etcd-decide.ts), the
// fencing of provider acquires (src/provider/runner/fencing.ts, through a real ProviderRunner), and
// the election: config (schema, errors with path and fix, the VRRP-only keys).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import pino from 'pino';
import { decide, nextDecisionAt, type DecideInput } from '../../src/election/etcd-decide.js';
import { fencedAcquire, type Fence, type FencingCounters, type FencingToken } from '../../src/provider/runner/fencing.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import { ProviderError } from '../../src/provider/errors.js';
import type { VipProvider } from '../../src/provider/types.js';
import { parseConfig } from '../../src/config/load.js';

const base: DecideInput = {
  started: true,
  fault: null,
  state: 'BACKUP',
  leaderIsMe: false,
  leaseValidUntil: 10_000,
  storeReachable: true,
  unreachableSince: null,
  ttlMs: 2_000,
  onStoreLost: 'release',
  now: 5_000,
};

test('decide: leader with a live lease is MASTER; a fault or not started wins over everything', () => {
  assert.equal(decide({ ...base, leaderIsMe: true }).state, 'MASTER');
  assert.equal(decide({ ...base, leaderIsMe: true, fault: 'check chk failed' }).state, 'FAULT');
  assert.equal(decide({ ...base, leaderIsMe: true, fault: 'x' }).reason, 'x');
  assert.equal(decide({ ...base, leaderIsMe: true, started: false }).state, 'INIT');
  assert.equal(decide(base).state, 'BACKUP');
});

test('decide: a leader whose lease ran out steps down (release); hold keeps MASTER only while etcd is unreachable', () => {
  const lapsed: DecideInput = { ...base, state: 'MASTER', leaderIsMe: true, leaseValidUntil: 4_000, storeReachable: false, unreachableSince: 3_500 };
  assert.equal(decide(lapsed).state, 'BACKUP', 'release: lease gone, less than ttl unreachable → BACKUP');
  assert.equal(decide({ ...lapsed, unreachableSince: 2_000 }).state, 'FAULT', 'release: unreachable for ttl → FAULT');
  const held = decide({ ...lapsed, onStoreLost: 'hold' });
  assert.equal(held.state, 'MASTER');
  assert.equal(held.holdingWithoutLease, true);
  // hold covers not knowing only: a reachable store that shows another leader deposes us.
  assert.equal(decide({ ...lapsed, onStoreLost: 'hold', storeReachable: true, unreachableSince: null, leaderIsMe: false }).state, 'BACKUP');
  // A BACKUP never takes MASTER under hold.
  assert.equal(decide({ ...lapsed, state: 'BACKUP', onStoreLost: 'hold', unreachableSince: 2_000 }).state, 'FAULT');
});

test('decide: a leader that sees another key first goes BACKUP at once', () => {
  const d = decide({ ...base, state: 'MASTER', leaderIsMe: false });
  assert.equal(d.state, 'BACKUP');
  assert.match(d.reason, /another candidate/);
});

test('nextDecisionAt: the lease end and the store-lost deadline', () => {
  assert.equal(nextDecisionAt({ ...base }), 10_000);
  assert.equal(nextDecisionAt({ ...base, storeReachable: false, unreachableSince: 4_000 }), 6_000);
  assert.equal(nextDecisionAt({ ...base, leaseValidUntil: null }), null);
});

class TestFence implements Fence {
  token: FencingToken | null = { lease: 'abc', revision: 7 };
  private readonly ls = new Set<() => void>();
  current() {
    return this.token;
  }
  subscribe(l: () => void) {
    this.ls.add(l);
    return () => this.ls.delete(l);
  }
  set(t: FencingToken | null) {
    this.token = t;
    for (const l of [...this.ls]) l();
  }
}

function provider(acquire: (signal: AbortSignal) => Promise<void>): VipProvider & { acquires: number } {
  const p = {
    type: 'test',
    acquires: 0,
    acquire: async (signal: AbortSignal) => {
      p.acquires++;
      await acquire(signal);
    },
    release: async () => {},
    verify: async () => 'held' as const,
    async *preflight() {},
  };
  return p as unknown as VipProvider & { acquires: number };
}

test('fencedAcquire: refused without a token; tagged with it otherwise; aborted when it goes stale', async () => {
  const fence = new TestFence();
  const counters: FencingCounters = { refused: 0, aborted: 0, lastToken: null };
  const ok = provider(async () => {});
  await fencedAcquire(ok, fence, counters, new AbortController().signal);
  assert.deepEqual(counters.lastToken, { lease: 'abc', revision: 7 });

  fence.set(null);
  const err = await fencedAcquire(ok, fence, counters, new AbortController().signal).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ProviderError && err.code === 'Fenced', 'refused with code Fenced');
  assert.equal(counters.refused, 1);
  assert.equal(ok.acquires, 1, 'the provider was not called');

  fence.set({ lease: 'abc', revision: 7 });
  let seen: AbortSignal | null = null;
  const slow = provider((signal) => {
    seen = signal;
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
  });
  const p = fencedAcquire(slow, fence, counters, new AbortController().signal);
  await new Promise((r) => setImmediate(r));
  fence.set({ lease: 'def', revision: 9 }); // leadership moved: the old token is stale
  const e2 = await p.then(() => null, (e: unknown) => e);
  assert.ok(e2 instanceof ProviderError && e2.code === 'Fenced');
  assert.equal(counters.aborted, 1);
  assert.equal((seen as AbortSignal | null)?.aborted, true, 'the provider saw its signal abort');
});

test('ProviderRunner with a fence: a stale token keeps the runner from calling acquire; status shows the counters', async () => {
  const fence = new TestFence();
  fence.set(null);
  const p = provider(async () => {});
  const runner = new ProviderRunner(p, {
    log: pino({ level: 'silent' }),
    timing: { operationTimeoutMs: 1_000, confirmTimeoutMs: 1_000, reconcileMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 20, faultAfterMs: 60_000 },
    vips: ['198.51.100.100/24'],
    fence,
  });
  runner.want(true);
  await new Promise((r) => setTimeout(r, 100));
  const st = runner.status();
  assert.equal(p.acquires, 0);
  assert.ok((st.fencing?.refused ?? 0) >= 1, JSON.stringify(st.fencing));
  assert.match(st.lastError ?? '', /refused by fencing/);
  fence.set({ lease: 'abc', revision: 1 });
  assert.equal(await runner.whenReached(2_000), true, 'acquires once a token is current');
  assert.equal(p.acquires, 1);
  await runner.close();
});

const etcdInstance = (election: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  stringify({ instances: { VI_1: { interface: 'eth0', vips: ['198.51.100.100/24'], election, ...extra } } });

test('config: election etcd needs no vrid; defaults; VRRP still requires vrid', () => {
  const r = parseConfig(etcdInstance({ type: 'etcd', endpoints: ['http://198.51.100.11:2379'] }));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const e = r.config.instances.VI_1!.election;
  assert.deepEqual(e, { type: 'etcd', endpoints: ['http://198.51.100.11:2379'], ttl: 3, onStoreLost: 'release', preempt: false, resignBelow: 0 });
  assert.equal(r.config.instances.VI_1!.vrid, undefined);
  const v = parseConfig(stringify({ instances: { VI_1: { interface: 'eth0', vips: ['198.51.100.100/24'] } } }));
  assert.ok(!v.ok);
  assert.equal(v.errors[0]!.path, 'instances.VI_1.vrid');
  assert.match(v.errors[0]!.fix ?? '', /VRID/);
});

test('config: election etcd errors name the path and the fix', () => {
  const bad = (election: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const r = parseConfig(etcdInstance(election, extra));
    assert.ok(!r.ok);
    return r.errors;
  };
  assert.match(bad({ type: 'etcd', endpoints: ['198.51.100.11:2379'] })[0]!.path, /election\.endpoints/);
  assert.match(bad({ type: 'etcd', endpoints: ['https://198.51.100.11:2379'] })[0]!.fix ?? '', /tls/);
  assert.match(bad({ type: 'etcd', endpoints: ['http://198.51.100.11:2379'], username: 'u' })[0]!.message, /username and password/);
  assert.match(bad({ type: 'etcd', endpoints: ['http://198.51.100.11:2379'], onStoreLost: 'keep' })[0]!.path, /onStoreLost/);
  const u = bad({ type: 'etcd', endpoints: ['http://198.51.100.11:2379'] }, { unicast: { peers: ['198.51.100.2'] } });
  assert.equal(u[0]!.path, 'instances.VI_1.unicast');
  assert.match(u[0]!.fix ?? '', /remove unicast/);
});

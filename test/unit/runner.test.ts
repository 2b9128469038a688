// ProviderRunner (the driver) on a VirtualClock against a scripted fake provider: no real sleeps,
// no timing assertions. The policy itself is tested in runner-step.test.ts.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import fc from 'fast-check';
import { ProviderRunner, RateLimiter, VerifyBatch, createTypeResources, type ProviderRunnerOptions } from '../../src/provider/runner/index.js';
import { permanent } from '../../src/provider/errors.js';
import type { PreflightCheck, ProviderTiming, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { VirtualClock } from '../support/virtual-clock.js';

const rejections: unknown[] = [];
process.on('unhandledRejection', (e) => rejections.push(e));
afterEach(() => assert.deepEqual(rejections, [], 'no unhandled rejections'));

const A = '198.51.100.10/24';
const B = '198.51.100.11/32';
const VIPS = [A, B];
const timing: ProviderTiming = { operationTimeoutMs: 1_000, confirmTimeoutMs: 0, reconcileMs: 10_000, backoffBaseMs: 100, backoffMaxMs: 1_600, faultAfterMs: 3_000 };

type OpName = 'acquire' | 'release' | 'verify';
/** How a call behaves: settles when the test says (honouring its abort, or ignoring it), or at once. */
type Behaviour = 'manual' | 'ignore-abort' | 'ok' | 'fail' | 'throw-sync';

interface Call {
  op: OpName;
  signal: AbortSignal;
  settled: boolean;
  resolve: (v?: unknown) => void;
  reject: (e: unknown) => void;
}

class FakeProvider implements VipProvider {
  readonly type = 'fake';
  calls: Call[] = [];
  /** The provider's own view: what acquire/release last did (verify answers from it). */
  actual: 'held' | 'not-held' = 'not-held';
  behaviour: Behaviour = 'ok';
  /** Set when a call starts while another one of this provider has not settled. */
  overlaps = 0;
  closed = 0;
  announced: string[] = [];

  active(): Call[] {
    return this.calls.filter((c) => !c.settled);
  }

  private track(op: OpName, signal: AbortSignal): Promise<unknown> {
    if (this.active().length > 0) this.overlaps++;
    if (this.behaviour === 'throw-sync') throw new Error(`${op} threw synchronously`);
    let settle!: { resolve: (v: unknown) => void; reject: (e: unknown) => void };
    const p = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
    const done = (ok: boolean, v?: unknown) => {
      if (call.settled) return;
      call.settled = true;
      if (ok && op !== 'verify') this.actual = op === 'acquire' ? 'held' : 'not-held';
      if (ok) settle.resolve(op === 'verify' ? Object.fromEntries(VIPS.map((vip) => [vip, this.actual])) : v);
      else settle.reject(v);
    };
    const call: Call = { op, signal, settled: false, resolve: (v) => done(true, v), reject: (e) => done(false, e) };
    this.calls.push(call);
    const b = this.behaviour;
    if (b === 'ok') queueMicrotask(() => call.resolve());
    if (b === 'fail') queueMicrotask(() => call.reject(new Error(`${op} failed`)));
    if (b === 'manual' || b === 'ok' || b === 'fail') signal.addEventListener('abort', () => call.reject(signal.reason), { once: true });
    return p;
  }
  acquire(signal: AbortSignal) {
    return this.track('acquire', signal) as Promise<void>;
  }
  release(signal: AbortSignal) {
    return this.track('release', signal) as Promise<void>;
  }
  verify(signal: AbortSignal) {
    return this.track('verify', signal) as Promise<VipOwnership>;
  }
  async *preflight(): AsyncIterable<PreflightCheck> {}
  announce(reason: 'lower-priority' | 'refresh') {
    this.announced.push(reason);
  }
  close() {
    this.closed++;
  }
  last(): Call {
    return this.calls[this.calls.length - 1]!;
  }
}

function setup(opts: Partial<ProviderRunnerOptions> = {}, provider = new FakeProvider(), clock = new VirtualClock()) {
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const changes: number[] = [];
  const runner = new ProviderRunner(provider, { log, timing, vips: VIPS, clock, random: () => 0.5, abortGraceMs: 500, onChange: () => changes.push(clock.now()), ...opts });
  return { provider, runner, clock, logs, changes };
}

test('want(true) starts the acquire before it returns; onChange never runs inside want(), and is coalesced', async () => {
  const { provider, runner, clock, changes } = setup();
  provider.behaviour = 'manual';
  const ret = runner.want(true);
  assert.equal(ret, undefined);
  assert.equal(provider.calls.length, 0, 'the caller finishes its own synchronous work first');
  runner.want(true);
  runner.announce('refresh');
  assert.deepEqual(changes, [], 'no callback from inside want()/announce()');
  await Promise.resolve();
  assert.deepEqual(provider.calls.map((c) => c.op), ['acquire'], 'acquire started in a microtask (same macrotask: the GARP follows the advert at once)');
  await clock.settle();
  assert.equal(changes.length, 1, 'one onChange for the burst of calls');
  assert.equal(runner.status().busy, true);
  assert.equal(runner.status().desired, 'held');
  assert.deepEqual(provider.announced, ['refresh']);
  provider.last().resolve();
  await clock.settle();
  assert.equal(runner.status().ownership, 'held');
  assert.deepEqual(runner.status().vips, { [A]: 'held', [B]: 'held' });
  assert.equal(changes.length, 2);
  await runner.close();
});

test('strict order: an acquire that ignores its abort holds back the release until it settles; status says why', async () => {
  const { provider, runner, clock, logs } = setup();
  provider.behaviour = 'ignore-abort';
  runner.want(true);
  await clock.settle();
  const acquire = provider.last();
  provider.behaviour = 'ok';
  runner.want(false);
  assert.equal(acquire.signal.aborted, true, 'aborted synchronously by want(false)');
  await clock.advance(60_000);
  assert.equal(provider.calls.length, 1, 'no release while the acquire still runs');
  assert.equal(runner.status().busy, true);
  assert.match(runner.status().lastError!, /acquire: ignored its abort .*strict order/);
  assert.ok(logs.some((l) => l.level === 50 && /ignored its abort/.test(l.msg)), 'logged at error');
  acquire.resolve(); // the late "assign" lands
  await clock.settle();
  assert.deepEqual(provider.calls.map((c) => c.op), ['acquire', 'release'], 'the release follows it');
  assert.equal(provider.overlaps, 0);
  assert.equal(provider.actual, 'not-held', 'the final state is the one of the last goal');
  assert.equal(runner.status().ownership, 'not-held');
  await runner.close();
});

test('a failing provider: retried with backoff on the clock; fault after faultAfterMs with the error and its fix; cleared by success', async () => {
  const { provider, runner, clock } = setup();
  provider.behaviour = 'manual';
  runner.want(true);
  await clock.settle();
  provider.last().reject(permanent('operation not permitted', 'run as root or grant CAP_NET_ADMIN', { code: 'EPERM' }));
  await clock.settle();
  let st = runner.status();
  assert.equal(st.lastError, 'acquire: operation not permitted');
  assert.equal(st.lastErrorClass, 'permanent');
  assert.equal(st.fix, 'run as root or grant CAP_NET_ADMIN');
  assert.equal(st.fault, null);
  assert.equal(provider.calls.length, 1);
  await clock.advance(50); // backoff 0.5 * 100
  assert.equal(provider.calls.length, 2, 'retried after the backoff');
  for (let t = 50; t < 3_000; t += 50) {
    for (const c of provider.active()) c.reject(permanent('operation not permitted', 'run as root or grant CAP_NET_ADMIN'));
    await clock.advance(50);
  }
  st = runner.status();
  assert.match(st.fault!, /^no successful acquire for 3 s; last error: acquire: operation not permitted \(fix: run as root/);
  while (provider.active().length === 0) await clock.advance(100);
  provider.last().resolve();
  await clock.settle();
  assert.equal(runner.status().fault, null);
  assert.equal(runner.status().counters.acquireOk, 1);
  await runner.close();
});

test('a provider that throws synchronously is a failure like any other (no throw into want())', async () => {
  const { provider, runner, clock } = setup();
  provider.behaviour = 'throw-sync';
  assert.doesNotThrow(() => runner.want(true));
  await clock.settle();
  assert.equal(runner.status().counters.acquireFail, 1);
  assert.equal(runner.status().lastError, 'acquire: acquire threw synchronously');
  await runner.close();
});

test('reconcile: verify on the clock; per-VIP drift re-acquires', async () => {
  const { provider, runner, clock } = setup();
  runner.want(true);
  await clock.settle();
  assert.equal(await runner.whenReached(0), true);
  provider.actual = 'not-held'; // someone removed the VIPs
  await clock.advance(12_000); // reconcile within 10 s ± 20 %
  const ops = provider.calls.map((c) => c.op);
  assert.deepEqual(ops, ['acquire', 'verify', 'acquire']);
  assert.equal(runner.status().counters.drift, 1);
  assert.equal(provider.actual, 'held');
  await runner.close();
});

test('whenReached: true once reached, false on timeout or goal change (on the virtual clock)', async () => {
  const { provider, runner, clock } = setup();
  provider.behaviour = 'manual';
  runner.want(false);
  const timedOut = runner.whenReached(100);
  await clock.advance(100);
  assert.equal(await timedOut, false);
  const changed = runner.whenReached(10_000);
  runner.want(true);
  assert.equal(await changed, false);
  const reached = runner.whenReached(10_000);
  await clock.settle(); // the aborted release has settled (it honours its abort); the acquire runs
  assert.deepEqual(provider.active().map((c) => c.op), ['acquire']);
  provider.last().resolve();
  await clock.settle();
  assert.equal(await reached, true);
  await runner.close();
});

test('releaseNow: aborts, waits for the running call, then releases once; false when the deadline passes first', async () => {
  const ok = setup();
  ok.provider.behaviour = 'manual';
  ok.runner.want(true);
  await ok.clock.settle();
  const done = ok.runner.releaseNow(2_000);
  assert.equal(ok.provider.last().signal.aborted, true);
  await ok.clock.settle();
  assert.deepEqual(ok.provider.calls.map((c) => c.op), ['acquire', 'release']);
  ok.provider.last().resolve();
  assert.equal(await done, true);
  ok.runner.want(true);
  await ok.clock.advance(60_000);
  assert.equal(ok.provider.calls.length, 2, 'no work after releaseNow');
  await ok.runner.close();
  assert.equal(ok.provider.closed, 1);

  const stuck = setup();
  stuck.provider.behaviour = 'ignore-abort';
  stuck.runner.want(true);
  await stuck.clock.settle();
  const late = stuck.runner.releaseNow(1_000);
  await stuck.clock.advance(1_000);
  assert.equal(await late, false);
  stuck.provider.last().resolve();
  await stuck.clock.settle();
  assert.deepEqual(stuck.provider.calls.map((c) => c.op), ['acquire'], 'no release after the deadline, none overlapping');
  await stuck.runner.close();
});

test('close: waits for a call that ignores its abort at most abortGraceMs, then closes the provider', async () => {
  const { provider, runner, clock } = setup();
  provider.behaviour = 'ignore-abort';
  runner.want(true);
  await clock.settle();
  let closed = false;
  const p = runner.close().then(() => (closed = true));
  await clock.advance(499);
  assert.equal(closed, false);
  await clock.advance(1);
  await p;
  assert.equal(provider.closed, 1);
  provider.last().resolve(); // a very late settle is harmless
  await clock.settle();
  runner.want(false);
  assert.equal(provider.calls.length, 1);
});

test('shared rate limiter: two runners of one type wait their turn for a token', async () => {
  const clock = new VirtualClock();
  const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, clock);
  const one = setup({ limiter }, new FakeProvider(), clock);
  const two = setup({ limiter }, new FakeProvider(), clock);
  one.provider.behaviour = two.provider.behaviour = 'manual';
  one.runner.want(true);
  two.runner.want(true);
  await clock.settle();
  assert.equal(one.provider.calls.length, 1, 'the first takes the burst token at once');
  assert.equal(two.provider.calls.length, 0, 'the second waits');
  assert.equal(two.runner.status().busy, false);
  await clock.advance(999);
  assert.equal(two.provider.calls.length, 0);
  await clock.advance(1);
  assert.equal(two.provider.calls.length, 1, 'one token per second');
  await one.runner.close();
  await two.runner.close();
  assert.equal(limiter.waiting, 0);
});

test('rate limiter: a goal flip while waiting for a token uses that token for the new goal; close cancels the wait', async () => {
  const clock = new VirtualClock();
  const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, clock);
  limiter.take(() => {}); // use up the burst
  const { provider, runner } = setup({ limiter }, new FakeProvider(), clock);
  runner.want(true);
  runner.want(false);
  assert.equal(limiter.waiting, 1);
  await clock.advance(1_000);
  assert.deepEqual(provider.calls.map((c) => c.op), ['release']);
  runner.want(true);
  assert.equal(limiter.waiting, 1);
  await runner.close();
  assert.equal(limiter.waiting, 0);
});

test('verify batch: concurrent reconciles of one type make ONE verifyMany() call; missing answers fall back to verify()', async () => {
  const clock = new VirtualClock();
  const seen: VipProvider[][] = [];
  const providers = [new FakeProvider(), new FakeProvider(), new FakeProvider()];
  const module = {
    timing,
    rateLimit: { perSecond: Infinity, burst: 1 },
    verifyMany: async (ps: readonly VipProvider[]) => {
      seen.push([...ps]);
      // Leaves the last one out: its own verify() must be used.
      return new Map(ps.slice(0, 2).map((p) => [p, { [A]: 'held', [B]: 'held' } as VipOwnership]));
    },
  };
  const shared = createTypeResources(module, clock);
  const runners = providers.map((p) => setup({ ...shared }, p, clock).runner);
  for (const r of runners) r.want(true);
  await clock.settle();
  await clock.advance(12_500);
  assert.equal(seen.length, 1, 'one verifyMany for all three');
  assert.equal(seen[0]!.length, 3);
  assert.deepEqual(providers.map((p) => p.calls.filter((c) => c.op === 'verify').length), [0, 0, 1]);
  for (const r of runners) assert.equal(r.status().ownership, 'held');
  for (const r of runners) await r.close();
});

test('verify batch without verifyMany: each provider verify()s on its own', async () => {
  const clock = new VirtualClock();
  const batch = new VerifyBatch({ clock, limiter: new RateLimiter({ perSecond: Infinity, burst: 1 }, clock) });
  const providers = [new FakeProvider(), new FakeProvider()];
  const runners = providers.map((p) => setup({ batch }, p, clock).runner);
  for (const r of runners) r.want(true);
  await clock.advance(12_500);
  assert.deepEqual(providers.map((p) => p.calls.map((c) => c.op)), [['acquire', 'verify'], ['acquire', 'verify']]);
  for (const r of runners) await r.close();
});

// --- property: strict order and convergence -----------------------------------------------------

type Cmd =
  | { t: 'want'; hold: boolean }
  | { t: 'behaviour'; b: Behaviour }
  | { t: 'settle'; ok: boolean; which: number }
  | { t: 'advance'; ms: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('want' as const), hold: fc.boolean() }),
  fc.record({ t: fc.constant('behaviour' as const), b: fc.constantFrom<Behaviour>('manual', 'ignore-abort', 'ok', 'fail') }),
  fc.record({ t: fc.constant('settle' as const), ok: fc.boolean(), which: fc.nat(3) }),
  fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(1, 50, 400, 600, 1_000, 3_000, 12_000) }),
);

test('property: goal changes, outcomes (ok/fail/hang/ignore-abort/late settle) and clock advances never overlap two provider calls; once quiet, the last operation matches the final goal', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), async (cmds) => {
      const { provider, runner, clock } = setup({ onChange: () => {} });
      let goal: boolean | null = null;
      for (const c of cmds) {
        if (c.t === 'want') {
          runner.want(c.hold);
          goal = c.hold;
        } else if (c.t === 'behaviour') provider.behaviour = c.b;
        else if (c.t === 'settle') {
          const act = provider.active();
          const call = act[c.which % Math.max(1, act.length)];
          if (call) (c.ok ? call.resolve : call.reject)(new Error('scripted failure'));
        } else await clock.advance(c.ms);
        await clock.settle();
      }
      // Quiet down: every call from now on succeeds; settle what hangs (late settles included).
      provider.behaviour = 'ok';
      for (let i = 0; i < 12; i++) {
        for (const call of provider.active()) call.resolve();
        await clock.advance(15_000);
      }
      assert.equal(provider.overlaps, 0, 'two provider calls ran at once');
      assert.equal(provider.active().length, 0);
      const mutations = provider.calls.filter((c) => c.op !== 'verify');
      if (goal !== null) {
        assert.equal(mutations[mutations.length - 1]?.op, goal ? 'acquire' : 'release');
        assert.equal(provider.actual, goal ? 'held' : 'not-held');
        assert.equal(runner.status().ownership, goal ? 'held' : 'not-held');
      } else assert.equal(provider.calls.length, 0);
      await runner.close();
    }),
    { numRuns: 150 },
  );
});

test('verify batch: a request aborted before the shared call starts leaves at once; the call is shared by the rest', async () => {
  const clock = new VirtualClock();
  const limiter = new RateLimiter({ perSecond: Infinity, burst: 1 }, clock);
  const calls: VipProvider[][] = [];
  let answer!: (m: Map<VipProvider, VipOwnership>) => void;
  const batch = new VerifyBatch({
    clock,
    limiter,
    windowMs: 100,
    verifyMany: (ps) => {
      calls.push([...ps]);
      return new Promise((res) => (answer = res));
    },
  });
  const [p1, p2, p3] = [new FakeProvider(), new FakeProvider(), new FakeProvider()];
  const c1 = new AbortController();
  const c2 = new AbortController();
  const r1 = batch.verify(p1, c1.signal);
  await clock.advance(50);
  const r2 = batch.verify(p2, c2.signal);
  const r3 = batch.verify(p3, new AbortController().signal);
  c1.abort(new Error('gone'));
  await assert.rejects(r1, /gone/);
  await clock.advance(50);
  assert.deepEqual(calls, [[p2, p3]], 'one call, for the two still waiting, when the window closes');
  let r2Settled = false;
  void r2.catch(() => {}).finally(() => (r2Settled = true));
  c2.abort(new Error('late'));
  await clock.settle();
  assert.equal(r2Settled, false, 'once the call runs, an aborted request waits for it (strict order)');
  answer(new Map([[p2, { [A]: 'held' }], [p3, { [A]: 'not-held' }]]));
  assert.deepEqual(await r2, { [A]: 'held' });
  assert.deepEqual(await r3, { [A]: 'not-held' });
});

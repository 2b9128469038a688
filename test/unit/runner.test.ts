// ProviderRunner against a scripted fake provider, with real ms-scale timers.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ProviderRunner, backoffDelayMs, type ProviderRunnerOptions } from '../../src/provider/runner.js';
import type { Ownership, PreflightCheck, VipProvider } from '../../src/provider/types.js';

const rejections: unknown[] = [];
process.on('unhandledRejection', (e) => rejections.push(e));
afterEach(() => assert.deepEqual(rejections, [], 'no unhandled rejections'));

type Impl<T> = (signal: AbortSignal, n: number) => Promise<T>;

class FakeProvider implements VipProvider {
  readonly type = 'fake';
  events: { what: string; at: number }[] = [];
  counts = { acquire: 0, release: 0, verify: 0 };
  signals: AbortSignal[] = [];
  closed = 0;
  announced: string[] = [];
  acquireImpl: Impl<void> = async () => {};
  releaseImpl: Impl<void> = async () => {};
  verifyImpl: Impl<Ownership> = async () => 'held';

  private track<T>(op: 'acquire' | 'release' | 'verify', impl: Impl<T>, signal: AbortSignal): Promise<T> {
    const n = ++this.counts[op];
    this.signals.push(signal);
    this.events.push({ what: `${op}-start`, at: Date.now() });
    const end = () => this.events.push({ what: `${op}-end`, at: Date.now() });
    const p = impl(signal, n);
    p.then(end, end);
    return p;
  }
  acquire(signal: AbortSignal) {
    return this.track('acquire', this.acquireImpl, signal);
  }
  release(signal: AbortSignal) {
    return this.track('release', this.releaseImpl, signal);
  }
  verify(signal: AbortSignal) {
    return this.track('verify', this.verifyImpl, signal);
  }
  async *preflight(): AsyncIterable<PreflightCheck> {}
  announce(reason: 'lower-priority' | 'refresh') {
    this.announced.push(reason);
  }
  close() {
    this.closed++;
  }
}

/** Never settles until aborted; then rejects (after `lingerMs`) like a well-behaved provider. */
function hang(signal: AbortSignal, lingerMs = 0): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => setTimeout(() => reject(new Error('aborted by signal')), lingerMs);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(2);
  }
}

function setup(opts: Partial<ProviderRunnerOptions> = {}) {
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const provider = new FakeProvider();
  const runner = new ProviderRunner(provider, { log, baseMs: 10, maxMs: 100, opTimeoutMs: 1000, reconcileMs: 60_000, ...opts });
  return { provider, runner, logs };
}

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('backoffDelayMs: full jitter under a doubling ceiling capped at maxMs', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelayMs(n, 500, 30_000, () => 0.999999)),
    [499, 999, 1999, 3999, 7999, 15999, 29999, 29999],
  );
  assert.equal(backoffDelayMs(3, 500, 30_000, () => 0), 0);
  assert.equal(backoffDelayMs(3, 500, 30_000, () => 0.5), 1000);
});

test('want() returns synchronously while acquire hangs; status shows the goal and busy', async () => {
  const { provider, runner } = setup();
  provider.acquireImpl = (s) => hang(s);
  const t0 = performance.now();
  const ret = runner.want(true);
  assert.ok(performance.now() - t0 < 50, 'want() did not wait');
  assert.equal(ret, undefined);
  assert.equal(runner.status().desired, 'held');
  await waitFor('acquire to start', () => runner.status().busy);
  assert.equal(provider.counts.acquire, 1);
  assert.equal(runner.status().ownership, 'unknown');
  runner.want(true); // same goal: no-op, the call in flight is left alone
  assert.equal(provider.signals[0]!.aborted, false);
  await runner.close();
  assert.equal(provider.signals[0]!.aborted, true);
  assert.equal(provider.closed, 1);
  assert.equal(runner.status().busy, false);
});

test('a goal flip aborts the call in flight and starts the new one only after it settled', async () => {
  const { provider, runner } = setup();
  provider.acquireImpl = (s) => hang(s, 25);
  runner.want(true);
  await waitFor('acquire to start', () => runner.status().busy);
  runner.want(false);
  assert.equal(provider.signals[0]!.aborted, true, 'acquire aborted synchronously by want(false)');
  await waitFor('release to succeed', () => runner.status().counters.releaseOk === 1);
  const names = provider.events.map((e) => e.what);
  assert.deepEqual(names, ['acquire-start', 'acquire-end', 'release-start', 'release-end']);
  const acquireEnd = provider.events[1]!.at;
  assert.ok(provider.events[2]!.at >= acquireEnd, 'release started after the aborted acquire settled');
  const st = runner.status();
  assert.equal(st.counters.acquireFail, 0, 'an aborted (superseded) call is not a failure');
  assert.equal(st.ownership, 'not-held');
  assert.equal(st.desired, 'released');
  assert.equal(st.lastError, null);
  assert.ok(st.lastChange && !Number.isNaN(Date.parse(st.lastChange)));
  await runner.close();
});

test('failures are retried with growing backoff until success; lastError kept, then cleared', async () => {
  const snapshots: (string | null)[] = [];
  const { provider, runner, logs } = setup({ baseMs: 20, maxMs: 1000, random: () => 1, onChange: (s) => snapshots.push(s.lastError) });
  provider.acquireImpl = async (_s, n) => {
    if (n <= 3) throw new Error(`boom ${n}`);
  };
  runner.want(true);
  await waitFor('acquire to succeed', () => runner.status().counters.acquireOk === 1);
  const st = runner.status();
  assert.equal(st.counters.acquireFail, 3);
  assert.equal(st.lastError, null);
  assert.equal(st.ownership, 'held');
  assert.ok(snapshots.includes('acquire: boom 1') && snapshots.includes('acquire: boom 3'), 'lastError shown while failing');
  const retries = logs.filter((l) => typeof l.retryInMs === 'number').map((l) => l.retryInMs);
  assert.deepEqual(retries, [20, 40, 80]);
  const starts = provider.events.filter((e) => e.what === 'acquire-start').map((e) => e.at);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  assert.equal(gaps.length, 3);
  gaps.forEach((g, i) => assert.ok(g >= 20 * 2 ** i - 2, `gap ${i} = ${g} ms, expected >= ${20 * 2 ** i}`));
  await runner.close();
});

test('lastError survives until the next success; a failed call leaves ownership unknown', async () => {
  let allow = false;
  const { provider, runner } = setup({ baseMs: 5 });
  provider.releaseImpl = async () => {
    if (!allow) throw new Error('ip: RTNETLINK answers: Operation not permitted');
  };
  runner.want(false);
  await waitFor('two failures', () => runner.status().counters.releaseFail >= 2);
  assert.equal(runner.status().lastError, 'release: ip: RTNETLINK answers: Operation not permitted');
  assert.equal(runner.status().ownership, 'unknown');
  allow = true;
  await waitFor('success', () => runner.status().counters.releaseOk === 1);
  assert.equal(runner.status().lastError, null);
  assert.equal(runner.status().ownership, 'not-held');
  await runner.close();
});

test('each attempt has a deadline; a timeout counts as a failure', async () => {
  const { provider, runner } = setup({ opTimeoutMs: 30, baseMs: 1000 });
  provider.acquireImpl = (s) => hang(s);
  runner.want(true);
  await waitFor('timeout', () => runner.status().counters.acquireFail === 1);
  assert.equal(runner.status().lastError, 'acquire: timed out after 30 ms');
  assert.equal(provider.signals[0]!.aborted, true);
  await runner.close();
});

test('a provider that throws synchronously, or an onChange that throws, crashes nothing', async () => {
  const { provider, runner } = setup({
    onChange: () => {
      throw new Error('callback bug');
    },
  });
  provider.acquireImpl = () => {
    throw new Error('sync throw');
  };
  runner.want(true);
  await waitFor('failure counted', () => runner.status().counters.acquireFail >= 1);
  assert.equal(runner.status().lastError, 'acquire: sync throw');
  await runner.close();
});

test('reconcile: drift while held is logged, counted and re-acquired', async () => {
  const { provider, runner, logs } = setup({ reconcileMs: 15 });
  const answers: Ownership[] = ['held', 'elsewhere'];
  provider.verifyImpl = async () => answers.shift() ?? 'held';
  runner.want(true);
  await waitFor('re-acquire', () => provider.counts.acquire === 2 && runner.status().counters.acquireOk === 2);
  const st = runner.status();
  assert.equal(st.counters.drift, 1);
  assert.equal(st.ownership, 'held');
  const warn = logs.find((l) => l.level === 40 && /VIP drifted away while MASTER/.test(l.msg));
  assert.ok(warn, 'warning logged');
  assert.equal(warn.ownership, 'elsewhere');
  assert.equal(warn.provider, 'fake');
  await waitFor('reconcile keeps going', () => provider.counts.verify >= 3);
  await runner.close();
});

test('reconcile: still held while released → release again; unknown only logs; verify errors are counted', async () => {
  const { provider, runner, logs } = setup({ reconcileMs: 10 });
  const answers: (Ownership | Error)[] = ['held', 'unknown', new Error('api down'), 'not-held'];
  provider.verifyImpl = async () => {
    const a = answers.shift() ?? 'not-held';
    if (a instanceof Error) throw a;
    return a;
  };
  runner.want(false);
  await waitFor('all answers consumed', () => answers.length === 0 && runner.status().counters.verifyFail === 1);
  await waitFor('next verify ok', () => runner.status().lastError === null && provider.counts.verify >= 5);
  const st = runner.status();
  assert.equal(st.counters.releaseOk, 2, 'released again after verify said held');
  assert.equal(st.counters.drift, 1);
  assert.equal(st.counters.verifyFail, 1);
  assert.equal(st.counters.acquireOk + st.counters.acquireFail, 0);
  assert.equal(st.ownership, 'not-held');
  assert.ok(logs.some((l) => l.level === 20 && /could not tell/.test(l.msg)), 'unknown logged at debug');
  await runner.close();
});

test('releaseNow under a hanging provider resolves false by its deadline', async () => {
  const { provider, runner } = setup();
  provider.acquireImpl = (s) => hang(s);
  provider.releaseImpl = (s) => hang(s);
  runner.want(true);
  await waitFor('acquire in flight', () => runner.status().busy);
  const t0 = Date.now();
  const ok = await runner.releaseNow(60);
  const took = Date.now() - t0;
  assert.equal(ok, false);
  assert.ok(took >= 55 && took < 400, `resolved after ${took} ms`);
  assert.equal(provider.signals[0]!.aborted, true, 'the acquire was aborted');
  assert.equal(provider.counts.release, 1);
  await waitFor('the release timeout recorded', () => runner.status().counters.releaseFail === 1);
  assert.match(runner.status().lastError ?? '', /^release: timed out after \d+ ms$/);
  runner.want(true); // no more work after releaseNow
  await sleep(20);
  assert.equal(provider.counts.acquire, 1);
  await runner.close();
});

test('releaseNow with a provider that ignores abort still resolves false by the deadline; close still ends', async () => {
  const { provider, runner, logs } = setup({ abortGraceMs: 400 });
  provider.acquireImpl = () => new Promise(() => {});
  runner.want(true);
  await waitFor('acquire in flight', () => runner.status().busy);
  const t0 = Date.now();
  assert.equal(await runner.releaseNow(50), false);
  assert.ok(Date.now() - t0 < 350, 'did not wait for the abort grace');
  assert.equal(provider.counts.release, 0, 'no release while the acquire may still be running');
  await runner.close();
  assert.equal(runner.status().busy, false);
  assert.ok(logs.some((l) => /ignored its abort signal/.test(l.msg)));
});

test('a provider that ignores abort is given up on after abortGraceMs; the next goal proceeds', async () => {
  const { provider, runner } = setup({ abortGraceMs: 30 });
  provider.acquireImpl = () => new Promise(() => {});
  runner.want(true);
  await waitFor('acquire in flight', () => runner.status().busy);
  runner.want(false);
  await waitFor('release done', () => runner.status().counters.releaseOk === 1);
  assert.equal(runner.status().ownership, 'not-held');
  await runner.close();
});

test('releaseNow succeeds and reports true', async () => {
  const { provider, runner } = setup();
  runner.want(true);
  await waitFor('held', () => runner.status().ownership === 'held');
  assert.equal(await runner.releaseNow(1000), true);
  assert.equal(runner.status().ownership, 'not-held');
  assert.equal(provider.counts.release, 1);
  await runner.close();
});

test('announce passes through only while the goal is held', async () => {
  const { provider, runner } = setup();
  runner.announce('refresh');
  runner.want(false);
  runner.announce('refresh');
  runner.want(true);
  runner.announce('lower-priority');
  assert.deepEqual(provider.announced, ['lower-priority']);
  await runner.close();
  runner.announce('refresh');
  assert.deepEqual(provider.announced, ['lower-priority']);
});

test('close stops timers and work; want() is a no-op afterwards', async () => {
  const before = timeouts();
  const { provider, runner } = setup({ reconcileMs: 10, opTimeoutMs: 5000, baseMs: 10_000 });
  runner.want(true);
  await waitFor('a reconcile ran', () => provider.counts.verify >= 1);
  await runner.close();
  assert.equal(timeouts(), before, 'no timers left behind');
  assert.equal(provider.closed, 1);
  const counts = { ...provider.counts };
  runner.want(false);
  runner.want(true);
  await sleep(30);
  assert.deepEqual(provider.counts, counts);
  assert.equal(runner.status().busy, false);
  await runner.close(); // idempotent
  assert.equal(provider.closed, 1);
});

test('whenReached: true once the goal is reached (after retries), false on timeout or goal change', async () => {
  const { provider, runner } = setup();
  provider.releaseImpl = async (_s, n) => {
    if (n < 3) throw new Error('busy');
  };
  runner.want(false);
  assert.equal(await runner.whenReached(2000), true);
  assert.equal(provider.counts.release, 3);
  assert.equal(runner.status().ownership, 'not-held', 'a start-up release tells the status the VIP is not held');
  assert.equal(await runner.whenReached(10), true, 'already reached resolves at once');

  provider.acquireImpl = (signal) => hang(signal);
  runner.want(true);
  assert.equal(await runner.whenReached(30), false, 'hanging acquire: timeout');
  const pending = runner.whenReached(2000);
  runner.want(false);
  assert.equal(await pending, false, 'goal changed while waiting');
  await runner.close();
});

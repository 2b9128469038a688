// One per provider type: the verify() calls of all its runners go through here. When the type offers
// verifyMany(), requests that arrive within `windowMs` of each other (reconciles of many instances
// fall due at about the same time) are answered by ONE verifyMany() call, which takes one rate-limit
// token; a provider the answer leaves out gets its own verify(). Without verifyMany(), each request is
// its provider's own verify(), one token each, at once.
//
// The window is a trade: reconciles are jittered (±20 %) so they spread out, and a wider window
// catches more of them in one call, but its wait counts against each verify's deadline. The agent's
// default (createTypeResources) is a quarter of the operation deadline, at most 2 s: for a cloud type
// with a 60 s reconcile that is ~12 reads per period for any number of instances instead of one each.
//
// A request settles only when the provider call it rode on has settled — even after its own signal
// aborted — so the runner's strict order (never two calls of one provider at a time) holds for verify
// too. Until that call starts (window, token wait), an aborted request leaves at once. The shared call
// is aborted only when every request on it has aborted.
import type { ProviderModule, VipOwnership, VipProvider } from '../types.js';
import type { Clock } from './clock.js';
import { RateLimiter } from './rate-limiter.js';

/** Window for collecting concurrent reconciles into one verifyMany() when none is given. */
export const VERIFY_BATCH_WINDOW_MS = 25;
/** Upper bound of the window createTypeResources() picks. */
export const VERIFY_BATCH_MAX_WINDOW_MS = 2_000;

type VerifyMany = NonNullable<ProviderModule['verifyMany']>;

interface Request {
  provider: VipProvider;
  signal: AbortSignal;
  resolve: (v: VipOwnership) => void;
  reject: (e: unknown) => void;
  /** Waiting for a shared call to start (window or token); removed from it on abort. */
  onAbort: (() => void) | null;
}

export interface VerifyBatchOptions {
  clock: Clock;
  limiter: RateLimiter;
  verifyMany?: VerifyMany | undefined;
  windowMs?: number;
}

export class VerifyBatch {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly verifyMany: VerifyMany | undefined;
  private readonly windowMs: number;
  private pending: Request[] = [];
  private timer: unknown = null;
  /** verifyMany() calls made (for tests and benchmarks). */
  calls = 0;

  constructor(opts: VerifyBatchOptions) {
    this.clock = opts.clock;
    this.limiter = opts.limiter;
    this.verifyMany = opts.verifyMany;
    this.windowMs = Math.max(0, opts.windowMs ?? VERIFY_BATCH_WINDOW_MS);
  }

  /** Who holds each of `provider`'s VIPs. Rejects with the provider's error, or the signal's reason. */
  verify(provider: VipProvider, signal: AbortSignal): Promise<VipOwnership> {
    return new Promise<VipOwnership>((resolve, reject) => {
      const req: Request = { provider, signal, resolve, reject, onAbort: null };
      if (signal.aborted) return reject(signal.reason);
      if (!this.verifyMany) return this.single(req);
      this.pending.push(req);
      this.waitAborts([req], () => {
        this.pending = this.pending.filter((r) => r !== req);
        if (this.pending.length === 0) this.disarm();
      });
      this.timer ??= this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.windowMs);
    });
  }

  /** One provider's own verify(), after a token. */
  private single(req: Request): void {
    let cancel = (): void => {};
    this.waitAborts([req], () => cancel());
    cancel = this.limiter.take(() => {
      this.stopWaiting(req);
      settle([req], Promise.resolve().then(() => req.provider.verify(req.signal)).then((v) => new Map([[req.provider, v]])));
    });
  }

  private flush(): void {
    let group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    const ctrl = new AbortController();
    let cancel = (): void => {};
    // Before the call starts, an aborted request leaves; the last one out cancels the token.
    this.waitAborts(group, () => {
      group = group.filter((r) => !r.signal.aborted);
      if (group.length === 0) cancel();
    });
    cancel = this.limiter.take(() => {
      for (const r of group) this.stopWaiting(r);
      this.calls++;
      // The shared call is aborted once every request on it has aborted.
      let live = group.filter((r) => !r.signal.aborted).length;
      if (live === 0) ctrl.abort(group[0]!.signal.reason);
      for (const r of group)
        if (!r.signal.aborted)
          r.signal.addEventListener('abort', () => {
            if (--live === 0) ctrl.abort(r.signal.reason);
          }, { once: true });
      const providers = group.map((r) => r.provider);
      const call = Promise.resolve().then(() => this.verifyMany!(providers, ctrl.signal));
      const answered = group;
      call.then(
        (map) => {
          const inAnswer = (r: Request) => map instanceof Map && map.has(r.provider);
          const missing = answered.filter((r) => !inAnswer(r));
          settle(missing.length === 0 ? answered : answered.filter(inAnswer), Promise.resolve(map));
          for (const r of missing) {
            if (r.signal.aborted) r.reject(r.signal.reason);
            else this.single(r);
          }
        },
        (e: unknown) => {
          for (const r of answered) r.reject(e);
        },
      );
    });
  }

  /** Until stopWaiting(): on abort, reject the request and run `left`. */
  private waitAborts(reqs: Request[], left: () => void): void {
    for (const r of reqs) {
      this.stopWaiting(r);
      r.onAbort = () => {
        r.onAbort = null;
        r.reject(r.signal.reason);
        left();
      };
      r.signal.addEventListener('abort', r.onAbort, { once: true });
    }
  }

  private stopWaiting(r: Request): void {
    if (r.onAbort) r.signal.removeEventListener('abort', r.onAbort);
    r.onAbort = null;
  }

  private disarm(): void {
    if (this.timer === null) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

function settle(reqs: Request[], answer: Promise<Map<VipProvider, VipOwnership>>): void {
  answer.then(
    (map) => {
      for (const r of reqs) r.resolve(map.get(r.provider) ?? {});
    },
    (e: unknown) => {
      for (const r of reqs) r.reject(e);
    },
  );
}

/** What the agent makes once per provider type and hands to every runner of that type. */
export interface TypeResources {
  limiter: RateLimiter;
  batch: VerifyBatch;
}

/** Once per provider type. Batch window: `windowMs`, else a quarter of the type's operation deadline, at most 2 s. */
export function createTypeResources(module: Pick<ProviderModule, 'rateLimit' | 'verifyMany' | 'timing'>, clock: Clock, opts: { windowMs?: number } = {}): TypeResources {
  const limiter = new RateLimiter(module.rateLimit, clock);
  const verifyMany = module.verifyMany?.bind(module);
  const windowMs = opts.windowMs ?? Math.min(VERIFY_BATCH_MAX_WINDOW_MS, module.timing.operationTimeoutMs / 4);
  return { limiter, batch: new VerifyBatch({ clock, limiter, verifyMany, windowMs }) };
}

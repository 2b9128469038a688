// A token bucket on the runner's Clock: ONE per provider type, shared by every runner (and the verify
// batch) of that type, so 200 instances cannot exceed the backend's API rate together. A call may go
// when a token is there; tokens come back at `perSecond`, up to `burst`. Waiters are served first in,
// first out. perSecond = Infinity: no limit (every request is granted at once, synchronously).
import type { ProviderRateLimit } from '../types.js';
import type { Clock } from './clock.js';

interface Waiter {
  grant: () => void;
}

export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly queue: Waiter[] = [];
  private timer: unknown = null;
  private readonly perMs: number;
  private readonly burst: number;

  constructor(
    limit: ProviderRateLimit,
    private readonly clock: Clock,
  ) {
    this.perMs = Number.isFinite(limit.perSecond) ? Math.max(limit.perSecond, 1e-6) / 1000 : Infinity;
    this.burst = Math.max(1, Number.isFinite(limit.burst) ? limit.burst : 1);
    this.tokens = this.burst;
    this.last = clock.now();
  }

  get unlimited(): boolean {
    return this.perMs === Infinity;
  }

  /** Requests waiting for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Calls `grant` once a token is taken for the caller — synchronously when one is there (and nobody
   * queues before us). Returns a cancel function (a no-op once granted). `grant` must not throw.
   */
  take(grant: () => void): () => void {
    if (this.unlimited) {
      grant();
      return () => {};
    }
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      grant();
      return () => {};
    }
    const w: Waiter = { grant };
    this.queue.push(w);
    this.arm();
    return () => {
      const i = this.queue.indexOf(w);
      if (i >= 0) this.queue.splice(i, 1);
      if (this.queue.length === 0) this.disarm();
    };
  }

  /** Promise form: resolves when a token is taken; rejects with the signal's reason if it aborts first. */
  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.take(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }

  private arm(): void {
    if (this.timer !== null || this.queue.length === 0) return;
    const ms = Math.max(0, Math.ceil((1 - this.tokens) / this.perMs));
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.refill();
      while (this.queue.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        const w = this.queue.shift()!;
        try {
          w.grant();
        } catch {
          // a grant callback must not throw; nothing we could do about it here
        }
      }
      this.arm();
    }, ms);
  }

  private disarm(): void {
    if (this.timer === null) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

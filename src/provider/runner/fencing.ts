// Fencing for lease-based elections (issue #12): the provider runner refuses a cloud "acquire" that a
// deposed leader would otherwise land late. An election that can lose leadership without hearing
// about it at once (a lease in etcd) exposes a Fence: the current fencing token (lease id + the
// create revision of the leader's key) while this node is the leader AND its lease is known to be
// alive locally, null otherwise, and a subscription to its changes.
//
// fencedAcquire(provider, fence, counters, signal) is what the runner (./driver.ts, option `fence`)
// calls instead of provider.acquire(signal):
// - the acquire is tagged with the token current when it starts; with no current token it is refused
//   at once (a retryable ProviderError: the runner's backoff applies) — this covers a late retry, a
//   drift re-acquire after verify(), and a hold that outlives its lease (onStoreLost: hold);
// - an acquire in flight is aborted as soon as its token stops being current (lease lost, key gone,
//   leadership moved), so a slow cloud call started by a leader does not land after it was deposed,
//   and one that returns after that is reported as failed (the runner then verifies and re-decides);
// - release(), verify(), announce() are never fenced (giving up is always safe);
// - counters: refused (not started) and aborted (in flight when the token went stale), for /status.
// Pure of timers: the fence decides validity; this file only checks and links abort signals.
import type { VipProvider } from '../types.js';
import { retryable, type ProviderError } from '../errors.js';

export interface FencingToken {
  /** The lease id (hex) the leader's key is attached to. */
  lease: string;
  /** The create revision of the leader's key: grows with every new leader. */
  revision: number;
}

export interface Fence {
  /** The token while this node leads with a live lease; null otherwise. */
  current(): FencingToken | null;
  /** Called whenever current() may have changed; returns an unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export interface FencingCounters {
  refused: number;
  aborted: number;
  /** The token the last acquire carried. */
  lastToken: FencingToken | null;
}

export function sameToken(a: FencingToken | null, b: FencingToken | null): boolean {
  return a !== null && b !== null && a.lease === b.lease && a.revision === b.revision;
}

export function tokenText(t: FencingToken | null): string {
  return t ? `lease ${t.lease} revision ${t.revision}` : 'none';
}

function fencingError(message: string): ProviderError {
  return retryable(message, {
    code: 'Fenced',
    fix: 'none needed if another node leads now; otherwise check that this node reaches etcd (election in /status)',
  });
}

/** provider.acquire(signal), fenced by `fence` (see the header). `counters` is updated in place. */
export async function fencedAcquire(provider: VipProvider, fence: Fence, counters: FencingCounters, signal: AbortSignal): Promise<void> {
  const token = fence.current();
  if (!token) {
    counters.refused++;
    throw fencingError('refused by fencing: this node holds no live election lease (not the leader, or its lease may have expired)');
  }
  counters.lastToken = token;
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(signal.reason);
  if (signal.aborted) ctrl.abort(signal.reason);
  else signal.addEventListener('abort', onAbort, { once: true });
  const unsubscribe = fence.subscribe(() => {
    if (ctrl.signal.aborted || sameToken(fence.current(), token)) return;
    counters.aborted++;
    ctrl.abort(fencingError(`aborted by fencing: ${tokenText(token)} is no longer current`));
  });
  try {
    await provider.acquire(ctrl.signal);
    if (!sameToken(fence.current(), token)) throw fencingError(`acquire finished after ${tokenText(token)} stopped being current`);
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}

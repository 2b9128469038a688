// The etcd election's decision, as a pure function of what the driver (./etcd.ts) knows: which state
// this candidate should be in and why. No I/O, no timers; the driver calls it after every fact changes
// and at the instants a fact expires (lease validity, the store-lost deadline).
//
// Rules, in order:
// 1. a fault (instance fault sources, or the effective priority below election.resignBelow) → FAULT;
// 2. not started → INIT;
// 3. our key is the oldest under the prefix (the leader) and our lease is alive by our own clock
//    (the last acknowledged keep-alive was SENT less than its TTL ago) → MASTER;
// 4. we were MASTER, our lease can no longer be confirmed because etcd is unreachable, and
//    onStoreLost is hold → stay MASTER (the driver says so loudly; fencing refuses cloud acquires);
// 5. etcd unreachable for at least ttl → FAULT (with release: this is when a leader lets go);
// 6. otherwise BACKUP (another candidate leads, or none yet).
// A leader that SEES it lost (its key gone, another key first, the lease answered TTL <= 0) goes to
// BACKUP at once by rule 6, in both policies: hold only covers not knowing.
import type { ElectionState } from './types.js';

export interface DecideInput {
  started: boolean;
  fault: string | null;
  state: ElectionState;
  /** Our key is the first (oldest create revision) under the prefix, as last observed. */
  leaderIsMe: boolean;
  /** Monotonic ms until which our lease is known alive; null without a lease. */
  leaseValidUntil: number | null;
  /** The last request to etcd succeeded. */
  storeReachable: boolean;
  /** Monotonic ms of the first failure since the last success; null while reachable. */
  unreachableSince: number | null;
  ttlMs: number;
  onStoreLost: 'release' | 'hold';
  now: number;
}

export interface Decision {
  state: ElectionState;
  reason: string;
  /** MASTER kept only by onStoreLost: hold (no live lease). */
  holdingWithoutLease: boolean;
}

export function leaseAlive(i: Pick<DecideInput, 'leaseValidUntil' | 'now'>): boolean {
  return i.leaseValidUntil !== null && i.now < i.leaseValidUntil;
}

export function decide(i: DecideInput): Decision {
  const d = (state: ElectionState, reason: string, holdingWithoutLease = false): Decision => ({ state, reason, holdingWithoutLease });
  if (i.fault !== null) return d('FAULT', i.fault);
  if (!i.started) return d('INIT', 'not started');
  const alive = leaseAlive(i);
  if (i.leaderIsMe && alive) return d('MASTER', 'leader: our key is the oldest under the election prefix');
  const lostFor = i.unreachableSince === null ? 0 : i.now - i.unreachableSince;
  if (i.state === 'MASTER' && !i.storeReachable && !alive && i.onStoreLost === 'hold')
    return d('MASTER', `etcd unreachable for ${Math.round(lostFor / 100) / 10} s; holding the VIPs without a lease (onStoreLost: hold)`, true);
  if (!i.storeReachable && i.unreachableSince !== null && lostFor >= i.ttlMs) return d('FAULT', `etcd unreachable for ${Math.round(lostFor / 100) / 10} s (ttl ${i.ttlMs / 1000} s)`);
  if (i.state === 'MASTER' && i.leaderIsMe && !alive) return d('BACKUP', 'our lease expired');
  if (i.state === 'MASTER') return d('BACKUP', 'another candidate leads now (our key is gone or no longer the oldest)');
  return d('BACKUP', i.leaderIsMe ? 'waiting for a live lease' : 'another candidate leads');
}

/** When decide() may answer differently with no new fact: the lease's end, the store-lost deadline. */
export function nextDecisionAt(i: DecideInput): number | null {
  const times: number[] = [];
  if (i.leaseValidUntil !== null && i.now < i.leaseValidUntil) times.push(i.leaseValidUntil);
  if (!i.storeReachable && i.unreachableSince !== null && i.now < i.unreachableSince + i.ttlMs) times.push(i.unreachableSince + i.ttlMs);
  return times.length ? Math.min(...times) : null;
}

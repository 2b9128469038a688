// The election behind an instance: who should hold the VIPs. VRRP (./vrrp.ts) is the default; a
// second backend (a lease in etcd) implements the same interface, and the instance → runner →
// provider pipeline stays the same. An election decides and tells its hooks, synchronously and in
// order; it never waits on them (the hooks only set goals, which the provider runner works towards).
import type { AnnounceReason, LocalTakeover } from '../provider/types.js';
import type { ElectionFactsJson } from '../status/types.js';

export type ElectionState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export interface ElectionHooks {
  /** This node should hold the VIPs (entering MASTER). */
  hold(): void;
  /** This node should not hold them (leaving MASTER, FAULT, shutdown). */
  release(): void;
  /** Re-announce held VIPs (a master heard a lower-priority peer). */
  announce(reason: AnnounceReason): void;
  /** A state change, after its side actions. */
  transition(from: ElectionState, to: ElectionState, reason: string): void;
  /**
   * Optional: what an election may do by itself, at the instant it takes over, before hold() is even
   * called (the provider's LocalTakeover; null when there is nothing it can do ahead). hold() follows.
   */
  takeover?(): LocalTakeover | null;
  /** Optional: that LocalTakeover was carried out (just before hold()). */
  tookOver?(): void;
}

export interface ElectionCounters {
  advertsSent: number;
  advertSendErrors: number;
  advertsReceived: number;
  /** Received packets dropped by this instance, by reason. */
  dropped: Record<string, number>;
}

export interface ElectionStatus {
  state: ElectionState;
  effectivePriority: number;
  /** The current master's address (ours when MASTER), null when unknown. */
  master: string | null;
  masterPriority: number | null;
  /** Monotonic ms of the last transition. */
  since: number;
  faultReason: string | null;
  counters: ElectionCounters;
  /** Lease-based elections: their own facts for /status (absent with VRRP). */
  facts?: ElectionFactsJson;
}

export interface Election {
  readonly kind: string;
  /** Starts taking part; straight in FAULT when `fault` is set. */
  start(fault: string | null): void;
  /** The instance's fault sources changed: a reason enters (or stays in) FAULT, null recovers. */
  setFault(reason: string | null): void;
  /** Graceful stop: step down at once (VRRP: priority-0 advert), then stay silent. */
  shutdown(): void;
  /** Optional: tracking (src/checks/tracker.ts) moved the effective priority (1..254; ignored for the owner). */
  setPriority?(priority: number): void;
  /** Why this election cannot take part right now (e.g. adverts cannot be sent), or null. */
  trouble(): string | null;
  status(): ElectionStatus;
  /** Stops timers and detaches from sockets, for good. */
  close(): void;
  /** Optional, for sync groups (sync/group.ts): hold back from taking over by timer. */
  syncHold?(hold: boolean): void;
  /** Optional, for sync groups: pulled to BACKUP (from MASTER) or MASTER (from BACKUP). */
  syncPull?(to: 'BACKUP' | 'MASTER', reason: string): void;
  /** Optional, for sync groups: held back, and its timer fired (it wants MASTER). */
  wantsMaster?(): boolean;
}

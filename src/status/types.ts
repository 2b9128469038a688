// The JSON served at GET /status (and read back by `ha-agent status`).
// The names in the ARCHITECTURE.md contract (instances, state, priority, effectivePriority, master,
// vips, provider.type/ownership/lastError) are fixed; everything else here extends them.
import type { ProviderRunnerStatus } from '../provider/runner/index.js';
import type { CheckStatusJson } from '../checks/driver.js';
import type { TrackingStatusJson } from '../checks/tracker.js';
import type { NotifyStatus } from '../notify/runner.js';
import type { RoutesStatus } from '../routes/virtual-routes.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export const VRRP_STATES: readonly VrrpState[] = ['INIT', 'BACKUP', 'MASTER', 'FAULT'];

/**
 * What the provider runner reports: type, ownership, lastError (contract) plus desired, busy,
 * lastChange, counters, and per-VIP ownership (vips), lastErrorClass, fix and fault.
 */
export type ProviderStatusJson = ProviderRunnerStatus;

export interface InstanceCounters {
  advertsSent: number;
  /** Adverts the socket refused to send (the interface went away, …). */
  advertSendErrors: number;
  advertsReceived: number;
  transitions: number;
  becameMaster: number;
  /** Received packets dropped, by reason (e.g. "bad-checksum", "vrid-mismatch"). */
  dropped: Record<string, number>;
}

export interface InstanceStatusJson {
  state: VrrpState;
  /** Configured priority. */
  priority: number;
  /** Priority after tracking adjustments. */
  effectivePriority: number;
  /** Address of the current master (ourselves when MASTER); null when unknown. */
  master: string | null;
  /** VIPs as "a.b.c.d/len". */
  vips: string[];
  provider: ProviderStatusJson;
  interface: string;
  vrid: number;
  version: 2 | 3;
  mode: 'multicast' | 'unicast';
  /** Advertisement interval in centiseconds. */
  advertIntervalCs: number;
  /** Priority carried in the current master's adverts; null when unknown. */
  masterPriority: number | null;
  /** ISO time of the last state transition; null before the first. */
  since: string | null;
  /** Why the instance is in FAULT; null otherwise. */
  faultReason: string | null;
  /** Every fault source present now (link, unicast-source, socket, provider, check:NAME) and its reason. */
  faults: Record<string, string>;
  counters: InstanceCounters;
  /** Tracked checks, interfaces and files: their contributions and why the priority last moved (absent: nothing tracked). */
  tracking?: TrackingStatusJson;
  /** Notify hooks (queue, counters, last run), virtual routes and sync group: hooks/agent-hooks.ts. */
  notify?: NotifyStatus;
  routes?: RoutesStatus;
  syncGroup?: string;
  /** Lease-based elections only (election.type etcd): the election's own facts (absent with VRRP). */
  election?: ElectionFactsJson;
}

/** What an etcd election reports next to the MASTER/BACKUP/FAULT state (src/election/etcd.ts). */
export interface ElectionFactsJson {
  type: 'etcd';
  /** The election's key prefix. */
  key: string;
  /** This candidate's id, and the leader's (null when none is known). */
  id: string;
  leader: string | null;
  /** Our lease (hex) and its time left as last known locally (ms; null without a lease). */
  leaseId: string | null;
  leaseTtlLeftMs: number | null;
  ttlSeconds: number;
  /** The last request to etcd succeeded (and when, ISO; null: never). */
  storeReachable: boolean;
  lastContact: string | null;
  /** The last etcd error while unreachable; null once a request succeeds. */
  lastError: string | null;
  onStoreLost: 'release' | 'hold';
  /** Holding the VIPs without a live lease (onStoreLost: hold while etcd is unreachable). */
  holdingWithoutLease: boolean;
  /** Our fencing token while leader (lease + create revision of our key); null otherwise. */
  fencing: { lease: string; revision: number } | null;
  counters: { requests: number; requestErrors: number; leasesGranted: number; leasesLost: number; campaigns: number; resigns: number; leaderChanges: number };
}

/** The running config (src/reload/): generation 1 at start, +1 per applied reload (SIGHUP, `ha-agent reload`). */
export interface ConfigStatusJson {
  generation: number;
  /** ISO time the running generation was loaded. */
  loadedAt: string;
  reloads: {
    applied: number;
    /** Reloads refused because the new file was invalid (the old config kept running). */
    rejected: number;
    /** Instances an applied reload could not start or change (each logged with its reason). */
    failedInstances: number;
  };
  /** The last reload: when, its outcome, how long it took, and its errors (path: message — fix). */
  lastReload: { at: string; outcome: 'applied' | 'partial' | 'rejected'; durationMs: number; errors: string[] } | null;
}

export interface StatusJson {
  /** ha-agent package version. */
  version: string;
  pid: number;
  /** ISO time the agent started. */
  startedAt: string;
  uptimeSeconds: number;
  /** process.memoryUsage() when the status was read (bytes: rss, heapTotal, heapUsed, external, arrayBuffers). */
  memory?: NodeJS.MemoryUsage;
  instances: Record<string, InstanceStatusJson>;
  /** The config generation and when it was loaded (absent from agents before reload support). */
  config?: ConfigStatusJson;
  /** Every health check (checks: and track.files): status, why, the last run (exit code, stderr, duration). */
  checks?: Record<string, CheckStatusJson>;
  /** Sync groups: state, members, the group's notify. */
  syncGroups?: Record<string, { state: VrrpState | null; instances: string[]; notify: NotifyStatus }>;
  /**
   * Per interface: datagrams no instance here serves (unknown VRID, malformed) or the offload thread
   * could not queue for the event loop (offload-queue-full), the VRRP socket's counters, and the
   * offload's (null: none).
   */
  interfaces?: Record<string, { dropped: Record<string, number>; socket: object; offload: object | null }>;
}

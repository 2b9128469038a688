// The contract between the agent and a VIP backend (garp, aws, alibaba).
// The FSM decides *what* (hold or release the VIPs); the provider runner decides *when*, in which
// order, how often and with what deadline; a provider only knows *how*. Every method must be
// idempotent and honour its AbortSignal. Errors a provider throws should be ProviderErrors
// (./errors.ts): the class (retryable / permanent) and the fix reach /status and the log.
import type { Logger } from 'pino';
import type { GarpSettings } from '../net/garp.js';
import type { LinkInfo } from '../net/link.js';

/** Who holds one VIP, as far as this node can tell. */
export type Ownership = 'held' | 'not-held' | 'elsewhere' | 'unknown';

/** verify()'s answer: one Ownership per configured VIP, keyed exactly as ProviderContext.vips. */
export type VipOwnership = Record<string, Ownership>;

export interface PreflightCheck {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** What `ha-agent provider test` asks of preflight() beyond the default read-only checks. */
export interface PreflightOptions {
  /** aws: ask IAM (iam:SimulatePrincipalPolicy) about the actions EC2 offers no DryRun for. */
  simulateIam?: boolean;
}

export type AnnounceReason = 'lower-priority' | 'refresh';

/**
 * A takeover a provider can describe ahead as bytes, for a native fast path to carry out the instant
 * the node becomes MASTER (vrrp/offload.ts): rtnetlink requests (RTM_NEWADDR for the VIPs; an
 * existing address is success), then Ethernet frames (a gratuitous ARP per VIP) on `ifindex`.
 * acquire() still follows and must find it done (idempotent).
 */
export interface LocalTakeover {
  ifindex: number;
  netlink: Buffer[];
  frames: Buffer[];
}

export interface VipProvider {
  readonly type: string;
  /** Make this node hold the VIPs; resolve once confirmed. Called again on retry and on drift. */
  acquire(signal: AbortSignal): Promise<void>;
  /**
   * True when a failover's acquire starts with a request to a remote API (aws: the EC2 assign): the
   * instance then logs and observes its transition to MASTER after that request is on its way, not
   * before (Instance.onTransition). Absent: the acquire's first work is local (garp).
   */
  readonly acquireIsRemote?: boolean;
  /** Give the VIPs up (local side; cloud side only where configured). */
  release(signal: AbortSignal): Promise<void>;
  /** Read-only look: who holds each VIP right now? */
  verify(signal: AbortSignal): Promise<VipOwnership>;
  /** Read-only checks that tell a user whether this provider can work on this host. Never moves a VIP. */
  preflight(options?: PreflightOptions): AsyncIterable<PreflightCheck>;
  /**
   * Optional: re-announce the VIPs without re-acquiring them (keepalived re-sends GARPs when a
   * master hears a lower-priority advert). Fire and forget; must not throw.
   */
  announce?(reason: AnnounceReason): void;
  /** Optional: stop background work (GARP bursts, timers) for good. */
  close?(): void;
  /**
   * Optional, for a provider that sees changes as they happen (garp: the agent's netlink view of the
   * interface): call `recheck` whenever who holds the VIPs may have changed (a VIP removed by hand,
   * or added by someone else). The runner then verifies at once instead of at the next reconcile, so
   * such a provider can keep `timing.reconcileMs` long — a safety net, not the way drift is found.
   * Called once, by the runner that drives the provider.
   */
  watch?(recheck: () => void): void;
  /**
   * Optional, for a provider whose acquire is local (garp): the same takeover as bytes (LocalTakeover),
   * for the election's fast path. Null when it cannot say now (link layer unknown, a VIP that is not
   * IPv4). Read-only and cheap: called whenever a BACKUP settles on a master.
   */
  takeover?(): LocalTakeover | null;
  /**
   * Optional, with takeover(): the fast path has just carried it out (the requests succeeded, the
   * frames are on the wire). The acquire() that follows counts those frames as sent (garp: the first
   * burst sends one GARP per VIP fewer, so there are still garp_master_repeat of them).
   */
  takeoverDone?(): void;
}

/**
 * How the runner drives one provider type: every value is a default, which an instance may override
 * under `provider.timing` (seconds there, milliseconds here).
 */
export interface ProviderTiming {
  /** Deadline of one acquire / release / verify call. */
  operationTimeoutMs: number;
  /** How long acquire() may wait for the backend to confirm the move (cloud APIs are eventually consistent). */
  confirmTimeoutMs: number;
  /** Period of verify() once the goal is reached (jittered by the runner). */
  reconcileMs: number;
  /** Backoff after the n-th failure in a row: random() * min(backoffMaxMs, backoffBaseMs * 2^(n-1)). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** MASTER that has not managed to acquire for this long → FAULT (priority 0), reason in /status. */
  faultAfterMs: number;
}

/** The rate limit shared by every instance of one provider type (token bucket). */
export interface ProviderRateLimit {
  /** Calls per second, sustained; Infinity for none. */
  perSecond: number;
  /** Calls that may go at once after a quiet period. */
  burst: number;
}

/** The agent's live view of this host's links and addresses (kept current by netlink events). */
export interface LinkView {
  /** The interface as the kernel last reported it; null when it does not exist. */
  link(ifname: string): LinkInfo | null;
  /**
   * Calls `listener` after `ifname` (its link or its addresses) changed, at most once per turn of the
   * event loop (a takeover that adds 200 VIPs is one call). Returns the function that unsubscribes it.
   */
  watchInterface(ifname: string, listener: () => void): () => void;
}

/** What every provider factory receives: the instance it serves, and a logger. */
export interface ProviderContext {
  instanceName: string;
  interface: string;
  /** VIPs as "a.b.c.d/len" (the keys of VipOwnership). */
  vips: string[];
  /** The instance's gratuitous-ARP schedule (garp and alibaba announce; aws ignores it). */
  garp: GarpSettings;
  /** The instance's timing for this provider (defaults merged with the config's overrides). */
  timing: ProviderTiming;
  log: Logger;
  /**
   * How the instance's VRRP reaches its peers (for preflight checks: multicast does not cross a
   * cloud VPC; security groups must pass IP protocol 112 between the peers). Null when the
   * instance uses multicast; absent when not known (a provider made outside the registry).
   */
  unicast?: { source?: string; peers: string[] } | null;
  /**
   * Where to look up local links and addresses without a syscall (verify() of 200 instances then
   * reads no kernel state at all). Absent outside a running agent (preflight, tests): read the kernel.
   */
  links?: LinkView;
}

/**
 * What a folder under providers/ exports as its default: loaded lazily by the registry, so a `garp`
 * user never loads a cloud SDK. `C` is the provider's own block of the config (`provider:`).
 */
export interface ProviderModule<C extends { type: string } = { type: string }> {
  readonly type: C['type'];
  readonly timing: ProviderTiming;
  readonly rateLimit: ProviderRateLimit;
  create(ctx: ProviderContext, config: C): VipProvider;
  /**
   * Optional: one read for many instances of this type (e.g. one DescribeNetworkInterfaces for 200
   * instances). Given providers this module created, answers for each of them (missing = that
   * provider's own verify() is used). The runner batches concurrent reconciles into one call.
   */
  verifyMany?(providers: readonly VipProvider[], signal: AbortSignal): Promise<Map<VipProvider, VipOwnership>>;
}

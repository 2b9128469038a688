// The contract between the agent and a VIP backend (garp, aws, alibaba).
// The FSM decides *what* (hold or release the VIPs); the provider runner decides *when* and retries;
// a provider only knows *how*. Every method must be idempotent and honour the AbortSignal.

export type Ownership = 'held' | 'not-held' | 'elsewhere' | 'unknown';

export interface PreflightCheck {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface VipProvider {
  readonly type: string;
  /** Make this node hold the VIPs; resolve once confirmed. Called again on retry and on reconcile. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Give the VIPs up (local side; cloud side only where configured). */
  release(signal: AbortSignal): Promise<void>;
  /** Read-only look: does this node hold the VIPs right now? */
  verify(signal: AbortSignal): Promise<Ownership>;
  /** Read-only checks that tell a user whether this provider can work on this host. Never moves a VIP. */
  preflight(): AsyncIterable<PreflightCheck>;
  /**
   * Optional: re-announce the VIPs without re-acquiring them (keepalived re-sends GARPs when a
   * master hears a lower-priority advert). Fire and forget; must not throw.
   */
  announce?(reason: 'lower-priority' | 'refresh'): void;
  /** Optional: stop background work (GARP bursts, timers) for good. */
  close?(): void;
}

/** What every provider factory receives: the instance it serves, and a logger. */
export interface ProviderContext {
  instanceName: string;
  interface: string;
  /** VIPs as "a.b.c.d/len". */
  vips: string[];
  log: import('pino').Logger;
}

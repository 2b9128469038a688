// The alibaba provider for one instance: a HaVip follows whichever associated ECS instance announces
// it by ARP (spec §3.6). The local part is the garp provider itself (composed, not copied: the VIP on
// the interface, keepalived's GARP schedule, the takeover fast path); on top of it:
//
//   acquire: local acquire (VIP + GARP burst; the fast path may already have sent the first GARP),
//            then confirm: DescribeHaVips at most CONFIRM_READS (3) times within
//            timing.confirmTimeoutMs (confirm.ts) until MasterInstanceId is this instance. Not
//            confirmed → re-announce (a fresh burst), log it, throw NotConfirmed (retryable: the
//            runner tries again with backoff; faultAfter turns a lasting failure into FAULT). This
//            instance missing from AssociatedInstances → the local VIP goes again (the VIP must not be
//            claimed) and NotAssociated (permanent, with the fix). No API call comes before the GARP,
//            unless the last read found this instance unassociated (then one read checks first).
//   release: local release only (the VIP off the interface, GARPs stopped). Never UnassociateHaVip.
//   verify:  one DescribeHaVips (batched across instances by index.ts verifyMany): 'held' when
//            MasterInstanceId is us and the VIP is on the interface; 'elsewhere' when another
//            instance is master; 'not-held' otherwise — except that a VIP still on the interface after
//            a release answers 'held', so the runner takes it off. Not associated → NotAssociated.
//   reconcile: the runner verifies every timing.reconcileMs and at once on a lower-priority advert
//            (src/provider/recheck.ts); a MASTER whose verify finds another (or no) master drifts, and the runner's
//            acquire re-announces and confirms.
//   associate: at-start: the first look at the HaVip (a verify or an acquire) associates this
//            instance if it is missing — once per process — and waits for InUse with it listed.
// No AssociateHaVip/UnassociateHaVip on any transition. The HaVip's address must be the configured
// VIP (checked on every read: VipMismatch, permanent).
import type { LocalTakeover, PreflightCheck, PreflightOptions, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { permanent, retryable } from '../../src/provider/errors.js';
import { vipAddress } from '../../src/config/schema.js';
import { createGarpProvider } from '../garp/index.js';
import type { LinkAnnouncer } from '../../src/net/announcer.js';
import { coreFacts, onceRetried, type CoreFacts, type GivenFacts } from './facts.js';
import type { EcsMetadata } from './metadata.js';
import type { HaVipState, VpcApi } from './vpc.js';
import { confirmReads } from './confirm.js';
import { confirmClock, type ConfirmClock } from '../../src/provider/wait.js';
import { alibabaError, notAssociated, notConfirmed } from './errors.js';
import { Recheck } from '../../src/provider/recheck.js';
import type { AlibabaPreflightInput } from './preflight.js';

/** Longest wait for `associate: at-start` to show InUse (bounded by the operation deadline too). */
export const ASSOCIATE_WAIT_MS = 60_000;

export interface HaVipProviderOptions {
  haVipId: string;
  given: GivenFacts;
  metadata: EcsMetadata;
  /** The VPC client for a region (shared per region and endpoint by index.ts). */
  vpcFor: (regionId: string) => VpcApi;
  associate: 'never' | 'at-start';
  /** The local part (default: the garp provider for ctx; tests: a fake). */
  local?: VipProvider;
  /** For the default local part: the GARP sender (tests: a sink). */
  announcer?: LinkAnnouncer;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** What `provider test` needs beyond the above (index.ts gives it). */
  preflight?: Pick<AlibabaPreflightInput, 'config' | 'credentials' | 'vpcFor'>;
}

export interface Resolved {
  facts: CoreFacts;
  vpc: VpcApi;
}

export class HaVipProvider implements VipProvider {
  readonly type = 'alibaba';
  readonly haVipId: string;
  private readonly local: VipProvider;
  private readonly clock: ConfirmClock;
  private readonly resolver: () => Promise<Resolved>;
  private readonly recheck = new Recheck();
  /** What the last read of the HaVip said about us. */
  private lastAssociated: boolean | null = null;
  /** The last operation: a VIP left on the interface after a release is drift. */
  private lastOp: 'acquire' | 'release' | null = null;
  private associateSent = false;
  /** Confirmation reads of the last acquire (tests and the bench read it). */
  lastConfirmReads = 0;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: HaVipProviderOptions,
  ) {
    this.haVipId = opts.haVipId;
    this.local = opts.local ?? createGarpProvider(ctx, opts.announcer ? { announcer: opts.announcer } : {});
    this.clock = confirmClock(opts);
    this.resolver = onceRetried(async () => {
      const facts = await coreFacts(opts.metadata, opts.given);
      return { facts, vpc: opts.vpcFor(facts.regionId) };
    });
  }

  /** Facts and client, discovered once (a failed discovery is tried again next time). */
  resolve(): Promise<Resolved> {
    return this.resolver();
  }

  async acquire(signal: AbortSignal): Promise<void> {
    this.lastOp = 'acquire';
    if (this.lastAssociated === false) {
      // Last seen unassociated: look again before announcing an address the VPC would not give us.
      const { facts, vpc } = await this.resolve();
      await this.read(facts, vpc, signal);
    }
    await this.local.acquire(signal);
    const { facts, vpc } = await this.resolve();
    const started = this.clock.now();
    let state: HaVipState | null = null;
    const { confirmed, reads } = await confirmReads(
      async () => {
        try {
          state = await this.read(facts, vpc, signal);
        } catch (e) {
          if ((e as { code?: unknown }).code === 'NotAssociated') await this.local.release(signal).catch(() => undefined);
          throw e;
        }
        return state.masterInstanceId === facts.instanceId;
      },
      { timeoutMs: this.ctx.timing.confirmTimeoutMs },
      this.clock,
      signal,
    );
    this.lastConfirmReads = reads;
    if (confirmed) {
      this.ctx.log.info({ haVipId: this.haVipId, instanceId: facts.instanceId, reads }, 'HaVip master confirmed');
      return;
    }
    const master = (state as HaVipState | null)?.masterInstanceId ?? '';
    const err = notConfirmed(facts.instanceId, this.haVipId, master, this.clock.now() - started, reads);
    this.ctx.log.warn({ haVipId: this.haVipId, master, reads }, 'HaVip master not confirmed: announcing again');
    await this.local.acquire(signal); // re-announce: one more full burst
    throw err;
  }

  async release(signal: AbortSignal): Promise<void> {
    this.lastOp = 'release';
    await this.local.release(signal);
    this.recheck.released();
  }

  async verify(signal: AbortSignal): Promise<VipOwnership> {
    const { facts, vpc } = await this.resolve();
    const [local, state] = await Promise.all([this.local.verify(signal), this.read(facts, vpc, signal)]);
    return this.ownershipFrom(state, facts, local);
  }

  /** verifyMany: the ownership from a state it read for many instances (and checked with check()). */
  async ownershipWith(state: HaVipState, facts: CoreFacts, signal: AbortSignal): Promise<VipOwnership> {
    return this.ownershipFrom(state, facts, await this.local.verify(signal));
  }

  /** Per VIP from a DescribeHaVips answer and the interface (see the header). */
  ownershipFrom(state: HaVipState, facts: CoreFacts, local: VipOwnership): VipOwnership {
    const out: VipOwnership = {};
    const master = state.masterInstanceId;
    for (const vip of this.ctx.vips) {
      const here = local[vip] === 'held';
      if (master === facts.instanceId) out[vip] = here ? 'held' : 'not-held';
      else if (here && this.lastOp === 'release') out[vip] = 'held'; // a stale copy on a backup: take it off
      else out[vip] = master ? 'elsewhere' : 'not-held';
    }
    return out;
  }

  /**
   * A DescribeHaVips answer for this HaVip checked against us (exists, our VIP, we are associated —
   * associating first with `associate: at-start`). verifyMany passes the state it read for many.
   */
  async check(state: HaVipState | undefined, facts: CoreFacts, vpc: VpcApi, signal: AbortSignal): Promise<HaVipState> {
    if (!state) throw alibabaError({ code: 'InvalidHaVipId.NotFound', statusCode: 404, message: `${this.haVipId} is not in DescribeHaVips` }, 'DescribeHaVips', `DescribeHaVips ${this.haVipId}`, { haVipId: this.haVipId, regionId: facts.regionId });
    const vips = this.ctx.vips.map(vipAddress);
    if (state.ipAddress && !vips.includes(state.ipAddress))
      throw permanent(`${this.haVipId} has the address ${state.ipAddress}, but the configured VIP is ${vips.join(', ')}`, `set instances.${this.ctx.instanceName}.vips to [${state.ipAddress}/32] (or provider.haVipId to the HaVip of ${vips[0]})`, { code: 'VipMismatch' });
    if (!state.associatedInstances.includes(facts.instanceId) && this.opts.associate === 'at-start') state = await this.associate(state, facts, vpc, signal);
    this.lastAssociated = state.associatedInstances.includes(facts.instanceId);
    if (!this.lastAssociated) throw notAssociated(facts.instanceId, this.haVipId, state.associatedInstances, facts.regionId);
    return state;
  }

  watch(recheck: () => void): void {
    this.local.watch?.(recheck);
    this.recheck.set(recheck);
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    this.local.announce?.(reason);
    this.recheck.announce(reason);
  }

  /** The garp provider's fast path — none while this instance is known to be unassociated. */
  takeover(): LocalTakeover | null {
    if (this.lastAssociated === false) return null;
    return this.local.takeover?.() ?? null;
  }

  takeoverDone(): void {
    this.local.takeoverDone?.();
  }

  close(): void {
    this.local.close?.();
  }

  async *preflight(options?: PreflightOptions): AsyncIterable<PreflightCheck> {
    if (!this.opts.preflight) {
      try {
        const { facts } = await this.resolve();
        yield { check: 'ECS metadata and instance facts', ok: true, detail: `${facts.instanceId} in ${facts.regionId}` };
      } catch (e) {
        const err = e as { message?: string; fix?: string | null };
        yield { check: 'ECS metadata and instance facts', ok: false, detail: err.message ?? String(e), ...(err.fix ? { fix: err.fix } : {}) };
      }
      return;
    }
    const { alibabaPreflight } = await import('./preflight.js');
    yield* alibabaPreflight({ ...this.opts.preflight, ctx: this.ctx, metadata: this.opts.metadata, local: this.local, ...(options ? { options } : {}) });
  }

  private async read(facts: CoreFacts, vpc: VpcApi, signal: AbortSignal): Promise<HaVipState> {
    const found = await vpc.describe([this.haVipId], signal);
    return this.check(found.get(this.haVipId), facts, vpc, signal);
  }

  /** associate: at-start — AssociateHaVip once, then wait for InUse with us listed. */
  private async associate(state: HaVipState, facts: CoreFacts, vpc: VpcApi, signal: AbortSignal): Promise<HaVipState> {
    if (!this.associateSent) {
      this.associateSent = true;
      this.ctx.log.info({ haVipId: this.haVipId, instanceId: facts.instanceId }, 'associating this instance with the HaVip (associate: at-start)');
      try {
        await vpc.associate(this.haVipId, facts.instanceId, signal);
      } catch (e) {
        if ((e as { errorClass?: string }).errorClass === 'retryable') this.associateSent = false; // a later look tries again
        throw e;
      }
    }
    const deadline = this.clock.now() + ASSOCIATE_WAIT_MS;
    let step = 500;
    for (;;) {
      if (state.status === 'InUse' && state.associatedInstances.includes(facts.instanceId)) {
        this.ctx.log.info({ haVipId: this.haVipId, instanceId: facts.instanceId }, 'HaVip association done (InUse)');
        return state;
      }
      const left = deadline - this.clock.now();
      if (left <= 0)
        throw retryable(`${this.haVipId}: still ${state.status} ${ASSOCIATE_WAIT_MS / 1000} s after AssociateHaVip for ${facts.instanceId}`, {
          fix: 'the VPC has not finished the association: the agent keeps looking; check the HaVip in the VPC console',
          code: 'AssociatePending',
        });
      await this.clock.sleep(Math.min(left, step * (0.5 + this.clock.random() / 2)), signal);
      step = Math.min(4_000, step * 2);
      const next = (await vpc.describe([this.haVipId], signal)).get(this.haVipId);
      if (!next) throw alibabaError({ code: 'InvalidHaVipId.NotFound', statusCode: 404 }, 'DescribeHaVips', `DescribeHaVips ${this.haVipId}`, { haVipId: this.haVipId, regionId: facts.regionId });
      state = next;
    }
  }
}

// The alibaba provider (issue #7): a HaVip (high-availability virtual IP) in an Alibaba Cloud VPC,
// moved by ARP like bare metal and confirmed through DescribeHaVips (havip.ts); instance facts from
// ECS metadata in hardened mode (metadata.ts, facts.ts); the VPC API through @alicloud/vpc20160428
// (vpc.ts) with the credential chain of credentials.ts; failures classed with their fix (errors.ts);
// `provider test alibaba` in preflight.ts. This module (and so the SDKs) loads only when an
// instance has provider type alibaba (src/provider/registry.ts).
//
// One metadata client (and credential chain) per metadata endpoint, one VPC client per (region,
// endpoint, protocol, metadata endpoint): the token, the keys and the connections are shared by
// every instance. verifyMany() answers every instance of one VPC client with ONE DescribeHaVips
// (Filter HaVipId, up to 50 ids per call).
import type { z } from 'zod';
import type { ProviderContext, ProviderModule, ProviderTiming, VipOwnership, VipProvider } from '../../src/provider/types.js';
import type { AlibabaProviderSchema } from '../../src/config/schema.js';
import { EcsMetadata } from './metadata.js';
import { asCredential, credentialChain, type CredentialChain } from './credentials.js';
import { VpcApi, type HaVipState } from './vpc.js';
import { HaVipProvider } from './havip.js';

/** The alibaba block of an instance's config (`provider:`), as the schema gives it. */
export type AlibabaProviderConfig = z.output<typeof AlibabaProviderSchema>;

/**
 * The traffic follows the ARP at once; the VPC's MasterInstanceId follows within seconds. 20 s per
 * call, up to 10 s to see MasterInstanceId change (≤ 3 reads), a reconcile every 60 s (one batched
 * DescribeHaVips: 60 calls an hour per VPC client while steady), FAULT after 45 s without the HaVip.
 */
export const ALIBABA_TIMING: Readonly<ProviderTiming> = Object.freeze({
  operationTimeoutMs: 20_000,
  confirmTimeoutMs: 10_000,
  reconcileMs: 60_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  faultAfterMs: 45_000,
});

/** Per HTTP request to the VPC API or metadata. */
const REQUEST_TIMEOUT_MS = 5_000;
/** DescribeHaVips takes at most this many HaVipId filter values per page. */
const DESCRIBE_BATCH = 50;

const metadataClients = new Map<string, { metadata: EcsMetadata; credentials: CredentialChain }>();
const vpcClients = new Map<string, VpcApi>();

function metadataFor(endpoint: string | undefined): { metadata: EcsMetadata; credentials: CredentialChain } {
  const key = endpoint ?? '';
  let c = metadataClients.get(key);
  if (!c) {
    const metadata = new EcsMetadata({ ...(endpoint ? { endpoint } : {}), timeoutMs: REQUEST_TIMEOUT_MS });
    metadataClients.set(key, (c = { metadata, credentials: credentialChain(metadata) }));
  }
  return c;
}

function vpcFor(regionId: string, cfg: AlibabaProviderConfig): VpcApi {
  const key = `${regionId} ${cfg.endpoint ?? ''} ${cfg.protocol} ${cfg.metadataEndpoint ?? ''}`;
  let c = vpcClients.get(key);
  if (!c) {
    const { credentials } = metadataFor(cfg.metadataEndpoint);
    vpcClients.set(key, (c = new VpcApi({ regionId, ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}), protocol: cfg.protocol, credential: asCredential(credentials), timeoutMs: REQUEST_TIMEOUT_MS })));
  }
  return c;
}

export function createAlibabaProvider(ctx: ProviderContext, cfg: AlibabaProviderConfig): HaVipProvider {
  const { metadata, credentials } = metadataFor(cfg.metadataEndpoint);
  const forRegion = (regionId: string) => vpcFor(regionId, cfg);
  return new HaVipProvider(ctx, {
    haVipId: cfg.haVipId,
    given: { ...(cfg.instanceId ? { instanceId: cfg.instanceId } : {}), ...(cfg.regionId ? { regionId: cfg.regionId } : {}) },
    metadata,
    vpcFor: forRegion,
    associate: cfg.associate,
    preflight: { config: cfg, credentials, vpcFor: forRegion },
  });
}

/** One DescribeHaVips per VPC client (per 50 HaVips) answers every alibaba instance on it. */
export async function verifyMany(providers: readonly VipProvider[], signal: AbortSignal): Promise<Map<VipProvider, VipOwnership>> {
  const groups = new Map<VpcApi, { p: HaVipProvider; facts: Awaited<ReturnType<HaVipProvider['resolve']>>['facts'] }[]>();
  for (const p of providers) {
    if (!(p instanceof HaVipProvider)) continue; // not ours: the runner uses its own verify()
    const { facts, vpc } = await p.resolve();
    groups.set(vpc, [...(groups.get(vpc) ?? []), { p, facts }]);
  }
  const out = new Map<VipProvider, VipOwnership>();
  for (const [vpc, members] of groups) {
    const ids = [...new Set(members.map((m) => m.p.haVipId))];
    const states = new Map<string, HaVipState>();
    for (let i = 0; i < ids.length; i += DESCRIBE_BATCH) for (const [id, s] of await vpc.describe(ids.slice(i, i + DESCRIBE_BATCH), signal)) states.set(id, s);
    for (const m of members) {
      try {
        // A provider whose HaVip is wrong (missing, not associated…) is left out: its own verify() reports it.
        const state = await m.p.check(states.get(m.p.haVipId), m.facts, vpc, signal);
        out.set(m.p, await m.p.ownershipWith(state, m.facts, signal));
      } catch {
        /* see above */
      }
    }
  }
  return out;
}

const alibabaModule: ProviderModule<AlibabaProviderConfig> = {
  type: 'alibaba',
  timing: ALIBABA_TIMING,
  // Alibaba's OpenAPI flow control is per account and API: a few calls a second is plenty.
  rateLimit: { perSecond: 5, burst: 10 },
  create: (ctx, cfg) => createAlibabaProvider(ctx, cfg),
  verifyMany,
};
export default alibabaModule;

// The aws provider (issue #6): the VIP moves between EC2 instances as an ENI secondary private IP
// (secondary-ip.ts, the default), as a route in route tables (route-table.ts) or as an Elastic IP
// association (elastic-ip.ts); instance facts from IMDSv2 (imds.ts, facts.ts, instance.ts), EC2
// calls through the SDK (ec2.ts), failures classed with their fix (errors.ts).
//
// One IMDS client per metadata endpoint and one EC2 client per (region, endpoint) serve every
// instance, so the IMDS token, the credentials (credentials.ts) and the HTTP connections are
// shared; verifyMany() answers every instance in one VPC with ONE DescribeNetworkInterfaces.
import type { ProviderContext, ProviderModule, ProviderTiming, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { Ec2 } from './ec2.js';
import { Imds } from './imds.js';
import { SecondaryIpProvider } from './secondary-ip.js';
import { RouteTableProvider } from './route-table.js';
import { ElasticIpProvider } from './elastic-ip.js';
import type { InstanceFacts } from './facts.js';
import { credentialChain, type CredentialChain } from './credentials.js';
import type { z } from 'zod';
import type { AwsProviderSchema } from '../../src/config/schema.js';

/** The aws block of an instance's config (`provider:`), as the schema (src/config/schema.ts) gives it. */
export type AwsProviderConfig = z.output<typeof AwsProviderSchema>;

/**
 * A cloud move takes seconds (AWS gives no figure; the community reports 3–6 s): 15 s per call, up
 * to 30 s to see the remap, a reconcile every 30 s (one batched read), FAULT after 45 s without the
 * VIPs so a healthy peer can take over.
 */
export const AWS_TIMING: Readonly<ProviderTiming> = Object.freeze({
  operationTimeoutMs: 15_000,
  confirmTimeoutMs: 30_000,
  reconcileMs: 30_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  faultAfterMs: 45_000,
});

/** Per request to EC2 or IMDS (below the operation deadline, so a hung request fails the call, not the runner). */
const REQUEST_TIMEOUT_MS = 5_000;

const imdsClients = new Map<string, { imds: Imds; credentials: CredentialChain }>();
const ec2Clients = new Map<string, Ec2>();

/** The IMDS client of a metadata endpoint, and the credential chain that ends in its instance role. */
function imdsFor(endpoint: string | undefined): { imds: Imds; credentials: CredentialChain } {
  const key = endpoint ?? '';
  let c = imdsClients.get(key);
  if (!c) {
    const imds = new Imds({ ...(endpoint ? { endpoint } : {}), timeoutMs: REQUEST_TIMEOUT_MS });
    imdsClients.set(key, (c = { imds, credentials: credentialChain(imds) }));
  }
  return c;
}

function ec2For(region: string, endpoint: string | undefined, imdsEndpoint: string | undefined): Ec2 {
  const key = `${region} ${endpoint ?? ''} ${imdsEndpoint ?? ''}`;
  let c = ec2Clients.get(key);
  if (!c) {
    const { credentials } = imdsFor(imdsEndpoint);
    ec2Clients.set(key, (c = new Ec2({ region, ...(endpoint ? { endpoint } : {}), timeoutMs: REQUEST_TIMEOUT_MS, credentials })));
  }
  return c;
}

export function createAwsProvider(ctx: ProviderContext, cfg: AwsProviderConfig): VipProvider {
  const common = {
    given: {
      ...(cfg.instanceId ? { instanceId: cfg.instanceId } : {}),
      ...(cfg.region ? { region: cfg.region } : {}),
      ...(cfg.networkInterfaceId ? { networkInterfaceId: cfg.networkInterfaceId } : {}),
    },
    imds: imdsFor(cfg.imdsEndpoint).imds,
    ec2For: (region: string) => ec2For(region, cfg.endpoint, cfg.imdsEndpoint),
    preflight: { config: cfg, credentials: imdsFor(cfg.imdsEndpoint).credentials },
  };
  switch (cfg.mode) {
    case 'route-table':
      return new RouteTableProvider(ctx, { ...common, routeTableIds: cfg.routeTableIds ?? [] });
    case 'elastic-ip':
      return new ElasticIpProvider(ctx, { ...common, allocationId: cfg.allocationId!, ...(cfg.privateIpAddress ? { privateIpAddress: cfg.privateIpAddress } : {}) });
    case 'secondary-ip':
      return new SecondaryIpProvider(ctx, { ...common, unassignOnRelease: cfg.unassignOnRelease });
  }
}

/** One DescribeNetworkInterfaces per (EC2 client, VPC) answers every instance in it. */
export async function verifyMany(providers: readonly VipProvider[], signal: AbortSignal): Promise<Map<VipProvider, VipOwnership>> {
  type Member = { p: SecondaryIpProvider; facts: InstanceFacts };
  const groups = new Map<Ec2, Map<string, Member[]>>();
  for (const p of providers) {
    if (!(p instanceof SecondaryIpProvider)) continue; // not ours: the runner uses its own verify()
    const { facts, ec2 } = await p.resolve();
    const byVpc = groups.get(ec2) ?? new Map<string, Member[]>();
    byVpc.set(facts.vpcId, [...(byVpc.get(facts.vpcId) ?? []), { p, facts }]);
    groups.set(ec2, byVpc);
  }
  const out = new Map<VipProvider, VipOwnership>();
  for (const [ec2, byVpc] of groups)
    for (const [vpcId, members] of byVpc) {
      const holders = await ec2.holders(vpcId, [...new Set(members.flatMap((m) => m.p.addresses))], signal);
      for (const m of members) out.set(m.p, m.p.ownershipFrom(holders, m.facts, await m.p.localAddresses(signal)));
    }
  return out;
}

const awsModule: ProviderModule<AwsProviderConfig> = {
  type: 'aws',
  timing: AWS_TIMING,
  // EC2's API rate limits are per account and region, shared with everything else the account runs:
  // a few calls a second is plenty for failovers and batched reconciles.
  rateLimit: { perSecond: 5, burst: 10 },
  create: (ctx, cfg) => createAwsProvider(ctx, cfg),
  verifyMany,
};
export default awsModule;

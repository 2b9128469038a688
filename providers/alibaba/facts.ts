// What the alibaba provider knows about this ECS instance, read from the metadata service
// (metadata.ts, spec §3.9) — or given by the config instead (provider.instanceId, provider.regionId).
//   coreFacts(): instance id and region: all acquire/verify need (0 reads when both are configured).
//   fullFacts(): plus zone, VPC, vSwitch, MAC and primary address (`provider test` only).
// Read once, at the first call that needs them; a failure is not kept (the next call reads again).
import type { EcsMetadata } from './metadata.js';

export interface GivenFacts {
  instanceId?: string;
  regionId?: string;
}

export interface CoreFacts {
  instanceId: string;
  regionId: string;
}

export interface FullFacts extends CoreFacts {
  zoneId: string;
  vpcId: string;
  vSwitchId: string;
  mac: string;
  privateIpv4: string;
}

/** Instance id and region, from the config where given, else from metadata. */
export async function coreFacts(md: EcsMetadata, given: GivenFacts, signal?: AbortSignal): Promise<CoreFacts> {
  const instanceId = given.instanceId ?? (await md.get('instance-id', signal));
  const regionId = given.regionId ?? (await md.get('region-id', signal));
  return { instanceId, regionId };
}

/** Everything `provider test` shows (always asks metadata for the zone and network). */
export async function fullFacts(md: EcsMetadata, given: GivenFacts, signal?: AbortSignal): Promise<FullFacts> {
  const core = await coreFacts(md, given, signal);
  const [zoneId, vpcId, vSwitchId, mac, privateIpv4] = await Promise.all(['zone-id', 'vpc-id', 'vswitch-id', 'mac', 'private-ipv4'].map((p) => md.get(p, signal)));
  return { ...core, zoneId: zoneId!, vpcId: vpcId!, vSwitchId: vSwitchId!, mac: mac!.toLowerCase(), privateIpv4: privateIpv4! };
}

/** fn's result, computed at the first call and shared; a failure is not kept (the next call tries again). */
export function onceRetried<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () =>
    (pending ??= fn().catch((e: unknown) => {
      pending = null;
      throw e;
    }));
}

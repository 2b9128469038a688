// What the aws provider must know about this instance, read from IMDSv2 once (the config may give
// any of it instead): instance id, region, AZ, and the ENI behind the configured interface — found by
// the interface's MAC among this instance's ENIs, never "the first ENI" — with its subnet and VPC.
// localIpv4s() is the live part: which addresses IMDS says the ENI has now (the confirmation of an
// asynchronous remap, spec §1.5).
import { permanent } from '../../src/provider/errors.js';
import type { Imds } from './imds.js';

export interface InstanceFacts {
  instanceId: string;
  region: string;
  availabilityZone: string;
  /** The configured interface's MAC, lower-case. */
  mac: string;
  networkInterfaceId: string;
  subnetId: string;
  subnetCidr: string;
  vpcId: string;
  vpcCidrs: string[];
}

/** Facts the config gives (provider.instanceId, region, networkInterfaceId): not read from IMDS. */
export interface GivenFacts {
  instanceId?: string;
  region?: string;
  networkInterfaceId?: string;
}

const lines = (body: string) =>
  body
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Reads the facts for the interface whose MAC is `mac`. Throws ProviderErrors (imds.ts, or permanent when the MAC is no ENI here). */
export async function discoverFacts(imds: Imds, mac: string, given: GivenFacts = {}): Promise<InstanceFacts> {
  const m = mac.toLowerCase();
  const instanceId = given.instanceId ?? (await imds.get('instance-id')).trim();
  const availabilityZone = (await imds.get('placement/availability-zone')).trim();
  const region = given.region ?? (await imds.get('placement/region')).trim();
  const macs = lines(await imds.get('network/interfaces/macs/')).map((x) => x.replace(/\/$/, '').toLowerCase());
  if (!macs.includes(m))
    throw permanent(
      `the interface's MAC ${m} is not one of instance ${instanceId}'s network interfaces (IMDS lists ${macs.join(', ') || 'none'})`,
      'set instances.<name>.interface to the interface of the ENI that should carry the VIP (its MAC is in IMDS network/interfaces/macs/), or attach that ENI',
      { code: 'MacNotAnEni' },
    );
  const at = (leaf: string) => imds.get(`network/interfaces/macs/${m}/${leaf}`);
  const networkInterfaceId = given.networkInterfaceId ?? (await at('interface-id')).trim();
  const [subnetId, subnetCidr, vpcId, vpcCidrs] = await Promise.all([at('subnet-id'), at('subnet-ipv4-cidr-block'), at('vpc-id'), at('vpc-ipv4-cidr-blocks')]);
  return {
    instanceId,
    region,
    availabilityZone,
    mac: m,
    networkInterfaceId,
    subnetId: subnetId.trim(),
    subnetCidr: subnetCidr.trim(),
    vpcId: vpcId.trim(),
    vpcCidrs: lines(vpcCidrs),
  };
}

/** The IPv4 addresses IMDS reports on the ENI with this MAC now: primary first, then secondaries. */
export async function localIpv4s(imds: Imds, mac: string): Promise<string[]> {
  return lines(await imds.get(`network/interfaces/macs/${mac.toLowerCase()}/local-ipv4s`));
}

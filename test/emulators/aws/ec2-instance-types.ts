// DescribeInstanceTypes for the EC2 emulator (spec wire-and-cloud-apis.md §1): a few instance types
// with their published network limits — how many ENIs, and how many IPv4 addresses per ENI (the
// primary included; a secondary-ip VIP needs one of the rest). The Ec2State's per-ENI secondary
// limit (default 9) is c5.large's 10 addresses per ENI minus the primary, so the two agree for the
// default type; an ENI given another secondaryIpLimit models a type of its own.
// Contract: describeInstanceTypes(names) answers the body of a DescribeInstanceTypesResponse for
// these types (all when none is named); an unknown name throws 400 InvalidInstanceType, as EC2 does.
import { Ec2Error } from './ec2-errors.js';
import { el, set, t } from './ec2-xml.js';

export interface InstanceTypeLimits {
  maximumNetworkInterfaces: number;
  ipv4AddressesPerInterface: number;
}

export const INSTANCE_TYPES: Readonly<Record<string, InstanceTypeLimits>> = {
  't3.micro': { maximumNetworkInterfaces: 2, ipv4AddressesPerInterface: 2 },
  't3.small': { maximumNetworkInterfaces: 3, ipv4AddressesPerInterface: 4 },
  't3.medium': { maximumNetworkInterfaces: 3, ipv4AddressesPerInterface: 6 },
  'c5.large': { maximumNetworkInterfaces: 3, ipv4AddressesPerInterface: 10 },
  'm5.large': { maximumNetworkInterfaces: 3, ipv4AddressesPerInterface: 10 },
  'c5.xlarge': { maximumNetworkInterfaces: 4, ipv4AddressesPerInterface: 15 },
};

export function describeInstanceTypes(names: string[]): string {
  const unknown = names.filter((n) => !(n in INSTANCE_TYPES));
  if (unknown.length > 0) throw new Ec2Error(400, 'InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
  const picked = names.length > 0 ? [...new Set(names)] : Object.keys(INSTANCE_TYPES);
  return set(
    'instanceTypeSet',
    picked.map((n) => {
      const l = INSTANCE_TYPES[n]!;
      return (
        t('instanceType', n) +
        t('currentGeneration', true) +
        el(
          'networkInfo',
          t('maximumNetworkInterfaces', l.maximumNetworkInterfaces),
          t('ipv4AddressesPerInterface', l.ipv4AddressesPerInterface),
          t('ipv6AddressesPerInterface', l.ipv4AddressesPerInterface),
          t('ipv6Supported', true),
        )
      );
    }),
  );
}

// Response bodies of the EC2 Query emulator (spec wire-and-cloud-apis.md §1.1, §1.3, §1.4, Appendix A).
//
// Contract: success bodies are `<{Action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
// <requestId>…</requestId>…` with the children the SDK maps (camelCase, `item` lists, `<x/>` for an
// empty set, booleans true/false, ISO-8601 dates); errors are `<Response><Errors><Error><Code/><Message/>
// </Error></Errors><RequestID/></Response>`. Every text value is XML-escaped. The HTTP headers that go
// with them (x-amzn-RequestId, Content-Type text/xml;charset=UTF-8) are in RESPONSE_HEADERS / the server.
import type { Ec2State, ElasticIp, Instance, NetworkInterface, RouteTable, SecurityGroup, Subnet } from './ec2-state.js';
import { parseCidr, reservedAddresses } from './ec2-state.js';

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const CONTENT_TYPE = 'text/xml;charset=UTF-8';

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

type Scalar = string | number | boolean | undefined;

/** `<name>value</name>`, `<name/>` for "", nothing for undefined. */
export function t(name: string, value: Scalar): string {
  if (value === undefined) return '';
  const s = String(value);
  return s === '' ? `<${name}/>` : `<${name}>${xmlEscape(s)}</${name}>`;
}

/** `<name>` + already-rendered children + `</name>`. */
export function el(name: string, ...children: string[]): string {
  const inner = children.join('');
  return inner === '' ? `<${name}/>` : `<${name}>${inner}</${name}>`;
}

/** A list: `<name><item>…</item>…</name>`, `<name/>` when empty. */
export function set(name: string, items: string[]): string {
  return items.length === 0 ? `<${name}/>` : `<${name}>${items.map((i) => `<item>${i}</item>`).join('')}</${name}>`;
}

export function successXml(action: string, requestId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">${t('requestId', requestId)}${body}</${action}Response>`;
}

export function errorXml(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error>${t('Code', code)}${t('Message', message)}</Error></Errors>${t('RequestID', requestId)}</Response>`
  );
}

const dnsName = (region: string, ip: string): string =>
  `ip-${ip.replace(/\./g, '-')}.${region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`}`;

function groupSet(state: Ec2State, ids: string[]): string {
  return set(
    'groupSet',
    ids.map((id) => t('groupId', id) + t('groupName', state.securityGroups.get(id)?.groupName ?? '')),
  );
}

function privateIpSet(state: Ec2State, eni: NetworkInterface): string {
  const ips = [eni.primaryIp, ...eni.secondaryIps];
  return set(
    'privateIpAddressesSet',
    ips.map((ip, i) => {
      const eip = [...state.addresses.values()].find((a) => a.networkInterfaceId === eni.networkInterfaceId && a.privateIpAddress === ip);
      const association = eip
        ? el('association', t('publicIp', eip.publicIp), t('publicDnsName', ''), t('ipOwnerId', state.accountId), t('allocationId', eip.allocationId), t('associationId', eip.associationId))
        : '';
      return t('privateIpAddress', ip) + t('privateDnsName', dnsName(state.region, ip)) + t('primary', i === 0) + association;
    }),
  );
}

export function networkInterfaceItem(state: Ec2State, eni: NetworkInterface): string {
  const attachment =
    eni.instanceId === undefined
      ? ''
      : el(
          'attachment',
          t('attachmentId', eni.attachmentId),
          t('instanceId', eni.instanceId),
          t('instanceOwnerId', state.accountId),
          t('deviceIndex', eni.deviceIndex ?? 0),
          t('networkCardIndex', 0),
          t('status', 'attached'),
          t('attachTime', '2024-01-01T00:00:00.000Z'),
          t('deleteOnTermination', eni.deviceIndex === 0),
        );
  return (
    t('networkInterfaceId', eni.networkInterfaceId) +
    t('subnetId', eni.subnetId) +
    t('vpcId', eni.vpcId) +
    t('availabilityZone', eni.availabilityZone) +
    t('description', eni.description) +
    t('ownerId', state.accountId) +
    t('requesterManaged', false) +
    t('status', eni.instanceId === undefined ? 'available' : 'in-use') +
    t('macAddress', eni.macAddress) +
    t('privateIpAddress', eni.primaryIp) +
    t('privateDnsName', dnsName(state.region, eni.primaryIp)) +
    t('sourceDestCheck', eni.sourceDestCheck) +
    groupSet(state, eni.securityGroupIds) +
    attachment +
    set('tagSet', []) +
    privateIpSet(state, eni) +
    set('ipv6AddressesSet', []) +
    t('interfaceType', 'interface')
  );
}

export function describeNetworkInterfacesBody(state: Ec2State, enis: NetworkInterface[], nextToken?: string): string {
  return set('networkInterfaceSet', enis.map((e) => networkInterfaceItem(state, e))) + t('nextToken', nextToken);
}

export function describeSubnetsBody(state: Ec2State, subnets: Subnet[]): string {
  return set(
    'subnetSet',
    subnets.map((s) => {
      const c = parseCidr(s.cidr)!;
      const used = [...state.enis.values()]
        .filter((e) => e.subnetId === s.subnetId)
        .reduce((n, e) => n + 1 + e.secondaryIps.length, 0);
      const available = c.size - reservedAddresses(s.cidr).length - used;
      return (
        t('subnetId', s.subnetId) +
        t('subnetArn', `arn:aws:ec2:${state.region}:${state.accountId}:subnet/${s.subnetId}`) +
        t('state', 'available') +
        t('ownerId', state.accountId) +
        t('vpcId', s.vpcId) +
        t('cidrBlock', s.cidr) +
        set('ipv6CidrBlockAssociationSet', []) +
        t('availableIpAddressCount', Math.max(0, available)) +
        t('availabilityZone', s.availabilityZone) +
        t('availabilityZoneId', `use1-az${s.availabilityZone.slice(-1).charCodeAt(0) - 96}`) +
        t('defaultForAz', false) +
        t('mapPublicIpOnLaunch', false) +
        set('tagSet', [])
      );
    }),
  );
}

export function describeRouteTablesBody(state: Ec2State, tables: RouteTable[]): string {
  return set(
    'routeTableSet',
    tables.map(
      (rt) =>
        t('routeTableId', rt.routeTableId) +
        t('vpcId', rt.vpcId) +
        t('ownerId', state.accountId) +
        set(
          'routeSet',
          rt.routes.map(
            (r) =>
              t('destinationCidrBlock', r.destinationCidrBlock) +
              t('gatewayId', r.gatewayId) +
              t('instanceId', r.instanceId) +
              (r.instanceId !== undefined ? t('instanceOwnerId', state.accountId) : '') +
              t('networkInterfaceId', r.networkInterfaceId) +
              t('state', r.state) +
              t('origin', r.origin),
          ),
        ) +
        set(
          'associationSet',
          rt.associations.map(
            (a) =>
              t('routeTableAssociationId', a.routeTableAssociationId) +
              t('routeTableId', rt.routeTableId) +
              t('subnetId', a.subnetId) +
              t('main', a.main) +
              el('associationState', t('state', 'associated')),
          ),
        ) +
        set('propagatingVgwSet', []) +
        set('tagSet', []),
    ),
  );
}

export function describeAddressesBody(state: Ec2State, addresses: ElasticIp[]): string {
  return set(
    'addressesSet',
    addresses.map(
      (a) =>
        t('publicIp', a.publicIp) +
        t('allocationId', a.allocationId) +
        t('domain', 'vpc') +
        t('associationId', a.associationId) +
        t('networkInterfaceId', a.networkInterfaceId) +
        (a.networkInterfaceId !== undefined ? t('networkInterfaceOwnerId', state.accountId) : '') +
        t('privateIpAddress', a.privateIpAddress) +
        t('instanceId', a.networkInterfaceId !== undefined ? state.instanceOfEni(a.networkInterfaceId) : undefined) +
        t('publicIpv4Pool', 'amazon') +
        t('networkBorderGroup', state.region) +
        set('tagSet', []),
    ),
  );
}

export function describeSecurityGroupsBody(state: Ec2State, groups: SecurityGroup[]): string {
  return set(
    'securityGroupInfo',
    groups.map(
      (g) =>
        t('ownerId', state.accountId) +
        t('groupId', g.groupId) +
        t('groupName', g.groupName) +
        t('groupDescription', g.description) +
        t('vpcId', g.vpcId) +
        set(
          'ipPermissions',
          g.ingress.map(
            (r) =>
              t('ipProtocol', r.ipProtocol) +
              t('fromPort', r.fromPort) +
              t('toPort', r.toPort) +
              set('groups', (r.sourceGroupIds ?? []).map((id) => t('userId', state.accountId) + t('groupId', id))) +
              set('ipRanges', (r.cidrs ?? []).map((c) => t('cidrIp', c))) +
              set('ipv6Ranges', []) +
              set('prefixListIds', []),
          ),
        ) +
        set('ipPermissionsEgress', [t('ipProtocol', '-1') + set('groups', []) + set('ipRanges', [t('cidrIp', '0.0.0.0/0')]) + set('ipv6Ranges', []) + set('prefixListIds', [])]) +
        set('tagSet', []),
    ),
  );
}

const STATE_CODES: Record<Instance['state'], number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export function describeInstancesBody(state: Ec2State, instances: Instance[]): string {
  return set(
    'reservationSet',
    instances.map((i) => {
      const enis = state.attachedEnis(i.instanceId);
      const primary = enis[0];
      const subnet = state.subnets.get(i.subnetId);
      const inst =
        t('instanceId', i.instanceId) +
        t('imageId', i.imageId) +
        el('instanceState', t('code', STATE_CODES[i.state]), t('name', i.state)) +
        t('privateDnsName', primary ? dnsName(state.region, primary.primaryIp) : '') +
        t('instanceType', i.instanceType) +
        t('launchTime', i.launchTime) +
        el('placement', t('availabilityZone', subnet?.availabilityZone), t('tenancy', 'default')) +
        t('subnetId', i.subnetId) +
        t('vpcId', subnet?.vpcId) +
        t('privateIpAddress', primary?.primaryIp) +
        t('sourceDestCheck', primary?.sourceDestCheck) +
        groupSet(state, primary?.securityGroupIds ?? []) +
        set(
          'networkInterfaceSet',
          enis.map(
            (e) =>
              t('networkInterfaceId', e.networkInterfaceId) +
              t('subnetId', e.subnetId) +
              t('vpcId', e.vpcId) +
              t('ownerId', state.accountId) +
              t('status', 'in-use') +
              t('macAddress', e.macAddress) +
              t('privateIpAddress', e.primaryIp) +
              t('sourceDestCheck', e.sourceDestCheck) +
              groupSet(state, e.securityGroupIds) +
              el('attachment', t('attachmentId', e.attachmentId), t('deviceIndex', e.deviceIndex ?? 0), t('networkCardIndex', 0), t('status', 'attached'), t('attachTime', '2024-01-01T00:00:00.000Z'), t('deleteOnTermination', e.deviceIndex === 0)) +
              privateIpSet(state, e) +
              t('interfaceType', 'interface'),
          ),
        ) +
        set('tagSet', []);
      return t('reservationId', `r-${i.instanceId.slice(2)}`) + t('ownerId', state.accountId) + set('groupSet', []) + set('instancesSet', [inst]);
    }),
  );
}

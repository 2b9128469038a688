// The EC2 Query emulator (test/emulators/aws/) driven by the REAL @aws-sdk/client-ec2 over loopback:
// SigV4 (accepted, tampered, unknown key, session token, expired with the SDK's skew correction),
// the AssignPrivateIpAddresses semantics of spec §1.5 on a fake clock (asynchronous remap, EIP follows,
// primary never moves, subnet/reserved/limit errors), filters, routes, Elastic IPs, DryRun,
// permissions, fault injection with the SDK's own retries, hang/abort, latency, call counting and
// the IMDS view. Nothing here may reach AWS: every client gets an explicit endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceRouteCommand,
  UnassignPrivateIpAddressesCommand,
  type EC2ClientConfig,
} from '@aws-sdk/client-ec2';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator, type Ec2Credential, type Ec2Emulator } from '../emulators/aws/ec2-server.js';
import { verifySigV4 } from '../emulators/aws/sigv4.js';
import { errorXml, xmlEscape } from '../emulators/aws/ec2-xml.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
delete process.env.AWS_ENDPOINT_URL;
delete process.env.AWS_ENDPOINT_URL_EC2;

const KEY: Ec2Credential = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TEMP: Ec2Credential = { accessKeyId: 'ASIATEMPEXAMPLE', secretAccessKey: 'tempsecret', sessionToken: 'FwoGZXIvYXdzEXAMPLE//token+=' };
const READONLY: Ec2Credential = {
  accessKeyId: 'AKIDREADONLY',
  secretAccessKey: 'readonlysecret',
  allowedActions: ['DescribeNetworkInterfaces', 'DescribeRouteTables'],
};

const VPC = 'vpc-0123456789abcdef0';
const SUBNET = 'subnet-0aaa1111bbbb2222c';
const SUBNET2 = 'subnet-0bbb1111cccc2222d';
const I_A = 'i-0aaaaaaaaaaaaaaa1';
const I_B = 'i-0bbbbbbbbbbbbbbb2';
const ENI_A = 'eni-0a1b2c3d4e5f60001';
const ENI_B = 'eni-0a1b2c3d4e5f60002';
const ENI_C = 'eni-0a1b2c3d4e5f60003'; // other subnet
const RTB = 'rtb-0123456789abcdef0';
const ALLOC = 'eipalloc-0123456789abcdef0';
const SG = 'sg-0123456789abcdef0';
const VIP = '198.51.100.100';

/** A fake clock for the model (the server's SigV4 clock stays real, the SDK signs with real time). */
class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface World {
  state: Ec2State;
  emu: Ec2Emulator;
  clock: FakeClock;
  client(cfg?: Partial<EC2ClientConfig>, cred?: Ec2Credential): EC2Client;
}

/**
 * VPC 198.51.100.0/24 with subnet 198.51.100.0/25 (instances A 198.51.100.10 holding VIP 198.51.100.100 + EIP, and
 * B 198.51.100.20) and subnet 198.51.100.128/25 (a spare ENI), a route 203.0.113.10/32 → A, a VRRP SG.
 */
async function world(t: { after(fn: () => unknown): void }, o: { remapDelayMs?: number; serverClock?: () => number; limit?: number } = {}): Promise<World> {
  const clock = new FakeClock();
  const state = new Ec2State({ now: clock.now, remapDelayMs: o.remapDelayMs ?? 0 });
  state.addVpc({ vpcId: VPC, cidrs: ['198.51.100.0/24'] });
  state.addSubnet({ subnetId: SUBNET, vpcId: VPC, cidr: '198.51.100.0/25', availabilityZone: 'us-east-1a' });
  state.addSubnet({ subnetId: SUBNET2, vpcId: VPC, cidr: '198.51.100.128/25', availabilityZone: 'us-east-1b' });
  state.addSecurityGroup({
    groupId: SG,
    groupName: 'ha-peers',
    vpcId: VPC,
    description: 'VRRP <between> peers & friends',
    ingress: [{ ipProtocol: '112', sourceGroupIds: [SG] }],
  });
  const lim = o.limit !== undefined ? { secondaryIpLimit: o.limit } : {};
  state.addInstance({ instanceId: I_A, networkInterfaceId: ENI_A, macAddress: '0a:1b:2c:3d:4e:5f', subnetId: SUBNET, privateIp: '198.51.100.10', secondaryIps: [VIP], securityGroupIds: [SG], ...lim });
  state.addInstance({ instanceId: I_B, networkInterfaceId: ENI_B, macAddress: '0a:1b:2c:3d:4e:60', subnetId: SUBNET, privateIp: '198.51.100.20', securityGroupIds: [SG], ...lim });
  state.addNetworkInterface({ networkInterfaceId: ENI_C, subnetId: SUBNET2, privateIp: '198.51.100.138' });
  state.addRouteTable({ routeTableId: RTB, vpcId: VPC, subnetIds: [SUBNET], routes: [{ destinationCidrBlock: '203.0.113.10/32', networkInterfaceId: ENI_A }] });
  state.addAddress({ allocationId: ALLOC, publicIp: '203.0.113.7', networkInterfaceId: ENI_A, privateIpAddress: VIP });
  state.addAddress({ allocationId: 'eipalloc-0000000000000free', publicIp: '203.0.113.8' });
  const emu = await startEc2Emulator({
    state,
    credentials: [KEY, TEMP, READONLY],
    ...(o.serverClock ? { clock: o.serverClock } : {}),
  });
  const clients: EC2Client[] = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    await emu.close();
  });
  return {
    state,
    emu,
    clock,
    client(cfg = {}, cred = KEY) {
      const c = new EC2Client({
        endpoint: emu.url,
        region: 'us-east-1',
        credentials: {
          accessKeyId: cred.accessKeyId,
          secretAccessKey: cred.secretAccessKey,
          ...(cred.sessionToken !== undefined ? { sessionToken: cred.sessionToken } : {}),
        },
        maxAttempts: 1,
        ...cfg,
      });
      clients.push(c);
      return c;
    },
  };
}

/** Runs p and returns the error it rejects with (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { name: string; $fault?: string; $metadata: { httpStatusCode?: number; attempts?: number; requestId?: string } }> {
  try {
    await p;
  } catch (e) {
    return e as never;
  }
  assert.fail('expected a rejection');
}

async function ipsOf(c: EC2Client, eni: string): Promise<string[]> {
  const r = await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni] }));
  return (r.NetworkInterfaces?.[0]?.PrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress!);
}

// ------------------------------------------------------------------ SigV4

test('SigV4: a signed request is accepted; the response carries x-amzn-RequestId and a multi-value list round-trips', async (t) => {
  const w = await world(t);
  const c = w.client();
  const r = await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [ENI_A, ENI_B] }));
  assert.deepEqual(r.NetworkInterfaces?.map((n) => n.NetworkInterfaceId), [ENI_A, ENI_B]);
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.equal(r.$metadata.requestId, w.emu.calls[0]!.requestId);
  assert.equal(w.emu.calls[0]!.params['NetworkInterfaceId.2'], ENI_B);
  assert.equal(w.emu.calls[0]!.accessKeyId, KEY.accessKeyId);
  const a = r.NetworkInterfaces![0]!;
  assert.equal(a.MacAddress, '0a:1b:2c:3d:4e:5f');
  assert.equal(a.Attachment?.InstanceId, I_A);
  assert.equal(a.Attachment?.DeviceIndex, 0);
  assert.equal(a.SourceDestCheck, true);
  assert.deepEqual(a.Groups, [{ GroupId: SG, GroupName: 'ha-peers' }]);
  assert.deepEqual(a.PrivateIpAddresses?.map((p) => [p.PrivateIpAddress, p.Primary, p.Association?.PublicIp]), [
    ['198.51.100.10', true, undefined],
    [VIP, false, '203.0.113.7'],
  ]);
  assert.deepEqual(a.TagSet, []);
});

test('SigV4: session-token credentials are accepted; the same key without its token is AuthFailure', async (t) => {
  const w = await world(t);
  const ok = await w.client({}, TEMP).send(new DescribeSubnetsCommand({ SubnetIds: [SUBNET, SUBNET2] }));
  assert.deepEqual(ok.Subnets?.map((s) => [s.SubnetId, s.CidrBlock, s.AvailabilityZone]), [
    [SUBNET, '198.51.100.0/25', 'us-east-1a'],
    [SUBNET2, '198.51.100.128/25', 'us-east-1b'],
  ]);
  assert.equal(ok.Subnets![0]!.AvailableIpAddressCount, 128 - 5 - 3); // a /25: 2 primaries + the VIP
  const noToken = { accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey };
  const e = await rejection(w.client({}, noToken).send(new DescribeSubnetsCommand({})));
  assert.equal(e.name, 'AuthFailure');
  assert.equal(e.$metadata.httpStatusCode, 401);
});

test('SigV4: wrong secret → 403 SignatureDoesNotMatch; unknown key → 401 AuthFailure; one attempt each', async (t) => {
  const w = await world(t);
  const bad = await rejection(w.client({ maxAttempts: 3 }, { ...KEY, secretAccessKey: 'not-the-secret' }).send(new DescribeSubnetsCommand({})));
  assert.equal(bad.name, 'SignatureDoesNotMatch');
  assert.equal(bad.$metadata.httpStatusCode, 403);
  assert.equal(bad.$fault, 'client');
  const unknown = await rejection(w.client({}, { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }).send(new DescribeSubnetsCommand({})));
  assert.equal(unknown.name, 'AuthFailure');
  assert.equal(unknown.$metadata.httpStatusCode, 401);
  assert.ok(unknown.$metadata.requestId, 'error responses carry x-amzn-RequestId too');
  assert.equal(w.emu.calls.filter((c) => c.code === 'SignatureDoesNotMatch').length, 1);
});

test('SigV4 verifier (direct): body hash mismatch → SignatureDoesNotMatch, stale x-amz-date → RequestExpired, wrong region → AuthFailure', () => {
  const now = Date.UTC(2026, 10, 23, 5, 29, 12);
  const body = Buffer.from('Action=DescribeSubnets&Version=2016-11-15');
  const lookup = (id: string) => (id === KEY.accessKeyId ? KEY : undefined);
  const hdr = (extra: Record<string, string>) => ({
    host: '127.0.0.1:1',
    'x-amz-date': '20261123T052912Z',
    'x-amz-content-sha256': '0'.repeat(64), // not the body's hash
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY.accessKeyId}/20261123/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'a'.repeat(64)}`,
    ...extra,
  });
  const verify = (headers: Record<string, string>) =>
    verifySigV4({ method: 'POST', path: '/', query: '', body, headers }, { lookup, now: () => now, region: 'us-east-1' });
  const r1 = verify(hdr({}));
  assert.deepEqual([r1.ok, !r1.ok && r1.code, !r1.ok && r1.status], [false, 'SignatureDoesNotMatch', 403]);
  assert.match(!r1.ok ? r1.message : '', /x-amz-content-sha256/);
  const r2 = verify(hdr({ 'x-amz-date': '20261123T060000Z' })); // 30 min 48 s ahead
  assert.deepEqual([r2.ok, !r2.ok && r2.code, !r2.ok && r2.status], [false, 'RequestExpired', 400]);
  const r3 = verify(hdr({ authorization: hdr({}).authorization.replace('us-east-1', 'eu-west-1') }));
  assert.deepEqual([r3.ok, !r3.ok && r3.code, !r3.ok && r3.status], [false, 'AuthFailure', 401]);
});

test('SigV4: a request more than 15 min off the emulator clock → RequestExpired; with retries the SDK corrects its skew from Date and succeeds', async (t) => {
  const w = await world(t, { serverClock: () => Date.now() + 3_600_000 });
  const e = await rejection(w.client().send(new DescribeSubnetsCommand({})));
  assert.equal(e.name, 'RequestExpired');
  assert.equal(e.$metadata.httpStatusCode, 400);
  const r = await w.client({ maxAttempts: 3 }).send(new DescribeSubnetsCommand({}));
  assert.equal(r.Subnets?.length, 2);
  assert.equal(r.$metadata.attempts, 2);
});

// ------------------------------------------------------------------ Assign / Unassign

test('Assign with AllowReassignment moves a secondary after the remap delay (fake clock), and the EIP follows', async (t) => {
  const w = await world(t, { remapDelayMs: 5_000 });
  const c = w.client();
  const r = await c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  assert.equal(r.NetworkInterfaceId, ENI_B);
  assert.deepEqual(r.AssignedPrivateIpAddresses, [{ PrivateIpAddress: VIP }]);
  assert.equal(w.emu.calls[0]!.params['AllowReassignment'], 'true');
  assert.equal(w.emu.calls[0]!.params['DryRun'], undefined, 'Assign carries no DryRun');

  w.clock.advance(4_999);
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10', VIP], 'not moved before the delay');
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
  let eip = await c.send(new DescribeAddressesCommand({ AllocationIds: [ALLOC] }));
  assert.equal(eip.Addresses?.[0]?.NetworkInterfaceId, ENI_A);
  assert.equal(w.state.pendingMoves().length, 1);

  w.clock.advance(1);
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10']);
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20', VIP]);
  eip = await c.send(new DescribeAddressesCommand({ AllocationIds: [ALLOC] }));
  assert.deepEqual([eip.Addresses?.[0]?.NetworkInterfaceId, eip.Addresses?.[0]?.PrivateIpAddress, eip.Addresses?.[0]?.InstanceId], [ENI_B, VIP, I_B]);
  assert.equal(w.state.pendingMoves().length, 0);
});

test('Assign without AllowReassignment → InvalidParameterValue "[ip] assigned, but move is not allowed."; the code is configurable', async (t) => {
  const w = await world(t);
  const c = w.client();
  const e = await rejection(c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP] })));
  assert.equal(e.name, 'InvalidParameterValue');
  assert.equal(e.message, `[${VIP}] assigned, but move is not allowed.`);
  assert.equal(e.$metadata.httpStatusCode, 400);
  assert.equal(e.$metadata.attempts, 1);
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10', VIP]);
  w.state.moveNotAllowedCode = 'InvalidIPAddress.InUse';
  const e2 = await rejection(c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP] })));
  assert.equal(e2.name, 'InvalidIPAddress.InUse');
});

test('a primary IP never moves, even with AllowReassignment; a fresh address is assigned at once', async (t) => {
  const w = await world(t, { remapDelayMs: 1_000 });
  const c = w.client();
  const e = await rejection(c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: ['198.51.100.10'], AllowReassignment: true })));
  assert.equal(e.name, 'InvalidParameterValue');
  w.clock.advance(10_000);
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10', VIP]);
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
  await c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: ['198.51.100.99'] }));
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20', '198.51.100.99']);
  await c.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: ['198.51.100.99'] }));
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
  const e2 = await rejection(c.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP] })));
  assert.equal(e2.name, 'InvalidParameterValue');
});

test('outside the subnet, reserved addresses, the per-ENI limit and unknown ENI are errors; several addresses are all-or-nothing', async (t) => {
  const w = await world(t, { limit: 2 });
  const c = w.client();
  const assign = (ips: string[], eni = ENI_B) => c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: ips, AllowReassignment: true }));
  const outside = await rejection(assign(['198.51.100.178']));
  assert.deepEqual([outside.name, outside.message], ['InvalidParameterValue', "Address does not fall within the subnet's address range"]);
  for (const ip of ['198.51.100.0', '198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.127']) {
    const r = await rejection(assign([ip]));
    assert.deepEqual([r.name, r.message], ['InvalidParameterValue', "Address is in subnet's reserved address range"], ip);
  }
  // All-or-nothing: the first is fine, the second reserved → nothing assigned.
  await rejection(assign(['198.51.100.50', '198.51.100.127']));
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
  const lim = await rejection(assign(['198.51.100.50', '198.51.100.51', '198.51.100.52']));
  assert.equal(lim.name, 'PrivateIpAddressLimitExceeded');
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
  await assign(['198.51.100.50', VIP]);
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20', '198.51.100.50', VIP]);
  const nf = await rejection(assign(['198.51.100.60'], 'eni-0ffffffffffffffff'));
  assert.deepEqual([nf.name, nf.message], ['InvalidNetworkInterfaceID.NotFound', "The networkInterface ID 'eni-0ffffffffffffffff' does not exist"]);
});

test('SecondaryPrivateIpAddressCount picks free, unreserved addresses', async (t) => {
  const w = await world(t);
  const r = await w.client().send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, SecondaryPrivateIpAddressCount: 2 }));
  assert.deepEqual(r.AssignedPrivateIpAddresses?.map((a) => a.PrivateIpAddress), ['198.51.100.4', '198.51.100.5']);
});

// ------------------------------------------------------------------ Describe* filters

test('DescribeNetworkInterfaces filters (the Appendix A pair, and the others of §1.3) and paging', async (t) => {
  const w = await world(t);
  const c = w.client();
  const ids = async (Filters: { Name: string; Values: string[] }[]) =>
    ((await c.send(new DescribeNetworkInterfacesCommand({ Filters }))).NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId);
  assert.deepEqual(await ids([{ Name: 'attachment.instance-id', Values: [I_A] }, { Name: 'addresses.private-ip-address', Values: [VIP] }]), [ENI_A]);
  assert.deepEqual(await ids([{ Name: 'attachment.instance-id', Values: [I_B] }, { Name: 'addresses.private-ip-address', Values: [VIP] }]), []);
  assert.deepEqual(await ids([{ Name: 'private-ip-address', Values: ['198.51.100.20', '198.51.100.138'] }]), [ENI_B, ENI_C]);
  assert.deepEqual(await ids([{ Name: 'network-interface-id', Values: [ENI_C] }]), [ENI_C]);
  assert.deepEqual(await ids([{ Name: 'subnet-id', Values: [SUBNET] }]), [ENI_A, ENI_B]);
  assert.deepEqual(await ids([{ Name: 'vpc-id', Values: [VPC] }]), [ENI_A, ENI_B, ENI_C]);
  assert.deepEqual(await ids([{ Name: 'mac-address', Values: ['0a:1b:2c:3d:4e:60'] }]), [ENI_B]);
  assert.deepEqual(await ids([{ Name: 'attachment.instance-id', Values: ['i-0*'] }]), [ENI_A, ENI_B], 'wildcards');
  const bad = await rejection(ids([{ Name: 'no-such-filter', Values: ['x'] }]));
  assert.equal(bad.name, 'InvalidParameterValue');
  const p1 = await c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 2 }));
  assert.equal(p1.NetworkInterfaces?.length, 2);
  const p2 = await c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 2, NextToken: p1.NextToken! }));
  assert.deepEqual(p2.NetworkInterfaces?.map((n) => n.NetworkInterfaceId), [ENI_C]);
  assert.equal(p2.NextToken, undefined);
  const nf = await rejection(c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0ffffffffffffffff'] })));
  assert.equal(nf.name, 'InvalidNetworkInterfaceID.NotFound');
});

test('ReplaceRoute + DescribeRouteTables (filters), and the route errors', async (t) => {
  const w = await world(t);
  const c = w.client();
  await c.send(new ReplaceRouteCommand({ RouteTableId: RTB, DestinationCidrBlock: '203.0.113.10/32', NetworkInterfaceId: ENI_B }));
  assert.equal(w.emu.calls[0]!.params['DestinationCidrBlock'], '203.0.113.10/32');
  const r = await c.send(
    new DescribeRouteTablesCommand({
      Filters: [
        { Name: 'route.destination-cidr-block', Values: ['203.0.113.10/32'] },
        { Name: 'vpc-id', Values: [VPC] },
      ],
    }),
  );
  assert.equal(r.RouteTables?.length, 1);
  const routes = r.RouteTables![0]!.Routes!;
  assert.deepEqual(routes.map((x) => [x.DestinationCidrBlock, x.GatewayId, x.NetworkInterfaceId, x.InstanceId, x.State]), [
    ['198.51.100.0/24', 'local', undefined, undefined, 'active'],
    ['203.0.113.10/32', undefined, ENI_B, I_B, 'active'],
  ]);
  assert.deepEqual(r.RouteTables![0]!.Associations?.map((a) => [a.SubnetId, a.Main, a.AssociationState?.State]), [[SUBNET, false, 'associated']]);
  const bySubnet = await c.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [SUBNET2] }] }));
  assert.deepEqual(bySubnet.RouteTables, []);
  const byId = await c.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'route-table-id', Values: [RTB] }] }));
  assert.equal(byId.RouteTables?.[0]?.RouteTableId, RTB);
  const noRoute = await rejection(c.send(new ReplaceRouteCommand({ RouteTableId: RTB, DestinationCidrBlock: '203.0.113.11/32', NetworkInterfaceId: ENI_B })));
  assert.deepEqual([noRoute.name, noRoute.message], ['InvalidParameterValue', "There is no route defined for '203.0.113.11/32' in the route table. Use CreateRoute instead."]);
  const noTable = await rejection(c.send(new ReplaceRouteCommand({ RouteTableId: 'rtb-0ffffffffffffffff', DestinationCidrBlock: '203.0.113.10/32', NetworkInterfaceId: ENI_B })));
  assert.equal(noTable.name, 'InvalidRouteTableID.NotFound');
  await c.send(new ReplaceRouteCommand({ RouteTableId: RTB, DestinationCidrBlock: '203.0.113.10/32', InstanceId: I_A }));
  assert.deepEqual(w.state.routeTables.get(RTB)!.routes[1], { destinationCidrBlock: '203.0.113.10/32', instanceId: I_A, networkInterfaceId: ENI_A, state: 'active', origin: 'CreateRoute' });
});

test('AssociateAddress + DescribeAddresses; Resource.AlreadyAssociated without AllowReassociation', async (t) => {
  const w = await world(t);
  const c = w.client();
  const e = await rejection(c.send(new AssociateAddressCommand({ AllocationId: ALLOC, NetworkInterfaceId: ENI_B, PrivateIpAddress: '198.51.100.20' })));
  assert.equal(e.name, 'Resource.AlreadyAssociated');
  assert.equal(e.$metadata.httpStatusCode, 400);
  const r = await c.send(new AssociateAddressCommand({ AllocationId: ALLOC, NetworkInterfaceId: ENI_B, PrivateIpAddress: '198.51.100.20', AllowReassociation: true }));
  assert.match(r.AssociationId ?? '', /^eipassoc-/);
  const d = await c.send(new DescribeAddressesCommand({ Filters: [{ Name: 'network-interface-id', Values: [ENI_B] }] }));
  assert.deepEqual(d.Addresses?.map((a) => [a.AllocationId, a.PublicIp, a.PrivateIpAddress, a.InstanceId, a.AssociationId, a.Domain]), [
    [ALLOC, '203.0.113.7', '198.51.100.20', I_B, r.AssociationId, 'vpc'],
  ]);
  const free = await c.send(new AssociateAddressCommand({ PublicIp: '203.0.113.8', InstanceId: I_A }));
  assert.ok(free.AssociationId);
  const all = await c.send(new DescribeAddressesCommand({}));
  assert.deepEqual(all.Addresses?.map((a) => [a.PublicIp, a.NetworkInterfaceId, a.PrivateIpAddress]), [
    ['203.0.113.7', ENI_B, '198.51.100.20'],
    ['203.0.113.8', ENI_A, '198.51.100.10'],
  ]);
  const notMine = await rejection(c.send(new AssociateAddressCommand({ AllocationId: ALLOC, NetworkInterfaceId: ENI_B, PrivateIpAddress: '198.51.100.77', AllowReassociation: true })));
  assert.equal(notMine.name, 'InvalidParameterValue');
  const nf = await rejection(c.send(new AssociateAddressCommand({ AllocationId: 'eipalloc-0ffffffffffffffff', NetworkInterfaceId: ENI_B })));
  assert.equal(nf.name, 'InvalidAllocationID.NotFound');
});

test('DescribeSecurityGroups (protocol-112 rule, escaped description) and DescribeInstances (state, ENIs)', async (t) => {
  const w = await world(t);
  const c = w.client();
  const sg = await c.send(new DescribeSecurityGroupsCommand({ GroupIds: [SG] }));
  const g = sg.SecurityGroups![0]!;
  assert.equal(g.Description, 'VRRP <between> peers & friends');
  assert.deepEqual(g.IpPermissions?.map((p) => [p.IpProtocol, p.UserIdGroupPairs?.map((u) => u.GroupId)]), [['112', [SG]]]);
  assert.equal(w.state.ingressAllows([SG], 112, { groupIds: [SG] }), true);
  assert.equal(w.state.ingressAllows([SG], 6, { groupIds: [SG] }), false);
  const byProto = await c.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.protocol', Values: ['112'] }] }));
  assert.equal(byProto.SecurityGroups?.length, 1);
  const inst = await c.send(new DescribeInstancesCommand({ InstanceIds: [I_B] }));
  const i = inst.Reservations![0]!.Instances![0]!;
  assert.deepEqual([i.InstanceId, i.State?.Name, i.State?.Code, i.PrivateIpAddress, i.SubnetId, i.VpcId, i.Placement?.AvailabilityZone], [I_B, 'running', 16, '198.51.100.20', SUBNET, VPC, 'us-east-1a']);
  assert.deepEqual(i.NetworkInterfaces?.map((n) => [n.NetworkInterfaceId, n.Attachment?.DeviceIndex, n.MacAddress]), [[ENI_B, 0, '0a:1b:2c:3d:4e:60']]);
  const all = await c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
  assert.equal(all.Reservations?.length, 2);
});

test('DescribeInstanceTypes: the per-ENI address limit of the instance type (c5.large 10 = the model\'s default 9 secondaries + primary); unknown type → InvalidInstanceType', async (t) => {
  const w = await world(t);
  const c = w.client();
  const r = await c.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['c5.large', 't3.micro'] }));
  assert.deepEqual(
    r.InstanceTypes?.map((i) => [i.InstanceType, i.NetworkInfo?.Ipv4AddressesPerInterface, i.NetworkInfo?.MaximumNetworkInterfaces]),
    [['c5.large', 10, 3], ['t3.micro', 2, 2]],
  );
  assert.equal(w.state.getEni(ENI_A).secondaryIpLimit + 1, 10, 'the model and the table agree for the default type');
  const bad = await rejection(c.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.nothing' as never] })));
  assert.deepEqual([bad.name, bad.$metadata.httpStatusCode], ['InvalidInstanceType', 400]);
  const dry = await rejection(w.client({}, READONLY).send(new DescribeInstanceTypesCommand({ DryRun: true })));
  assert.equal(dry.name, 'UnauthorizedOperation', 'permissions apply to it like any action');
});

test('xml: text is escaped and the error envelope is the §1.4 one', () => {
  assert.equal(xmlEscape(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
  assert.equal(
    errorXml('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 'rid'),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>DryRunOperation</Code><Message>Request would have succeeded, but DryRun flag is set.</Message></Error></Errors><RequestID>rid</RequestID></Response>',
  );
});

// ------------------------------------------------------------------ DryRun and permissions

test('DryRun: 412 DryRunOperation when allowed, 403 UnauthorizedOperation when denied; state untouched', async (t) => {
  const w = await world(t);
  const ok = await rejection(w.client().send(new ReplaceRouteCommand({ DryRun: true, RouteTableId: RTB, DestinationCidrBlock: '203.0.113.10/32', NetworkInterfaceId: ENI_B })));
  assert.deepEqual([ok.name, ok.message, ok.$metadata.httpStatusCode, ok.$fault, ok.$metadata.attempts], ['DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412, 'client', 1]);
  assert.equal(w.state.routeTables.get(RTB)!.routes[1]!.networkInterfaceId, ENI_A);
  const ro = w.client({}, READONLY);
  const okRead = await rejection(ro.send(new DescribeNetworkInterfacesCommand({ DryRun: true, NetworkInterfaceIds: [ENI_A] })));
  assert.equal(okRead.name, 'DryRunOperation');
  const denied = await rejection(ro.send(new ReplaceRouteCommand({ DryRun: true, RouteTableId: RTB, DestinationCidrBlock: '203.0.113.10/32', NetworkInterfaceId: ENI_B })));
  assert.deepEqual([denied.name, denied.message, denied.$metadata.httpStatusCode], ['UnauthorizedOperation', 'You are not authorized to perform this operation.', 403]);
});

test('UnauthorizedOperation for a denied action (real call); setAllowedActions changes it at run time', async (t) => {
  const w = await world(t);
  const ro = w.client({}, READONLY);
  const e = await rejection(ro.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true })));
  assert.deepEqual([e.name, e.$metadata.httpStatusCode, e.$metadata.attempts], ['UnauthorizedOperation', 403, 1]);
  assert.deepEqual(w.state.imdsView(I_B).interfaces()[0]!.localIpv4s, ['198.51.100.20']);
  w.emu.setAllowedActions(READONLY.accessKeyId, undefined);
  await ro.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  assert.deepEqual(w.state.imdsView(I_B).interfaces()[0]!.localIpv4s, ['198.51.100.20', VIP]);
});

test('unknown action → 400 InvalidAction (SDK request rewritten before signing); an unsigned request → 401 AuthFailure', async (t) => {
  const w = await world(t);
  const c = w.client();
  // Same length as "DescribeSubnets", so content-length stays right; the rewrite happens before SigV4.
  c.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { body?: unknown };
      if (typeof req.body === 'string') req.body = req.body.replace('Action=DescribeSubnets', 'Action=FlyToTheMoonNow');
      return next(args);
    },
    { step: 'build', name: 'rewriteAction' },
  );
  const e = await rejection(c.send(new DescribeSubnetsCommand({})));
  assert.deepEqual([e.name, e.$metadata.httpStatusCode, e.message], ['InvalidAction', 400, 'The action FlyToTheMoonNow is not valid for this web service.']);
  assert.equal(w.emu.calls[0]!.action, 'FlyToTheMoonNow');
  const res = await fetch(w.emu.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeSubnets&Version=2016-11-15' });
  assert.equal(res.status, 401);
  assert.ok(res.headers.get('x-amzn-requestid'));
  assert.equal(res.headers.get('content-type'), 'text/xml;charset=UTF-8');
  assert.match(await res.text(), /<Response><Errors><Error><Code>AuthFailure<\/Code>/);
});

// ------------------------------------------------------------------ faults

test('throttle ×2 (503 RequestLimitExceeded): the SDK with default retries succeeds on attempt 3; the fault then clears itself', async (t) => {
  const w = await world(t);
  w.emu.faults.add({ action: 'DescribeNetworkInterfaces', times: 2, kind: 'throttle' });
  const c = w.client({ maxAttempts: undefined }); // the SDK's default (3 attempts)
  const r = await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [ENI_A] }));
  assert.equal(r.$metadata.attempts, 3);
  assert.deepEqual(w.emu.calls.map((x) => x.code ?? x.status), ['RequestLimitExceeded', 'RequestLimitExceeded', 200]);
  assert.deepEqual(w.emu.faults.list(), []);
  w.emu.faults.add({ kind: 'throttling400', times: 1 });
  const one = await rejection(w.client().send(new DescribeSubnetsCommand({})));
  assert.deepEqual([one.name, one.$metadata.httpStatusCode, one.$metadata.attempts], ['Throttling', 400, 1]);
  w.emu.faults.add({ kind: 'throttling400', times: 1 });
  const retried = await w.client({ maxAttempts: undefined }).send(new DescribeSubnetsCommand({}));
  assert.equal(retried.$metadata.attempts, 2, 'Throttling at HTTP 400 is retried too (spec §1.4)');
});

test('5xx ×2 (500 InternalError, 503 Unavailable): retried, success on attempt 3; with maxAttempts 1 the error surfaces', async (t) => {
  const w = await world(t);
  w.emu.faults.add({ times: 1, kind: 'error5xx' });
  w.emu.faults.add({ times: 1, kind: 'error5xx', status: 503 });
  const r = await w.client({ maxAttempts: 3 }).send(new DescribeSubnetsCommand({}));
  assert.equal(r.$metadata.attempts, 3);
  assert.deepEqual(w.emu.calls.map((x) => x.code ?? x.status), ['InternalError', 'Unavailable', 200]);
  w.emu.faults.add({ times: 1, kind: 'error5xx' });
  const e = await rejection(w.client().send(new DescribeSubnetsCommand({})));
  assert.deepEqual([e.name, e.$fault, e.$metadata.httpStatusCode], ['InternalError', 'server', 500]);
});

test('authFailure / unauthorized faults are not retried', async (t) => {
  const w = await world(t);
  w.emu.faults.add({ action: 'ReplaceRoute', times: 1, kind: 'unauthorized' });
  w.emu.faults.add({ action: 'DescribeSubnets', times: 1, kind: 'authFailure' });
  const c = w.client({ maxAttempts: 3 });
  const u = await rejection(c.send(new ReplaceRouteCommand({ RouteTableId: RTB, DestinationCidrBlock: '203.0.113.10/32', NetworkInterfaceId: ENI_B })));
  assert.deepEqual([u.name, u.$metadata.attempts], ['UnauthorizedOperation', 1]);
  const a = await rejection(c.send(new DescribeSubnetsCommand({})));
  assert.deepEqual([a.name, a.$metadata.httpStatusCode], ['AuthFailure', 401]);
  assert.equal(w.state.routeTables.get(RTB)!.routes[1]!.networkInterfaceId, ENI_A);
});

test('hang: the SDK request aborts through an AbortSignal and through requestTimeout; close() still returns', async (t) => {
  const w = await world(t);
  w.emu.faults.add({ action: 'DescribeRouteTables', kind: 'hang' });
  const ac = new AbortController();
  const p = w.client().send(new DescribeRouteTablesCommand({}), { abortSignal: ac.signal });
  // Abort once the emulator has the request in hand (an event, not a timing assumption).
  while (w.emu.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  const e = await rejection(p);
  assert.equal(e.name, 'AbortError');
  const e2 = await rejection(w.client({ requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true } }).send(new DescribeRouteTablesCommand({})));
  assert.match(e2.name + e2.message, /TimeoutError|timed? ?out/i);
  assert.equal(w.emu.calls.length, 2);
  assert.ok(w.emu.calls.every((x) => x.status === undefined), 'never answered');
  const ok = await w.client().send(new DescribeSubnetsCommand({}));
  assert.equal(ok.Subnets?.length, 2, 'other actions unaffected');
});

test('latency: the answer waits for the injected delay (observed as the request being outstanding), then succeeds', async (t) => {
  const w = await world(t);
  w.emu.faults.add({ action: 'DescribeSubnets', kind: 'latency', ms: 1000, times: 1 });
  let done = false;
  const p = w.client().send(new DescribeSubnetsCommand({})).then((r) => {
    done = true;
    return r;
  });
  // Without latency the answer goes out in the same tick the call is recorded; with it, the recorded
  // call is seen unanswered (an event check, not a timing one).
  while (w.emu.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(w.emu.calls[0]!.status, undefined, 'recorded but not yet answered');
  assert.equal(done, false);
  const r = await p;
  assert.equal(r.Subnets?.length, 2);
  assert.equal(w.emu.calls[0]!.status, 200);
});

test('calls records every request with action and params, including failed ones', async (t) => {
  const w = await world(t);
  const c = w.client();
  await c.send(new DescribeSubnetsCommand({ SubnetIds: [SUBNET] }));
  await rejection(c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP] })));
  await rejection(w.client({}, { ...KEY, secretAccessKey: 'nope' }).send(new DescribeInstancesCommand({})));
  assert.deepEqual(w.emu.calls.map((x) => [x.action, x.status]), [
    ['DescribeSubnets', 200],
    ['AssignPrivateIpAddresses', 400],
    ['DescribeInstances', 403],
  ]);
  assert.equal(w.emu.calls[0]!.params['SubnetId.1'], SUBNET);
  assert.equal(w.emu.calls[0]!.params['Version'], '2016-11-15');
  assert.equal(w.emu.calls.filter((x) => x.action === 'AssignPrivateIpAddresses').length, 1);
});

// ------------------------------------------------------------------ IMDS view

test('imdsView reflects the remap only after the delay (fake clock); shape for the IMDS emulator', async (t) => {
  const w = await world(t, { remapDelayMs: 2_000 });
  const a = w.state.imdsView(I_A);
  const b = w.state.imdsView(I_B);
  assert.deepEqual([b.instanceId, b.region, b.availabilityZone], [I_B, 'us-east-1', 'us-east-1a']);
  assert.deepEqual(b.interfaces(), [
    { mac: '0a:1b:2c:3d:4e:60', interfaceId: ENI_B, subnetId: SUBNET, subnetCidr: '198.51.100.0/25', vpcId: VPC, vpcCidrs: ['198.51.100.0/24'], deviceNumber: 0, localIpv4s: ['198.51.100.20'] },
  ]);
  await w.client().send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  w.clock.advance(1_999);
  assert.deepEqual(a.interfaces()[0]!.localIpv4s, ['198.51.100.10', VIP]);
  assert.deepEqual(b.interfaces()[0]!.localIpv4s, ['198.51.100.20']);
  w.clock.advance(1);
  assert.deepEqual(a.interfaces()[0]!.localIpv4s, ['198.51.100.10']);
  assert.deepEqual(b.interfaces()[0]!.localIpv4s, ['198.51.100.20', VIP]);
  assert.throws(() => w.state.imdsView('i-0ffffffffffffffff'));
});

test('a move back before the first one lands cancels it (the control-plane view decides)', async (t) => {
  const w = await world(t, { remapDelayMs: 1_000 });
  const c = w.client();
  await c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  const again = await rejection(c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_A, PrivateIpAddresses: [VIP] })));
  assert.equal(again.name, 'InvalidParameterValue', 'already B’s in the control plane');
  await c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_A, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  w.clock.advance(5_000);
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10', VIP]);
  assert.deepEqual(await ipsOf(c, ENI_B), ['198.51.100.20']);
});

test('ModifyNetworkInterfaceAttribute SourceDestCheck=false (overlay mode, spec §1.5) shows in DescribeNetworkInterfaces', async (t) => {
  const w = await world(t);
  const c = w.client();
  await c.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: ENI_B, SourceDestCheck: { Value: false } }));
  assert.equal(w.emu.calls[0]!.params['SourceDestCheck.Value'], 'false');
  const r = await c.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'source-dest-check', Values: ['false'] }] }));
  assert.deepEqual(r.NetworkInterfaces?.map((n) => [n.NetworkInterfaceId, n.SourceDestCheck]), [[ENI_B, false]]);
  const dry = await rejection(c.send(new ModifyNetworkInterfaceAttributeCommand({ DryRun: true, NetworkInterfaceId: ENI_A, SourceDestCheck: { Value: false } })));
  assert.equal(dry.name, 'DryRunOperation');
  assert.equal(w.state.enis.get(ENI_A)!.sourceDestCheck, true);
});

test('real-time mode (Date.now): a move shows up by itself once the delay has passed (waits for the event, generous cap)', async (t) => {
  const state = new Ec2State({ remapDelayMs: 1_500 });
  state.addVpc({ vpcId: VPC, cidrs: ['198.51.100.0/24'] });
  state.addSubnet({ subnetId: SUBNET, vpcId: VPC, cidr: '198.51.100.0/25' });
  state.addInstance({ instanceId: I_A, networkInterfaceId: ENI_A, subnetId: SUBNET, privateIp: '198.51.100.10', secondaryIps: [VIP] });
  state.addInstance({ instanceId: I_B, networkInterfaceId: ENI_B, subnetId: SUBNET, privateIp: '198.51.100.20' });
  const emu = await startEc2Emulator({ state, credentials: [KEY] });
  const c = new EC2Client({ endpoint: emu.url, region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
  t.after(async () => {
    c.destroy();
    await emu.close();
  });
  const sentAt = Date.now();
  await c.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: ENI_B, PrivateIpAddresses: [VIP], AllowReassignment: true }));
  const pending = state.pendingMoves();
  assert.equal(pending.length, 1);
  assert.ok(pending[0]!.at >= sentAt + 1_500, 'due no earlier than the delay after the request');
  const b = state.imdsView(I_B);
  const deadline = Date.now() + 20_000;
  while (!b.interfaces()[0]!.localIpv4s.includes(VIP)) {
    assert.ok(Date.now() < deadline, 'the move never became visible');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(Date.now() >= pending[0]!.at, 'not visible before its time');
  assert.deepEqual(await ipsOf(c, ENI_A), ['198.51.100.10']);
});

// `ha-agent provider test aws`: read-only checks that tell whether the aws provider can work on this
// host, in any mode (secondary-ip, route-table, elastic-ip), one PreflightCheck each, in this order:
//
//   IMDSv2 · instance · interface → ENI · credentials · EC2 API (reachable, signature, clock skew) ·
//   permission ec2:<read> (DryRun) · permission ec2:<write> (DryRun where the API has it, else
//   --simulate-iam, else said to be unverified) · IAM simulation (with --simulate-iam) · ENI ·
//   per VIP: VIP <addr> (where it may live in this mode) and holder of <addr> (who has it now) ·
//   ENI secondary-address limit (secondary-ip) · source/dest check, route table <id> (route-table) ·
//   Elastic IP <id> (elastic-ip) · VRRP unicast · security groups pass VRRP · local capabilities
//
// Contract: NEVER moves a VIP: EC2 writes are only ever sent with DryRun=true (DryRunOperation =
// allowed, UnauthorizedOperation = not); AssignPrivateIpAddresses / UnassignPrivateIpAddresses have
// no DryRun and are never sent. Every failed check carries a fix naming the concrete thing (the
// action, the id, the CIDR). A check that cannot run because an earlier one failed is left out, and
// the earlier check's detail says what was not checked. Secrets never appear: the access key id is
// shown by its last four characters only. EC2 requests go through an EC2Client of our own (one
// request per call, maxAttempts 1) whose last response Date header gives the clock skew.
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  ReplaceRouteCommand,
  type IpPermission,
  type NetworkInterface,
  type SecurityGroup,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { readFileSync } from 'node:fs';
import type { PreflightCheck, ProviderContext } from '../../src/provider/types.js';
import { readLinkLayer } from '../../src/net/link.js';
import { ipv4InRange, ipv4Range, parseIpv4Address } from '../../src/net/ip.js';
import { awsError, awsErrorCode } from './errors.js';
import { discoverFacts, type InstanceFacts } from './facts.js';
import type { Imds } from './imds.js';
import type { CredentialChain, SourcedCredentials } from './credentials.js';
import { simulateIam, type IamSimulation } from './iam.js';

/** The parts of the aws config block (`provider:`) the checks read; AwsProviderConfig fits. */
export interface AwsPreflightConfig {
  mode: 'secondary-ip' | 'route-table' | 'elastic-ip';
  region?: string | undefined;
  instanceId?: string | undefined;
  networkInterfaceId?: string | undefined;
  endpoint?: string | undefined;
  imdsEndpoint?: string | undefined;
  unassignOnRelease?: boolean | undefined;
  routeTableIds?: string[] | undefined;
  allocationId?: string | undefined;
  privateIpAddress?: string | undefined;
}

export interface AwsPreflightOptions {
  /** Ask IAM (SimulatePrincipalPolicy) about the actions DryRun cannot probe. */
  simulateIam?: boolean;
}

export interface AwsPreflightInput {
  ctx: ProviderContext;
  config: AwsPreflightConfig;
  /** The provider's IMDS client (shared token). */
  imds: Imds;
  /** The provider's credential chain (says which source answered). */
  credentials: CredentialChain;
  options?: AwsPreflightOptions;
  /** The interface's MAC (default: sysfs), as SecondaryIpOptions.macOf. */
  macOf?: (ifname: string) => string | null;
  /** STS / IAM endpoints for --simulate-iam (default: AWS_ENDPOINT_URL_STS / _IAM, else AWS's). */
  stsEndpoint?: string;
  iamEndpoint?: string;
  /** This process's effective capability set (default: CapEff of /proc/self/status; null: unknown). */
  capabilities?: () => bigint | null;
  /** Wall clock in ms (clock skew, credential expiry). */
  now?: () => number;
}

/** Per EC2 / IAM request of the checks. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Static keys expiring sooner than this fail the check (the agent would lose EC2 mid-run). */
const EXPIRY_MARGIN_MS = 5 * 60_000;
/** A clock further off than this from EC2's fails the check (AWS refuses requests 5 minutes off). */
const MAX_SKEW_MS = 60_000;
const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;
/** IP protocol number of VRRP. */
const VRRP = 112;

const pass = (check: string, detail: string): PreflightCheck => ({ check, ok: true, detail });
const fail = (check: string, detail: string, fix: string): PreflightCheck => ({ check, ok: false, detail, fix });

/** A ProviderError-like failure as a check (its message and fix). */
function failed(check: string, e: unknown, fallbackFix: string): PreflightCheck {
  const err = e as { message?: string; fix?: string | null };
  return fail(check, err?.message ?? String(e), err?.fix ?? fallbackFix);
}

// ------------------------------------------------------------------ IPv4 helpers

/** AWS reserves the first four addresses of a subnet and its last. */
function reservedInSubnet(cidr: string, ip: string): boolean {
  const r = ipv4Range(cidr);
  const n = parseIpv4Address(ip);
  return r !== null && n !== null && (n - r.base < 4 || n === r.base + r.size - 1);
}

// ------------------------------------------------------------------ local capabilities

/** CapEff of this process from /proc/self/status (null when unreadable). */
export function effectiveCapabilities(): bigint | null {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ EC2

/** Our EC2 client and the Date header of its last answer. */
interface Ec2Reader {
  client: EC2Client;
  lastDate: () => number | null;
}

function ec2Reader(region: string, endpoint: string | undefined, credentials: CredentialChain): Ec2Reader {
  const client = new EC2Client({
    region,
    ...(endpoint ? { endpoint } : {}),
    credentials,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
  let last: number | null = null;
  // Closest to the HTTP handler: sees the raw response (errors included) before it is parsed.
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const date = (out.response as { headers?: Record<string, string> } | undefined)?.headers?.['date'];
      const t = date ? Date.parse(date) : NaN;
      if (!Number.isNaN(t)) last = t;
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'haAgentResponseDate' },
  );
  return { client, lastDate: () => last };
}

/** One EC2 request, given the client. */
type Send = (client: EC2Client) => Promise<unknown>;

type DryRunResult = { kind: 'allowed' } | { kind: 'denied' } | { kind: 'error'; error: unknown };

/** Sends a command with DryRun=true: DryRunOperation = allowed, UnauthorizedOperation = denied. */
async function dryRun(ec2: Ec2Reader, call: Send): Promise<DryRunResult> {
  try {
    await call(ec2.client);
    return { kind: 'allowed' }; // EC2 never does this for DryRun, but success is success
  } catch (e) {
    const code = awsErrorCode(e);
    if (code === 'DryRunOperation') return { kind: 'allowed' };
    if (code === 'UnauthorizedOperation' || code === 'AccessDenied') return { kind: 'denied' };
    return { kind: 'error', error: e };
  }
}

/** Every ENI answering a DescribeNetworkInterfaces request (all pages). */
async function describeEnis(ec2: Ec2Reader, input: { NetworkInterfaceIds?: string[]; Filters?: { Name: string; Values: string[] }[] }): Promise<NetworkInterface[]> {
  const out: NetworkInterface[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.client.send(new DescribeNetworkInterfacesCommand({ ...input, ...(token ? { NextToken: token } : {}) }));
    out.push(...(page.NetworkInterfaces ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

const addressesOf = (ni: NetworkInterface): string[] => (ni.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress).filter((a): a is string => !!a);
const primaryOf = (ni: NetworkInterface): string | undefined => ni.PrivateIpAddresses?.find((p) => p.Primary)?.PrivateIpAddress ?? ni.PrivateIpAddress;
const groupsOf = (ni: NetworkInterface): string[] => (ni.Groups ?? []).map((g) => g.GroupId).filter((g): g is string => !!g);
const eniLabel = (ni: NetworkInterface): string => `${ni.NetworkInterfaceId}${ni.Attachment?.InstanceId ? ` of instance ${ni.Attachment.InstanceId}` : ' (not attached)'}`;

/** Does one of `rules` admit VRRP from/to `ip` (or a peer in one of `peerGroups`)? */
function admitsVrrp(rules: readonly IpPermission[], ip: string, peerGroups: readonly string[]): boolean {
  return rules.some((r) => {
    const proto = (r.IpProtocol ?? '').toLowerCase();
    if (proto !== '-1' && proto !== String(VRRP) && proto !== 'vrrp') return false;
    if ((r.IpRanges ?? []).some((x) => x.CidrIp && ipv4InRange(x.CidrIp, ip))) return true;
    return (r.UserIdGroupPairs ?? []).some((g) => g.GroupId && peerGroups.includes(g.GroupId));
  });
}

// ------------------------------------------------------------------ the checks

/** Which EC2 actions the agent calls in each mode, and whether EC2 offers DryRun for them. */
function writeActions(cfg: AwsPreflightConfig): string[] {
  switch (cfg.mode) {
    case 'secondary-ip':
      return ['AssignPrivateIpAddresses', ...(cfg.unassignOnRelease ? ['UnassignPrivateIpAddresses'] : [])];
    case 'route-table':
      return ['ReplaceRoute'];
    case 'elastic-ip':
      return ['AssociateAddress'];
  }
}

/** Reads: [action, who uses it, what is not checked without it]. */
function readActions(cfg: AwsPreflightConfig): [string, 'agent' | 'test', string][] {
  return [
    ['DescribeNetworkInterfaces', 'agent', 'the ENI, who holds each VIP, the secondary-address limit, security groups'],
    ...(cfg.mode === 'route-table' ? ([['DescribeRouteTables', 'agent', 'the route tables']] as [string, 'agent', string][]) : []),
    ...(cfg.mode === 'elastic-ip' ? ([['DescribeAddresses', 'agent', 'the Elastic IP']] as [string, 'agent', string][]) : []),
    ...(cfg.mode === 'secondary-ip'
      ? ([
          ['DescribeInstances', 'test', 'the secondary-address limit'],
          ['DescribeInstanceTypes', 'test', 'the secondary-address limit'],
        ] as [string, 'test', string][])
      : []),
    ['DescribeSecurityGroups', 'test', 'security groups'],
  ];
}

function readCommand(action: string): Send {
  switch (action) {
    case 'DescribeNetworkInterfaces':
      return (c) => c.send(new DescribeNetworkInterfacesCommand({ DryRun: true }));
    case 'DescribeRouteTables':
      return (c) => c.send(new DescribeRouteTablesCommand({ DryRun: true }));
    case 'DescribeAddresses':
      return (c) => c.send(new DescribeAddressesCommand({ DryRun: true }));
    case 'DescribeInstances':
      return (c) => c.send(new DescribeInstancesCommand({ DryRun: true }));
    case 'DescribeInstanceTypes':
      return (c) => c.send(new DescribeInstanceTypesCommand({ DryRun: true }));
    default:
      return (c) => c.send(new DescribeSecurityGroupsCommand({ DryRun: true }));
  }
}

/**
 * The checks, one at a time (see the header). Never throws: an unexpected failure becomes a failed
 * check. `input.config.mode` decides the mode-specific checks.
 */
export async function* awsPreflight(input: AwsPreflightInput): AsyncGenerator<PreflightCheck> {
  const { ctx, config: cfg, imds } = input;
  const now = input.now ?? Date.now;
  const vips = ctx.vips.map((v) => v.split('/')[0]!);
  const mode = cfg.mode;

  // ---------------------------------------------------------------- IMDS and instance facts
  let imdsInstanceId: string | null = null;
  try {
    imdsInstanceId = (await imds.get('instance-id')).trim();
    yield pass('IMDSv2', `token issued, metadata answers${cfg.imdsEndpoint ? ` at ${cfg.imdsEndpoint}` : ''}`);
  } catch (e) {
    yield failed('IMDSv2', e, 'enable IMDSv2 on the instance (aws ec2 modify-instance-metadata-options --http-endpoint enabled --http-tokens required), hop limit ≥ 2 in containers');
  }

  let facts: InstanceFacts | null = null;
  let imdsEni: string | null = null;
  if (imdsInstanceId !== null) {
    const mac = (input.macOf ?? ((i) => readLinkLayer(i)?.mac ?? null))(ctx.interface);
    try {
      if (!mac) throw Object.assign(new Error(`interface ${ctx.interface} not found on this host`), { fix: `set instances.${ctx.instanceName}.interface to the ENI's interface (ip link show)` });
      facts = await discoverFacts(imds, mac, {
        ...(cfg.instanceId ? { instanceId: cfg.instanceId } : {}),
        ...(cfg.region ? { region: cfg.region } : {}),
        ...(cfg.networkInterfaceId ? { networkInterfaceId: cfg.networkInterfaceId } : {}),
      });
      imdsEni = cfg.networkInterfaceId ? (await imds.get(`network/interfaces/macs/${facts.mac}/interface-id`)).trim() : facts.networkInterfaceId;
    } catch (e) {
      // The MAC (interface missing, or no ENI of this instance) is the interface's fault; anything
      // else IMDS refused (placement, the ENI's subnet) is the instance's.
      const code = (e as { code?: string }).code;
      if (!mac || code === 'MacNotAnEni') {
        yield pass('instance', `${imdsInstanceId} (IMDS)`);
        yield failed('interface → ENI', e, `check instances.${ctx.instanceName}.interface`);
      } else yield failed('instance', e, 'check the instance metadata options (IMDSv2 enabled, hop limit ≥ 2 in containers)');
    }
  }
  if (facts) {
    if (cfg.instanceId && cfg.instanceId !== imdsInstanceId)
      yield fail('instance', `provider.instanceId ${cfg.instanceId} is not this instance (IMDS: ${imdsInstanceId})`, `remove provider.instanceId, or set it to ${imdsInstanceId}`);
    else yield pass('instance', `${facts.instanceId} in ${facts.region} (${facts.availabilityZone})`);
    const path = `${ctx.interface} → ${facts.mac} → ${imdsEni}`;
    if (imdsEni !== facts.networkInterfaceId)
      yield fail(
        'interface → ENI',
        `provider.networkInterfaceId ${facts.networkInterfaceId} is not the ENI of ${ctx.interface} (${path})`,
        `remove provider.networkInterfaceId ${facts.networkInterfaceId} (the agent finds ${imdsEni} from the interface's MAC), or set it to ${imdsEni}`,
      );
    else yield pass('interface → ENI', `${path} in ${facts.subnetId} (${facts.subnetCidr}), ${facts.vpcId} (${facts.vpcCidrs.join(', ')})`);
  }

  // ---------------------------------------------------------------- credentials
  let creds: SourcedCredentials | null = null;
  try {
    creds = await input.credentials();
    const key = `key …${creds.accessKeyId.slice(-4)}`;
    const exp = creds.expiration;
    const left = exp ? exp.getTime() - now() : Infinity;
    const until = exp ? `, expire ${exp.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : ', no expiry';
    if (creds.source.startsWith('instance role')) yield pass('credentials', `${creds.source}, ${key}${until} (instance-role keys are renewed automatically before they expire)`);
    else if (left < EXPIRY_MARGIN_MS)
      yield fail(
        'credentials',
        `${creds.source}, ${key}: ${left <= 0 ? 'expired' : `expire in ${Math.round(left / 1000)} s`} (${exp!.toISOString()}); nothing renews them`,
        'renew these temporary keys (they come from the environment or a profile), or give the instance a role: instance-role keys are renewed automatically',
      );
    else yield pass('credentials', `${creds.source}, ${key}${until}`);
  } catch (e) {
    yield failed('credentials', awsError(e, 'credentials', 'looking for credentials'), 'attach an instance role, or set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE');
  }

  // ---------------------------------------------------------------- EC2
  let region = facts?.region ?? cfg.region;
  if (!region && imdsInstanceId !== null) region = await imds.get('placement/region').then((r) => r.trim(), () => undefined);
  if (creds && region) yield* ec2Checks(input, region, facts, vips, creds.source);
  else if (creds) yield fail('EC2 API', 'not checked: the region is unknown (IMDS did not say it)', 'set provider.region, or make IMDSv2 reachable');

  // ---------------------------------------------------------------- VRRP between the peers
  if (ctx.unicast === null)
    yield fail(
      'VRRP unicast',
      'the instance uses multicast: VRRP multicast does not cross an AWS VPC, so the peers never hear each other and both become MASTER',
      `configure unicast for instance ${ctx.instanceName}: unicast: { source: <this node's private IP>, peers: [<the other nodes' private IPs>] } (keepalived: unicast_src_ip / unicast_peer)`,
    );
  // (undefined: a provider made outside the registry does not know; no line then)
  else if (ctx.unicast) yield pass('VRRP unicast', `to ${ctx.unicast.peers.join(', ')}${ctx.unicast.source ? ` from ${ctx.unicast.source}` : ''}`);

  // ---------------------------------------------------------------- local capabilities
  const caps = (input.capabilities ?? effectiveCapabilities)();
  const needed: [bigint, string, string][] = [
    [CAP_NET_RAW, 'CAP_NET_RAW', 'the VRRP raw socket'],
    ...(mode !== 'elastic-ip' ? ([[CAP_NET_ADMIN, 'CAP_NET_ADMIN', 'adding the VIP to the interface']] as [bigint, string, string][]) : []),
  ];
  if (caps === null) yield fail('local capabilities', 'cannot read CapEff from /proc/self/status', 'run on Linux with /proc mounted');
  else {
    const missing = needed.filter(([bit]) => (caps & (1n << bit)) === 0n);
    if (missing.length === 0) yield pass('local capabilities', needed.map(([, name, why]) => `${name} (${why})`).join(', '));
    else
      yield fail(
        'local capabilities',
        `missing ${missing.map(([, name, why]) => `${name} (${why})`).join(', ')}`,
        `run the agent as root, or grant them: AmbientCapabilities=${needed.map(([, n]) => n).join(' ')} in the systemd unit (setcap cap_net_admin,cap_net_raw+ep on the node binary)`,
      );
  }
}

/** Everything that needs EC2 (and IAM with --simulate-iam). */
async function* ec2Checks(input: AwsPreflightInput, region: string, facts: InstanceFacts | null, vips: string[], source: string): AsyncGenerator<PreflightCheck> {
  const { ctx, config: cfg } = input;
  const now = input.now ?? Date.now;
  const ec2 = ec2Reader(region, cfg.endpoint, input.credentials);
  try {
    // The first DryRun read doubles as the reachability, signature and clock check.
    const reads = readActions(cfg);
    const probe = await dryRun(ec2, readCommand(reads[0]![0]));
    const where = cfg.endpoint ?? `ec2.${region}.amazonaws.com`;
    if (probe.kind === 'error') {
      yield failed('EC2 API', awsError(probe.error, reads[0]![0], `reaching EC2 at ${where}`), 'check the network path to EC2 (VPC endpoint, NAT, proxy) and provider.endpoint');
      return;
    }
    const date = ec2.lastDate();
    // The Date header has whole seconds: a clock in step reads 0..999 ms past it, plus the reply's
    // travel (which can cross a second boundary). Measured from the middle of that second.
    const skew = date === null ? null : now() - date - 500;
    const skewText = skew === null ? 'clock skew unknown (no Date header)' : Math.abs(skew) < 1000 ? 'clock skew under 1 s' : `clock skew ${Math.round(skew / 1000)} s`;
    if (skew !== null && Math.abs(skew) > MAX_SKEW_MS)
      yield fail('EC2 API', `${where} answered, signature accepted, but ${skewText} (this host ${skew > 0 ? 'ahead of' : 'behind'} EC2)`, 'fix time synchronisation (chrony with the Amazon Time Sync Service): AWS refuses requests signed more than 5 minutes off');
    else yield pass('EC2 API', `${where} answered, signature accepted, ${skewText}`);

    // ---------------------------------------------------------------- permissions
    const allowed = new Set<string>();
    for (const [action, user, without] of reads) {
      const r = action === reads[0]![0] ? probe : await dryRun(ec2, readCommand(action));
      const who = user === 'agent' ? 'the agent reads it' : 'only provider test reads it';
      if (r.kind === 'allowed') {
        allowed.add(action);
        yield pass(`permission ec2:${action}`, `allowed (DryRun; ${who})`);
      } else if (r.kind === 'denied')
        yield fail(`permission ec2:${action}`, `not allowed (DryRun: UnauthorizedOperation; ${who}) — not checked: ${without}`, `allow ec2:${action} in the IAM policy behind these credentials (${source})`);
      else yield failed(`permission ec2:${action}`, awsError(r.error, action, `DryRun ${action}`), `allow ec2:${action}`);
    }

    let sim: IamSimulation | null = null;
    const writes = writeActions(cfg);
    if (input.options?.simulateIam) {
      const actions = [...reads.filter(([, u]) => u === 'agent').map(([a]) => a), ...writes].map((a) => `ec2:${a}`);
      try {
        const creds = input.credentials;
        sim = await simulateIam(actions, {
          region,
          credentials: creds,
          ...(input.stsEndpoint ? { stsEndpoint: input.stsEndpoint } : {}),
          ...(input.iamEndpoint ? { iamEndpoint: input.iamEndpoint } : {}),
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        yield pass('IAM simulation', `iam:SimulatePrincipalPolicy for ${sim.principalArn}: ${actions.length} actions`);
      } catch (e) {
        const code = awsErrorCode(e);
        if (code === 'AccessDenied' || code === 'AccessDeniedException' || code === 'UnauthorizedOperation')
          yield fail('IAM simulation', `not permitted: ${(e as Error).message}`, 'allow iam:SimulatePrincipalPolicy (resource: this role or user) for these credentials, or run without --simulate-iam');
        else yield failed('IAM simulation', awsError(e, 'SimulatePrincipalPolicy', 'asking IAM (STS GetCallerIdentity, IAM SimulatePrincipalPolicy)'), 'check the network path to IAM and STS, or run without --simulate-iam');
      }
    }
    for (const action of writes) {
      const check = `permission ec2:${action}`;
      const decision = sim?.decisions.get(`ec2:${action}`);
      const hasDryRun = action !== 'AssignPrivateIpAddresses' && action !== 'UnassignPrivateIpAddresses';
      if (hasDryRun && facts) {
        const r = await dryRun(ec2, writeProbe(action, cfg, facts, vips));
        if (r.kind === 'allowed') yield pass(check, 'allowed (DryRun; the agent calls it to move the VIP)');
        else if (r.kind === 'denied') yield fail(check, 'not allowed (DryRun: UnauthorizedOperation): the agent could not move the VIP', `allow ec2:${action} in the IAM policy behind these credentials (${source})`);
        else yield failed(check, awsError(r.error, action, `DryRun ${action}`), `allow ec2:${action}`);
      } else if (decision === 'allowed') yield pass(check, `allowed (IAM simulation for ${sim!.principalArn}; the API has no DryRun)`);
      else if (decision)
        yield fail(check, `IAM says ${decision} for ${sim!.principalArn}: the agent could not move the VIP`, `allow ec2:${action} in the IAM policy of ${sim!.principalArn}${decision === 'explicitDeny' ? ' and remove the Deny statement that names it' : ''}`);
      else if (!hasDryRun)
        yield pass(check, `unverified: ${action} has no DryRun and is never tried here (it would move a VIP); run with --simulate-iam to ask IAM`);
    }

    if (!facts) return;
    const can = (a: string) => allowed.has(a);

    // ---------------------------------------------------------------- the ENI
    let ours: NetworkInterface | null = null;
    if (can('DescribeNetworkInterfaces')) {
      try {
        ours = (await describeEnis(ec2, { NetworkInterfaceIds: [facts.networkInterfaceId] }))[0] ?? null;
        if (!ours) throw Object.assign(new Error('not found'), { Code: 'InvalidNetworkInterfaceID.NotFound' });
        const at = ours.Attachment?.InstanceId;
        if (at !== facts.instanceId) {
          yield fail(
            'ENI',
            `${facts.networkInterfaceId} is ${at ? `attached to instance ${at}` : 'not attached to any instance'}, not to ${facts.instanceId} — not checked: the rest of the ENI checks`,
            `set provider.networkInterfaceId to an ENI of ${facts.instanceId}, or leave it out (the agent finds the interface's ENI from IMDS)`,
          );
          ours = null;
        } else
          yield pass(
            'ENI',
            `${ours.NetworkInterfaceId} attached to ${at} (device ${ours.Attachment?.DeviceIndex ?? '?'}), primary ${primaryOf(ours)}, ${addressesOf(ours).length - 1} secondary address(es), security groups ${groupsOf(ours).join(', ') || 'none'}`,
          );
      } catch (e) {
        if (awsErrorCode(e)?.startsWith('InvalidNetworkInterfaceID'))
          yield fail(
            'ENI',
            `${facts.networkInterfaceId} does not exist in ${region} — not checked: the rest of the ENI checks`,
            `provider.networkInterfaceId ${facts.networkInterfaceId} is unknown to EC2: remove it (the agent finds the interface's ENI from IMDS) or correct it`,
          );
        else yield failed('ENI', awsError(e, 'DescribeNetworkInterfaces', `reading ${facts.networkInterfaceId}`), 'see the message');
      }
    }

    // ---------------------------------------------------------------- mode-specific
    if (cfg.mode === 'secondary-ip') yield* secondaryIpChecks(ec2, facts, ours, vips, can);
    else if (cfg.mode === 'route-table') yield* routeTableChecks(ec2, cfg, facts, ours, vips, can);
    else yield* elasticIpChecks(ec2, cfg, facts, ours, vips, can);

    // ---------------------------------------------------------------- security groups
    if (ours && ctx.unicast && ctx.unicast.peers.length > 0 && can('DescribeSecurityGroups')) yield* securityGroupChecks(ec2, facts, ours, ctx.unicast);
  } catch (e) {
    yield failed('EC2 checks', awsError(e, 'Describe*', 'reading EC2'), 'see the message; run again');
  } finally {
    ec2.client.destroy();
  }
}

/** The DryRun form of a write the agent makes (same parameters, so IAM conditions apply as they would). */
function writeProbe(action: string, cfg: AwsPreflightConfig, facts: InstanceFacts, vips: string[]): Send {
  if (action === 'ReplaceRoute')
    return (c) => c.send(new ReplaceRouteCommand({ DryRun: true, RouteTableId: cfg.routeTableIds?.[0], DestinationCidrBlock: `${vips[0]}/32`, NetworkInterfaceId: facts.networkInterfaceId }));
  return (c) => c.send(new AssociateAddressCommand({
    DryRun: true,
    AllocationId: cfg.allocationId,
    NetworkInterfaceId: facts.networkInterfaceId,
    ...(cfg.privateIpAddress ? { PrivateIpAddress: cfg.privateIpAddress } : {}),
    AllowReassociation: true,
  }));
}

async function* secondaryIpChecks(ec2: Ec2Reader, facts: InstanceFacts, ours: NetworkInterface | null, vips: string[], can: (a: string) => boolean): AsyncGenerator<PreflightCheck> {
  // Who has each VIP now (primary or secondary), in our VPC.
  let holders: NetworkInterface[] | null = null;
  if (can('DescribeNetworkInterfaces'))
    holders = await describeEnis(ec2, {
      Filters: [
        { Name: 'vpc-id', Values: [facts.vpcId] },
        { Name: 'addresses.private-ip-address', Values: vips },
      ],
    });
  for (const vip of vips) {
    const check = `VIP ${vip}`;
    const holder = holders?.find((ni) => addressesOf(ni).includes(vip));
    if (!ipv4InRange(facts.subnetCidr, vip))
      yield fail(
        check,
        `outside subnet ${facts.subnetId} (${facts.subnetCidr}) of ${facts.networkInterfaceId}: EC2 cannot assign it as a secondary address`,
        `pick a VIP inside ${facts.subnetCidr} (not its first four or last address), or use mode route-table for an address outside the VPC (${facts.vpcCidrs.join(', ')})`,
      );
    else if (reservedInSubnet(facts.subnetCidr, vip))
      yield fail(check, `one of the five addresses AWS reserves in ${facts.subnetCidr} (the first four and the last)`, `pick another VIP inside ${facts.subnetCidr}`);
    else if (holder && primaryOf(holder) === vip)
      yield fail(check, `the primary private address of ${eniLabel(holder)}: a primary address never moves`, `pick a free address in ${facts.subnetCidr} as the VIP (not any ENI's primary address)`);
    else yield pass(check, `inside subnet ${facts.subnetId} (${facts.subnetCidr}), not reserved${holders ? ', not an ENI\'s primary address' : ''}`);
    if (holders) {
      if (!holder) yield pass(`holder of ${vip}`, 'nobody holds it yet (the first MASTER assigns it)');
      else if (holder.NetworkInterfaceId === facts.networkInterfaceId) yield pass(`holder of ${vip}`, `this instance (${facts.networkInterfaceId})`);
      else yield pass(`holder of ${vip}`, eniLabel(holder));
    }
  }
  if (!ours || !can('DescribeInstances') || !can('DescribeInstanceTypes')) return;
  const check = 'ENI secondary-address limit';
  const type = (await ec2.client.send(new DescribeInstancesCommand({ InstanceIds: [facts.instanceId] }))).Reservations?.[0]?.Instances?.[0]?.InstanceType;
  if (!type) return void (yield fail(check, `EC2 did not say the instance type of ${facts.instanceId}`, 'check the instance in the EC2 console'));
  const info = (await ec2.client.send(new DescribeInstanceTypesCommand({ InstanceTypes: [type as _InstanceType] }))).InstanceTypes?.[0];
  const perEni = info?.NetworkInfo?.Ipv4AddressesPerInterface;
  if (!perEni) return void (yield fail(check, `EC2 did not say how many addresses a ${type} ENI takes`, 'check the instance type'));
  const have = addressesOf(ours).filter((a) => a !== primaryOf(ours));
  const adding = vips.filter((v) => !have.includes(v)).length;
  const max = perEni - 1;
  if (have.length + adding > max)
    yield fail(
      check,
      `${ours.NetworkInterfaceId} has ${have.length} of ${max} secondary addresses (${type}: ${perEni} per ENI) and the VIPs need ${adding} more`,
      `free ${have.length + adding - max} secondary address(es) on ${ours.NetworkInterfaceId} (aws ec2 unassign-private-ip-addresses), use fewer VIPs on this ENI, or a larger instance type`,
    );
  else yield pass(check, `${have.length} of ${max} secondary addresses used (${type}: ${perEni} per ENI); the VIPs need ${adding} more`);
}

async function* routeTableChecks(ec2: Ec2Reader, cfg: AwsPreflightConfig, facts: InstanceFacts, ours: NetworkInterface | null, vips: string[], can: (a: string) => boolean): AsyncGenerator<PreflightCheck> {
  if (ours) {
    if (ours.SourceDestCheck === false) yield pass('source/dest check', `off on ${ours.NetworkInterfaceId}: it may receive traffic for the VIP`);
    else
      yield fail(
        'source/dest check',
        `on for ${ours.NetworkInterfaceId}: EC2 drops packets to the VIP, which is not one of its addresses`,
        `aws ec2 modify-network-interface-attribute --network-interface-id ${ours.NetworkInterfaceId} --no-source-dest-check (on every peer's ENI too)`,
      );
  }
  for (const vip of vips) {
    const inside = facts.vpcCidrs.find((c) => ipv4InRange(c, vip));
    if (inside)
      yield fail(`VIP ${vip}`, `inside the VPC's CIDR ${inside}: a route table cannot route an address of its own VPC elsewhere (the local route wins)`, `pick a VIP outside ${facts.vpcCidrs.join(', ')}, or use mode secondary-ip for an address inside the subnet`);
    else yield pass(`VIP ${vip}`, `outside the VPC (${facts.vpcCidrs.join(', ')})`);
  }
  if (!can('DescribeRouteTables')) return;
  const firstTargets = new Map<string, string | null>();
  for (const id of cfg.routeTableIds ?? []) {
    const check = `route table ${id}`;
    let table;
    try {
      table = (await ec2.client.send(new DescribeRouteTablesCommand({ RouteTableIds: [id] }))).RouteTables?.[0];
    } catch (e) {
      if (awsErrorCode(e)?.startsWith('InvalidRouteTableID')) {
        yield fail(check, `${id} does not exist in ${facts.region}`, `correct provider.routeTableIds: ${id} is unknown to EC2`);
        continue;
      }
      throw e;
    }
    if (!table) {
      yield fail(check, `${id} does not exist in ${facts.region}`, `correct provider.routeTableIds: ${id} is unknown to EC2`);
      continue;
    }
    if (table.VpcId !== facts.vpcId) {
      yield fail(check, `${id} belongs to ${table.VpcId}, not to this instance's ${facts.vpcId}`, `list route tables of ${facts.vpcId} in provider.routeTableIds`);
      continue;
    }
    const missing: string[] = [];
    for (const vip of vips) {
      const route = table.Routes?.find((r) => r.DestinationCidrBlock === `${vip}/32` || (r.DestinationCidrBlock?.endsWith('/32') === false && r.DestinationCidrBlock !== undefined && r.GatewayId !== 'local' && ipv4InRange(r.DestinationCidrBlock, vip)));
      if (!route) missing.push(vip);
      else if (!firstTargets.has(vip)) firstTargets.set(vip, route.NetworkInterfaceId ?? route.InstanceId ?? route.GatewayId ?? null);
    }
    if (missing.length > 0)
      yield fail(
        check,
        `no route for ${missing.map((v) => `${v}/32`).join(', ')}: ReplaceRoute can only change an existing route`,
        missing.map((v) => `aws ec2 create-route --route-table-id ${id} --destination-cidr-block ${v}/32 --network-interface-id ${facts.networkInterfaceId}`).join('; '),
      );
    else yield pass(check, `in ${facts.vpcId}, has a route for ${vips.map((v) => `${v}/32`).join(', ')}`);
  }
  for (const vip of vips) {
    if (!firstTargets.has(vip)) continue;
    const target = firstTargets.get(vip);
    yield pass(`holder of ${vip}`, target === facts.networkInterfaceId ? `this instance (the route points at ${target})` : target ? `the route points at ${target}` : 'the route points nowhere (blackhole)');
  }
}

async function* elasticIpChecks(ec2: Ec2Reader, cfg: AwsPreflightConfig, facts: InstanceFacts, ours: NetworkInterface | null, vips: string[], can: (a: string) => boolean): AsyncGenerator<PreflightCheck> {
  if (cfg.privateIpAddress && ours && !addressesOf(ours).includes(cfg.privateIpAddress))
    yield fail('private address', `provider.privateIpAddress ${cfg.privateIpAddress} is not an address of ${ours.NetworkInterfaceId} (${addressesOf(ours).join(', ')})`, `set provider.privateIpAddress to one of ${addressesOf(ours).join(', ')}, or leave it out (the primary)`);
  if (!can('DescribeAddresses') || !cfg.allocationId) return;
  const check = `Elastic IP ${cfg.allocationId}`;
  let eip;
  try {
    eip = (await ec2.client.send(new DescribeAddressesCommand({ AllocationIds: [cfg.allocationId] }))).Addresses?.[0];
  } catch (e) {
    if (!awsErrorCode(e)?.startsWith('InvalidAllocationID')) throw e;
  }
  if (!eip) return void (yield fail(check, `${cfg.allocationId} does not exist in ${facts.region}`, `correct provider.allocationId: ${cfg.allocationId} is not an Elastic IP allocation of this account and region`));
  const vip = vips[0]!;
  if (eip.PublicIp !== vip) yield fail(check, `its public IP is ${eip.PublicIp}, not the VIP ${vip}`, `set the instance's VIP to ${eip.PublicIp}, or provider.allocationId to the allocation of ${vip}`);
  else yield pass(check, `public IP ${eip.PublicIp} = the VIP`);
  const at = eip.NetworkInterfaceId;
  yield pass(`holder of ${eip.PublicIp}`, !at ? 'not associated with anything yet' : at === facts.networkInterfaceId ? `this instance (${at}, ${eip.PrivateIpAddress})` : `${at}${eip.InstanceId ? ` of instance ${eip.InstanceId}` : ''} (${eip.PrivateIpAddress})`);
}

/** Our groups must admit VRRP from each peer, each peer's groups from us; egress both ways too. */
async function* securityGroupChecks(ec2: Ec2Reader, facts: InstanceFacts, ours: NetworkInterface, unicast: { source?: string; peers: string[] }): AsyncGenerator<PreflightCheck> {
  const check = 'security groups pass VRRP';
  const self = unicast.source ?? primaryOf(ours) ?? '';
  const peerEnis = await describeEnis(ec2, {
    Filters: [
      { Name: 'vpc-id', Values: [facts.vpcId] },
      { Name: 'addresses.private-ip-address', Values: unicast.peers },
    ],
  });
  const groupIds = [...new Set([ours, ...peerEnis].flatMap(groupsOf))];
  const groups = new Map<string, SecurityGroup>();
  if (groupIds.length > 0)
    for (const g of (await ec2.client.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }))).SecurityGroups ?? []) if (g.GroupId) groups.set(g.GroupId, g);
  const rules = (ids: string[], dir: 'in' | 'out') => ids.flatMap((id) => (dir === 'in' ? groups.get(id)?.IpPermissions : groups.get(id)?.IpPermissionsEgress) ?? []);
  const ourGroups = groupsOf(ours);
  const problems: string[] = [];
  const fixes: string[] = [];
  const allow = (sgs: string[], dir: 'in' | 'out', ip: string) => {
    const g = sgs[0] ?? '(none)';
    fixes.push(
      `aws ec2 authorize-security-group-${dir === 'in' ? 'ingress' : 'egress'} --group-id ${g} --ip-permissions 'IpProtocol=112,IpRanges=[{CidrIp=${ip}/32}]' (protocol 112 = VRRP; or allow the peers' security group)`,
    );
  };
  for (const peer of unicast.peers) {
    const ni = peerEnis.find((n) => addressesOf(n).includes(peer));
    if (!ni) {
      problems.push(`peer ${peer} is no ENI address in ${facts.vpcId}`);
      fixes.push(`unicast peers must be the other nodes' private addresses in ${facts.vpcId}: correct ${peer}`);
      continue;
    }
    const theirs = groupsOf(ni);
    if (!admitsVrrp(rules(ourGroups, 'in'), peer, theirs)) {
      problems.push(`${ourGroups.join(', ') || 'no group'} on ${ours.NetworkInterfaceId} (this node) admits no IP protocol 112 from ${peer}`);
      allow(ourGroups, 'in', peer);
    }
    if (!admitsVrrp(rules(theirs, 'in'), self, ourGroups)) {
      problems.push(`${theirs.join(', ') || 'no group'} on ${ni.NetworkInterfaceId} (peer ${peer}) admits no IP protocol 112 from ${self}`);
      allow(theirs, 'in', self);
    }
    if (!admitsVrrp(rules(ourGroups, 'out'), peer, theirs)) {
      problems.push(`${ourGroups.join(', ') || 'no group'} on ${ours.NetworkInterfaceId} lets no IP protocol 112 out to ${peer}`);
      allow(ourGroups, 'out', peer);
    }
    if (!admitsVrrp(rules(theirs, 'out'), self, ourGroups)) {
      problems.push(`${theirs.join(', ') || 'no group'} on ${ni.NetworkInterfaceId} lets no IP protocol 112 out to ${self}`);
      allow(theirs, 'out', self);
    }
  }
  if (problems.length > 0) yield fail(check, problems.join('; '), fixes.join('; '));
  else yield pass(check, `IP protocol 112 admitted both ways between ${self} (${ourGroups.join(', ')}) and ${unicast.peers.join(', ')}`);
}

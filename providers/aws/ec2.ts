// The EC2 calls the aws provider makes, through @aws-sdk/client-ec2, each exactly one HTTP request
// (maxAttempts 1: the runner owns retries and backoff, so "EC2 calls per failover" is what it says)
// and each bounded by the caller's AbortSignal. Credentials come from the SDK's default chain (env,
// profile, the instance role through IMDSv2). Failures are ProviderErrors (errors.ts).
//
//   secondary-ip: assign / unassign / holders (DescribeNetworkInterfaces).
//   route-table:  replaceRoute / routeTargets (DescribeRouteTables, one read for every table).
//   elastic-ip:   associateAddress / addressHolder (DescribeAddresses).
// `sdk` is the client itself, for read-only checks made elsewhere (preflight); calls made through it
// are not counted in `calls`.
import {
  AssignPrivateIpAddressesCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ReplaceRouteCommand,
  UnassignPrivateIpAddressesCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { awsError } from './errors.js';

export interface Ec2Options {
  region: string;
  /** Default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL, else the region's public endpoint. */
  endpoint?: string;
  /** Per request (connect and answer). */
  timeoutMs: number;
  /** Default: the SDK's own default chain (tests); the provider passes credentials.ts's chain. */
  credentials?: AwsCredentialIdentityProvider;
}

/** Who holds an address in the VPC: the ENI id, or null when no ENI has it. */
export type Holders = Map<string, string | null>;

/**
 * Where one route table sends one destination. `missing`: the table has no route for it (ReplaceRoute
 * cannot create one: `aws ec2 create-route` must, once). Otherwise `eni` is the ENI the route targets
 * (null: a gateway, NAT, peering… target, or none) and `active` false for a blackhole route (its ENI
 * is detached, or its instance stopped).
 */
export interface RouteTarget {
  missing: boolean;
  eni: string | null;
  active: boolean;
}

/** routeTargets()'s answer: route table id → destination (as asked, e.g. "203.0.113.10/32") → target. */
export type RouteTargets = Map<string, Map<string, RouteTarget>>;

/** Who an Elastic IP is associated with now (both null when it is not associated). */
export interface AddressHolder {
  publicIp: string;
  networkInterfaceId: string | null;
  privateIpAddress: string | null;
}

export class Ec2 {
  private readonly client: EC2Client;
  /** Requests made (for `provider test` and the benchmarks: calls per failover, per hour). */
  calls = 0;
  /** When rehearseAssign last ran (performance.now()); null: never. */
  private rehearsedAt: number | null = null;

  constructor(opts: Ec2Options) {
    this.client = new EC2Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      maxAttempts: 1,
      // throwOnRequestTimeout: without it @smithy/node-http-handler ≥ 4.x only WARNS (on stderr) when
      // requestTimeout passes, and a hung request runs on until the operation deadline.
      requestHandler: { connectionTimeout: opts.timeoutMs, requestTimeout: opts.timeoutMs, throwOnRequestTimeout: true },
    });
  }

  /** AssignPrivateIpAddresses with AllowReassignment: every address in one call (all or nothing). */
  async assign(eni: string, addresses: readonly string[], signal: AbortSignal): Promise<void> {
    await this.send('AssignPrivateIpAddresses', `assigning ${addresses.join(', ')} to ${eni}`, signal, () =>
      this.client.send(assignCommand(eni, addresses), { abortSignal: signal }),
    );
  }

  /**
   * The assign a failover will send, run through the client's whole middleware stack (serialise,
   * endpoint, credentials, SigV4) and stopped just before the HTTP handler: NOTHING is sent and no
   * call is counted. A BACKUP asks for it after every verify, so that path's code is compiled and
   * stays compiled (V8 flushes the bytecode of functions left unused for long) before a takeover
   * needs it: the first time REHEARSALS_FIRST runs in a row (enough for V8's baseline compiler to
   * take the functions), then at most one per REHEARSE_EVERY_MS for this client, whatever the number
   * of instances asking. Measured in-process, the assign's SDK path up to the socket: 6.7 ms with
   * none, 2.2 ms after one, 1.8 ms after eight.
   */
  async rehearseAssign(eni: string, addresses: readonly string[], now: number = performance.now()): Promise<void> {
    if (this.rehearsedAt !== null && now - this.rehearsedAt < REHEARSE_EVERY_MS) return;
    const runs = this.rehearsedAt === null ? REHEARSALS_FIRST : 1;
    this.rehearsedAt = now;
    for (let i = 0; i < runs; i++) {
      const command = assignCommand(eni, addresses);
      command.middlewareStack.add(
        () => async () => {
          throw REHEARSED;
        },
        { step: 'deserialize', priority: 'low', name: 'haAgentRehearsal' },
      );
      await this.client.send(command, { abortSignal: new AbortController().signal }).catch((e: unknown) => {
        if (e !== REHEARSED) throw e;
      });
    }
  }

  async unassign(eni: string, addresses: readonly string[], signal: AbortSignal): Promise<void> {
    await this.send('UnassignPrivateIpAddresses', `unassigning ${addresses.join(', ')} from ${eni}`, signal, () =>
      this.client.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: [...addresses] }), { abortSignal: signal }),
    );
  }

  /**
   * One DescribeNetworkInterfaces for every address given (filtered by address, within the VPC):
   * which ENI holds each, or null. Secondary and primary addresses alike.
   */
  async holders(vpcId: string, addresses: readonly string[], signal: AbortSignal): Promise<Holders> {
    const wanted = new Set(addresses);
    const out: Holders = new Map(addresses.map((a) => [a, null]));
    let token: string | undefined;
    do {
      const page = await this.send('DescribeNetworkInterfaces', `reading who holds ${addresses.join(', ')}`, signal, () =>
        this.client.send(
          new DescribeNetworkInterfacesCommand({
            Filters: [
              { Name: 'vpc-id', Values: [vpcId] },
              { Name: 'addresses.private-ip-address', Values: [...wanted] },
            ],
            ...(token ? { NextToken: token } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      for (const ni of page.NetworkInterfaces ?? []) for (const a of addressesOf(ni)) if (wanted.has(a) && ni.NetworkInterfaceId) out.set(a, ni.NetworkInterfaceId);
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** The SDK client, for read-only calls made elsewhere (not counted in `calls`). */
  get sdk(): EC2Client {
    return this.client;
  }

  /** ReplaceRoute: `destinationCidr` in the table now goes to `eni` (the route must exist). */
  async replaceRoute(routeTableId: string, destinationCidr: string, eni: string, signal: AbortSignal): Promise<void> {
    await this.send('ReplaceRoute', `routing ${destinationCidr} in ${routeTableId} to ${eni}`, signal, () =>
      this.client.send(new ReplaceRouteCommand({ RouteTableId: routeTableId, DestinationCidrBlock: destinationCidr, NetworkInterfaceId: eni }), { abortSignal: signal }),
    );
  }

  /**
   * One DescribeRouteTables (filtered by table id; more only when EC2 pages) answering every table
   * and destination. A table EC2 does not list is an error (permanent, as InvalidRouteTableID.NotFound).
   */
  async routeTargets(routeTableIds: readonly string[], destinations: readonly string[], signal: AbortSignal): Promise<RouteTargets> {
    const what = `reading the routes for ${destinations.join(', ')} in ${routeTableIds.join(', ')}`;
    const found = new Map<string, Map<string, RouteTarget>>();
    let token: string | undefined;
    do {
      const page = await this.send('DescribeRouteTables', what, signal, () =>
        this.client.send(
          new DescribeRouteTablesCommand({ Filters: [{ Name: 'route-table-id', Values: [...routeTableIds] }], ...(token ? { NextToken: token } : {}) }),
          { abortSignal: signal },
        ),
      );
      for (const table of page.RouteTables ?? []) {
        if (!table.RouteTableId) continue;
        const byDest = new Map<string, RouteTarget>();
        for (const d of destinations) {
          const route = (table.Routes ?? []).find((r) => r.DestinationCidrBlock === d);
          byDest.set(d, route ? { missing: false, eni: route.NetworkInterfaceId ?? null, active: route.State !== 'blackhole' } : { missing: true, eni: null, active: false });
        }
        found.set(table.RouteTableId, byDest);
      }
      token = page.NextToken;
    } while (token);
    const out: RouteTargets = new Map();
    for (const id of routeTableIds) {
      const t = found.get(id);
      if (!t) throw awsError({ name: 'InvalidRouteTableID.NotFound', message: `The routeTable ID '${id}' does not exist`, $fault: 'client' }, 'DescribeRouteTables', what);
      out.set(id, t);
    }
    return out;
  }

  /** AssociateAddress with AllowReassociation: the Elastic IP now maps to `privateIp` on `eni`. */
  async associateAddress(allocationId: string, eni: string, privateIp: string, signal: AbortSignal): Promise<void> {
    await this.send('AssociateAddress', `associating ${allocationId} with ${privateIp} on ${eni}`, signal, () =>
      this.client.send(new AssociateAddressCommand({ AllocationId: allocationId, NetworkInterfaceId: eni, PrivateIpAddress: privateIp, AllowReassociation: true }), { abortSignal: signal }),
    );
  }

  /** One DescribeAddresses: the Elastic IP's public address and where it is associated. */
  async addressHolder(allocationId: string, signal: AbortSignal): Promise<AddressHolder> {
    const what = `reading where ${allocationId} is associated`;
    const r = await this.send('DescribeAddresses', what, signal, () => this.client.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }), { abortSignal: signal }));
    const a = (r.Addresses ?? []).find((x) => x.AllocationId === allocationId);
    if (!a?.PublicIp) throw awsError({ name: 'InvalidAllocationID.NotFound', message: `The allocation ID '${allocationId}' does not exist`, $fault: 'client' }, 'DescribeAddresses', what);
    return { publicIp: a.PublicIp, networkInterfaceId: a.NetworkInterfaceId ?? null, privateIpAddress: a.NetworkInterfaceId ? (a.PrivateIpAddress ?? null) : null };
  }

  private async send<T>(action: string, what: string, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    signal.throwIfAborted();
    this.calls++;
    try {
      return await call();
    } catch (e) {
      throw awsError(e, action, what);
    }
  }
}

/** rehearseAssign: runs the first time, and then at most one per this period. */
const REHEARSALS_FIRST = 8;
const REHEARSE_EVERY_MS = 60_000;

/** Thrown by the rehearsal's last middleware instead of sending. */
const REHEARSED = new Error('rehearsal: stopped before sending');

function assignCommand(eni: string, addresses: readonly string[]): AssignPrivateIpAddressesCommand {
  return new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: [...addresses], AllowReassignment: true });
}

function addressesOf(ni: NetworkInterface): string[] {
  return (ni.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress).filter((a): a is string => typeof a === 'string');
}

// The EC2 calls the aws provider makes, through @aws-sdk/client-ec2, each exactly one HTTP request
// (maxAttempts 1: the runner owns retries and backoff, so "EC2 calls per failover" is what it says)
// and each bounded by the caller's AbortSignal. Credentials come from the SDK's default chain (env,
// profile, the instance role through IMDSv2). Failures are ProviderErrors (errors.ts).
import {
  AssignPrivateIpAddressesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
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

export class Ec2 {
  private readonly client: EC2Client;
  /** Requests made (for `provider test` and the benchmarks: calls per failover, per hour). */
  calls = 0;

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
      this.client.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: [...addresses], AllowReassignment: true }), { abortSignal: signal }),
    );
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

function addressesOf(ni: NetworkInterface): string[] {
  return (ni.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress).filter((a): a is string => typeof a === 'string');
}

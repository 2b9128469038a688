// The test side of fixtures/aws-cloud-child.ts: starts "AWS" (the EC2 emulator and one IMDSv2
// emulator per instance, one shared state) inside a lab node's namespace, listening on that node's
// lab address, and drives it (faults, permissions, key rotation, who holds what) over JSON lines.
// The agents in the other namespaces reach it through the lab bridge; nothing leaves the lab.
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import { JsonLineChild } from './json-line-child.js';
import type { World, WorldInstance } from './fixtures/aws-cloud-child.js';

export type { World, WorldInstance };


/** The key the agents use unless a test gives them an instance role. */
export const AGENT_KEY = { accessKeyId: 'AKIDLABAGENT00000001', secretAccessKey: 'labAgentSecret000000000000000000000000000' };

export interface CloudIds {
  [node: string]: unknown;
  vpcId: string;
  subnetId: string;
  routeTableIds: string[];
  allocationIds: string[];
  securityGroups: { vrrp: string; plain: string };
}

export interface Snapshot {
  /** ENI id → [primary, ...secondaries]. */
  enis: Record<string, string[]>;
  /** Route table id → destination → target (ENI id, gateway, or null). */
  routes: Record<string, Record<string, string | null>>;
  /** Allocation id → where it is associated. */
  eips: Record<string, { eni: string | null; privateIp: string | null }>;
}

export interface CloudCall {
  action: string;
  /** Wall-clock ms when the request arrived. */
  at: number;
  /** The caller's address (a lab node's). */
  from: string | null;
  accessKeyId: string | null;
  status: number | null;
  /** The error code sent, if any. */
  code: string | null;
}

interface Ready {
  ec2: string;
  iam: string;
  imds: Record<string, string>;
  ids: CloudIds;
}

export class AwsCloud {
  ec2Url = '';
  /** IAM and STS (one emulator): for --simulate-iam, through AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL_STS. */
  iamUrl = '';
  imdsUrl: Record<string, string> = {};
  ids!: CloudIds;

  private constructor(private readonly child: JsonLineChild) {}

  /** Starts the cloud in `node`'s namespace, listening on its lab address. */
  static async start(lab: Lab, node: string, world: Omit<World, 'host'> & { host?: string }): Promise<AwsCloud> {
    const full: World = { host: lab.node(node).ip, ...world };
    const { child, ready } = await JsonLineChild.start<Ready>(lab, node, 'aws-cloud-child', JSON.stringify(full), 'aws cloud');
    const cloud = new AwsCloud(child);
    cloud.ec2Url = ready.ec2;
    cloud.iamUrl = ready.iam;
    cloud.imdsUrl = ready.imds;
    cloud.ids = ready.ids;
    return cloud;
  }

  /** The instance and ENI ids of a lab node's instance. */
  instance(node: string): { instanceId: string; eni: string } {
    const v = this.ids[node] as { instanceId: string; eni: string } | undefined;
    assert.ok(v, `no instance for ${node}`);
    return v;
  }

  call<T = unknown>(cmd: string, extra: object = {}): Promise<T> {
    return this.child.call<T>(cmd, extra);
  }

  snapshot(): Promise<Snapshot> {
    return this.call<Snapshot>('holders');
  }

  calls(since = 0): Promise<CloudCall[]> {
    return this.call<CloudCall[]>('calls', { since });
  }

  /** The ENI that holds `ip` as a private address, or null. */
  async holderOf(ip: string): Promise<string | null> {
    const s = await this.snapshot();
    return Object.entries(s.enis).find(([, ips]) => ips.includes(ip))?.[0] ?? null;
  }

  close(): Promise<void> {
    return this.child.close();
  }
}

// The test side of fixtures/alibaba-cloud-child.ts: starts "Alibaba Cloud" (the VPC API emulator, one
// ECS metadata emulator per instance, one shared VpcState, and the ARP watcher that picks the HaVip's
// master from gratuitous ARP on the lab segment) inside a lab node's namespace, listening on that
// node's lab address, and drives it (faults, permissions, key rotation, HaVip state, admin
// association) over JSON lines. The agents in the other namespaces reach it through the lab bridge;
// nothing leaves the lab.
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/lab.js';
import { JsonLineChild } from './json-line-child.js';
import type { CloudIds, World, WorldInstance } from './fixtures/alibaba-cloud-child.js';

export type { CloudIds, World, WorldInstance };


/** The key the agents use unless a test gives them a RAM role. */
export const ALIBABA_AGENT_KEY = { accessKeyId: 'LTAI5tLABAGENT0000001', accessKeySecret: 'labAgentAlibabaSecret00000000000' };

export interface HaVipSnapshot {
  haVipId: string;
  ipAddress: string;
  status: string;
  /** "" while no instance has claimed the address. */
  masterInstanceId: string;
  associatedInstances: string[];
}

export interface AlibabaCloudCall {
  action: string;
  /** Wall-clock ms when the request arrived. */
  at: number;
  /** The caller's address (a lab node's). */
  from: string | null;
  accessKeyId: string | null;
  status: number | null;
  code: string | null;
}

export interface SeenGarp {
  senderMac: string;
  senderIp: string;
  at: number;
  /** The lab node whose instance has that MAC, or null. */
  instance: string | null;
  /** HaVip ids whose master it set; empty when ignored. */
  taken: string[];
}

interface Ready {
  vpc: string;
  endpoint: string;
  metadata: Record<string, string>;
  ids: CloudIds;
}

export class AlibabaCloud {
  /** http://host:port of the VPC API. */
  vpcUrl = '';
  /** host:port, the SDK Config's `endpoint` (protocol 'http'). */
  endpoint = '';
  metadataUrl: Record<string, string> = {};
  ids!: CloudIds;

  private constructor(private readonly child: JsonLineChild) {}

  /** Starts the cloud in `node`'s namespace, on its lab address, watching its lab interface for ARP. */
  static async start(lab: Lab, node: string, world: Omit<World, 'host' | 'ifname'> & { host?: string; ifname?: string }): Promise<AlibabaCloud> {
    const full: World = { host: lab.node(node).ip, ifname: lab.node(node).ifname, ...world };
    const { child, ready } = await JsonLineChild.start<Ready>(lab, node, 'alibaba-cloud-child', JSON.stringify(full), 'alibaba cloud');
    const cloud = new AlibabaCloud(child);
    cloud.vpcUrl = ready.vpc;
    cloud.endpoint = ready.endpoint;
    cloud.metadataUrl = ready.metadata;
    cloud.ids = ready.ids;
    return cloud;
  }

  /** The ECS instance id of a lab node's instance. */
  instanceId(node: string): string {
    const v = this.ids[node] as { instanceId: string } | undefined;
    assert.ok(v, `no instance for ${node}`);
    return v.instanceId;
  }

  /** Sends a command; rejects with the child's error (e.g. a §3.5 code for associate/unassociate). */
  call<T = unknown>(cmd: string, extra: object = {}): Promise<T> {
    return this.child.call<T>(cmd, extra);
  }

  havip(): Promise<HaVipSnapshot> {
    return this.call<HaVipSnapshot>('havip');
  }

  calls(since = 0): Promise<AlibabaCloudCall[]> {
    return this.call<AlibabaCloudCall[]>('calls', { since });
  }

  /** Gratuitous ARPs for the HaVip address the cloud has seen on the segment. */
  garps(since = 0): Promise<SeenGarp[]> {
    return this.call<SeenGarp[]>('arps', { since });
  }

  /** The lab node whose instance is MasterInstanceId, or null. */
  async masterNode(): Promise<string | null> {
    const s = await this.havip();
    return Object.entries(this.ids).find(([, v]) => (v as { instanceId?: string }).instanceId === s.masterInstanceId && s.masterInstanceId !== '')?.[0] ?? null;
  }

  close(): Promise<void> {
    return this.child.close();
  }
}

// The test side of fixtures/alibaba-cloud-child.ts: starts "Alibaba Cloud" (the VPC API emulator, one
// ECS metadata emulator per instance, one shared VpcState, and the ARP watcher that picks the HaVip's
// master from gratuitous ARP on the lab segment) inside a lab node's namespace, listening on that
// node's lab address, and drives it (faults, permissions, key rotation, HaVip state, admin
// association) over JSON lines. The agents in the other namespaces reach it through the lab bridge;
// nothing leaves the lab.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import type { CloudIds, World, WorldInstance } from './fixtures/alibaba-cloud-child.js';

export type { CloudIds, World, WorldInstance };

const here = dirname(fileURLToPath(import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');
const childScript = join(here, 'fixtures', runningTs ? 'alibaba-cloud-child.ts' : 'alibaba-cloud-child.js');
const childArgs = runningTs ? ['--import', import.meta.resolve('tsx')] : [];

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

interface Reply {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  ready?: boolean;
  vpc?: string;
  endpoint?: string;
  metadata?: Record<string, string>;
  ids?: CloudIds;
}

export class AlibabaCloud {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private stderr = '';
  /** http://host:port of the VPC API. */
  vpcUrl = '';
  /** host:port, the SDK Config's `endpoint` (protocol 'http'). */
  endpoint = '';
  metadataUrl: Record<string, string> = {};
  ids!: CloudIds;

  private constructor(private readonly proc: ChildProcess) {}

  /** Starts the cloud in `node`'s namespace, on its lab address, watching its lab interface for ARP. */
  static async start(lab: Lab, node: string, world: Omit<World, 'host' | 'ifname'> & { host?: string; ifname?: string }): Promise<AlibabaCloud> {
    const full: World = { host: lab.node(node).ip, ifname: lab.node(node).ifname, ...world };
    const proc = lab.spawn(node, [process.execPath, ...childArgs, childScript, JSON.stringify(full)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const cloud = new AlibabaCloud(proc);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (cloud.stderr += d));
    const ready = new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`alibaba cloud did not start: ${cloud.stderr}`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`alibaba cloud exited (${code}): ${cloud.stderr}`)));
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as Reply;
        if (msg.ready) {
          clearTimeout(t);
          return resolve(msg);
        }
        if (msg.id !== undefined) {
          cloud.waiting.get(msg.id)?.(msg);
          cloud.waiting.delete(msg.id);
        }
      });
    });
    const r = await ready;
    cloud.vpcUrl = r.vpc!;
    cloud.endpoint = r.endpoint!;
    cloud.metadataUrl = r.metadata!;
    cloud.ids = r.ids!;
    return cloud;
  }

  /** The ECS instance id of a lab node's instance. */
  instanceId(node: string): string {
    const v = this.ids[node] as { instanceId: string } | undefined;
    assert.ok(v, `no instance for ${node}`);
    return v.instanceId;
  }

  /** Sends a command; rejects with the child's error (e.g. a §3.5 code for associate/unassociate). */
  async call<T = unknown>(cmd: string, extra: object = {}): Promise<T> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, resolve);
      const t = setTimeout(() => reject(new Error(`alibaba cloud: ${cmd} timed out; stderr: ${this.stderr}`)), 10_000);
      t.unref();
    });
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...extra }) + '\n');
    const r = await reply;
    if (!r.ok) throw new Error(`alibaba cloud: ${cmd} failed: ${r.error}`);
    return r.value as T;
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

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin!.write(JSON.stringify({ id: ++this.seq, cmd: 'exit' }) + '\n');
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

// The test side of fixtures/aws-cloud-child.ts: starts "AWS" (the EC2 emulator and one IMDSv2
// emulator per instance, one shared state) inside a lab node's namespace, listening on that node's
// lab address, and drives it (faults, permissions, key rotation, who holds what) over JSON lines.
// The agents in the other namespaces reach it through the lab bridge; nothing leaves the lab.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import type { World, WorldInstance } from './fixtures/aws-cloud-child.js';

export type { World, WorldInstance };

const here = dirname(fileURLToPath(import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');
const childScript = join(here, 'fixtures', runningTs ? 'aws-cloud-child.ts' : 'aws-cloud-child.js');
const childArgs = runningTs ? ['--import', import.meta.resolve('tsx')] : [];

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

interface Reply {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  ready?: boolean;
  ec2?: string;
  iam?: string;
  imds?: Record<string, string>;
  ids?: CloudIds;
}

export class AwsCloud {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private stderr = '';
  ec2Url = '';
  /** IAM and STS (one emulator): for --simulate-iam, through AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL_STS. */
  iamUrl = '';
  imdsUrl: Record<string, string> = {};
  ids!: CloudIds;

  private constructor(private readonly proc: ChildProcess) {}

  /** Starts the cloud in `node`'s namespace, listening on its lab address. */
  static async start(lab: Lab, node: string, world: Omit<World, 'host'> & { host?: string }): Promise<AwsCloud> {
    const full: World = { host: lab.node(node).ip, ...world };
    const proc = lab.spawn(node, [process.execPath, ...childArgs, childScript, JSON.stringify(full)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const cloud = new AwsCloud(proc);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (cloud.stderr += d));
    const ready = new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`aws cloud did not start: ${cloud.stderr}`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`aws cloud exited (${code}): ${cloud.stderr}`)));
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
    cloud.ec2Url = r.ec2!;
    cloud.iamUrl = r.iam!;
    cloud.imdsUrl = r.imds!;
    cloud.ids = r.ids!;
    return cloud;
  }

  /** The instance and ENI ids of a lab node's instance. */
  instance(node: string): { instanceId: string; eni: string } {
    const v = this.ids[node] as { instanceId: string; eni: string } | undefined;
    assert.ok(v, `no instance for ${node}`);
    return v;
  }

  async call<T = unknown>(cmd: string, extra: object = {}): Promise<T> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, resolve);
      const t = setTimeout(() => reject(new Error(`aws cloud: ${cmd} timed out; stderr: ${this.stderr}`)), 10_000);
      t.unref();
    });
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...extra }) + '\n');
    const r = await reply;
    assert.ok(r.ok, `aws cloud: ${cmd} failed: ${r.error}`);
    return r.value as T;
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

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin!.write(JSON.stringify({ id: ++this.seq, cmd: 'exit' }) + '\n');
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

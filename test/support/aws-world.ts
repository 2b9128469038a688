// The in-process world the aws provider's unit tests share: one EC2 state (on a fake clock) behind the
// EC2 emulator, two instances A (198.51.100.10, the peer) and B (198.51.100.11, the node under test,
// whose IMDS is served), environment keys for the real SDK clients (AWS_EC2_METADATA_DISABLED set, so
// nothing probes a real metadata address), and everything torn down afterwards. Each mode's test adds
// its own resources (a second subnet, route tables, Elastic IPs) through `extra`, before the servers
// start; fakeLocal() stands in for the interface's addresses.
import assert from 'node:assert/strict';
import pino from 'pino';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator, type Ec2Emulator } from '../emulators/aws/ec2-server.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/aws/imds.js';
import type { LocalAddresses } from '../../providers/aws/local-addresses.js';
import type { ProviderContext, ProviderTiming } from '../../src/provider/types.js';
import { ProviderError } from '../../src/provider/errors.js';

export const AWS_TEST_KEY = { accessKeyId: 'AKIDEXAMPLE00000001', secretAccessKey: 'secretExample0000000000000000000000000000' };

export const AWS_TEST_TIMING: ProviderTiming = {
  operationTimeoutMs: 10_000,
  confirmTimeoutMs: 6_000,
  reconcileMs: 30_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  faultAfterMs: 20_000,
};

export interface AwsNode {
  instanceId: string;
  eni: string;
  mac: string;
}

export interface AwsWorld {
  state: Ec2State;
  clock: { t: number };
  ec2: Ec2Emulator;
  imds: ImdsEmulator;
  a: AwsNode;
  b: AwsNode;
}

type InstanceExtra = { secondaryIps?: string[] };

export interface AwsWorldOptions<X> {
  /** Delay before a moved secondary address shows (default 0). */
  remapDelayMs?: number;
  /** The subnet of A and B (default the whole VPC, 198.51.100.0/24). */
  subnetCidr?: string;
  a?: InstanceExtra;
  b?: InstanceExtra;
  /** The mode's own resources; its result is merged into the world. */
  extra?: (state: Ec2State, made: { vpcId: string; subnetId: string; a: AwsNode; b: AwsNode }) => X;
}

const node = (made: ReturnType<Ec2State['addInstance']>): AwsNode => ({ instanceId: made.instance.instanceId, eni: made.eni.networkInterfaceId, mac: made.eni.macAddress });

/** Builds the world, runs `fn` in it, and tears it down (servers closed, environment restored). */
export async function withAwsWorld<X extends object = object>(opts: AwsWorldOptions<X>, fn: (w: AwsWorld & X) => Promise<void>): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: AWS_TEST_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_TEST_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const clock = { t: Date.parse('2026-12-02T12:00:00Z') };
  const state = new Ec2State({ region: 'eu-west-1', now: () => clock.t, remapDelayMs: opts.remapDelayMs ?? 0 });
  const vpc = state.addVpc({ cidrs: ['198.51.100.0/24'] });
  const subnet = state.addSubnet({ vpcId: vpc.vpcId, cidr: opts.subnetCidr ?? '198.51.100.0/24', availabilityZone: 'eu-west-1a' });
  const a = node(state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.10', ...opts.a }));
  const b = node(state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.11', ...opts.b }));
  const extra = opts.extra ? opts.extra(state, { vpcId: vpc.vpcId, subnetId: subnet.subnetId, a, b }) : ({} as X);
  const ec2 = await startEc2Emulator({ state, credentials: [AWS_TEST_KEY] });
  const imds = await startImdsEmulator({ view: state.imdsView(b.instanceId) });
  try {
    await fn({ state, clock, ec2, imds, a, b, ...extra });
  } finally {
    await ec2.close();
    await imds.close();
    process.env = saved;
  }
}

/** The interface's addresses as a set (B's own address on it). */
export function fakeLocal(): LocalAddresses & { set: Set<string> } {
  const set = new Set<string>(['198.51.100.11']);
  return {
    set,
    add: async (cidr) => void set.add(cidr.split('/')[0]!),
    remove: async (addresses) => addresses.forEach((a) => set.delete(a)),
    present: async () => set,
  };
}

export const silentLog = pino({ level: 'silent' });

/** A ProviderContext for instance VI_1 on eth0 with these VIPs. */
export function testContext(vips: string[], timing: ProviderTiming = AWS_TEST_TIMING): ProviderContext {
  return { instanceName: 'VI_1', interface: 'eth0', vips, garp: { repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 5 }, timing, log: silentLog };
}

/** The EC2 actions the emulator received, from call index `from`. */
export const ec2Calls = (w: AwsWorld, from = 0): string[] => w.ec2.calls.slice(from).map((c) => c.action);

export const signal = (): AbortSignal => new AbortController().signal;

/** The ProviderError `p` rejects with (fails the test if it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ProviderError, String(e));
  return e;
}

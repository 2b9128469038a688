// An in-process Alibaba Cloud for the alibaba provider's unit tests: the VPC emulator (VpcState +
// HTTP server, ACS3 verified) and one ECS metadata emulator per instance (hardened mode, a RAM role
// whose STS keys the VPC emulator accepts), on loopback only; a fake local part (the garp provider's
// job: VIP on the interface + GARP) whose "GARP" calls the VPC state's announce(mac, ip) hook, the
// direct stand-in for ARP; and providers built exactly as index.ts builds them (EcsMetadata →
// credentialChain → asCredential → VpcApi with the REAL @alicloud/vpc20160428 client).
// The VPC state runs on a fake clock that the confirm loop's injected sleep advances, so a
// masterDelayMs or an associateDelayMs elapses without real waiting.
import { pino } from 'pino';
import { VpcState } from '../emulators/alibaba/vpc-state.js';
import { startVpcEmulator, type VpcCredential, type VpcEmulator } from '../emulators/alibaba/vpc-server.js';
import { startMetadataEmulator, type MetadataEmulator } from '../emulators/alibaba/metadata.js';
import type { PreflightCheck, ProviderContext, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { KEEPALIVED_GARP_DEFAULTS } from '../../src/net/garp.js';
import { EcsMetadata } from '../../providers/alibaba/metadata.js';
import { asCredential, credentialChain, type CredentialChain } from '../../providers/alibaba/credentials.js';
import { VpcApi } from '../../providers/alibaba/vpc.js';
import { HaVipProvider } from '../../providers/alibaba/havip.js';
import { ALIBABA_TIMING, type AlibabaProviderConfig } from '../../providers/alibaba/index.js';

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = 'true';

export const REGION = 'cn-hangzhou';
export const HAVIP_IP = '198.51.100.100';
export const VIP = `${HAVIP_IP}/24`;
export const MAC_A = '00:16:3e:00:00:0a';
export const MAC_B = '00:16:3e:00:00:0b';
export const ROLE = 'HaAgentRole';
export const STS: VpcCredential = { accessKeyId: 'STS.NTexampleEcsRoleAK', accessKeySecret: 'ecsRoleSecretExample', securityToken: 'CAISecsRoleTokenExample' };
export const KEY: VpcCredential = { accessKeyId: 'LTAI5tEXAMPLEAKID0001', accessKeySecret: 'exampleSecretForTheEmulator000001' };

export class FakeClock {
  t = 1_800_000_000_000;
  now = (): number => this.t;
  /** Sleeps the confirm / associate loops asked for, in order. */
  readonly waits: number[] = [];
  sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
    signal.throwIfAborted();
    this.waits.push(ms);
    this.t += ms;
  };
}

/** The garp provider's part, faked: present/absent, and each acquire is a GARP burst the VPC sees. */
export class FakeLocal implements VipProvider {
  readonly type = 'garp';
  present = false;
  acquires = 0;
  releases = 0;
  readonly announced: string[] = [];
  /** What a "GARP" does (default: the VPC state's ARP hook for this instance's MAC). */
  constructor(private readonly garp: () => void) {}
  async acquire(): Promise<void> {
    this.present = true;
    this.acquires++;
    this.garp();
  }
  async release(): Promise<void> {
    this.present = false;
    this.releases++;
  }
  async verify(): Promise<VipOwnership> {
    return { [VIP]: this.present ? 'held' : 'not-held' };
  }
  async *preflight(): AsyncIterable<PreflightCheck> {
    yield { check: 'interface eth0', ok: true, detail: 'fake local part' };
  }
  announce(reason: 'lower-priority' | 'refresh'): void {
    this.announced.push(reason);
  }
}

export interface Node {
  instanceId: string;
  mac: string;
  metadata: MetadataEmulator;
}

export interface AlibabaWorld {
  clock: FakeClock;
  state: VpcState;
  vpc: VpcEmulator;
  vSwitchId: string;
  otherVSwitchId: string;
  haVipId: string;
  a: Node;
  b: Node;
  close(): Promise<void>;
}

export async function alibabaWorld(opts: { associated?: 'both' | 'b-only' | 'none'; master?: 'a' | 'b' | ''; masterDelayMs?: number; associateDelayMs?: number; ip?: string } = {}): Promise<AlibabaWorld> {
  const clock = new FakeClock();
  const state = new VpcState({ regionId: REGION, now: clock.now, masterDelayMs: opts.masterDelayMs ?? 0, associateDelayMs: opts.associateDelayMs ?? 0 });
  const vpc = state.addVpc({ cidr: '198.51.100.0/24' });
  const sw = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.0/25' });
  const sw2 = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.128/25' });
  const a = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC_A, privateIp: '198.51.100.11' }).instanceId;
  const b = state.addInstance({ vSwitchId: sw.vSwitchId, mac: MAC_B, privateIp: '198.51.100.12' }).instanceId;
  const assoc = opts.associated ?? 'both';
  const associated = assoc === 'both' ? [a, b] : assoc === 'b-only' ? [b] : [];
  const master = opts.master === 'a' ? a : opts.master === 'b' ? b : '';
  const h = state.addHaVip({ vSwitchId: sw.vSwitchId, ipAddress: opts.ip ?? HAVIP_IP, associated, ...(master ? { masterInstanceId: master } : {}) });
  const vpcEmu = await startVpcEmulator({ state, credentials: [STS, KEY] });
  const role = { name: ROLE, credentials: () => ({ AccessKeyId: STS.accessKeyId, AccessKeySecret: STS.accessKeySecret, SecurityToken: STS.securityToken!, Expiration: new Date(Date.now() + 6 * 3600_000) }) };
  const mdA = await startMetadataEmulator({ view: state.metadataView(a), role });
  const mdB = await startMetadataEmulator({ view: state.metadataView(b), role });
  return {
    clock,
    state,
    vpc: vpcEmu,
    vSwitchId: sw.vSwitchId,
    otherVSwitchId: sw2.vSwitchId,
    haVipId: h.haVipId,
    a: { instanceId: a, mac: MAC_A, metadata: mdA },
    b: { instanceId: b, mac: MAC_B, metadata: mdB },
    close: async () => {
      await Promise.all([vpcEmu.close(), mdA.close(), mdB.close()]);
    },
  };
}

export function testContext(over: Partial<ProviderContext> = {}): ProviderContext {
  return {
    instanceName: 'VI_1',
    interface: 'eth0',
    vips: [VIP],
    garp: { ...KEEPALIVED_GARP_DEFAULTS },
    timing: { ...ALIBABA_TIMING },
    log: pino({ level: 'silent' }),
    unicast: { peers: ['198.51.100.12'] },
    ...over,
  };
}

export interface Built {
  provider: HaVipProvider;
  local: FakeLocal;
  metadata: EcsMetadata;
  credentials: CredentialChain;
  api: VpcApi;
  config: AlibabaProviderConfig;
}

/** A provider for `node` as index.ts makes one, with the fake local part and the fake clock. */
export function buildProvider(
  w: AlibabaWorld,
  node: Node,
  opts: { associate?: 'never' | 'at-start'; ctx?: Partial<ProviderContext>; garp?: () => void; api?: VpcApi; haVipId?: string; env?: NodeJS.ProcessEnv; peerInstanceIds?: string[] } = {},
): Built {
  const metadata = new EcsMetadata({ endpoint: node.metadata.url, timeoutMs: 2_000 });
  const credentials = credentialChain(metadata, opts.env ?? {});
  const api = opts.api ?? new VpcApi({ regionId: REGION, endpoint: w.vpc.endpoint, protocol: 'http', credential: asCredential(credentials), timeoutMs: 2_000, sleep: w.clock.sleep, random: () => 1 });
  const local = new FakeLocal(opts.garp ?? (() => void w.state.announce(node.mac, HAVIP_IP)));
  const config: AlibabaProviderConfig = {
    type: 'alibaba',
    haVipId: opts.haVipId ?? w.haVipId,
    peerInstanceIds: opts.peerInstanceIds ?? [],
    endpoint: w.vpc.endpoint,
    protocol: 'http',
    metadataEndpoint: node.metadata.url,
    associate: opts.associate ?? 'never',
  };
  const provider = new HaVipProvider(testContext(opts.ctx), {
    haVipId: config.haVipId,
    given: {},
    metadata,
    vpcFor: () => api,
    associate: config.associate,
    local,
    sleep: w.clock.sleep,
    random: () => 1,
    now: w.clock.now,
    preflight: { config, credentials, vpcFor: () => api },
  });
  return { provider, local, metadata, credentials, api, config };
}

/** The VPC API calls the emulator saw, per action. */
export function callCounts(w: AlibabaWorld): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of w.vpc.calls) out[c.action] = (out[c.action] ?? 0) + 1;
  return out;
}

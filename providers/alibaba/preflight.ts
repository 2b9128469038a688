// `ha-agent provider test alibaba`: read-only checks, one PreflightCheck each, in this order. Never
// moves the HaVip (DescribeHaVips only: no Associate/Unassociate, no ARP), never throws.
//   1. ECS metadata reachable in hardened mode (token PUT, then a GET with it)
//   2. instance id / region / zone / VPC / vSwitch (config values where given, compared with metadata)
//   3. credentials found (which source of the chain)
//   4. VPC API reachable and the signature accepted   } one DescribeHaVips answers both, and 5–9
//   5. DescribeHaVips permitted                       }
//   6. the HaVip exists, and its status (InUse; Available = nobody associated; anything else: busy)
//   7. its address equals the configured VIP
//   8. same vSwitch as this instance
//   9. this instance and each configured peer instance (provider.peerInstanceIds) are associated —
//      the missing ones named; without peerInstanceIds, the count of associations vs unicast peers
//  10. who is master now (this instance, a peer, none)
//  11. VRRP is unicast with peers (a HaVip does not carry multicast)
//  12+ the local capabilities: the garp provider's own checks (privileges, address backend, interface,
//      source address, GARP sender, who answers ARP for the VIP)
import type { PreflightCheck, PreflightOptions, ProviderContext, VipProvider } from '../../src/provider/types.js';
import { vipAddress } from '../../src/config/schema.js';
import { fullFacts, type FullFacts } from './facts.js';
import type { EcsMetadata } from './metadata.js';
import type { CredentialChain } from './credentials.js';
import type { HaVipState, VpcApi } from './vpc.js';
import { alibabaErrorCode } from './errors.js';
import type { AlibabaProviderConfig } from './index.js';

export interface AlibabaPreflightInput {
  ctx: ProviderContext;
  config: AlibabaProviderConfig;
  metadata: EcsMetadata;
  credentials: CredentialChain;
  vpcFor: (regionId: string) => VpcApi;
  /** The local part (the garp provider): its preflight is the local-capabilities checks. */
  local: VipProvider;
  options?: PreflightOptions;
}

const fixOf = (e: unknown): { fix?: string } => {
  const f = (e as { fix?: unknown }).fix;
  return typeof f === 'string' ? { fix: f } : {};
};
const msgOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

const PERMISSION = /^(Forbidden|NoPermission)/;
const SIGNATURE = /^(SignatureDoesNotMatch|IncompleteSignature|InvalidAccessKeyId|InvalidSecurityToken|InvalidTimeStamp|InvalidCredentials)/;

export async function* alibabaPreflight(input: AlibabaPreflightInput): AsyncGenerator<PreflightCheck> {
  const { ctx, config, metadata } = input;
  const key = `instances.${ctx.instanceName}`;
  const given = { ...(config.instanceId ? { instanceId: config.instanceId } : {}), ...(config.regionId ? { regionId: config.regionId } : {}) };

  // 1. metadata, hardened mode
  let metadataOk = false;
  try {
    const id = await metadata.get('instance-id');
    metadataOk = true;
    yield { check: 'ECS metadata (hardened mode)', ok: true, detail: `${metadata.endpoint}: token accepted (${metadata.tokensFetched} token request(s)), instance-id ${id}` };
  } catch (e) {
    yield { check: 'ECS metadata (hardened mode)', ok: false, detail: msgOf(e), ...fixOf(e) };
  }

  // 2. instance facts
  let facts: FullFacts | null = null;
  if (metadataOk) {
    try {
      facts = await fullFacts(metadata, {});
      const differs: string[] = [];
      if (given.instanceId && given.instanceId !== facts.instanceId) differs.push(`provider.instanceId is ${given.instanceId}, metadata says ${facts.instanceId}`);
      if (given.regionId && given.regionId !== facts.regionId) differs.push(`provider.regionId is ${given.regionId}, metadata says ${facts.regionId}`);
      const detail = `${facts.instanceId} in ${facts.regionId} (${facts.zoneId}), ${facts.vpcId}, ${facts.vSwitchId}, MAC ${facts.mac}, ${facts.privateIpv4}`;
      if (differs.length) yield { check: 'instance', ok: false, detail: `${detail}; ${differs.join('; ')}`, fix: 'remove provider.instanceId / provider.regionId (they are read from metadata), or correct them' };
      else yield { check: 'instance', ok: true, detail };
      facts = { ...facts, ...given };
    } catch (e) {
      yield { check: 'instance', ok: false, detail: msgOf(e), ...fixOf(e) };
    }
  } else {
    const ok = !!given.instanceId && !!given.regionId;
    yield ok
      ? { check: 'instance', ok: true, detail: `${given.instanceId} in ${given.regionId} (from the config; zone and vSwitch unknown without metadata)` }
      : { check: 'instance', ok: false, detail: 'unknown: metadata unreachable and the config does not give provider.instanceId and provider.regionId', fix: 'fix the metadata access (provider.metadataEndpoint), or give provider.instanceId and provider.regionId' };
  }
  const instanceId = facts?.instanceId ?? given.instanceId ?? null;
  const regionId = facts?.regionId ?? given.regionId ?? null;

  // 3. credentials
  let credsOk = false;
  try {
    const c = await input.credentials();
    credsOk = true;
    yield { check: 'credentials', ok: true, detail: `found: ${c.source}${c.expiration ? ` (expire ${c.expiration.toISOString()})` : ''}` };
  } catch (e) {
    yield { check: 'credentials', ok: false, detail: msgOf(e), ...fixOf(e) };
  }

  // 4–5. one DescribeHaVips
  let state: HaVipState | undefined;
  let described = false;
  const where = config.endpoint ? `${config.protocol}://${config.endpoint}` : `the ${regionId ?? '?'} regional endpoint (${config.protocol})`;
  if (!regionId || !credsOk) {
    const why = !regionId ? 'the region is unknown' : 'no credentials';
    yield { check: 'VPC API', ok: false, detail: `not tried: ${why}`, fix: !regionId ? 'give provider.regionId, or fix the metadata access' : 'fix the credentials first' };
    yield { check: 'DescribeHaVips permitted', ok: false, detail: `not tried: ${why}`, fix: 'fix the checks above first' };
  } else {
    const signal = AbortSignal.timeout(Math.max(5_000, ctx.timing.operationTimeoutMs));
    try {
      state = (await input.vpcFor(regionId).describe([config.haVipId], signal)).get(config.haVipId);
      described = true;
      yield { check: 'VPC API', ok: true, detail: `${where} answered; the ACS3 signature was accepted` };
      yield { check: 'DescribeHaVips permitted', ok: true, detail: 'vpc:DescribeHaVips is allowed' };
    } catch (e) {
      const code = alibabaErrorCode((e as { cause?: unknown }).cause ?? e) ?? (e as { code?: string }).code ?? '';
      if (PERMISSION.test(code)) {
        yield { check: 'VPC API', ok: true, detail: `${where} answered; the ACS3 signature was accepted` };
        yield { check: 'DescribeHaVips permitted', ok: false, detail: msgOf(e), fix: 'grant vpc:DescribeHaVips to the RAM role (or user) of these credentials, e.g. attach AliyunVPCReadOnlyAccess' };
      } else if (SIGNATURE.test(code)) {
        yield { check: 'VPC API', ok: false, detail: `${where} answered, but refused the request: ${msgOf(e)}`, ...fixOf(e) };
        yield { check: 'DescribeHaVips permitted', ok: false, detail: 'unknown: the request was not accepted', fix: 'fix the credentials / clock first' };
      } else if (code === 'InvalidHaVipId.NotFound') {
        described = true;
        yield { check: 'VPC API', ok: true, detail: `${where} answered; the ACS3 signature was accepted` };
        yield { check: 'DescribeHaVips permitted', ok: true, detail: 'vpc:DescribeHaVips is allowed' };
      } else {
        yield { check: 'VPC API', ok: false, detail: msgOf(e), fix: fixOf(e).fix ?? `check provider.endpoint and provider.protocol (now ${where})` };
        yield { check: 'DescribeHaVips permitted', ok: false, detail: 'unknown: the VPC API did not answer', fix: 'fix the VPC API access first' };
      }
    }
  }

  // 6–10. the HaVip
  const vips = ctx.vips.map(vipAddress);
  if (!described) {
    yield { check: `HaVip ${config.haVipId}`, ok: false, detail: 'not read (see above)', fix: 'fix the checks above first' };
  } else if (!state) {
    yield { check: `HaVip ${config.haVipId}`, ok: false, detail: `does not exist in ${regionId}`, fix: `check provider.haVipId and provider.regionId (aliyun vpc DescribeHaVips --RegionId ${regionId})` };
  } else {
    const statusOk = state.status === 'InUse';
    yield {
      check: `HaVip ${config.haVipId}`,
      ok: statusOk,
      detail: `exists, status ${state.status}, type ${state.associatedInstanceType || 'none yet'}`,
      ...(statusOk ? {} : { fix: state.status === 'Available' ? `no instance is associated: associate every node once (aliyun vpc AssociateHaVip --HaVipId ${config.haVipId} --InstanceId …), or set provider.associate: at-start` : 'the HaVip is busy (being created, changed or deleted): wait until the VPC console shows it InUse' }),
    };
    const ipOk = vips.includes(state.ipAddress);
    yield {
      check: 'HaVip address',
      ok: ipOk,
      detail: ipOk ? `${state.ipAddress} is the configured VIP` : `the HaVip's address is ${state.ipAddress}, the configured VIP ${vips.join(', ')}`,
      ...(ipOk ? {} : { fix: `set ${key}.vips to [${state.ipAddress}/32], or provider.haVipId to the HaVip of ${vips[0]}` }),
    };
    if (facts?.vSwitchId) {
      const same = facts.vSwitchId === state.vSwitchId;
      yield {
        check: 'HaVip vSwitch',
        ok: same,
        detail: same ? `${state.vSwitchId}, the same as this instance` : `the HaVip is in ${state.vSwitchId}, this instance in ${facts.vSwitchId}`,
        ...(same ? {} : { fix: 'a HaVip serves instances of its own vSwitch only: create the HaVip in this instance\'s vSwitch, or run the nodes there' }),
      };
    } else yield { check: 'HaVip vSwitch', ok: false, detail: `the HaVip is in ${state.vSwitchId}; this instance's vSwitch is unknown (metadata)`, fix: 'fix the metadata access' };

    const wanted = [...(instanceId ? [instanceId] : []), ...config.peerInstanceIds];
    const missing = wanted.filter((i) => !state!.associatedInstances.includes(i));
    const listed = state.associatedInstances.join(', ') || 'none';
    const peers = ctx.unicast?.peers.length ?? 0;
    if (missing.length > 0)
      yield {
        check: 'associated instances',
        ok: false,
        detail: `not associated: ${missing.map((i) => (i === instanceId ? `${i} (this instance)` : i)).join(', ')}; associated: ${listed}`,
        fix: `${missing.map((i) => `aliyun vpc AssociateHaVip --RegionId ${regionId} --HaVipId ${config.haVipId} --InstanceId ${i}`).join('; ')}${missing.includes(instanceId ?? '') ? ' (or set provider.associate: at-start)' : ''}`,
      };
    else if (config.peerInstanceIds.length === 0 && state.associatedInstances.length < 1 + peers)
      yield {
        check: 'associated instances',
        ok: false,
        detail: `${state.associatedInstances.length} associated (${listed}), but this node has ${peers} unicast peer(s)`,
        fix: `associate every node's instance with ${config.haVipId}; list them in provider.peerInstanceIds so this check can name the missing ones`,
      };
    else yield { check: 'associated instances', ok: true, detail: `${listed}${config.peerInstanceIds.length ? '' : ' (peers not named: set provider.peerInstanceIds to check them by id)'}` };

    const master = state.masterInstanceId;
    yield {
      check: 'master now',
      ok: true,
      detail: !master ? 'none yet (no associated instance has announced the address)' : master === instanceId ? `${master} (this instance)` : `${master}${state.associatedInstances.includes(master) ? '' : ' (not associated any more)'}`,
    };
  }

  // 11. unicast
  if (!ctx.unicast)
    yield { check: 'VRRP unicast', ok: false, detail: 'this instance uses multicast, which a VPC does not carry', fix: `add unicast: { peers: [PEER_ADDRESS] } to ${key} on every node (a HaVip needs keepalived-style unicast_peer)` };
  else yield { check: 'VRRP unicast', ok: true, detail: `peers ${ctx.unicast.peers.join(', ')}${ctx.unicast.source ? ` from ${ctx.unicast.source}` : ''}` };

  // 12+. local capabilities
  for await (const c of input.local.preflight()) yield { ...c, check: `local: ${c.check}` };
}

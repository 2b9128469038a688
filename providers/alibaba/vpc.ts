// The alibaba provider's VPC API client: @alicloud/vpc20160428 (ACS3-HMAC-SHA256 signatures, spec
// §3.2) on the configured endpoint and protocol (§3.3: the SDK has no environment override), with the
// credential chain of credentials.ts. Only the three HaVip calls the provider needs:
//
//   describe(ids):  DescribeHaVips with Filter.1.Key=HaVipId (up to 50 ids, one page) → HaVipState per
//                   id found (the lower-case inner keys of §3.4 arrive camel-cased from the SDK).
//   associate(id, instance): AssociateHaVip, InstanceType EcsInstance (only for `associate: at-start`).
//
// The SDK never retries (§3.5): every call here is tried up to `attempts` times (default 3) when the
// failure is transient (any code containing "Throttling", 5xx, network, a concurrent operation),
// with full-jitter waits doubling from RETRY_BASE_MS; then it fails with the ProviderError of
// errors.ts. Each attempt is one API call and is counted in `calls` (per action) — the figure behind
// "API calls per failover". The SDK cannot be aborted: a call races the AbortSignal and its own
// read/connect timeouts (Config; the SDK's default runtime does not retry); an abandoned request
// finishes in the background.
import { abortableSleep } from '../../src/provider/wait.js';
import VpcSdk, * as $Vpc from '@alicloud/vpc20160428';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { alibabaError, isTransient } from './errors.js';
import type { Credential } from './credentials.js';

export interface HaVipState {
  haVipId: string;
  status: string;
  ipAddress: string;
  vpcId: string;
  vSwitchId: string;
  /** '' when no instance has claimed it. */
  masterInstanceId: string;
  associatedInstances: string[];
  associatedInstanceType: string;
}

export interface VpcOptions {
  regionId: string;
  /** host[:port], no scheme; default: the SDK's regional endpoint. */
  endpoint?: string;
  protocol?: 'http' | 'https';
  credential: Credential;
  /** Per request (connect and read). */
  timeoutMs?: number;
  /** Tries per call when the failure is transient (default 3). */
  attempts?: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export const RETRY_BASE_MS = 250;
export const RETRY_MAX_MS = 2_000;

type Action = 'DescribeHaVips' | 'AssociateHaVip';

export class VpcApi {
  readonly regionId: string;
  private readonly client: InstanceType<typeof VpcSdk.default>;
  private readonly attempts: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  /** API calls made (every attempt), per action. */
  readonly calls: Record<Action, number> = { DescribeHaVips: 0, AssociateHaVip: 0 };

  constructor(opts: VpcOptions) {
    this.regionId = opts.regionId;
    this.client = new VpcSdk.default(
      new $OpenApiUtil.Config({
        credential: opts.credential,
        regionId: opts.regionId,
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.protocol ? { protocol: opts.protocol } : {}),
        readTimeout: opts.timeoutMs ?? 5_000,
        connectTimeout: opts.timeoutMs ?? 5_000,
      }),
    );
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.sleep = opts.sleep ?? abortableSleep;
    this.random = opts.random ?? Math.random;
  }

  /** Total calls so far (all actions). */
  get totalCalls(): number {
    return this.calls.DescribeHaVips + this.calls.AssociateHaVip;
  }

  /** The HaVips among `ids` that exist (an id missing from the map does not). */
  async describe(ids: readonly string[], signal: AbortSignal): Promise<Map<string, HaVipState>> {
    const out = new Map<string, HaVipState>();
    if (ids.length === 0) return out;
    const request = new $Vpc.DescribeHaVipsRequest({
      regionId: this.regionId,
      filter: [new $Vpc.DescribeHaVipsRequestFilter({ key: 'HaVipId', value: [...ids] })],
      pageSize: 50,
    });
    const what = `DescribeHaVips ${ids.join(', ')}`;
    const res = await this.call('DescribeHaVips', what, ids.length === 1 ? ids[0] : undefined, signal, () => this.client.describeHaVips(request));
    for (const h of res.body?.haVips?.haVip ?? []) {
      if (!h.haVipId) continue;
      out.set(h.haVipId, {
        haVipId: h.haVipId,
        status: h.status ?? '',
        ipAddress: h.ipAddress ?? '',
        vpcId: h.vpcId ?? '',
        vSwitchId: h.vSwitchId ?? '',
        masterInstanceId: h.masterInstanceId ?? '',
        associatedInstances: [...(h.associatedInstances?.associatedInstance ?? [])],
        associatedInstanceType: h.associatedInstanceType ?? '',
      });
    }
    return out;
  }

  /** AssociateHaVip (asynchronous on the VPC side: Associating → InUse). */
  async associate(haVipId: string, instanceId: string, signal: AbortSignal): Promise<void> {
    const request = new $Vpc.AssociateHaVipRequest({ regionId: this.regionId, haVipId, instanceId, instanceType: 'EcsInstance' });
    await this.call('AssociateHaVip', `AssociateHaVip ${haVipId} ${instanceId}`, haVipId, signal, () => this.client.associateHaVip(request));
  }

  private async call<T>(action: Action, what: string, haVipId: string | undefined, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    let step = RETRY_BASE_MS;
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      this.calls[action]++;
      try {
        return await raceAbort(fn(), signal);
      } catch (e) {
        if (signal.aborted) throw e;
        if (attempt >= this.attempts || !isTransient(e)) throw alibabaError(e, action, what, { ...(haVipId ? { haVipId } : {}), regionId: this.regionId });
        await this.sleep(this.random() * step, signal);
        step = Math.min(RETRY_MAX_MS, step * 2);
      }
    }
  }
}

/** `p`, or the signal's reason once it aborts (the SDK request is left to finish on its own). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

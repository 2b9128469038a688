// The Alibaba Cloud VPC API emulator's HTTP server, API version 2016-04-28 (spec
// wire-and-cloud-apis.md §3.1–3.5, §6).
//
// Contract: startVpcEmulator(opts) listens on opts.host (default 127.0.0.1) and opts.port (default 0:
// the OS picks) and answers RPC-style requests as the real VPC endpoint would, on top of a VpcState:
// `POST /?<params>` with the action and version in x-acs-action / x-acs-version (ACS3 signature), or
// with Action / Version in the query (legacy v2 signature); GET is accepted as well; a body, if any,
// is ignored apart from the ACS3 content hash. Operations: DescribeHaVips (filters VpcId, VSwitchId,
// Status, HaVipId, HaVipAddress; PageNumber/PageSize 1..50, default 1/10; the exact §3.4 JSON with its
// lower-case inner keys), AssociateHaVip, UnassociateHaVip (Force "True"/"true"), CreateHaVip.
// Order per request: record in `calls` → signature (acs3.ts; the emulator's own clock, opts.clock) →
// version (≠ 2016-04-28 → 400 InvalidVersion) → injected faults → unknown action (404
// InvalidAction.NotFound) → per-key permissions (403 Forbidden.RAM) → RegionId (missing → 400
// MissingRegionId; ≠ state.regionId → 400 InvalidRegionId.NotFound) → the operation (VpcError → its
// status and code).
// Every answer is JSON, Content-Type application/json;charset=utf-8, with the x-acs-request-id
// header; errors use the §3.5 envelope {RequestId, HostId, Code, Message, Recommend}.
// Faults: faults.add({ action?, times?, kind, ms?, status?, code?, message? }); times (default:
// unlimited) counts the requests it affects, then it removes itself. Kinds: throttling (400
// Throttling.User; `code` may name another Throttling* code), error5xx (500 InternalError, or 503
// ServiceUnavailable with status 503), forbidden (403 Forbidden.RAM), conflict (400 TaskConflict),
// error (any status/code/message), latency (waits `ms`, default 1000, then goes on), hang (never
// answered; close() ends it). Latency faults add up; the first other matching fault wins.
import { ActionFaults, type ArmedActionFault } from '../action-faults.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { parseQuery, verifyAlibabaSignature, type AlibabaCredential, type NonceCache, type SignatureKind } from './acs3.js';
import { VpcError, type HaVip, type VpcState } from './vpc-state.js';

export const API_VERSION = '2016-04-28';
export const CONTENT_TYPE = 'application/json;charset=utf-8';

export interface VpcCredential extends AlibabaCredential {
  /** Actions this key may call (default: all). */
  allowedActions?: string[];
}

export interface VpcCall {
  action: string;
  params: Record<string, string>;
  /** Emulator clock (ms) when the request arrived. */
  at: number;
  requestId: string;
  signature?: SignatureKind;
  accessKeyId?: string;
  /** x-acs-credentials-provider as sent (static_ak, default/env, a custom provider's name...). */
  credentialsProvider?: string;
  /** The client's address (which node of a lab called). */
  from?: string;
  /** Filled in when the answer is sent (undefined while pending or hung). */
  status?: number;
  code?: string;
}

export type VpcFaultKind = 'throttling' | 'error5xx' | 'forbidden' | 'conflict' | 'error' | 'latency' | 'hang';

export interface VpcFaultSpec {
  action?: string;
  times?: number;
  kind: VpcFaultKind;
  ms?: number;
  status?: number;
  code?: string;
  message?: string;
}

export type ActiveVpcFault = ArmedActionFault<VpcFaultSpec>;
/** Faults per action (../action-faults.ts). */
export type VpcFaults = ActionFaults<VpcFaultSpec>;

export interface VpcEmulatorOptions {
  state: VpcState;
  credentials: VpcCredential[];
  host?: string;
  port?: number;
  /** Emulator clock in ms for the signature's timestamp check (default Date.now). */
  clock?: () => number;
}

export interface VpcEmulator {
  url: string;
  host: string;
  port: number;
  /** host:port, what goes into the SDK Config's `endpoint` (with protocol 'http'). */
  endpoint: string;
  calls: VpcCall[];
  faults: VpcFaults;
  /** Replaces a key's allowed actions (undefined: all). */
  setAllowedActions(accessKeyId: string, actions: string[] | undefined): void;
  addCredential(c: VpcCredential): void;
  /** Stops accepting a key: its requests get 404 InvalidAccessKeyId.NotFound. */
  revokeCredential(accessKeyId: string): void;
  close(): Promise<void>;
}

type Params = Record<string, string>;

// ---------------------------------------------------------------- bodies

/** One HaVip in the §3.4 shape, keys in the captured order. */
export function haVipJson(h: HaVip): Record<string, unknown> {
  return {
    Status: h.status,
    VpcId: h.vpcId,
    Description: h.description,
    AssociatedInstanceType: h.associatedInstanceType,
    AssociatedInstances: { associatedInstance: [...h.associatedInstances] },
    AssociatedEipAddresses: { associatedEipAddresse: [] },
    HaVipId: h.haVipId,
    MasterInstanceId: h.masterInstanceId,
    CreateTime: h.createTime,
    IpAddress: h.ipAddress,
    VSwitchId: h.vSwitchId,
    RegionId: h.regionId,
    ChargeType: h.chargeType,
    Name: h.name,
    ResourceGroupId: h.resourceGroupId,
    Tags: { Tag: [] },
  };
}

function required(p: Params, name: string): string {
  const v = p[name];
  if (v === undefined || v === '') throw new VpcError(400, `Missing${name}`, `${name} is mandatory for this action.`);
  return v;
}

const HAVIP_FILTERS: Record<string, (h: HaVip) => string> = {
  VpcId: (h) => h.vpcId,
  VSwitchId: (h) => h.vSwitchId,
  Status: (h) => h.status,
  HaVipId: (h) => h.haVipId,
  HaVipAddress: (h) => h.ipAddress,
};

function intParam(p: Params, name: string, dflt: number, min: number, max: number): number {
  const raw = p[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new VpcError(400, `InvalidParameter.${name}`, `The specified ${name} is invalid: ${raw} (allowed ${min}..${max}).`);
  return n;
}

type Handler = (state: VpcState, p: Params) => Record<string, unknown>;

export const HANDLERS: Record<string, Handler> = {
  DescribeHaVips(state, p) {
    const filters: { key: string; values: string[] }[] = [];
    const idx = new Set<number>();
    for (const k of Object.keys(p)) {
      const m = /^Filter\.(\d+)\.Key$/.exec(k);
      if (m) idx.add(Number(m[1]));
    }
    for (const i of [...idx].sort((a, b) => a - b)) {
      const key = p[`Filter.${i}.Key`]!;
      if (!(key in HAVIP_FILTERS)) throw new VpcError(404, 'InvalidFilterKey.ValueNotSupported', `Specified filter key is not supported: Filter.${i}.key`);
      const values = Object.keys(p)
        .map((k) => [k, new RegExp(`^Filter\\.${i}\\.Value\\.(\\d+)$`).exec(k)] as const)
        .filter(([, m]) => m !== null)
        .sort((a, b) => Number(a[1]![1]) - Number(b[1]![1]))
        .map(([k]) => p[k]!);
      filters.push({ key, values });
    }
    const pageNumber = intParam(p, 'PageNumber', 1, 1, 1_000_000);
    const pageSize = intParam(p, 'PageSize', 10, 1, 50);
    const all = state.list().filter((h) => filters.every((f) => f.values.includes(HAVIP_FILTERS[f.key]!(h))));
    const page = all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    return { TotalCount: all.length, PageSize: pageSize, PageNumber: pageNumber, HaVips: { HaVip: page.map(haVipJson) } };
  },
  AssociateHaVip(state, p) {
    const instanceType = p['InstanceType'];
    state.associateHaVip({ haVipId: required(p, 'HaVipId'), instanceId: required(p, 'InstanceId'), ...(instanceType ? { instanceType } : {}) });
    return {};
  },
  UnassociateHaVip(state, p) {
    const force = (p['Force'] ?? 'False').toLowerCase() === 'true';
    state.unassociateHaVip({ haVipId: required(p, 'HaVipId'), instanceId: required(p, 'InstanceId'), force });
    return {};
  },
  CreateHaVip(state, p) {
    const o: Parameters<VpcState['createHaVip']>[0] = { vSwitchId: required(p, 'VSwitchId') };
    if (p['IpAddress']) o.ipAddress = p['IpAddress'];
    if (p['Name'] !== undefined) o.name = p['Name'];
    if (p['Description'] !== undefined) o.description = p['Description'];
    const h = state.createHaVip(o);
    return { HaVipId: h.haVipId, IpAddress: h.ipAddress };
  },
};

// ---------------------------------------------------------------- server

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export async function startVpcEmulator(opts: VpcEmulatorOptions): Promise<VpcEmulator> {
  const { state } = opts;
  const clock = opts.clock ?? Date.now;
  const creds = new Map<string, VpcCredential>(opts.credentials.map((c) => [c.accessKeyId, { ...c }]));
  const nonces: NonceCache = new Map();
  const calls: VpcCall[] = [];
  const hanging = new Set<ServerResponse>();
  const faults = new ActionFaults<VpcFaultSpec>();
  const takeFaults = (action: string) => faults.take(action);

  const send = (res: ServerResponse, call: VpcCall, status: number, body: Record<string, unknown>, code?: string): void => {
    call.status = status;
    if (code !== undefined) call.code = code;
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'x-acs-request-id': call.requestId,
    });
    res.end(text);
  };
  const sendError = (res: ServerResponse, call: VpcCall, status: number, code: string, message: string): void =>
    send(
      res,
      call,
      status,
      {
        RequestId: call.requestId,
        HostId: `vpc.${state.regionId}.aliyuncs.com`,
        Code: code,
        Message: message,
        Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=Vpc&requestId=${call.requestId}`,
      },
      code,
    );

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? '' : url.slice(qi + 1);
    const params: Params = {};
    for (const [k, v] of parseQuery(query)) params[k] = v;
    const action = one(req.headers['x-acs-action']) ?? params['Action'] ?? '';
    const version = one(req.headers['x-acs-version']) ?? params['Version'] ?? '';
    const provider = one(req.headers['x-acs-credentials-provider']);
    const call: VpcCall = {
      action,
      params,
      at: clock(),
      requestId: randomUUID().toUpperCase(),
      ...(provider !== undefined ? { credentialsProvider: provider } : {}),
      ...(req.socket.remoteAddress ? { from: req.socket.remoteAddress } : {}),
    };
    calls.push(call);

    if (req.method !== 'POST' && req.method !== 'GET') {
      return sendError(res, call, 405, 'UnsupportedHTTPMethod', `Specified HTTP method ${req.method ?? ''} is not supported.`);
    }
    const auth = verifyAlibabaSignature({ method: req.method, path, query, headers: req.headers, body }, { lookup: (id) => creds.get(id), now: clock, nonces });
    if (auth.kind !== undefined) call.signature = auth.kind;
    if (auth.accessKeyId !== undefined) call.accessKeyId = auth.accessKeyId;
    if (!auth.ok) return sendError(res, call, auth.status, auth.code, auth.message);
    if (version !== API_VERSION) return sendError(res, call, 400, 'InvalidVersion', `Specified parameter Version is not valid: ${version}`);

    const { latencyMs, fault } = takeFaults(action);
    if (latencyMs > 0) await delay(latencyMs);
    if (fault) {
      switch (fault.kind) {
        case 'throttling':
          return sendError(res, call, fault.status ?? 400, fault.code ?? 'Throttling.User', fault.message ?? 'Request was denied due to user flow control.');
        case 'error5xx':
          return fault.status === 503
            ? sendError(res, call, 503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.')
            : sendError(res, call, 500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.');
        case 'forbidden':
          return sendError(res, call, 403, 'Forbidden.RAM', "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
        case 'conflict':
          return sendError(res, call, 400, fault.code ?? 'TaskConflict', fault.message ?? 'The operation conflicts with a task in progress.');
        case 'error':
          return sendError(res, call, fault.status ?? 400, fault.code ?? 'InjectedFault', fault.message ?? 'Injected fault.');
        case 'hang':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case 'latency':
          break;
      }
    }

    const handler = Object.prototype.hasOwnProperty.call(HANDLERS, action) ? HANDLERS[action] : undefined;
    if (!handler) return sendError(res, call, 404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method: ${action}`);
    const allowed = creds.get(auth.accessKeyId)?.allowedActions;
    if (allowed !== undefined && !allowed.includes(action)) {
      return sendError(res, call, 403, 'Forbidden.RAM', "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
    }
    const region = params['RegionId'];
    if (region === undefined || region === '') return sendError(res, call, 400, 'MissingRegionId', 'RegionId is mandatory for this action.');
    if (region !== state.regionId) return sendError(res, call, 400, 'InvalidRegionId.NotFound', `The specified region ${region} does not exist.`);
    try {
      send(res, call, 200, { RequestId: call.requestId, ...handler(state, params) });
    } catch (e) {
      if (e instanceof VpcError) return sendError(res, call, e.status, e.code, e.message);
      return sendError(res, call, 500, 'InternalError', `The request processing has failed due to some unknown error (${String(e)}).`);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': CONTENT_TYPE });
        res.end(JSON.stringify({ RequestId: randomUUID().toUpperCase(), Code: 'InternalError', Message: String(e) }));
      }
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostPart}:${port}`,
    host,
    port,
    endpoint: `${hostPart}:${port}`,
    calls,
    faults,
    setAllowedActions(accessKeyId, actions) {
      const c = creds.get(accessKeyId);
      if (!c) throw new Error(`unknown access key ${accessKeyId}`);
      if (actions === undefined) delete c.allowedActions;
      else c.allowedActions = [...actions];
    },
    addCredential(c) {
      creds.set(c.accessKeyId, { ...c });
    },
    revokeCredential(accessKeyId) {
      creds.delete(accessKeyId);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        hanging.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

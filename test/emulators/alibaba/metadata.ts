// Alibaba Cloud ECS instance-metadata emulator, security-hardened mode (spec wire-and-cloud-apis.md
// §3.8, §3.9, §6). Test code only: it serves on loopback or a lab address; nothing here talks to the
// real metadata (link-local) address.
//
// Contract
// - startMetadataEmulator(opts) listens on opts.host (default 127.0.0.1) and opts.port (default 0) and
//   resolves to { url, requests, faults, setDisabled, setRequireToken, rotateCredentials, close }.
//   `url` is `http://host:port` (no trailing slash), the base our provider's metadata client is given.
// - PUT /latest/api/token with `X-aliyun-ecs-metadata-token-ttl-seconds: 1..21600` (digits only) →
//   200 text/plain, body = token; missing or out-of-range TTL → 400; any X-Forwarded-For → 403; other
//   methods on the token path → 405. A token expires TTL s after issue on opts.clock (default
//   Date.now): from then on (now >= issued + TTL·1000) it is refused.
// - GET /latest/meta-data/<path> with `X-aliyun-ecs-metadata-token`: unknown or expired token → 401;
//   no token → `noTokenStatus` (default 403; the spec leaves 401/403 open) while the token is required
//   (the default; setRequireToken(false) is the normal mode, where a token that is sent must still be
//   valid). Unknown path → 404; non-GET → 405. Leading slashes are collapsed; a query is ignored.
// - setDisabled(true): every request → 403.
// - Bodies are text/plain; directory listings are newline-separated, sub-directories end with `/`.
// - Paths under /latest/meta-data/: instance-id, region-id, zone-id, vpc-id, vswitch-id, mac,
//   private-ipv4, vpc-cidr-block, vswitch-cidr-block (all of the primary interface), network/interfaces/
//   macs/ (one `<mac>/` per interface), network/interfaces/macs/<mac>/{network-interface-id,
//   primary-ip-address, private-ipv4s (JSON array), vpc-id, vpc-cidr-block, vswitch-id,
//   vswitch-cidr-block, netmask, gateway}; with a role: ram/ → `security-credentials/`,
//   ram/security-credentials/ → the role name, ram/security-credentials/<role> → the §3.8 JSON
//   {AccessKeyId, AccessKeySecret, Expiration, SecurityToken, LastUpdated, Code: "Success"}, times as
//   `YYYY-MM-DDTHH:MM:SSZ`. Without a role there is no ram/ (404).
// - The view's interfaces() is read on every request. Credentials: role.credentials() on every
//   credentials GET until rotateCredentials(next) replaces it; rotateCredentials() with no argument
//   generates a fresh set (Expiration = clock + 6 h). LastUpdated = clock time the served AccessKeyId
//   last changed.
// - faults, requests and close() are the shared shell's (../metadata-server.ts, as the IMDS
//   emulator's): faults come first, before the disabled/token/path logic here.
import type { IncomingMessage } from 'node:http';
import { resolveMetaData, startMetadataServer, type MetadataLazy, type MetadataNode, type MetadataFault, type MetadataFaultHandle, type MetadataFaults, type MetadataRequestRecord, type Send } from '../metadata-server.js';
import { randomBytes } from 'node:crypto';

export interface MetadataInterface {
  mac: string;
  networkInterfaceId: string;
  primaryIpAddress: string;
  privateIpv4s: string[];
  vpcId: string;
  vpcCidrBlock: string;
  vSwitchId: string;
  vSwitchCidrBlock: string;
  netmask: string;
  gateway: string;
}

export interface MetadataInstanceView {
  instanceId: string;
  regionId: string;
  zoneId: string;
  /** The primary interface first. */
  interfaces(): MetadataInterface[];
}

export interface RamRoleCredentials {
  AccessKeyId: string;
  AccessKeySecret: string;
  SecurityToken: string;
  Expiration: Date;
}

export interface RamRole {
  name: string;
  credentials(): RamRoleCredentials;
}

export interface MetadataEmulatorOptions {
  view: MetadataInstanceView;
  role?: RamRole;
  host?: string;
  port?: number;
  clock?: () => number;
  /** Status of a GET without a token while tokens are required (default 403). */
  noTokenStatus?: 401 | 403;
}


export type { MetadataFault, MetadataFaultHandle, MetadataFaults, MetadataRequestRecord };

export interface MetadataEmulator {
  url: string;
  requests: MetadataRequestRecord[];
  faults: MetadataFaults;
  setDisabled(disabled: boolean): void;
  setRequireToken(required: boolean): void;
  rotateCredentials(next?: RamRoleCredentials | (() => RamRoleCredentials)): RamRoleCredentials;
  close(): Promise<void>;
}

export const TOKEN_TTL_HEADER = 'x-aliyun-ecs-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aliyun-ecs-metadata-token';
export const MAX_TOKEN_TTL_SECONDS = 21_600;

/** `YYYY-MM-DDTHH:MM:SSZ`. */
export function metadataTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomAlnum(n: number): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[b[i]! % ALNUM.length];
  return s;
}

/** A fresh STS credential set as the RAM role serves it. */
export function generateRamCredentials(now: number, lifetimeMs = 6 * 3600_000): RamRoleCredentials {
  return {
    AccessKeyId: `STS.NT${randomAlnum(22)}`,
    AccessKeySecret: randomAlnum(44),
    SecurityToken: `CAIS${randomBytes(60).toString('base64')}`,
    Expiration: new Date(now + lifetimeMs),
  };
}

type Node = MetadataNode;
type Lazy = MetadataLazy;


export async function startMetadataEmulator(opts: MetadataEmulatorOptions): Promise<MetadataEmulator> {
  const clock = opts.clock ?? Date.now;
  const { view, role } = opts;
  const noTokenStatus = opts.noTokenStatus ?? 403;
  const host = opts.host ?? '127.0.0.1';
  const tokens = new Map<string, number>();
  let disabled = false;
  let requireToken = true;

  let source: (() => RamRoleCredentials) | undefined = role ? () => role.credentials() : undefined;
  let lastKeyId: string | undefined;
  let lastUpdated = clock();
  const current = (): RamRoleCredentials => {
    const c = source!();
    if (c.AccessKeyId !== lastKeyId) {
      if (lastKeyId !== undefined) lastUpdated = clock();
      lastKeyId = c.AccessKeyId;
    }
    return c;
  };
  if (source) current();

  const credentialsJson = (): string => {
    const c = current();
    return JSON.stringify(
      {
        AccessKeyId: c.AccessKeyId,
        AccessKeySecret: c.AccessKeySecret,
        Expiration: metadataTime(c.Expiration.getTime()),
        SecurityToken: c.SecurityToken,
        LastUpdated: metadataTime(lastUpdated),
        Code: 'Success',
      },
      null,
      2,
    );
  };

  const ifcNode = (i: MetadataInterface): Node =>
    new Map<string, Lazy>([
      ['gateway', i.gateway],
      ['netmask', i.netmask],
      ['network-interface-id', i.networkInterfaceId],
      ['primary-ip-address', i.primaryIpAddress],
      ['private-ipv4s', JSON.stringify(i.privateIpv4s)],
      ['vpc-cidr-block', i.vpcCidrBlock],
      ['vpc-id', i.vpcId],
      ['vswitch-cidr-block', i.vSwitchCidrBlock],
      ['vswitch-id', i.vSwitchId],
    ]);

  const metaData = (): Node => {
    let cached: MetadataInterface[] | undefined;
    const ifcs = (): MetadataInterface[] => (cached ??= view.interfaces());
    const primary = (): MetadataInterface | undefined => ifcs()[0];
    const ram: [string, Lazy][] = role ? [['ram', new Map<string, Lazy>([['security-credentials', new Map<string, Lazy>([[role.name, () => credentialsJson()]])]])]] : [];
    return new Map<string, Lazy>([
      ['instance-id', view.instanceId],
      ['mac', () => primary()?.mac.toLowerCase()],
      ['network', new Map<string, Lazy>([['interfaces', new Map<string, Lazy>([['macs', () => new Map<string, Lazy>(ifcs().map((i) => [i.mac.toLowerCase(), ifcNode(i)]))]])]])],
      ['private-ipv4', () => primary()?.primaryIpAddress],
      ...ram,
      ['region-id', view.regionId],
      ['vpc-cidr-block', () => primary()?.vpcCidrBlock],
      ['vpc-id', () => primary()?.vpcId],
      ['vswitch-cidr-block', () => primary()?.vSwitchCidrBlock],
      ['vswitch-id', () => primary()?.vSwitchId],
      ['zone-id', view.zoneId],
    ]);
  };

  const resolve = (path: string): string | undefined => resolveMetaData(metaData(), path);

  const serve = (req: IncomingMessage, method: string, path: string, send: Send): void => {
    if (disabled) return send(403, 'Forbidden');
    if (path === '/latest/api/token') {
      if (method !== 'PUT') return send(405, 'Method Not Allowed');
      if (req.headers['x-forwarded-for'] !== undefined) return send(403, 'Forbidden');
      const raw = req.headers[TOKEN_TTL_HEADER];
      const ttlText = Array.isArray(raw) ? raw[0] : raw;
      const ttl = ttlText !== undefined && /^\s*\d+\s*$/.test(ttlText) ? Number(ttlText.trim()) : NaN;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) return send(400, 'Bad Request');
      const now = clock();
      for (const [t, exp] of tokens) if (now >= exp) tokens.delete(t);
      const token = randomBytes(32).toString('base64url');
      tokens.set(token, now + ttl * 1000);
      return send(200, token);
    }
    if (method !== 'GET') return send(405, 'Method Not Allowed');
    const rawToken = req.headers[TOKEN_HEADER];
    const token = Array.isArray(rawToken) ? rawToken[0] : rawToken;
    if (token === undefined) {
      if (requireToken) return send(noTokenStatus, noTokenStatus === 401 ? 'Unauthorized' : 'Forbidden');
    } else {
      const exp = tokens.get(token);
      if (exp === undefined || clock() >= exp) {
        tokens.delete(token);
        return send(401, 'Unauthorized');
      }
    }
    const body = resolve(path);
    if (body === undefined) return send(404, 'Not Found');
    return send(200, body);
  };

  const shell = await startMetadataServer({ host, ...(opts.port !== undefined ? { port: opts.port } : {}), clock, serverHeader: 'Tengine', serve });


  return {
    url: shell.url,
    requests: shell.requests,
    faults: shell.faults,
    setDisabled(b) {
      disabled = b;
    },
    setRequireToken(b) {
      requireToken = b;
    },
    rotateCredentials(next) {
      if (!role) throw new Error('rotateCredentials: the emulator has no role');
      const fresh = next ?? generateRamCredentials(clock());
      source = typeof fresh === 'function' ? fresh : () => fresh;
      return current();
    },
    close: () => shell.close(),
  };
}

// AWS IMDSv2 (EC2 instance metadata service) emulator, wire-faithful to what the real SDK clients send
// and expect (shared spec wire-and-cloud-apis.md §0.7, §2.1–2.3, §6). Test code only.
//
// Contract
// - startImdsEmulator(opts) listens on opts.host (default 127.0.0.1) and opts.port (default 0, an
//   ephemeral port) and resolves to { url, close, requests, setDisabled, setRequireToken, faults,
//   rotateCredentials }. `url` is `http://host:port` with no trailing slash: pass it as `endpoint` to
//   `new MetadataService(...)` or put it in AWS_EC2_METADATA_SERVICE_ENDPOINT for the credential chain.
//   Nothing here talks to the real IMDS (link-local) address or to AWS.
// - PUT /latest/api/token with `X-aws-ec2-metadata-token-ttl-seconds: 1..21600` (decimal digits only)
//   → 200 text/plain, body = token, response header X-Aws-Ec2-Metadata-Token-Ttl-Seconds echoing the
//   TTL. Missing or out-of-range TTL → 400. Any `X-Forwarded-For` header → 403. Other methods on the
//   token path → 405. A token expires TTL seconds after it was issued, on opts.clock (default
//   Date.now): from then on (now >= issued + TTL·1000) it is unknown → 401.
// - GET /latest/meta-data/<path> with `X-aws-ec2-metadata-token`. Unknown or expired token → 401. No
//   token → 401 while the token is required (the default; setRequireToken(false) allows IMDSv1 GETs,
//   but a token that is present must still be valid). Unknown path → 404. Non-GET → 405. Leading
//   slashes are collapsed (the SDK sends `//latest/...`, §0.7); a query string is ignored.
// - setDisabled(true): every request (PUT and GET) → 403, as with http-endpoint disabled.
// - Bodies are text/plain. Directory listings are newline-separated (no trailing newline) and
//   sub-directories end with `/`; a directory answers with or without its trailing slash.
// - Paths (under /latest/meta-data/): instance-id, placement/{region,availability-zone}, mac (device 0),
//   local-ipv4 (device 0's first address), network/interfaces/macs/ (one `<mac>/` per interface, by
//   device number), network/interfaces/macs/<mac>/{device-number, interface-id, local-ipv4s, mac,
//   subnet-id, subnet-ipv4-cidr-block, vpc-id, vpc-ipv4-cidr-block (first VPC CIDR),
//   vpc-ipv4-cidr-blocks (all, newline-separated)}; with a role: iam/ → `security-credentials/`,
//   iam/security-credentials/ → the role name, iam/security-credentials/<role> → the §2.1 JSON (Code,
//   LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration; AccountId only if given),
//   2-space indented, times as `YYYY-MM-DDTHH:MM:SSZ`. Without a role there is no iam/ (404).
// - The view is read on every request that needs it (view.interfaces() is never cached), so
//   local-ipv4s follows whatever the EC2 emulator's imdsView(instanceId) reports at that moment.
// - Credentials: role.credentials() is called on every credentials GET until rotateCredentials(next)
//   replaces it; rotateCredentials() with no argument generates a fresh set (new keys, Expiration =
//   clock + 6 h) and returns it. LastUpdated is the clock time at which the served AccessKeyId last
//   changed (start-up, rotation, or role.credentials() returning new keys).
// - faults ('status', 'latency', 'hang', matched by method and path, first match wins, before the
//   disabled/token/path logic), requests (every request in arrival order, as received, e.g.
//   '//latest/...') and close() are the shared shell's: ../metadata-server.ts.
import type { IncomingMessage } from 'node:http';
import { resolveMetaData, startMetadataServer, type MetadataLazy, type MetadataNode, type MetadataFault, type MetadataFaultHandle, type MetadataFaults, type MetadataRequestRecord, type Send } from '../metadata-server.js';
import { randomBytes } from 'node:crypto';

export interface ImdsInterface {
  mac: string;
  interfaceId: string;
  subnetId: string;
  subnetCidr: string;
  vpcId: string;
  vpcCidrs: string[];
  deviceNumber: number;
  localIpv4s: string[];
}

export interface ImdsInstanceView {
  instanceId: string;
  region: string;
  availabilityZone: string;
  interfaces(): ImdsInterface[];
}

export interface ImdsRoleCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  Expiration: Date;
  AccountId?: string;
}

export interface ImdsRole {
  name: string;
  credentials(): ImdsRoleCredentials;
}

export interface ImdsEmulatorOptions {
  view: ImdsInstanceView;
  role?: ImdsRole;
  host?: string;
  port?: number;
  /** Milliseconds since the epoch; drives token expiry, LastUpdated and `requests[].at`. */
  clock?: () => number;
}

export type ImdsRequestRecord = MetadataRequestRecord;

export type ImdsFault = MetadataFault;
export type ImdsFaultHandle = MetadataFaultHandle;
export type ImdsFaults = MetadataFaults;

export interface ImdsEmulator {
  url: string;
  close(): Promise<void>;
  requests: ImdsRequestRecord[];
  setDisabled(disabled: boolean): void;
  setRequireToken(required: boolean): void;
  faults: ImdsFaults;
  rotateCredentials(next?: ImdsRoleCredentials | (() => ImdsRoleCredentials)): ImdsRoleCredentials;
}

export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const MAX_TOKEN_TTL_SECONDS = 21_600;

/** `YYYY-MM-DDTHH:MM:SSZ`, the form IMDS uses for LastUpdated and Expiration. */
export function imdsTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function randomUpper(n: number): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[b[i]! % ALNUM.length];
  return s;
}

/** A fresh credential set in the shape IMDS serves (temporary ASIA keys). */
export function generateImdsCredentials(now: number, lifetimeMs = 6 * 3600_000): ImdsRoleCredentials {
  return {
    AccessKeyId: `ASIA${randomUpper(16)}`,
    SecretAccessKey: randomBytes(30).toString('base64'),
    Token: `IQoJb3JpZ2luX2Vj${randomBytes(48).toString('base64')}`,
    Expiration: new Date(now + lifetimeMs),
  };
}

type Node = MetadataNode;
type Lazy = MetadataLazy;


export async function startImdsEmulator(opts: ImdsEmulatorOptions): Promise<ImdsEmulator> {
  const clock = opts.clock ?? Date.now;
  const { view, role } = opts;
  const host = opts.host ?? '127.0.0.1';
  const tokens = new Map<string, number>(); // token → expiry (clock ms)
  let disabled = false;
  let requireToken = true;

  let credentialSource: (() => ImdsRoleCredentials) | undefined = role ? () => role.credentials() : undefined;
  let lastKeyId: string | undefined;
  let lastUpdated = clock();

  const currentCredentials = (): ImdsRoleCredentials => {
    const c = credentialSource!();
    if (c.AccessKeyId !== lastKeyId) {
      if (lastKeyId !== undefined) lastUpdated = clock();
      lastKeyId = c.AccessKeyId;
    }
    return c;
  };
  if (credentialSource) currentCredentials(); // LastUpdated of the first set = start-up time

  const credentialsJson = (): string => {
    const c = currentCredentials();
    const body: Record<string, string> = {
      Code: 'Success',
      LastUpdated: imdsTime(lastUpdated),
      Type: 'AWS-HMAC',
      AccessKeyId: c.AccessKeyId,
      SecretAccessKey: c.SecretAccessKey,
      Token: c.Token,
      Expiration: imdsTime(c.Expiration.getTime()),
    };
    if (c.AccountId !== undefined) body.AccountId = c.AccountId;
    return JSON.stringify(body, null, 2);
  };

  const interfaceNode = (ifc: ImdsInterface): Node =>
    new Map<string, Lazy>([
      ['device-number', String(ifc.deviceNumber)],
      ['interface-id', ifc.interfaceId],
      ['local-ipv4s', ifc.localIpv4s.join('\n')],
      ['mac', ifc.mac.toLowerCase()],
      ['subnet-id', ifc.subnetId],
      ['subnet-ipv4-cidr-block', ifc.subnetCidr],
      ['vpc-id', ifc.vpcId],
      ['vpc-ipv4-cidr-block', () => ifc.vpcCidrs[0]],
      ['vpc-ipv4-cidr-blocks', ifc.vpcCidrs.join('\n')],
    ]);

  // The metadata tree, built per request; network entries read view.interfaces() when reached.
  const metaData = (): Node => {
    let cached: ImdsInterface[] | undefined; // within one request only
    const ifcs = (): ImdsInterface[] => (cached ??= [...view.interfaces()].sort((a, b) => a.deviceNumber - b.deviceNumber));
    const primary = (): ImdsInterface | undefined => ifcs().find((i) => i.deviceNumber === 0);
    const iam: [string, Lazy][] = role
      ? [['iam', new Map<string, Lazy>([['security-credentials', new Map<string, Lazy>([[role.name, () => credentialsJson()]])]])]]
      : [];
    return new Map<string, Lazy>([
      ...iam,
      ['instance-id', view.instanceId],
      ['local-ipv4', () => primary()?.localIpv4s[0]],
      ['mac', () => primary()?.mac.toLowerCase()],
      [
        'network',
        new Map<string, Lazy>([
          [
            'interfaces',
            new Map<string, Lazy>([['macs', () => new Map<string, Lazy>(ifcs().map((i) => [i.mac.toLowerCase(), interfaceNode(i)]))]]),
          ],
        ]),
      ],
      [
        'placement',
        new Map<string, Lazy>([
          ['availability-zone', view.availabilityZone],
          ['region', view.region],
        ]),
      ],
    ]);
  };

  const resolve = (path: string): string | undefined => resolveMetaData(metaData(), path);

  const serve = (req: IncomingMessage, method: string, path: string, send: Send): void => {
    if (disabled) return send(403, 'Forbidden');
    if (path === '/latest/api/token') {
      if (method !== 'PUT') return send(405, 'Method Not Allowed', { Allow: 'PUT' });
      if (req.headers['x-forwarded-for'] !== undefined) return send(403, 'Forbidden');
      const raw = req.headers[TOKEN_TTL_HEADER];
      const ttlText = Array.isArray(raw) ? raw[0] : raw;
      const ttl = ttlText !== undefined && /^\s*\d+\s*$/.test(ttlText) ? Number(ttlText.trim()) : NaN;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) return send(400, 'Bad Request');
      const now = clock();
      for (const [t, exp] of tokens) if (now >= exp) tokens.delete(t);
      const token = `AQAEA${randomBytes(36).toString('base64')}`;
      tokens.set(token, now + ttl * 1000);
      return send(200, token, { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl) });
    }
    if (method !== 'GET') return send(405, 'Method Not Allowed', { Allow: 'GET' });
    const rawToken = req.headers[TOKEN_HEADER];
    const token = Array.isArray(rawToken) ? rawToken[0] : rawToken;
    if (token === undefined) {
      if (requireToken) return send(401, 'Unauthorized');
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

  const shell = await startMetadataServer({ host, ...(opts.port !== undefined ? { port: opts.port } : {}), clock, serverHeader: 'EC2ws', serve });


  return {
    url: shell.url,
    requests: shell.requests,
    faults: shell.faults,
    setDisabled(b: boolean) {
      disabled = b;
    },
    setRequireToken(b: boolean) {
      requireToken = b;
    },
    rotateCredentials(next?: ImdsRoleCredentials | (() => ImdsRoleCredentials)): ImdsRoleCredentials {
      if (!role) throw new Error('rotateCredentials: the emulator has no role');
      const fresh = next ?? generateImdsCredentials(clock());
      credentialSource = typeof fresh === 'function' ? fresh : () => fresh;
      return currentCredentials();
    },
    close: () => shell.close(),
  };
}

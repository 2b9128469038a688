// SigV4 verification for the EC2 Query emulator (spec wire-and-cloud-apis.md §1.2).
//
// Contract: verifySigV4(req, opts) rebuilds the canonical request from the SignedHeaders list of the
// Authorization header (METHOD \n PATH \n canonical query \n headers \n \n SignedHeaders \n sha256(body)),
// checks x-amz-content-sha256 against the body, the credential scope (<yyyymmdd matching x-amz-date>/
// <region>/ec2/aws4_request), the access key (unknown → 401 AuthFailure), the session token (when the
// key has one it must arrive, signed, in x-amz-security-token), the request time (more than 15 min off
// opts.now() → 400 RequestExpired) and finally the HMAC (mismatch → 403 SignatureDoesNotMatch).
// Pure: no I/O; the caller turns a failure into the §1.4 error envelope.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SigV4Credential {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests with this key must carry it (signed) in x-amz-security-token. */
  sessionToken?: string;
}

export interface SigV4Request {
  method: string;
  /** Path without the query, e.g. "/". */
  path: string;
  /** Raw query string without "?" ("" when none). */
  query: string;
  /** Node's IncomingMessage.headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SigV4Options {
  /** Looks an access key up; undefined → AuthFailure. */
  lookup: (accessKeyId: string) => SigV4Credential | undefined;
  /** Milliseconds since the epoch, the emulator's clock. */
  now: () => number;
  /** When set, the credential scope's region must equal it. */
  region?: string;
  service?: string;
  /** Allowed skew in ms (default 15 min). */
  maxSkewMs?: number;
}

export type SigV4Result =
  | { ok: true; accessKeyId: string; region: string }
  | { ok: false; status: number; code: string; message: string; accessKeyId?: string };

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

function header(headers: SigV4Request['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX upper-case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, ' '));
      const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, ' '));
      return [uriEncode(k), uriEncode(v)] as const;
    });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Parses "YYYYMMDDTHHMMSSZ" to epoch ms, or NaN. */
export function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** The SigV4 signing key for a secret, date (yyyymmdd), region and service. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

export function verifySigV4(req: SigV4Request, opts: SigV4Options): SigV4Result {
  const service = opts.service ?? 'ec2';
  const maxSkewMs = opts.maxSkewMs ?? 15 * 60_000;
  const auth = header(req.headers, 'authorization');
  if (!auth) {
    return { ok: false, status: 401, code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials' };
  }
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(auth);
  if (!m) {
    return { ok: false, status: 400, code: 'IncompleteSignature', message: 'Authorization header is malformed.' };
  }
  const [, credential, signedHeadersStr, signature] = m as unknown as [string, string, string, string];
  const scopeParts = credential.split('/');
  if (scopeParts.length !== 5) {
    return { ok: false, status: 400, code: 'IncompleteSignature', message: 'Credential scope is malformed.' };
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = scopeParts as [string, string, string, string, string];
  const cred = opts.lookup(accessKeyId);
  if (!cred) {
    return { ok: false, status: 401, code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials' };
  }
  const fail = (status: number, code: string, message: string): SigV4Result => ({ ok: false, status, code, message, accessKeyId });
  if (scopeService !== service || terminator !== 'aws4_request') {
    return fail(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: '${service}'.`);
  }
  if (opts.region !== undefined && scopeRegion !== opts.region) {
    return fail(401, 'AuthFailure', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  }
  const amzDate = header(req.headers, 'x-amz-date');
  const t = amzDate === undefined ? NaN : parseAmzDate(amzDate);
  if (amzDate === undefined || Number.isNaN(t)) {
    return fail(400, 'IncompleteSignature', 'Request must contain a valid x-amz-date header.');
  }
  if (amzDate.slice(0, 8) !== scopeDate) {
    return fail(403, 'SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}'`);
  }
  if (Math.abs(opts.now() - t) > maxSkewMs) {
    return fail(400, 'RequestExpired', `Request has expired. Timestamp date is ${amzDate}.`);
  }
  const signedHeaders = signedHeadersStr.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) {
      return fail(403, 'SignatureDoesNotMatch', `'${required}' must be a signed header.`);
    }
  }
  const bodyHash = sha256Hex(req.body);
  const claimed = header(req.headers, 'x-amz-content-sha256');
  if (claimed !== undefined && claimed !== bodyHash) {
    return fail(403, 'SignatureDoesNotMatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  if (cred.sessionToken !== undefined) {
    const tok = header(req.headers, 'x-amz-security-token');
    if (tok === undefined || !signedHeaders.includes('x-amz-security-token')) {
      return fail(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
    }
    if (tok !== cred.sessionToken) {
      return fail(401, 'AuthFailure', 'The security token included in the request is invalid.');
    }
  }
  const headerLines: string[] = [];
  for (const name of signedHeaders) {
    const v = header(req.headers, name);
    if (v === undefined) return fail(403, 'SignatureDoesNotMatch', `Signed header '${name}' is missing.`);
    headerLines.push(`${name}:${v.trim().replace(/\s+/g, ' ')}`);
  }
  const canonicalRequest = [
    req.method.toUpperCase(),
    req.path === '' ? '/' : req.path,
    canonicalQuery(req.query),
    headerLines.join('\n') + '\n',
    signedHeadersStr,
    bodyHash,
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = createHmac('sha256', signingKey(cred.secretAccessKey, scopeDate, scopeRegion, service))
    .update(stringToSign, 'utf8')
    .digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { ok: true, accessKeyId, region: scopeRegion };
}

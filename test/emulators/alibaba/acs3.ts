// Request-signature verification for the Alibaba Cloud VPC emulator (spec wire-and-cloud-apis.md §3.2,
// §3.5): ACS3-HMAC-SHA256 (what @alicloud/openapi-core 1.x sends by default) and the legacy RPC v2
// signature (HMAC-SHA1 in the query, Config.signatureAlgorithm = 'v2').
//
// Contract: verifyAlibabaSignature(req, opts) picks the scheme from the request: an `Authorization:
// ACS3-HMAC-SHA256 …` header → ACS3; else a `Signature` query parameter → v2; else 400
// IncompleteSignature. Checks, in order, each failing with the code the real API uses:
// - malformed Authorization / missing x-acs-date, x-acs-signature-nonce or (v2) Timestamp,
//   SignatureNonce, AccessKeyId, SignatureMethod=HMAC-SHA1, SignatureVersion=1.0 → 400 IncompleteSignature;
// - unknown access key → 404 InvalidAccessKeyId.NotFound;
// - x-acs-date / Timestamp more than maxSkewMs (default 15 min) off opts.now() → 400 InvalidTimeStamp.Expired;
// - a nonce already seen within the skew window → 400 SignatureNonceUsed;
// - ACS3: host, x-acs-action, x-acs-date and x-acs-content-sha256 not all signed, or
//   x-acs-content-sha256 ≠ sha256(body) → 400 SignatureDoesNotMatch;
// - a key with a securityToken (STS): the token must arrive (x-acs-security-token, signed, or the v2
//   SecurityToken parameter) → 400 MissingSecurityToken, and equal it → 400
//   InvalidSecurityToken.MismatchWithAccessKey [emulator choice: spec §3.5 leaves these open];
// - HMAC mismatch → 400 SignatureDoesNotMatch.
// ACS3 canonical request = METHOD \n "/" \n canonical query (sorted by key, `key=enc(value)`, values
// URL-decoded then encoded with encodeURIComponent + !'()* escaped) \n one `name:trim(value)` line
// per signed header \n \n SignedHeaders \n x-acs-content-sha256; string to sign = "ACS3-HMAC-SHA256\n"
// + hex(sha256(canonical request)); signature = hex(HMAC-SHA256(secret, string to sign)).
// v2: string to sign = METHOD & enc("/") & enc(sorted `enc(k)=enc(v)` of every query parameter but
// Signature, joined by &); signature = base64(HMAC-SHA1(secret + "&", string to sign)).
// Pure apart from the nonce cache (a NonceCache the caller owns); the caller turns a failure into the
// §3.5 JSON error envelope.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface AlibabaCredential {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS credentials: requests with this key must carry this token. */
  securityToken?: string;
}

export interface SignedRequest {
  method: string;
  /** Path without the query ("/"). */
  path: string;
  /** Raw query string without "?". */
  query: string;
  /** Node's IncomingMessage.headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Nonces seen: nonce → clock ms when seen. Owned by the server so replays are caught across requests. */
export type NonceCache = Map<string, number>;

export interface VerifyOptions {
  lookup: (accessKeyId: string) => AlibabaCredential | undefined;
  /** Emulator clock, ms since the epoch. */
  now: () => number;
  /** Allowed clock skew in ms (default 15 min). */
  maxSkewMs?: number;
  /** When given, a nonce may be used once within maxSkewMs. */
  nonces?: NonceCache;
}

export type SignatureKind = 'ACS3' | 'v2';

export type VerifyResult =
  | { ok: true; kind: SignatureKind; accessKeyId: string }
  | { ok: false; status: number; code: string; message: string; kind?: SignatureKind; accessKeyId?: string };

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The SDK's percent-encoding: encodeURIComponent plus ! ' ( ) * escaped. */
export function acsEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** The query as ordered [key, value] pairs, URL-decoded ('+' is a space). */
export function parseQuery(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const p of query.split('&')) {
    if (p === '') continue;
    const i = p.indexOf('=');
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    out.push([dec(i < 0 ? p : p.slice(0, i)), i < 0 ? '' : dec(p.slice(i + 1))]);
  }
  return out;
}

const byKey = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Parses "YYYY-MM-DDTHH:MM:SSZ" to epoch ms, or NaN. */
export function parseAcsDate(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s)) return NaN;
  return Date.parse(s);
}

const NOT_MATCH =
  'The request signature does not conform to Aliyun standards. server string to sign is:';

export function acs3Signature(req: SignedRequest, signedHeaders: string[], contentSha256: string, secret: string): { signature: string; stringToSign: string } {
  const canonicalQuery = parseQuery(req.query)
    .sort(byKey)
    .map(([k, v]) => `${k}=${acsEncode(v)}`)
    .join('&');
  const lines = signedHeaders.map((name) => {
    const raw = req.headers[name];
    const values = raw === undefined ? [''] : Array.isArray(raw) ? raw.map((x) => x.trim()).sort() : [raw.trim()];
    return `${name}:${values.join(',')}\n`;
  });
  const canonicalRequest = [req.method.toUpperCase(), req.path === '' ? '/' : req.path, canonicalQuery, lines.join(''), signedHeaders.join(';'), contentSha256].join('\n');
  const stringToSign = 'ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonicalRequest).digest('hex');
  return { signature: createHmac('sha256', secret).update(stringToSign).digest('hex'), stringToSign };
}

export function v2Signature(method: string, params: [string, string][], secret: string): { signature: string; stringToSign: string } {
  const canonical = params
    .filter(([k]) => k !== 'Signature')
    .sort(byKey)
    .map(([k, v]) => `${acsEncode(k)}=${acsEncode(v)}`)
    .join('&');
  const stringToSign = `${method.toUpperCase()}&${acsEncode('/')}&${acsEncode(canonical)}`;
  return { signature: createHmac('sha1', secret + '&').update(stringToSign).digest('base64'), stringToSign };
}

function checkTimeAndNonce(t: number, stamp: string, nonce: string, opts: VerifyOptions): { status: number; code: string; message: string } | undefined {
  const maxSkewMs = opts.maxSkewMs ?? 15 * 60_000;
  const now = opts.now();
  if (Math.abs(now - t) > maxSkewMs) {
    return { status: 400, code: 'InvalidTimeStamp.Expired', message: `Specified time stamp or date value is expired. ${stamp}` };
  }
  if (opts.nonces) {
    for (const [n, at] of opts.nonces) if (now - at > maxSkewMs) opts.nonces.delete(n);
    if (opts.nonces.has(nonce)) return { status: 400, code: 'SignatureNonceUsed', message: 'Specified signature nonce was used already.' };
    opts.nonces.set(nonce, now);
  }
  return undefined;
}

function verifyAcs3(req: SignedRequest, auth: string, opts: VerifyOptions): VerifyResult {
  const kind: SignatureKind = 'ACS3';
  const m = /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$/.exec(auth);
  if (!m) return { ok: false, kind, status: 400, code: 'IncompleteSignature', message: 'The request signature does not conform to Aliyun standards: malformed Authorization header.' };
  const [, accessKeyId, signedHeadersStr, signature] = m as unknown as [string, string, string, string];
  const cred = opts.lookup(accessKeyId);
  if (!cred) return { ok: false, kind, status: 404, code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const fail = (status: number, code: string, message: string): VerifyResult => ({ ok: false, kind, status, code, message, accessKeyId });
  const date = header(req.headers, 'x-acs-date');
  const nonce = header(req.headers, 'x-acs-signature-nonce');
  const t = date === undefined ? NaN : parseAcsDate(date);
  if (date === undefined || Number.isNaN(t) || nonce === undefined || nonce === '') {
    return fail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards: x-acs-date and x-acs-signature-nonce are required.');
  }
  const signedHeaders = signedHeadersStr.split(';');
  for (const required of ['host', 'x-acs-action', 'x-acs-date', 'x-acs-content-sha256']) {
    if (!signedHeaders.includes(required)) return fail(400, 'SignatureDoesNotMatch', `The request signature does not conform to Aliyun standards: '${required}' must be signed.`);
  }
  const contentSha256 = header(req.headers, 'x-acs-content-sha256') ?? '';
  if (contentSha256 !== createHash('sha256').update(req.body).digest('hex')) {
    return fail(400, 'SignatureDoesNotMatch', 'The request signature does not conform to Aliyun standards: x-acs-content-sha256 does not match the body.');
  }
  const { signature: expected, stringToSign } = acs3Signature(req, signedHeaders, contentSha256, cred.accessKeySecret);
  if (!safeEqual(Buffer.from(signature.toLowerCase(), 'utf8'), Buffer.from(expected, 'utf8'))) {
    return fail(400, 'SignatureDoesNotMatch', `${NOT_MATCH} ${stringToSign}`);
  }
  if (cred.securityToken !== undefined) {
    const tok = header(req.headers, 'x-acs-security-token');
    if (tok === undefined || !signedHeaders.includes('x-acs-security-token')) return fail(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.');
    if (tok !== cred.securityToken) return fail(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'Specified SecurityToken mismatch with the AccessKey.');
  }
  const late = checkTimeAndNonce(t, date, nonce, opts);
  if (late) return fail(late.status, late.code, late.message);
  return { ok: true, kind, accessKeyId };
}

function verifyV2(req: SignedRequest, params: [string, string][], opts: VerifyOptions): VerifyResult {
  const kind: SignatureKind = 'v2';
  const get = (k: string) => params.find(([n]) => n === k)?.[1];
  const signature = get('Signature') ?? '';
  const accessKeyId = get('AccessKeyId');
  const stamp = get('Timestamp');
  const nonce = get('SignatureNonce');
  if (!accessKeyId || !stamp || !nonce || get('SignatureMethod') !== 'HMAC-SHA1' || get('SignatureVersion') !== '1.0') {
    return { ok: false, kind, status: 400, code: 'IncompleteSignature', message: 'The request signature does not conform to Aliyun standards: AccessKeyId, Timestamp, SignatureNonce, SignatureMethod=HMAC-SHA1 and SignatureVersion=1.0 are required.' };
  }
  const cred = opts.lookup(accessKeyId);
  if (!cred) return { ok: false, kind, status: 404, code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const fail = (status: number, code: string, message: string): VerifyResult => ({ ok: false, kind, status, code, message, accessKeyId });
  const t = parseAcsDate(stamp);
  if (Number.isNaN(t)) return fail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards: invalid Timestamp.');
  const { signature: expected, stringToSign } = v2Signature(req.method, params, cred.accessKeySecret);
  if (!safeEqual(Buffer.from(signature, 'utf8'), Buffer.from(expected, 'utf8'))) return fail(400, 'SignatureDoesNotMatch', `${NOT_MATCH} ${stringToSign}`);
  if (cred.securityToken !== undefined) {
    const tok = get('SecurityToken');
    if (tok === undefined) return fail(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.');
    if (tok !== cred.securityToken) return fail(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'Specified SecurityToken mismatch with the AccessKey.');
  }
  const late = checkTimeAndNonce(t, stamp, nonce, opts);
  if (late) return fail(late.status, late.code, late.message);
  return { ok: true, kind, accessKeyId };
}

export function verifyAlibabaSignature(req: SignedRequest, opts: VerifyOptions): VerifyResult {
  const auth = header(req.headers, 'authorization');
  if (auth !== undefined && auth.startsWith('ACS3-')) return verifyAcs3(req, auth, opts);
  const params = parseQuery(req.query);
  if (params.some(([k]) => k === 'Signature')) return verifyV2(req, params, opts);
  return { ok: false, status: 400, code: 'IncompleteSignature', message: 'The request signature does not conform to Aliyun standards: no ACS3 Authorization header and no Signature parameter.' };
}

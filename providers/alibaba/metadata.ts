// ECS instance metadata for the alibaba provider, in the security-hardened mode only (spec §3.9):
// `PUT /latest/api/token` with `X-aliyun-ecs-metadata-token-ttl-seconds`, then the token in
// `X-aliyun-ecs-metadata-token` on every GET. One token is cached until shortly before its TTL ends;
// a GET refused with 401 or 403 (token expired, metadata service restarted) fetches a new token and
// tries once more. There is no token-less fallback. Plain `fetch`, so the endpoint is ours to choose
// (`provider.metadataEndpoint`): the SDK's own client hard-codes the platform address.
//
// ALIBABA_CLOUD_ECS_METADATA_DISABLED=true (what tests set, spec §3.8) forbids the DEFAULT address:
// the client then refuses before any request. An explicit endpoint (an emulator) is still used.
//
// Failures are ProviderErrors: unreachable / slow / 5xx → retryable; 404 → permanent (no such path:
// not an ECS instance, or no RAM role); a token PUT refused → permanent (hardened mode unavailable).
// Nothing here sleeps or retries on its own beyond the one token renewal (the runner backs off).
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';

/** The platform's metadata address (the one place it is written; tests never reach it). */
export const ECS_METADATA_ENDPOINT = 'http://100.100.100.200';

export interface MetadataOptions {
  /** Base URL, default ECS_METADATA_ENDPOINT. */
  endpoint?: string;
  /** Per request (connect and answer). */
  timeoutMs?: number;
  /** Token lifetime asked for (seconds, 1..21600). */
  tokenTtlS?: number;
  /** Monotonic ms (tests inject a fake clock). */
  now?: () => number;
  /** Default process.env (for ALIBABA_CLOUD_ECS_METADATA_DISABLED). */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TTL_S = 21_600;
const TOKEN_MARGIN_MS = 60_000;

export class EcsMetadata {
  readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly ttlS: number;
  private readonly now: () => number;
  private readonly disabled: boolean;
  private token: { value: string; until: number } | null = null;
  private pending: Promise<string> | null = null;
  /** PUTs made (tests and `provider test` read them). */
  tokensFetched = 0;
  /** GETs made. */
  reads = 0;

  constructor(opts: MetadataOptions = {}) {
    this.endpoint = (opts.endpoint ?? ECS_METADATA_ENDPOINT).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.ttlS = opts.tokenTtlS ?? DEFAULT_TTL_S;
    this.now = opts.now ?? (() => performance.now());
    const env = opts.env ?? process.env;
    this.disabled = opts.endpoint === undefined && (env.ALIBABA_CLOUD_ECS_METADATA_DISABLED ?? '').toLowerCase() === 'true';
  }

  /** GET /latest/meta-data/<path>, the body as text (trimmed). */
  async get(path: string, signal?: AbortSignal): Promise<string> {
    const full = `/latest/meta-data/${path.replace(/^\/+/, '')}`;
    let res = await this.request('GET', full, { 'X-aliyun-ecs-metadata-token': await this.currentToken(signal) }, signal);
    if (res.status === 401 || res.status === 403) {
      this.token = null; // expired, or the service restarted: once more with a new token
      res = await this.request('GET', full, { 'X-aliyun-ecs-metadata-token': await this.currentToken(signal) }, signal);
    }
    if (res.status !== 200) throw statusError(res.status, full);
    return res.body.trim();
  }

  private async currentToken(signal?: AbortSignal): Promise<string> {
    const t = this.token;
    if (t && this.now() < t.until) return t.value;
    this.pending ??= (async () => {
      try {
        const res = await this.request('PUT', '/latest/api/token', { 'X-aliyun-ecs-metadata-token-ttl-seconds': String(this.ttlS) }, signal);
        if (res.status !== 200 || !res.body.trim()) {
          if (res.status >= 500) throw statusError(res.status, '/latest/api/token');
          throw permanent(
            `instance metadata /latest/api/token: HTTP ${res.status} (no token in hardened mode)`,
            'the ECS metadata service refused a token: check that the instance supports the security-hardened metadata mode, and that nothing between the agent and provider.metadataEndpoint forwards the PUT',
            { code: `Metadata${res.status}` },
          );
        }
        this.tokensFetched++;
        this.token = { value: res.body.trim(), until: this.now() + this.ttlS * 1000 - Math.min(TOKEN_MARGIN_MS, (this.ttlS * 1000) / 10) };
        return this.token.value;
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }

  private async request(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    if (this.disabled)
      throw permanent(
        `instance metadata ${path}: ALIBABA_CLOUD_ECS_METADATA_DISABLED=true forbids the default metadata address`,
        'set provider.metadataEndpoint, or give provider.instanceId and provider.regionId and credentials in the environment',
        { code: 'MetadataDisabled' },
      );
    if (method === 'GET') this.reads++;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(this.endpoint + path, { method, headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      return { status: res.status, body: await res.text() };
    } catch (e) {
      if (signal?.aborted) throw e;
      throw retryable(`instance metadata ${path}: ${timeout.aborted ? `no answer within ${this.timeoutMs} ms` : describe(e)}`, {
        fix: `the ECS metadata service at ${this.endpoint} did not answer: on ECS check the instance's metadata access; elsewhere set provider.metadataEndpoint, or give provider.instanceId and provider.regionId`,
        code: 'MetadataUnreachable',
        cause: e,
      });
    }
  }
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

function statusError(status: number, path: string): ProviderError {
  const message = `instance metadata ${path}: HTTP ${status}`;
  if (status === 404)
    return permanent(message, 'this metadata path does not exist here: is the agent on an ECS instance (and, for credentials, does it have a RAM role)?', { code: 'Metadata404' });
  return retryable(message, { fix: 'the ECS metadata service answered with an error: the agent retries', code: `Metadata${status}` });
}

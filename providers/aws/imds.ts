// IMDSv2 for the aws provider, through @aws-sdk/ec2-metadata-service, with the token cached: the
// SDK would PUT a new token before every GET (spec §0.7). Here one token serves until shortly before
// its TTL ends; a 401 (token expired or IMDS restarted) fetches a new one and retries once. IMDSv2
// only: every GET carries a token, there is no v1 fallback. Paths are given without a leading slash
// (the SDK would send "//latest/…" otherwise).
//
// Failures are ProviderErrors (retryable: IMDS down or slow, 5xx; permanent: 403 = IMDS disabled for
// this instance, 404 = no such path) with the fix; nothing here retries with sleeps of its own (the
// runner backs off).
import { MetadataService } from '@aws-sdk/ec2-metadata-service';
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';

export interface ImdsOptions {
  /** Default: AWS_EC2_METADATA_SERVICE_ENDPOINT, the profile's ec2_metadata_service_endpoint, then http://169.254.169.254. */
  endpoint?: string;
  /** Per request (connect and answer). */
  timeoutMs?: number;
  /** Token lifetime asked for (seconds, 1..21600). */
  tokenTtlS?: number;
  /** Monotonic ms (tests inject a fake clock). */
  now?: () => number;
}

/** A token is renewed this long before IMDS would expire it. */
const TOKEN_MARGIN_MS = 60_000;
const DEFAULT_TTL_S = 21_600;

export class Imds {
  private readonly svc: MetadataService;
  private readonly ttlS: number;
  private readonly now: () => number;
  private token: { value: string; until: number } | null = null;
  private pending: Promise<string> | null = null;
  /** PUTs made (tests and `provider test` read it). */
  tokensFetched = 0;

  constructor(opts: ImdsOptions = {}) {
    this.ttlS = opts.tokenTtlS ?? DEFAULT_TTL_S;
    this.now = opts.now ?? (() => performance.now());
    this.svc = new MetadataService({
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      httpOptions: { timeout: opts.timeoutMs ?? 2_000 },
      retries: 0,
      tokenTtl: this.ttlS,
      // We send the token ourselves (cached): the SDK must not fetch one per GET, and must not be
      // told that v1 is off, or it refuses to run without fetching.
      disableFetchToken: true,
      ec2MetadataV1Disabled: false,
    });
  }

  /** GET latest/meta-data/<path> (text). */
  async get(path: string): Promise<string> {
    const full = `latest/meta-data/${path.replace(/^\/+/, '')}`;
    try {
      return await this.request(full, await this.currentToken());
    } catch (e) {
      if (statusOf(e) !== 401) throw imdsError(e, full);
      this.token = null; // expired, or IMDS restarted: once more with a new token
      try {
        return await this.request(full, await this.currentToken());
      } catch (again) {
        throw imdsError(again, full);
      }
    }
  }

  private request(path: string, token: string): Promise<string> {
    return this.svc.request(path, { headers: { 'x-aws-ec2-metadata-token': token } });
  }

  private async currentToken(): Promise<string> {
    const t = this.token;
    if (t && this.now() < t.until) return t.value;
    this.pending ??= (async () => {
      try {
        const value = (await this.svc.fetchMetadataToken()).trim();
        this.tokensFetched++;
        this.token = { value, until: this.now() + this.ttlS * 1000 - Math.min(TOKEN_MARGIN_MS, (this.ttlS * 1000) / 10) };
        return value;
      } catch (e) {
        throw imdsError(e, 'latest/api/token');
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }
}

/** The HTTP status of a MetadataService failure. Its token fetch keeps it only in the message. */
function statusOf(e: unknown): number | null {
  const s = (e as { $metadata?: { httpStatusCode?: unknown }; statusCode?: unknown } | null)?.$metadata?.httpStatusCode ?? (e as { statusCode?: unknown } | null)?.statusCode;
  if (typeof s === 'number') return s;
  const m = e instanceof Error ? /status code (\d{3})\b/.exec(e.message) : null;
  return m ? Number(m[1]) : null;
}

function imdsError(e: unknown, path: string): ProviderError {
  if (e instanceof ProviderError) return e;
  const status = statusOf(e);
  const said = e instanceof Error ? e.message : String(e);
  const message = `instance metadata ${path}: ${status ? `HTTP ${status}` : said}`;
  if (status === 403)
    return permanent(message, 'IMDS is disabled for this instance (or the PUT was forwarded): enable it with HttpTokens=required (aws ec2 modify-instance-metadata-options), hop limit ≥ 2 in containers', { code: 'IMDS403', cause: e });
  if (status === 404) return permanent(message, 'this metadata path does not exist on this instance: is the agent on EC2, and is the interface an ENI of it?', { code: 'IMDS404', cause: e });
  return retryable(message, {
    fix: 'the instance metadata service (IMDSv2) did not answer: on EC2 check the metadata options (enabled, hop limit ≥ 2 for containers); elsewhere set provider.imdsEndpoint or give the instance facts in the config',
    code: status ? `IMDS${status}` : 'IMDSUnreachable',
    cause: e,
  });
}

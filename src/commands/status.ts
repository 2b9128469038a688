// `ha-agent status [--url URL] [--json]`: asks a running agent for GET /status and prints a table
// (or the JSON, pretty). Exit code: 0 answered, 1 nothing (or nothing sensible) answered, 2 bad --url.
// `--watch` is commands/status-watch.ts (it reuses statusBase() and fetchStatus()).
import { renderStatusTable } from '../status/table.js';
import type { StatusJson } from '../status/types.js';

export const DEFAULT_STATUS_URL = 'http://127.0.0.1:9721';
const TIMEOUT_MS = 3000;

export interface Out {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Why a fetch failed, in a few words: "connection refused", "no answer within 3 s", ... */
function describeFetchError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${TIMEOUT_MS / 1000} s`;
  }
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset';
  }
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function looksLikeStatus(v: unknown): v is StatusJson {
  return typeof v === 'object' && v !== null && typeof (v as { instances?: unknown }).instances === 'object' && (v as { instances: unknown }).instances !== null;
}

/** The base URL from --url, or an error message (exit 2). */
export function statusBase(url: string): { base: string } | { error: string } {
  const base = url.replace(/\/+$/, '');
  try {
    const target = new URL(`${base}/status`);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    return { error: `invalid --url "${url}": expected something like ${DEFAULT_STATUS_URL}\n` };
  }
  return { base };
}

/** GET /status: the JSON, or why not (one line, for stderr). */
export async function fetchStatus(base: string): Promise<{ status: StatusJson } | { error: string }> {
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (err) {
    return { error: `no ha-agent answering at ${base} (${describeFetchError(err)}) — is \`ha-agent run\` running, and is status.listen set to this address?\n` };
  }
  let body: unknown;
  try {
    const text = await res.text();
    if (!res.ok) return { error: `ha-agent at ${base} answered HTTP ${res.status}: ${text.trim().split('\n')[0] ?? ''}\n` };
    body = JSON.parse(text);
  } catch (err) {
    return { error: `${base} did not answer with ha-agent status JSON (${describeFetchError(err)})\n` };
  }
  if (!looksLikeStatus(body)) return { error: `${base} did not answer with ha-agent status JSON (no "instances")\n` };
  return { status: body };
}

export async function statusCommand(opts: { url: string; json: boolean }, out: Out): Promise<number> {
  const b = statusBase(opts.url);
  if ('error' in b) {
    out.stderr.write(b.error);
    return 2;
  }
  const base = b.base;
  const got = await fetchStatus(base);
  if ('error' in got) {
    out.stderr.write(got.error);
    return 1;
  }
  const body = got.status;
  if (opts.json) {
    out.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  try {
    out.stdout.write(renderStatusTable(body));
  } catch (err) {
    out.stderr.write(`cannot show the status of ${base} as a table (${describeFetchError(err)}); try --json\n`);
    return 1;
  }
  return 0;
}

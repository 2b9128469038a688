// Follows an agent's GET /events for the CLI (`ha-agent events`, `ha-agent status --watch`): an SSE
// parser (the text/event-stream rules: fields, comments, CR/LF/CRLF, multi-line data) and a loop that
// reconnects after a drop, sending Last-Event-ID so the agent replays what was missed.
//
// Contract: followEvents() calls onMessage for every event in order, onConnection when the stream is
// (re)opened or lost, and resolves when `signal` aborts (or stop() from onMessage), never rejects.

export interface SseMessage {
  /** The `event:` field ("message" when absent). */
  event: string;
  data: string;
  /** The `id:` field, or the last one seen on this stream ("" when none yet). */
  id: string;
}

/** Incremental parser: push() text as it arrives, get complete messages back. */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  lastId = '';
  /** The server's `retry:` in ms, when it sent one. */
  retryMs: number | null = null;

  push(text: string): SseMessage[] {
    this.buf += text;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone CR at the very end may be the first half of a CRLF: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const msg = { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId };
      this.event = '';
      this.data = [];
      return msg;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }
}

export interface FollowOptions {
  /** The agent's base URL, e.g. http://127.0.0.1:9721. */
  base: string;
  signal: AbortSignal;
  /** Resume after this id (e.g. from a previous run). */
  lastEventId?: string;
  onMessage: (m: SseMessage) => void;
  /** Stream opened (`up`) or lost (`down`, with why); the loop reconnects after a down. */
  onConnection?: (c: { up: true } | { up: false; why: string }) => void;
  /** Give up after this many failed connection attempts in a row (default: never). */
  maxAttempts?: number;
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export async function followEvents(o: FollowOptions): Promise<'aborted' | 'gave-up'> {
  let lastId = o.lastEventId ?? '';
  let retryMs = 2_000;
  let failures = 0;
  while (!o.signal.aborted) {
    const parser = new SseParser();
    parser.lastId = lastId;
    let why = 'stream ended';
    try {
      const res = await fetch(`${o.base.replace(/\/+$/, '')}/events`, {
        signal: o.signal,
        headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      failures = 0;
      o.onConnection?.({ up: true });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const m of parser.push(decoder.decode(chunk, { stream: true }))) {
          lastId = m.id;
          o.onMessage(m);
          if (o.signal.aborted) return 'aborted';
        }
        if (parser.retryMs !== null) retryMs = Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, parser.retryMs));
      }
    } catch (err) {
      if (o.signal.aborted) return 'aborted';
      failures++;
      why = describe(err);
    }
    o.onConnection?.({ up: false, why });
    if (o.signal.aborted) return 'aborted';
    if (o.maxAttempts !== undefined && failures >= o.maxAttempts) return 'gave-up';
    const wait = Math.min(MAX_RETRY_MS, retryMs * Math.max(1, failures));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      o.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
  return 'aborted';
}

function describe(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code === 'ECONNRESET') return 'connection reset';
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}

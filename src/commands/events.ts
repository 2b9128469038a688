// `ha-agent events [--url URL] [--count N] [--last-event-id ID]`: follows a running agent's GET /events
// and prints every event as one JSON line on stdout — {"id", "type", "time", …the event's fields} —
// for scripts (`ha-agent events | jq …`). Types: transition, provider, check, config-reload, and the
// stream's own gap (the agent could not replay everything after --last-event-id / a reconnect) and
// dropped (this reader was too slow; {count} events were skipped).
// A dropped connection is retried with Last-Event-ID, so nothing is missed across it (said on stderr).
// Exit code: 0 after --count events or on SIGINT/SIGTERM, 1 when the agent cannot be reached at all,
// 2 bad arguments.
import { followEvents, type SseMessage } from '../events/sse-client.js';
import { statusBase, type Out } from './status.js';

export interface EventsOptions {
  url: string;
  /** Exit after this many events (default: follow until interrupted). */
  count?: number;
  lastEventId?: string;
}

/** One SSE message as the JSON line printed for it; null for something that is not ours. */
export function eventLine(m: SseMessage): string | null {
  let data: unknown;
  try {
    data = JSON.parse(m.data);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  return JSON.stringify({ ...(m.id ? { id: m.id } : {}), type: m.event, ...data });
}

export async function eventsCommand(opts: EventsOptions, out: Out, signal?: AbortSignal): Promise<number> {
  const b = statusBase(opts.url);
  if ('error' in b) {
    out.stderr.write(b.error);
    return 2;
  }
  if (opts.count !== undefined && !(Number.isInteger(opts.count) && opts.count > 0)) {
    out.stderr.write(`invalid --count "${opts.count}": expected a whole number above 0\n`);
    return 2;
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal?.addEventListener('abort', stop, { once: true });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let printed = 0;
  let everUp = false;
  let failed: string | null = null;
  try {
    await followEvents({
      base: b.base,
      signal: ac.signal,
      ...(opts.lastEventId ? { lastEventId: opts.lastEventId } : {}),
      onConnection: (c) => {
        if (c.up) {
          if (everUp) out.stderr.write(`reconnected to ${b.base}/events\n`);
          everUp = true;
        } else if (!everUp) {
          failed = `no ha-agent answering at ${b.base} (${c.why}) — is \`ha-agent run\` running, and is status.listen set to this address?\n`;
          ac.abort();
        } else out.stderr.write(`lost ${b.base}/events (${c.why}); reconnecting\n`);
      },
      onMessage: (m) => {
        const line = eventLine(m);
        if (line === null) return;
        out.stdout.write(line + '\n');
        if (opts.count !== undefined && ++printed >= opts.count) ac.abort();
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    signal?.removeEventListener('abort', stop);
  }
  if (failed) {
    out.stderr.write(failed);
    return 1;
  }
  return 0;
}

// `ha-agent status --watch [--url URL]`: a live view. Reads GET /status once, follows GET /events, and
// after each event reads /status again and redraws the table (state, priority, master, VIPs, provider
// ownership, last error) with a LAST EVENT column per instance (its last transition, and what came
// after it: "12:03:04 BACKUP→MASTER (master-down-timer); then acquire ok 5 ms") and the latest event
// of any kind below.
// On a terminal each frame replaces the previous one (and the uptime ticks every REFRESH_MS); on
// anything else (a pipe, a test) frames are printed one after another, each after a "--- frame N" line.
// Exit code: 0 on SIGINT/SIGTERM, 1 when the agent cannot be reached at start, 2 bad --url.
import { followEvents, type SseMessage } from '../events/sse-client.js';
import { renderStatusTable } from '../status/table.js';
import type { StatusJson } from '../status/types.js';
import { fetchStatus, statusBase, type Out } from './status.js';

const REFRESH_MS = 5_000;
const CLEAR = '\x1b[H\x1b[2J';

export interface WatchOptions {
  url: string;
  /** Redraw in place (default: whether stdout is a terminal). */
  tty?: boolean;
}

/** "12:03:04 BACKUP→MASTER (master-down-timer)": what the LAST EVENT column says about an event. */
export function describeEvent(type: string, d: Record<string, unknown>): string {
  const t = typeof d.time === 'string' ? d.time.slice(11, 19) : '';
  const text = (() => {
    switch (type) {
      case 'transition':
        return `${String(d.from)}→${String(d.to)} (${String(d.reason)})`;
      case 'provider':
        return `${String(d.op)} ${String(d.outcome)}${typeof d.ms === 'number' ? ` ${Math.round(d.ms)} ms` : ''}${d.error ? `: ${String(d.error)}` : ''}`;
      case 'check':
        return `check ${String(d.check)} ${String(d.status)}`;
      case 'config-reload':
        return `config reload ${d.ok === false ? `failed${d.error ? `: ${String(d.error)}` : ''}` : 'done'}`;
      case 'dropped':
        return `${String(d.count)} events dropped (slow reader)`;
      case 'gap':
        return 'some events were missed';
      default:
        return type;
    }
  })();
  return `${t} ${text}`.trim().replace(/\s*\n\s*/g, ' ');
}

export async function statusWatchCommand(opts: WatchOptions, out: Out, signal?: AbortSignal): Promise<number> {
  const b = statusBase(opts.url);
  if ('error' in b) {
    out.stderr.write(b.error);
    return 2;
  }
  const base = b.base;
  const first = await fetchStatus(base);
  if ('error' in first) {
    out.stderr.write(first.error);
    return 1;
  }
  const tty = opts.tty ?? (out.stdout as { isTTY?: boolean }).isTTY === true;
  let status: StatusJson = first.status;
  // Per instance: its last transition, then anything after it (provider outcome, …).
  const lastEvents: Record<string, string> = {};
  const lastTransition: Record<string, string> = {};
  let latest = '(none yet)';
  let connection = `following ${base}/events`;
  let frame = 0;

  const draw = () => {
    frame++;
    const body = renderStatusTable(status, lastEvents) + `last event: ${latest}\n${connection}${tty ? ' — Ctrl-C to quit' : ''}\n`;
    out.stdout.write(tty ? CLEAR + body : `--- frame ${frame}\n${body}`);
  };

  // One /status read at a time; events arriving meanwhile ask for one more read after it.
  let reading = false;
  let again = false;
  const refresh = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    do {
      again = false;
      const got = await fetchStatus(base);
      if ('status' in got) status = got.status;
      else connection = got.error.trim();
    } while (again);
    reading = false;
    draw();
  };

  const ac = new AbortController();
  const stop = () => ac.abort();
  signal?.addEventListener('abort', stop, { once: true });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const tick = tty ? setInterval(() => void refresh(), REFRESH_MS) : null;
  draw();
  try {
    await followEvents({
      base,
      signal: ac.signal,
      onConnection: (c) => {
        const before = connection;
        connection = c.up ? `following ${base}/events` : `lost ${base}/events (${c.why}); reconnecting`;
        if (connection !== before) void refresh();
      },
      onMessage: (m: SseMessage) => {
        let d: Record<string, unknown>;
        try {
          d = JSON.parse(m.data) as Record<string, unknown>;
        } catch {
          return;
        }
        latest = `${describeEvent(m.event, d)}${typeof d.instance === 'string' ? ` [${d.instance}]` : ''}`;
        const inst = d.instance;
        if (typeof inst === 'string') {
          const text = describeEvent(m.event, d);
          if (m.event === 'transition') lastEvents[inst] = lastTransition[inst] = text;
          else lastEvents[inst] = lastTransition[inst] ? `${lastTransition[inst]}; then ${text.replace(/^\d\d:\d\d:\d\d /, '')}` : text;
        }
        void refresh();
      },
    });
  } finally {
    if (tick) clearInterval(tick);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    signal?.removeEventListener('abort', stop);
  }
  return 0;
}

// GET /events: the event bus (events/bus.ts) as server-sent events (text/event-stream).
//
// Each event goes out as `id: <id>`, `event: <type>`, `data: {"time":…, …data}`. A client that
// reconnects with a Last-Event-ID header (or ?lastEventId=) first gets the kept events after that id;
// when some may be missing it gets an `event: gap` first. A comment line every PING_MS keeps proxies
// from closing an idle stream (the timer exists only while a client is connected).
//
// A slow client never blocks the agent: writes never wait, and while more than MAX_BUFFERED bytes are
// queued for a client its events are dropped and counted (stats.dropped, /metrics); once its socket
// drains it gets `event: dropped` with how many it missed, then the stream goes on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { agentEvents, type AgentEvent, type EventBus } from './bus.js';

export const MAX_BUFFERED = 256 * 1024;
const PING_MS = 15_000;
/** What an EventSource waits before reconnecting. */
const RETRY_MS = 2_000;

export interface SseStats {
  /** Clients connected now. */
  clients: number;
  /** Events not sent to a client because its buffer was full. */
  dropped: number;
}

export const sseStats: SseStats = { clients: 0, dropped: 0 };

/** One SSE message (the data is one line of JSON: no newline can break the framing). */
export function formatEvent(e: AgentEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ time: e.time, ...e.data })}\n\n`;
}

export function handleEvents(req: IncomingMessage, res: ServerResponse, bus: EventBus = agentEvents, stats: SseStats = sseStats): void {
  res.sendDate = false;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const header = req.headers['last-event-id'];
  const lastId = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('lastEventId');

  let missed = 0;
  const send = (chunk: string): void => {
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > MAX_BUFFERED) {
      missed++;
      stats.dropped++;
      return;
    }
    res.write(chunk);
  };
  const onEvent = (e: AgentEvent) => send(formatEvent(e));
  res.on('drain', () => {
    if (missed === 0) return;
    const n = missed;
    missed = 0;
    send(`event: dropped\ndata: ${JSON.stringify({ count: n })}\n\n`);
  });

  // Subscribe first (the bus starts keeping history), then replay: nothing published in between is lost.
  const unsubscribe = bus.subscribe(onEvent);
  stats.clients++;
  res.write(`retry: ${RETRY_MS}\n: ha-agent events\n\n`);
  if (lastId) {
    const { events, gap } = bus.since(lastId);
    if (gap) send(`event: gap\ndata: ${JSON.stringify({ lastEventId: lastId })}\n\n`);
    for (const e of events) send(formatEvent(e));
  }
  const ping = setInterval(() => send(': ping\n\n'), PING_MS);
  ping.unref();
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    clearInterval(ping);
    unsubscribe();
    stats.clients--;
  };
  res.on('close', close); // the client went away (or the server closed the connection)
  res.on('error', close); // a write to a connection the peer reset: never an unhandled 'error' in the agent
}

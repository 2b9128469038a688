// The read-only HTTP status server: GET /status (JSON contract), GET /metrics (Prometheus text,
// status/metrics.ts), GET /events (server-sent events, events/sse.ts), GET /healthz (200 "ok" unless
// an instance is in FAULT), GET /readyz (200 once the election has settled, 503 before:
// status/settled.ts; the body is its summary). Anything else: 404, or 405 for non-GET.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { httpDate } from '../iso-time.js';
import { AgentMetrics } from './metrics.js';
import { handleEvents } from '../events/sse.js';
import type { EventBus } from '../events/bus.js';
import { electionSettled } from './settled.js';
import type { StatusJson } from './types.js';

export interface StatusServerOptions {
  /** "host:port", "[v6addr]:port"; port 0 picks a free port. */
  listen: string;
  getStatus: () => StatusJson;
  log: Logger;
  /** GET /metrics (default: one built on getStatus alone). */
  metrics?: AgentMetrics;
  /** GET /events (default: the process's bus). */
  events?: EventBus;
}

export interface StatusServer {
  /** Where it actually listens, as "host:port" (port resolved when 0 was asked). */
  address: string;
  close(): Promise<void>;
}

/** Splits "host:port" / "[v6]:port"; null when malformed. */
export function parseListen(listen: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(listen);
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1]!, port };
}

function listenError(listen: string, why: string): Error {
  return new Error(`status server cannot listen on ${listen}: ${why} — set status.listen to another port or "off"`);
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'address in use';
    case 'EADDRNOTAVAIL':
      return 'address not available on this host';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'host not found';
    default:
      return err.message;
  }
}

function send(res: ServerResponse, code: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.sendDate = false; // our own Date header: node's calls toUTCString(), which loads ICU (see iso-time.ts)
  res.writeHead(code, { date: httpDate(Date.now()), 'content-type': type, 'cache-control': 'no-store', ...extra });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse, getStatus: () => StatusJson, metrics: AgentMetrics, events: EventBus | undefined, log: Logger): void {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const known = path === '/status' || path === '/metrics' || path === '/healthz' || path === '/events' || path === '/readyz';
  if (!known) return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /status, /metrics, /events, /healthz or /readyz\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n', { allow: 'GET, HEAD' });
  }
  if (path === '/events') return handleEvents(req, res, events);
  if (path === '/metrics') {
    metrics.render().then(
      (text) => send(res, 200, metrics.contentType, text),
      (err: Error) => {
        log.error({ err: err.message }, 'metrics failed');
        send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      },
    );
    return;
  }
  const status = getStatus();
  if (path === '/status') return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(status) + '\n');
  if (path === '/readyz') {
    const { settled, summary } = electionSettled(status);
    return send(res, settled ? 200 : 503, 'text/plain; charset=utf-8', `${settled ? 'ready' : 'not ready'}: ${summary}\n`);
  }
  const faulted = Object.entries(status.instances)
    .filter(([, i]) => i.state === 'FAULT')
    .map(([name]) => name);
  if (faulted.length === 0) return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  return send(res, 503, 'text/plain; charset=utf-8', `fault: ${faulted.join(', ')}\n`);
}

function formatAddress(a: AddressInfo | string | null, fallback: string): string {
  if (!a || typeof a === 'string') return fallback;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const where = parseListen(opts.listen);
  if (!where) return Promise.reject(listenError(opts.listen, 'expected "host:port" (e.g. 127.0.0.1:9721)'));

  const metrics = opts.metrics ?? new AgentMetrics({ getStatus: opts.getStatus });
  const server = createServer((req, res) => {
    try {
      handle(req, res, opts.getStatus, metrics, opts.events, opts.log);
    } catch (err) {
      opts.log.error({ err: err instanceof Error ? err.message : String(err), url: req.url }, 'status request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.end();
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(opts.listen, describeListenError(err)));
    server.once('error', onError);
    server.listen({ host: where.host, port: where.port }, () => {
      server.off('error', onError);
      server.on('error', (err) => opts.log.error({ err: err.message }, 'status server error'));
      const address = formatAddress(server.address(), opts.listen);
      opts.log.info({ address }, 'status server listening');
      resolve({
        address,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

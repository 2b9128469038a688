// The HTTP shell both instance-metadata emulators share (aws/imds.ts: IMDSv2; alibaba/metadata.ts:
// ECS metadata in hardened mode): the server, the request log, fault injection and a clean close.
// Each emulator gives `serve` — its tokens, paths and answers — and this file does the rest.
//
// Contract
// - startMetadataServer({ host, port?, clock, serverHeader, serve }) listens (port 0: one the OS picks) and resolves
//   to { url, requests, faults, close }. `url` is `http://host:port`, no trailing slash.
// - Every request is logged in `requests` in arrival order: { method, path (as received), status (0
//   until answered; stays 0 for a hang), at (clock time of arrival), from (the client's address) }.
//   Bodies are read and ignored. `serve` gets the method (upper-case) and the normalised path
//   (query dropped, leading slashes collapsed), and answers through `send`.
// - faults.add({ kind, path?, method?, times? }) arms a fault for the next `times` (default 1;
//   Infinity for ever) requests matching `method` (case-insensitive) and `path` (a string equals the
//   normalised path; a RegExp is tested against it); the first armed match wins, before `serve`.
//   'status' answers `status` (default 503) at once; 'latency' waits `ms` (real time), then serves;
//   'hang' never answers. A fault removes itself when its count is used up.
// - close() ends hanging requests and open connections, disarms every fault, and stops the server.
// - resolveMetaData(root, path): the text at `/latest/meta-data/<path>` in a tree of maps (leaves are
//   strings, a function is read on every request): a leaf's value; a directory's listing, one entry
//   per line, sub-directories ending in '/'; undefined (404) for anything else, or for a leaf asked
//   with a trailing slash. Path parts match exactly or in lower case.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface MetadataRequestRecord {
  method: string;
  path: string;
  status: number;
  at: number;
  from?: string;
}

interface FaultMatch {
  path?: RegExp | string;
  method?: string;
  /** How many matching requests the fault applies to (default 1; Infinity for ever). */
  times?: number;
}

export type MetadataFault =
  | (FaultMatch & { kind: 'status'; status?: number })
  | (FaultMatch & { kind: 'latency'; ms: number })
  | (FaultMatch & { kind: 'hang' });

export interface MetadataFaultHandle {
  /** Matching requests the fault will still apply to. */
  readonly remaining: number;
  remove(): void;
}

export interface MetadataFaults {
  add(fault: MetadataFault): MetadataFaultHandle;
  clear(): void;
  /** Faults still armed. */
  readonly size: number;
}

/** Answers one request: status, text body, extra headers. */
export type Send = (status: number, body: string, headers?: Record<string, string>) => void;

export interface MetadataServerOptions {
  host: string;
  port?: number;
  clock: () => number;
  /** The Server header of every answer (as the real service sends it). */
  serverHeader: string;
  serve(req: IncomingMessage, method: string, path: string, send: Send): void;
}

export interface MetadataServer {
  url: string;
  requests: MetadataRequestRecord[];
  faults: MetadataFaults;
  close(): Promise<void>;
}

interface ArmedFault {
  fault: MetadataFault;
  remaining: number;
}

export async function startMetadataServer(opts: MetadataServerOptions): Promise<MetadataServer> {
  const requests: MetadataRequestRecord[] = [];
  const armed: ArmedFault[] = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();

  const sender =
    (res: ServerResponse, rec: MetadataRequestRecord): Send =>
    (status, body, headers = {}) => {
      rec.status = status;
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(body)), Server: opts.serverHeader, ...headers });
      res.end(body);
    };

  const matchFault = (method: string, path: string): ArmedFault | undefined => {
    for (let i = 0; i < armed.length; i++) {
      const a = armed[i]!;
      const f = a.fault;
      if (f.method !== undefined && f.method.toUpperCase() !== method) continue;
      if (f.path !== undefined && (typeof f.path === 'string' ? f.path !== path : !f.path.test(path))) continue;
      a.remaining -= 1;
      if (a.remaining <= 0) armed.splice(i, 1);
      return a;
    }
    return undefined;
  };

  const hold = (res: ServerResponse, onClose: () => void = () => {}): void => {
    hanging.add(res);
    res.on('close', () => {
      onClose();
      hanging.delete(res);
    });
  };

  const server = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = req.url ?? '/';
    const rec: MetadataRequestRecord = { method, path: rawPath, status: 0, at: opts.clock(), ...(req.socket.remoteAddress ? { from: req.socket.remoteAddress } : {}) };
    requests.push(rec);
    req.resume(); // bodies are ignored
    const path = rawPath.split('?')[0]!.replace(/^\/+/, '/');
    const send = sender(res, rec);
    const fault = matchFault(method, path)?.fault;
    if (fault === undefined) return opts.serve(req, method, path, send);
    switch (fault.kind) {
      case 'status':
        return send(fault.status ?? 503, fault.status === undefined || fault.status === 503 ? 'Service Unavailable' : 'Injected fault');
      case 'latency': {
        const t = setTimeout(() => {
          hanging.delete(res);
          if (!res.destroyed) opts.serve(req, method, path, send);
        }, fault.ms);
        return hold(res, () => clearTimeout(t));
      }
      case 'hang':
        return hold(res);
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;

  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    requests,
    faults: {
      add(fault) {
        const times = fault.times ?? 1;
        if (!(times > 0)) throw new RangeError(`fault times must be > 0, got ${times}`);
        const a: ArmedFault = { fault, remaining: times };
        armed.push(a);
        return {
          get remaining() {
            return armed.includes(a) ? a.remaining : 0;
          },
          remove() {
            const i = armed.indexOf(a);
            if (i >= 0) armed.splice(i, 1);
          },
        };
      },
      clear() {
        armed.length = 0;
      },
      get size() {
        return armed.length;
      },
    },
    async close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      armed.length = 0;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** A metadata tree: a leaf's text, or a directory of named children (read lazily when functions). */
export type MetadataNode = string | Map<string, MetadataLazy>;
export type MetadataLazy = MetadataNode | (() => MetadataNode | undefined);

/** See the header. */
export function resolveMetaData(root: MetadataNode, path: string): string | undefined {
  const prefix = '/latest/meta-data';
  if (path !== prefix && !path.startsWith(prefix + '/')) return undefined;
  const rest = path.slice(prefix.length + 1);
  const trailingSlash = rest === '' || rest.endsWith('/');
  const parts = rest.split('/').filter((p) => p !== '');
  let node: MetadataNode | undefined = root;
  for (const part of parts) {
    if (typeof node === 'string' || node === undefined) return undefined;
    const next: MetadataLazy | undefined = node.get(part) ?? node.get(part.toLowerCase());
    node = typeof next === 'function' ? next() : next;
  }
  if (node === undefined) return undefined;
  if (typeof node === 'string') return trailingSlash && parts.length > 0 ? undefined : node;
  const entries: string[] = [];
  for (const [name, child] of node) {
    const value = typeof child === 'function' ? child() : child;
    if (value === undefined) continue;
    entries.push(typeof value === 'string' ? name : `${name}/`);
  }
  return entries.join('\n');
}

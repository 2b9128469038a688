// The etcd v3 calls the etcd election needs, over the `etcd3` package (gRPC), loaded only when an
// instance uses election.type etcd (a dynamic import: nothing is loaded for VRRP users). Thin: every
// unary call carries a deadline, int64s stay strings at the edge and become numbers/hex here, and
// errors are plain Errors with the gRPC message. No policy: src/election/etcd.ts decides.
//
// Contract:
// - openEtcd(cfg, deadlineMs): builds a client (TLS files read now; username/password through etcd3's
//   authenticator). Never connects by itself.
// - grant(ttl) → lease id (decimal string, as etcd3 wants it) ; revoke(id) ; keepAliveStream() → a
//   duplex stream of LeaseKeepAlive requests/responses (one per election).
// - campaign(key, value, lease) → the key's create revision (the txn puts it only if absent: the etcd
//   election recipe), update(key, value, lease) (keeps the create revision), remove(key).
// - candidates(prefix) → keys under prefix + '/', oldest create revision first, with the header revision.
// - watch(prefix, onEvent) → a watcher that calls onEvent on every change and (re)connection.
import { readFileSync } from 'node:fs';
import type { EtcdElectionConfig } from '../config/election-schema.js';

type Etcd3Module = typeof import('etcd3');
type Etcd3 = import('etcd3').Etcd3;

let loaded: Promise<Etcd3Module> | null = null;
/** The etcd3 package, imported on first use. */
export function loadEtcd3(): Promise<Etcd3Module> {
  return (loaded ??= import('etcd3'));
}

export interface Candidate {
  key: string;
  value: string;
  createRevision: number;
  lease: string;
}

export interface KeepAliveStream {
  write(id: string): void;
  onResponse(listener: (id: string, ttl: number) => void): void;
  onEnd(listener: (err: Error | null) => void): void;
  close(): void;
}

/** The endpoints without their scheme (etcd3 wants host:port and a credentials option for TLS). */
export function hostsOf(endpoints: readonly string[]): string[] {
  return endpoints.map((e) => new URL(e).host);
}

/** A decimal lease id (etcd3's form) as the hex etcdctl prints. */
export function leaseHex(id: string): string {
  return BigInt(id).toString(16);
}

export class EtcdClient {
  /** Requests sent and failed (for /status and the benchmark). */
  readonly stats = { requests: 0, errors: 0 };
  private closed = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly deadlineMs: number,
  ) {}

  static async open(cfg: EtcdElectionConfig, deadlineMs: number): Promise<EtcdClient> {
    const { Etcd3 } = await loadEtcd3();
    const tls = cfg.tls;
    const client = new Etcd3({
      hosts: hostsOf(cfg.endpoints),
      ...(tls
        ? {
            credentials: {
              rootCertificate: readFileSync(tls.ca),
              ...(tls.cert && tls.key ? { certChain: readFileSync(tls.cert), privateKey: readFileSync(tls.key) } : {}),
            },
          }
        : {}),
      ...(cfg.username && cfg.password ? { auth: { username: cfg.username, password: cfg.password } } : {}),
      dialTimeout: deadlineMs,
      // Dead TCP connections (a partition) are found by our own request deadlines; these pings keep a
      // long-lived watch honest. etcd refuses pings more often than every 5 s by default.
      grpcOptions: { 'grpc.keepalive_time_ms': 5_000, 'grpc.keepalive_timeout_ms': 2_000, 'grpc.keepalive_permit_without_calls': 1 },
    });
    return new EtcdClient(client, deadlineMs);
  }

  private opts(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.deadlineMs) };
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    this.stats.requests++;
    try {
      return await work();
    } catch (err) {
      this.stats.errors++;
      throw err instanceof Error ? err : new Error(String(err));
    }
  }

  async grant(ttl: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call(() => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }, this.opts()));
    return { id: String(r.ID), ttl: Number(r.TTL) };
  }

  async revoke(id: string): Promise<void> {
    await this.call(() => this.client.leaseClient.leaseRevoke({ ID: id }, this.opts()));
  }

  /** The lease's remaining TTL as the server sees it (seconds; -1 when gone). */
  async timeToLive(id: string): Promise<number> {
    const r = await this.call(() => this.client.leaseClient.leaseTimeToLive({ ID: id }, this.opts()));
    return Number(r.TTL);
  }

  async keepAliveStream(): Promise<KeepAliveStream> {
    const stream = await this.call(() => this.client.leaseClient.leaseKeepAlive());
    let ended = false;
    const endListeners: ((err: Error | null) => void)[] = [];
    const end = (err: Error | null) => {
      if (ended) return;
      ended = true;
      for (const l of endListeners) l(err);
    };
    stream.on('error', (err: Error) => end(err));
    stream.on('end', () => end(null));
    return {
      write: (id) => {
        if (ended) return;
        this.stats.requests++;
        stream.write({ ID: id });
      },
      onResponse: (listener) => stream.on('data', (r: { ID: string; TTL: string }) => listener(String(r.ID), Number(r.TTL))),
      onEnd: (listener) => void endListeners.push(listener),
      close: () => {
        end(null);
        try {
          stream.cancel();
        } catch {
          /* already gone */
        }
      },
    };
  }

  /** Puts `key` (on `lease`) unless it exists; returns its create revision either way. */
  async campaign(key: string, value: string, lease: string): Promise<number> {
    const k = Buffer.from(key);
    const r = await this.call(() =>
      this.client.kv.txn(
        {
          compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key: k, value: Buffer.from(value), lease } }],
          failure: [{ request_range: { key: k } }],
        },
        this.opts(),
      ),
    );
    if (r.succeeded) return Number(r.header.revision);
    const kv = r.responses[0]?.response_range?.kvs[0];
    if (!kv) throw new Error(`campaign: ${key} vanished during the transaction`);
    return Number(kv.create_revision);
  }

  /** Rewrites the value of our own key (the create revision stays). */
  async update(key: string, value: string, lease: string): Promise<void> {
    await this.call(() => this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease }, this.opts()));
  }

  async remove(key: string): Promise<void> {
    await this.call(() => this.client.kv.deleteRange({ key: Buffer.from(key) }, this.opts()));
  }

  /** Every candidate under prefix + '/', oldest first (the first is the leader). */
  async candidates(prefix: string): Promise<{ revision: number; list: Candidate[] }> {
    const start = `${prefix}/`;
    const r = await this.call(() =>
      this.client.kv.range({ key: Buffer.from(start), range_end: Buffer.from(`${prefix}0`), sort_order: 'Ascend', sort_target: 'Create' }, this.opts()),
    );
    return {
      revision: Number(r.header.revision),
      list: r.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), createRevision: Number(kv.create_revision), lease: String(kv.lease) })),
    };
  }

  /** Calls onEvent on every change under prefix + '/' and on every (re)connection of the watch. */
  async watch(prefix: string, onEvent: () => void): Promise<{ cancel(): void }> {
    const w = await this.call(() => this.client.watch().prefix(`${prefix}/`).create());
    w.on('put', onEvent);
    w.on('delete', onEvent);
    w.on('connected', onEvent);
    w.on('error', () => {});
    return { cancel: () => void w.cancel().catch(() => {}) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

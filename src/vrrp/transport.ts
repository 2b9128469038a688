// The VRRP socket: one raw IPv4 socket for IP protocol 112 per interface, shared by every instance on
// that interface. It sends whole IP datagrams (IP_HDRINCL, so TOS 0xc0 / TTL 255 / IP id are ours, as
// keepalived does), joins 224.0.0.18 on the interface, and hands every received datagram (IP header
// included) to the caller. Parsing and validation live in the pure codec; nothing here interprets VRRP.
//
// raw-socket 1.8.1 (pinned in package.json; its internals this file relies on are pinned by
// test/unit/raw-socket-internals.test.ts) has two traps, both handled here:
// - when libuv reports a poll error its native code emits 'error' with NO argument, then index.js
//   closes the native socket. The error is counted ("unknown raw-socket error"), never thrown.
// - a closed native socket is silently re-created by the next send or receive — without IP_HDRINCL,
//   SO_BINDTODEVICE or the multicast membership, so our datagrams would leave wrapped in a second IP
//   header from whatever interface routing picks. Its 'close' event is caught (synchronously, inside
//   that close) and a new, fully configured raw socket replaces it at once. When that cannot be done,
//   trouble() says why, onTrouble() listeners hear it, sends are refused (never from an unconfigured
//   socket) and a reopen is retried every REOPEN_RETRY_MS.
import { createRequire } from 'node:module';
import { ipToUint32, VRRP_MCAST_GROUP } from '../net/ip.js';
import { IPPROTO_VRRP } from './ipv4.js';

const require = createRequire(import.meta.url);

// Linux socket option numbers raw-socket does not name (exported for the tests that check them).
export const SOCKOPT = Object.freeze({
  IPPROTO_IP: 0,
  SOL_SOCKET: 1,
  IP_HDRINCL: 3,
  IP_RECVERR: 11,
  IP_MULTICAST_IF: 32,
  IP_MULTICAST_TTL: 33,
  IP_MULTICAST_LOOP: 34,
  IP_ADD_MEMBERSHIP: 35,
  SO_BINDTODEVICE: 25,
  SO_RCVBUF: 8,
});
const { IPPROTO_IP, SOL_SOCKET, IP_HDRINCL, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP, IP_MULTICAST_IF, SO_BINDTODEVICE, SO_RCVBUF } = SOCKOPT;

/** Retry period for reopening the native socket after raw-socket closed it and a reopen failed. */
export const REOPEN_RETRY_MS = 1_000;
/** At most this many immediate reopens per REOPEN_WINDOW_MS; beyond that, reopens wait for the retry. */
const REOPEN_BURST = 5;
/** Most datagrams read in one readiness event (the rest wait for the next turn of the loop). */
const RECV_BATCH = 64;
const REOPEN_WINDOW_MS = 10_000;

/** What raw-socket 1.8.1 exposes (index.js Socket); `wrap` and `requests` are its internals. */
export interface RawSocket {
  /** raw-socket's native handle (1.8.1, pinned): a synchronous sendto; throws on failure. */
  wrap?: { send(buf: Buffer, offset: number, length: number, address: string, done: (bytes: number) => void): void };
  /** raw-socket's queue of sends waiting for the socket to become writable. */
  requests?: unknown[];
  on(ev: 'message', cb: (buf: Buffer, src: string) => void): void;
  /** 1.8.1 emits 'error' with no argument after a poll error (see the header). */
  on(ev: 'error', cb: (err?: unknown) => void): void;
  on(ev: 'close', cb: () => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  send(buf: Buffer, offset: number, length: number, address: string, before: (() => void) | null, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
  /** Stops polling for received datagrams (raw-socket 1.8.1). */
  pauseRecv?(): void;
}

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex; } */
function mreqn(group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(ipToUint32(group), 0);
  b.writeInt32LE(ifindex, 8);
  return b;
}

export class TransportError extends Error {
  override name = 'TransportError';
}

export interface VrrpSocketStats {
  sent: number;
  sendErrors: number;
  received: number;
  /** Errors the socket reported outside a send (e.g. on receive, or a poll error without a message). */
  socketErrors: number;
  /** Times raw-socket closed the native socket by itself and a configured one replaced it. */
  reopened: number;
  /** Sends refused because no configured native socket was open (see trouble()). */
  refused: number;
  lastError: string | null;
}

/** The message counted for raw-socket's 'error' event without an Error. */
export const UNKNOWN_RAW_SOCKET_ERROR = 'unknown raw-socket error';

type RawSocketModule = { createSocket(o: object): RawSocket; AddressFamily: { IPv4: number } };

function loadRawSocket(): RawSocketModule {
  try {
    return require('raw-socket') as RawSocketModule;
  } catch (e) {
    throw new TransportError(`the raw-socket native module did not load (${(e as Error).message}) — fix: reinstall with build tools present (npm ci, needs python3, make, g++)`);
  }
}

/** Opens a raw IPv4 socket for VRRP and configures it for `ifname`; throws TransportError with a fix. */
function openConfigured(ifname: string, ifindex: number): RawSocket {
  const raw = loadRawSocket();
  let sock: RawSocket;
  try {
    sock = raw.createSocket({ protocol: IPPROTO_VRRP, addressFamily: raw.AddressFamily.IPv4, bufferSize: 65535 });
  } catch (e) {
    const msg = (e as Error).message;
    if (/not permitted|EPERM|EACCES/i.test(msg))
      throw new TransportError('the VRRP socket needs CAP_NET_RAW — fix: run as root or grant the capability (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN; container: --cap-add NET_RAW --cap-add NET_ADMIN)');
    throw new TransportError(`cannot open the VRRP raw socket: ${msg}`);
  }
  try {
    sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(ifname + '\0'), ifname.length + 1);
    sock.setOption(IPPROTO_IP, IP_HDRINCL, 1);
    sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    sock.setOption(IPPROTO_IP, IP_MULTICAST_TTL, 255);
    sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreqn('0.0.0.0', ifindex), 12);
    sock.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreqn(VRRP_MCAST_GROUP, ifindex), 12);
    sock.setOption(SOL_SOCKET, SO_RCVBUF, 1 << 20);
  } catch (e) {
    sock.close();
    throw new TransportError(`cannot set up the VRRP socket on ${ifname}: ${(e as Error).message}`);
  }
  return sock;
}

export class VrrpSocket {
  readonly stats: VrrpSocketStats = { sent: 0, sendErrors: 0, received: 0, socketErrors: 0, reopened: 0, refused: 0, lastError: null };
  /** The configured native socket, or null after raw-socket closed it and no reopen succeeded yet. */
  private sock: RawSocket | null;
  private handler: (datagram: Buffer) => void = () => {};
  private closed = false;
  private troubleText: string | null = null;
  private readonly troubleListeners: ((trouble: string | null) => void)[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private recentReopens: number[] = [];
  private receivePaused = false;

  private constructor(
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    this.sock = this.attach(openConfigured(ifname, ifindex));
  }

  /** Opens the socket on an interface (throws TransportError with a fix when it cannot). */
  static open(ifname: string, ifindex: number): VrrpSocket {
    return new VrrpSocket(ifname, ifindex);
  }

  onDatagram(handler: (datagram: Buffer) => void): void {
    this.handler = handler;
  }

  /**
   * Stops reading: the interface's offload (vrrp/offload.ts) receives every datagram instead. The
   * socket stays open to send; raw-socket stops polling it and its receive buffer shrinks to the
   * kernel's minimum, so the few datagrams the kernel still queues there cost nothing. Kept across
   * a reopen; for good.
   */
  pauseReceive(): void {
    this.receivePaused = true;
    if (this.sock) this.applyPause(this.sock);
  }

  private applyPause(sock: RawSocket): void {
    try {
      sock.pauseRecv?.();
      sock.setOption(SOL_SOCKET, SO_RCVBUF, 0);
    } catch (e) {
      this.stats.socketErrors++;
      this.stats.lastError = (e as Error).message;
    }
  }

  /**
   * Why this socket cannot send right now (raw-socket closed its native socket and reopening it
   * failed), or null when it can. While non-null, the instances on this interface belong in FAULT.
   */
  trouble(): string | null {
    return this.troubleText;
  }

  /** Called with the new trouble() whenever it changes (string: socket unusable; null: usable again). */
  onTrouble(listener: (trouble: string | null) => void): void {
    this.troubleListeners.push(listener);
  }

  /**
   * Sends one complete IPv4 datagram (header included). Never throws; failures are counted.
   * raw-socket queues every send until libuv reports the socket writable on the next loop turn, so
   * anything synchronous in the same turn (a provider spawning `ip`) would hold the advert back by
   * milliseconds. When nothing is queued, send at once through its native handle. Returns false when
   * the datagram certainly did not leave (a queued send that fails later is counted in stats only).
   */
  send(datagram: Buffer, dst: string): boolean {
    if (this.closed) return false;
    const sock = this.sock;
    if (!sock) {
      // Never through raw-socket's silently re-created, unconfigured socket.
      this.stats.refused++;
      this.stats.sendErrors++;
      this.stats.lastError = this.troubleText;
      return false;
    }
    const direct = sock.wrap;
    if (direct && sock.requests?.length === 0) {
      try {
        direct.send(datagram, 0, datagram.length, dst, () => {});
        this.stats.sent++;
        return true;
      } catch (e) {
        this.failed(e as Error);
        return false;
      }
    }
    try {
      // Queued: raw-socket keeps the Buffer until a later turn, and callers re-use theirs (AdvertEncoder): copy.
      const copy = Buffer.from(datagram);
      sock.send(copy, 0, copy.length, dst, null, (err) => {
        if (err) this.failed(err);
        else this.stats.sent++;
      });
      return true;
    } catch (e) {
      this.failed(e as Error);
      return false;
    }
  }

  private failed(err: Error): void {
    this.stats.sendErrors++;
    this.stats.lastError = err.message;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
    const sock = this.sock;
    this.sock = null;
    sock?.close();
  }

  /**
   * raw-socket reads ONE datagram per readiness event (and copies it, and names its source as text).
   * A backup of 200 instances gets their adverts in bursts: read them all in one wake-up instead,
   * straight into raw-socket's own receive buffer (handlers get a view; they copy what they keep).
   * Uses the internals pinned by test/unit/raw-socket-internals.test.ts; without them, the 'message'
   * path below does the same work one datagram at a time.
   */
  private drainOnReady(sock: RawSocket): void {
    type Wrap = { recv?: unknown; listenerCount?: unknown; removeAllListeners?: unknown; on?: unknown };
    const inner = sock as RawSocket & { wrap?: Wrap; buffer?: unknown };
    const wrap = inner.wrap;
    const buffer = inner.buffer;
    if (!wrap || typeof wrap.recv !== 'function' || !Buffer.isBuffer(buffer) || typeof wrap.removeAllListeners !== 'function' || typeof wrap.on !== 'function') return;
    const recv = wrap.recv;
    let got = 0;
    const deliver = (b: Buffer, bytes: number) => {
      got = bytes;
      this.stats.received++;
      this.handler(b.subarray(0, bytes));
    };
    const drain = () => {
      for (let i = 0; i < RECV_BATCH; i++) {
        // recv() re-creates a closed native socket: never call it on one that is not ours any more.
        if (this.closed || sock !== this.sock) return;
        got = -1;
        try {
          (recv as (this: unknown, b: Buffer, cb: (b: Buffer, bytes: number) => void) => void).call(wrap, buffer, deliver);
        } catch (e) {
          if (/temporarily unavailable|EAGAIN|EWOULDBLOCK/i.test((e as Error).message)) return; // drained
          this.stats.socketErrors++;
          this.stats.lastError = (e as Error).message || UNKNOWN_RAW_SOCKET_ERROR;
          return;
        }
        if (got < 0) return;
      }
    };
    // raw-socket's own listener (bound in its constructor) reads one datagram per event: ours instead.
    (wrap.removeAllListeners as (ev: string) => void).call(wrap, 'recvReady');
    (wrap.on as (ev: string, fn: () => void) => void).call(wrap, 'recvReady', drain);
  }

  /** Wires a configured raw-socket to this VrrpSocket: datagrams, errors, and its unasked close. */
  private attach(sock: RawSocket): RawSocket {
    this.drainOnReady(sock);
    if (this.receivePaused) this.applyPause(sock);
    sock.on('message', (buf) => {
      if (sock !== this.sock) return;
      this.stats.received++;
      // raw-socket reuses one receive buffer; handlers must copy anything they keep.
      this.handler(buf);
    });
    sock.on('error', (err?: unknown) => {
      this.stats.socketErrors++;
      this.stats.lastError = err instanceof Error ? err.message : err === undefined || err === null ? UNKNOWN_RAW_SOCKET_ERROR : String(err);
    });
    // raw-socket emits 'close' synchronously from inside its close(): nothing can send in between.
    sock.on('close', () => {
      if (this.closed || sock !== this.sock) return; // our own close(), or an old socket
      this.sock = null;
      this.reopen(`raw-socket closed the VRRP socket on ${this.ifname} after an error (${this.stats.lastError ?? UNKNOWN_RAW_SOCKET_ERROR})`, true);
    });
    return sock;
  }

  /**
   * Replaces a native socket raw-socket closed by itself with a new, configured one (or says why not).
   * Immediate reopens (`burst`) are limited to REOPEN_BURST per REOPEN_WINDOW_MS, so a socket that
   * fails again at once cannot spin; the retry timer (one per REOPEN_RETRY_MS) is not limited.
   */
  private reopen(why: string, burst: boolean): void {
    const now = Date.now();
    this.recentReopens = this.recentReopens.filter((t) => now - t < REOPEN_WINDOW_MS);
    if (burst && this.recentReopens.length >= REOPEN_BURST) {
      this.setTrouble(`${why}; it keeps failing (${REOPEN_BURST} reopens in ${REOPEN_WINDOW_MS / 1000} s), next try in ${REOPEN_RETRY_MS} ms`);
      return;
    }
    this.recentReopens.push(now);
    try {
      this.sock = this.attach(openConfigured(this.ifname, this.ifindex));
      this.stats.reopened++;
      this.setTrouble(null);
    } catch (e) {
      this.setTrouble(`${why}; cannot reopen it: ${(e as Error).message}`);
    }
  }

  private setTrouble(trouble: string | null): void {
    if (trouble !== null && !this.retryTimer) {
      this.retryTimer = setInterval(() => {
        if (!this.closed && !this.sock) this.reopen(`the VRRP socket on ${this.ifname} is closed`, false);
      }, REOPEN_RETRY_MS);
      this.retryTimer.unref();
    } else if (trouble === null && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = null;
    }
    if (trouble === this.troubleText) return;
    this.troubleText = trouble;
    if (trouble) this.stats.lastError = trouble;
    for (const l of this.troubleListeners) {
      try {
        l(trouble);
      } catch {
        /* a listener's bug must not stop the others */
      }
    }
  }
}

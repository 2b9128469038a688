// The VRRP socket: one raw IPv4 socket for IP protocol 112 per interface, shared by every instance on
// that interface. It sends whole IP datagrams (IP_HDRINCL, so TOS 0xc0 / TTL 255 / IP id are ours, as
// keepalived does), joins 224.0.0.18 on the interface, and hands every received datagram (IP header
// included) to the caller. Parsing and validation live in the pure codec; nothing here interprets VRRP.
import { createRequire } from 'node:module';
import { ipToUint32, VRRP_MCAST_GROUP } from '../net/ip.js';
import { IPPROTO_VRRP } from './ipv4.js';

const require = createRequire(import.meta.url);

// Linux socket option numbers raw-socket does not name.
const IPPROTO_IP = 0;
const SOL_SOCKET = 1;
const IP_HDRINCL = 3;
const IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;
const IP_MULTICAST_IF = 32;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;


interface RawSocket {
  /** raw-socket's native handle (1.8.1, pinned): a synchronous sendto. */
  wrap?: { send(buf: Buffer, offset: number, length: number, address: string, done: (bytes: number) => void): void };
  requests?: unknown[];
  on(ev: 'message', cb: (buf: Buffer, src: string) => void): void;
  on(ev: 'error', cb: (err: Error) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  send(buf: Buffer, offset: number, length: number, address: string, before: (() => void) | null, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
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
  /** Errors the socket reported outside a send (e.g. on receive). */
  socketErrors: number;
  lastError: string | null;
}

export class VrrpSocket {
  readonly stats: VrrpSocketStats = { sent: 0, sendErrors: 0, received: 0, socketErrors: 0, lastError: null };
  private readonly sock: RawSocket;
  private handler: (datagram: Buffer) => void = () => {};
  private closed = false;

  private constructor(
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    let raw: { createSocket(o: object): RawSocket; AddressFamily: { IPv4: number } };
    try {
      raw = require('raw-socket');
    } catch (e) {
      throw new TransportError(`the raw-socket native module did not load (${(e as Error).message}) — fix: reinstall with build tools present (npm ci, needs python3, make, g++)`);
    }
    try {
      this.sock = raw.createSocket({ protocol: IPPROTO_VRRP, addressFamily: raw.AddressFamily.IPv4, bufferSize: 65535 });
    } catch (e) {
      const msg = (e as Error).message;
      if (/not permitted|EPERM|EACCES/i.test(msg))
        throw new TransportError('the VRRP socket needs CAP_NET_RAW — fix: run as root or grant the capability (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)');
      throw new TransportError(`cannot open the VRRP raw socket: ${msg}`);
    }
    try {
      this.sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(ifname + '\0'), ifname.length + 1);
      this.sock.setOption(IPPROTO_IP, IP_HDRINCL, 1);
      this.sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
      this.sock.setOption(IPPROTO_IP, IP_MULTICAST_TTL, 255);
      this.sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreqn('0.0.0.0', ifindex), 12);
      this.sock.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreqn(VRRP_MCAST_GROUP, ifindex), 12);
      this.sock.setOption(SOL_SOCKET, SO_RCVBUF, 1 << 20);
    } catch (e) {
      this.sock.close();
      throw new TransportError(`cannot set up the VRRP socket on ${ifname}: ${(e as Error).message}`);
    }
    this.sock.on('message', (buf) => {
      this.stats.received++;
      // raw-socket reuses one receive buffer; handlers must copy anything they keep.
      this.handler(buf);
    });
    this.sock.on('error', (err) => {
      this.stats.socketErrors++;
      this.stats.lastError = err.message;
    });
  }

  /** Opens the socket on an interface (throws TransportError with a fix when it cannot). */
  static open(ifname: string, ifindex: number): VrrpSocket {
    return new VrrpSocket(ifname, ifindex);
  }

  onDatagram(handler: (datagram: Buffer) => void): void {
    this.handler = handler;
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
    const direct = this.sock.wrap;
    if (direct && this.sock.requests?.length === 0) {
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
      this.sock.send(datagram, 0, datagram.length, dst, null, (err) => {
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
    this.sock.close();
  }
}

// The VRRPv3-over-IPv6 socket of one interface, through the project's native addon
// (native/vrrp6_socket.c; raw-socket cannot report a received packet's hop limit or destination):
// joined to ff02::12, hop limit 255 and traffic class 0xc0 on send, each advert from the source the
// caller names (the interface's link-local address, or unicast.source). Every received datagram is
// handed over with its source, destination and hop limit (Rx6, views into one re-used buffer: copy
// what you keep). Bytes only; the codec and the checks are ipv6.ts / ipv6-validate.ts.
//
// Never throws on send: failures are counted (stats) and reported by the return value.
import { loadAddon } from '../net/native-addon.js';
import { TransportError, type VrrpSocketStats } from './transport.js';
import type { Rx6 } from './ipv6-validate.js';

interface Vrrp6Binding {
  open(ifindex: number, ifname: string): number;
  send(fd: number, msg: Buffer, dst: Buffer, src: Buffer, ifindex: number): number;
  watch(fd: number, rx: Buffer, meta: Buffer, cb: (len: number) => void): void;
  close(fd: number): void;
}

/** Why IPv6 VRRP cannot run here (the addon did not build or load), or null when it can. */
export function vrrp6Unavailable(): string | null {
  return loadAddon<Vrrp6Binding>('vrrp6_socket').error;
}

export class Vrrp6Socket {
  readonly stats: VrrpSocketStats = { sent: 0, sendErrors: 0, received: 0, socketErrors: 0, reopened: 0, refused: 0, lastError: null };
  private fd: number | null;
  private handler: (rx: Rx6) => void = () => {};
  private readonly rxBuf = Buffer.alloc(65536);
  private readonly meta = Buffer.alloc(40);
  private readonly rx: Rx6;

  private constructor(
    private readonly b: Vrrp6Binding,
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    try {
      this.fd = b.open(ifindex, ifname);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EPERM' || err.code === 'EACCES')
        throw new TransportError('the IPv6 VRRP socket needs CAP_NET_RAW — fix: run as root or grant the capability (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN; container: --cap-add NET_RAW --cap-add NET_ADMIN)');
      throw new TransportError(`cannot set up the IPv6 VRRP socket on ${ifname}: ${err.message} — fix: check that IPv6 is enabled on ${ifname} (sysctl net.ipv6.conf.${ifname}.disable_ipv6=0)`);
    }
    this.rx = { data: this.rxBuf.subarray(0, 0), src: this.meta.subarray(0, 16), dst: this.meta.subarray(16, 32), hopLimit: -1 };
    b.watch(this.fd, this.rxBuf, this.meta, (len) => this.received(len));
  }

  /** Opens the socket on an interface; throws TransportError with a fix when it cannot. */
  static open(ifname: string, ifindex: number): Vrrp6Socket {
    const l = loadAddon<Vrrp6Binding>('vrrp6_socket');
    if (!l.binding) throw new TransportError(`VRRP over IPv6 needs the native addon vrrp6_socket: ${l.error} — fix: reinstall with build tools present (npm ci, needs python3, make, g++)`);
    return new Vrrp6Socket(l.binding, ifname, ifindex);
  }

  onDatagram(handler: (rx: Rx6) => void): void {
    this.handler = handler;
  }

  private received(len: number): void {
    this.stats.received++;
    const rx = this.rx;
    rx.data = this.rxBuf.subarray(0, Math.min(len, this.rxBuf.length));
    rx.hopLimit = this.meta.readInt32LE(32);
    try {
      this.handler(rx);
    } catch (e) {
      this.stats.socketErrors++;
      this.stats.lastError = (e as Error).message;
    }
  }

  /** Sends one VRRP message to `dst` from `src` (16-byte buffers). False when it did not leave. */
  send(msg: Buffer, dst: Buffer, src: Buffer): boolean {
    if (this.fd === null) {
      this.stats.refused++;
      this.stats.sendErrors++;
      return false;
    }
    try {
      this.b.send(this.fd, msg, dst, src, this.ifindex);
      this.stats.sent++;
      return true;
    } catch (e) {
      this.stats.sendErrors++;
      this.stats.lastError = (e as Error).message;
      return false;
    }
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      this.b.close(fd);
    } catch {
      /* already gone */
    }
  }
}

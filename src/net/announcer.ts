// How gratuitous ARP frames leave the host: the senders behind one small interface (LinkAnnouncer).
//   - PacketSocketAnnouncer: the native AF_PACKET addon; a burst goes out back to back, as keepalived's.
//   - ArpingAnnouncer: fallback when the addon is missing; one `arping -U -c 1 -I IF VIP` per frame
//     (each process lingers ~1 s; `-i 0` would hang, so it is never used). Spawning is synchronous
//     (~1.6 ms each), so frames are queued: one spawn per event-loop turn (setImmediate between
//     spawns, so VRRP adverts and timers keep running), at most ARPING_MAX_CONCURRENT processes at once.
// Set HA_AGENT_GARP_SENDER=arping (or packet-socket) to force one.
import type { Logger } from 'pino';
import { execFile, ExecError, type ExecOptions, type ExecResult } from '../exec.js';
import { buildGratuitousArp } from './arp.js';
import { buildUnsolicitedNa, routerFlagFor } from './nd.js';
import { NetError } from './link.js';
import { interfaceIndex, openPacketSocket, packetSocketAvailable, type PacketSocket } from './packet-socket.js';

export interface LinkAnnouncer {
  /** 'packet-socket' or 'arping'. */
  readonly kind: string;
  /**
   * Sends `count` gratuitous ARPs for `vip` from `ifname` (whose MAC is `mac`) — for an IPv6 `vip`,
   * unsolicited neighbour advertisements (nd.ts) instead. Once `signal` aborts,
   * frames not yet sent are dropped and the promise resolves.
   */
  sendGarp(ifname: string, mac: string, vip: string, count: number, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: get ready to send on `ifname` ahead of time (open its socket), so the first GARP after a
   * takeover leaves with the advert. Never throws; a problem shows at the first send.
   */
  prepare?(ifname: string): void;
  /** Closes sockets and stops any sender process still running. */
  close(): void;
}

const RETRY_ERRNOS = new Set(['ENODEV', 'ENXIO', 'EBADF']);

/** Sends through the native AF_PACKET addon; one socket per interface, reopened if the interface was re-created. */
export class PacketSocketAnnouncer implements LinkAnnouncer {
  readonly kind = 'packet-socket';
  private readonly sockets = new Map<string, PacketSocket>();

  private socketFor(ifname: string): PacketSocket {
    const open = this.sockets.get(ifname);
    if (open) return open;
    const index = interfaceIndex(ifname);
    if (index === 0) throw new NetError(`cannot send gratuitous ARP: interface ${ifname} not found`, 'check the instance\'s interface (ip link)');
    const s = openPacketSocket(index);
    this.sockets.set(ifname, s);
    return s;
  }

  private drop(ifname: string): void {
    try {
      this.sockets.get(ifname)?.close();
    } catch {
      /* already closed */
    }
    this.sockets.delete(ifname);
  }

  prepare(ifname: string): void {
    try {
      this.socketFor(ifname);
    } catch {
      /* reported by the first send */
    }
  }

  async sendGarp(ifname: string, mac: string, vip: string, count: number): Promise<void> {
    const frame = vip.includes(':') ? buildUnsolicitedNa(mac, vip, routerFlagFor(ifname)) : buildGratuitousArp(mac, vip);
    for (let i = 0; i < count; i++) {
      try {
        this.sendOnce(ifname, frame);
      } catch (e) {
        throw explainSendError(e, ifname, vip);
      }
    }
  }

  private sendOnce(ifname: string, frame: Buffer): void {
    try {
      this.socketFor(ifname).send(frame);
    } catch (e) {
      if (!RETRY_ERRNOS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      this.drop(ifname); // the interface went away and maybe came back with a new index
      this.socketFor(ifname).send(frame);
    }
  }

  close(): void {
    for (const ifname of [...this.sockets.keys()]) this.drop(ifname);
  }
}

function explainSendError(e: unknown, ifname: string, vip: string): Error {
  if (e instanceof NetError) return e;
  const err = e as NodeJS.ErrnoException;
  const what = `cannot send gratuitous ARP for ${vip} on ${ifname}`;
  switch (err.code) {
    case 'EPERM':
    case 'EACCES':
      return new NetError(`${what}: Operation not permitted`, 'run as root or grant CAP_NET_RAW');
    case 'ENETDOWN':
      return new NetError(`${what}: the interface is down`, `bring it up (ip link set ${ifname} up) or check the cable`);
    default:
      return new NetError(`${what}: ${err.message}`, 'check the interface; GARPs are retried on the next burst');
  }
}

export const ARPING_TIMEOUT_MS = 5_000;

/** Most arping processes running at once (each lingers ~1 s, so this is also ~frames per second). */
export const ARPING_MAX_CONCURRENT = 8;

export interface ArpingOptions {
  /** Runs one arping (default: execFile); tests inject a fake. */
  exec?: (argv: readonly string[], opts: ExecOptions) => Promise<ExecResult>;
  /** Default ARPING_MAX_CONCURRENT. */
  maxConcurrent?: number;
}

interface ArpingJob {
  argv: string[];
  /** The frame is dropped (or its process killed) once any of these aborts. */
  signals: AbortSignal[];
  resolve: (r: ExecResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Sends with iputils `arping -U -c 1 -I IF VIP`, one process per frame. Frames wait in a FIFO queue
 * (so a burst keeps its interleaved order); one process is started per event-loop turn, never in the
 * caller's turn, and at most `maxConcurrent` run at once.
 */
export class ArpingAnnouncer implements LinkAnnouncer {
  readonly kind = 'arping';
  private abort = new AbortController();
  private readonly queue: ArpingJob[] = [];
  private running = 0;
  private pumpScheduled = false;
  private readonly exec: NonNullable<ArpingOptions['exec']>;
  private readonly maxConcurrent: number;

  constructor(opts: ArpingOptions = {}) {
    this.exec = opts.exec ?? execFile;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? ARPING_MAX_CONCURRENT);
  }

  async sendGarp(ifname: string, _mac: string, vip: string, count: number, cancel?: AbortSignal): Promise<void> {
    const signals = cancel ? [this.abort.signal, cancel] : [this.abort.signal];
    if (vip.includes(':'))
      throw new NetError(`cannot send unsolicited neighbour advertisements for ${vip}: arping speaks IPv4 only`, 'build the native packet_socket addon (npm ci with python3, make and g++ present)');
    const argv = ['arping', '-U', '-c', '1', '-I', ifname, vip];
    const results = await Promise.allSettled(Array.from({ length: count }, () => this.enqueue(argv, signals)));
    for (const r of results) {
      if (r.status === 'rejected') {
        const msg = (r.reason as Error).message;
        if (/not found/.test(msg)) throw new NetError('cannot send gratuitous ARP: arping is not installed', 'apt-get install iputils-arping');
        if (signals.some((x) => x.aborted)) return;
        throw new NetError(`cannot send gratuitous ARP for ${vip} on ${ifname}: ${msg}`, 'check that arping works: arping -U -c 1 -I IF VIP');
      }
      if (r.value.code !== 0) {
        const said = (r.value.stderr || r.value.stdout).trim().split('\n').slice(-1)[0] ?? '';
        const fix = /not permitted|denied/i.test(said) ? 'run as root or grant CAP_NET_RAW' : 'the VIP must be on the interface first; check: arping -U -c 1 -I IF VIP';
        throw new NetError(`arping -U for ${vip} on ${ifname} exited ${r.value.code}: ${said}`, fix);
      }
    }
  }

  /** Stops every arping still running and drops every queued frame. */
  close(): void {
    this.abort.abort();
    this.abort = new AbortController();
    this.drain();
  }

  private enqueue(argv: string[], signals: AbortSignal[]): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ argv, signals, resolve, reject });
      this.schedulePump();
    });
  }

  /** Runs pump() on the next event-loop turn (once, however often it is asked). */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts at most one process, then yields to the event loop before the next. */
  private pump(): void {
    this.drain();
    if (this.running >= this.maxConcurrent) return; // a finishing process pumps again
    const job = this.queue.shift();
    if (!job) return;
    this.running++;
    const kill = new AbortController();
    const onAbort = () => kill.abort();
    for (const x of job.signals) x.addEventListener('abort', onAbort, { once: true });
    let run: Promise<ExecResult>;
    try {
      run = this.exec(job.argv, { timeoutMs: ARPING_TIMEOUT_MS, signal: kill.signal });
    } catch (e) {
      run = Promise.reject(e); // an exec that throws instead of rejecting
    }
    run.then(job.resolve, job.reject).finally(() => {
      for (const x of job.signals) x.removeEventListener('abort', onAbort);
      this.running--;
      this.schedulePump();
    });
    if (this.queue.length > 0) this.schedulePump();
  }

  /** Settles queued frames whose sender was cancelled, without starting anything. */
  private drain(): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const job = this.queue[i]!;
      if (!job.signals.some((x) => x.aborted)) continue;
      this.queue.splice(i, 1);
      job.reject(new ExecError('arping: cancelled before it started', null));
    }
  }
}

let announcedKind: string | null = null;

/**
 * The best sender on this host: the addon when it loads, else arping. Logs which one once per process
 * (warn for the fallback). HA_AGENT_GARP_SENDER=arping|packet-socket forces a choice.
 */
let shared: LinkAnnouncer | null = null;

/**
 * The process's one announcer (one AF_PACKET socket per interface, whatever the number of instances).
 * Its owners never close it; sockets of vanished interfaces are reopened or dropped on the next send.
 */
export function sharedLinkAnnouncer(log?: Logger): LinkAnnouncer {
  return (shared ??= createLinkAnnouncer(log));
}

export function createLinkAnnouncer(log?: Logger): LinkAnnouncer {
  const forced = process.env.HA_AGENT_GARP_SENDER;
  const addon = packetSocketAvailable();
  let announcer: LinkAnnouncer;
  let why: string;
  if (forced === 'arping') {
    announcer = new ArpingAnnouncer();
    why = 'forced by HA_AGENT_GARP_SENDER';
  } else if (addon.ok || forced === 'packet-socket') {
    announcer = new PacketSocketAnnouncer();
    why = 'native AF_PACKET addon';
  } else {
    announcer = new ArpingAnnouncer();
    why = `native addon unavailable (${addon.error}); falling back to one arping process per GARP`;
  }
  if (announcedKind !== announcer.kind) {
    announcedKind = announcer.kind;
    if (announcer.kind === 'arping') log?.warn({ sender: announcer.kind }, `gratuitous ARP sender: arping — ${why}`);
    else log?.info({ sender: announcer.kind }, `gratuitous ARP sender: ${why}`);
  }
  return announcer;
}

// Receive demultiplexer for one interface's VRRP socket: reads each datagram's IPv4 header once
// (numbers only, into one re-used object) and hands the datagram to the ONE instance it concerns,
// which then runs the per-instance keepalived checks (validate.ts checkAdvert). Pure: no socket,
// timer or clock; the caller feeds datagrams and adds/removes instances as the config changes.
//
// Routing, by VRID first (the config allows one virtual router per VRID and interface, except unicast
// instances with disjoint peer lists):
//   - one instance has the VRID: it gets the datagram, whatever the version, source or destination,
//     so a peer configured differently (version, mode, VIPs, password…) is reported by that instance
//     with the instance's own reason, as keepalived does;
//   - several (unicast only): the one whose peer list holds the source; else the only one of the
//     datagram's VRRP version; else nobody (counted: bad-version, or unknown-unicast-source).
// Datagrams nobody here serves are counted once here (`dropped`, by reason), not once per instance:
// the header-level reasons (truncated, not-ipv4, bad-header-length, ip-length-mismatch,
// wrong-protocol), a VRRP message too short to carry a VRID (bad-length), an unknown VRID, a version
// nobody with that VRID speaks (bad-version), a source in no peer list (unknown-unicast-source).
import { ipToUint32, uint32ToIp } from '../net/ip.js';
import { emptyDatagramHeader, readDatagramHeader, type DatagramHeader } from './ipv4.js';
import { describeDatagramProblem, type DropReason } from './validate.js';

export type { DatagramHeader } from './ipv4.js';

/** An instance as the demultiplexer sees it. `h` is only valid during the call (it is re-used). */
export interface DemuxTarget {
  receive(h: Readonly<DatagramHeader>, datagram: Buffer): void;
}

/** Which datagrams a target serves. Peers are dotted IPv4 addresses (a "/prefix" is not allowed). */
export interface DemuxKey {
  version: 2 | 3;
  vrid: number;
  unicastPeers: readonly string[] | null; // null: a multicast instance
}

/** The reasons the demultiplexer itself counts. */
export type DemuxDropReason = Extract<
  DropReason,
  'truncated' | 'not-ipv4' | 'bad-header-length' | 'ip-length-mismatch' | 'wrong-protocol' | 'bad-length' | 'unknown-vrid' | 'bad-version' | 'unknown-unicast-source'
>;

export interface ReceiveDemuxOptions {
  /** Called for every datagram counted in `dropped`; `detail` builds the log text on demand, and only
   *  during the call (the header object and the socket's receive buffer are re-used). */
  onDrop?: (reason: DemuxDropReason, detail: () => string) => void;
}

interface Entry {
  readonly version: 2 | 3;
  readonly peers: ReadonlySet<number> | null;
  readonly target: DemuxTarget;
}

export class DemuxConflictError extends Error {
  override name = 'DemuxConflictError';
}

export class ReceiveDemux {
  /** Datagrams dropped before reaching any instance, by reason. */
  readonly dropped: Record<string, number> = {};
  /** Datagrams handed to an instance. */
  delivered = 0;
  private readonly byVrid: (Entry[] | undefined)[] = new Array(256);
  private readonly h: DatagramHeader = emptyDatagramHeader();
  private readonly onDrop: ReceiveDemuxOptions['onDrop'];

  constructor(opts: ReceiveDemuxOptions = {}) {
    this.onDrop = opts.onDrop;
  }

  /** Number of targets added and not removed. */
  get size(): number {
    let n = 0;
    for (const g of this.byVrid) n += g?.length ?? 0;
    return n;
  }

  /**
   * Adds a target. Throws DemuxConflictError when a datagram could belong to it and to one already
   * here (same VRID, unless both are unicast with disjoint peers — the config rule), and RangeError on
   * a bad key. Remove the old instance first when replacing one.
   */
  add(key: DemuxKey, target: DemuxTarget): void {
    if (!Number.isInteger(key.vrid) || key.vrid < 1 || key.vrid > 255) throw new RangeError(`bad VRID ${key.vrid}`);
    if (key.version !== 2 && key.version !== 3) throw new RangeError(`bad VRRP version ${String(key.version)}`);
    const peers = key.unicastPeers === null ? null : new Set(key.unicastPeers.map((p) => ipToUint32(p)));
    const group = this.byVrid[key.vrid] ?? [];
    if (group.some((e) => e.target === target)) throw new DemuxConflictError('target added twice');
    for (const other of group) {
      const overlap = peers === null || other.peers === null || [...peers].some((p) => other.peers!.has(p));
      if (overlap)
        throw new DemuxConflictError(`VRID ${key.vrid} is already served here${peers && other.peers ? ' with an overlapping peer list' : ''}`);
    }
    group.push({ version: key.version, peers, target });
    this.byVrid[key.vrid] = group;
  }

  /** Removes a target; false if it was not here. */
  remove(target: DemuxTarget): boolean {
    for (let vrid = 0; vrid < this.byVrid.length; vrid++) {
      const group = this.byVrid[vrid];
      const i = group?.findIndex((e) => e.target === target) ?? -1;
      if (!group || i < 0) continue;
      group.splice(i, 1);
      if (group.length === 0) this.byVrid[vrid] = undefined;
      return true;
    }
    return false;
  }

  /**
   * One datagram from the socket (IP header included). Delivers it to at most one target and returns
   * that target, or null when the datagram was counted here. Never throws (a target's own exception
   * is the caller's: receive() must not throw).
   */
  dispatch(datagram: Buffer): DemuxTarget | null {
    const h = this.h;
    const problem = readDatagramHeader(datagram, h);
    if (problem !== null) return this.drop(problem, datagram);
    const route = this.route(h);
    if (typeof route === 'string') return this.drop(route, datagram);
    this.delivered++;
    route.receive(h, datagram);
    return route;
  }

  /** The target for a header readDatagramHeader accepted, or why there is none. */
  private route(h: DatagramHeader): DemuxTarget | DemuxDropReason {
    if (h.vrid < 0) return 'bad-length';
    const group = this.byVrid[h.vrid];
    if (group === undefined) return 'unknown-vrid';
    if (group.length === 1) return group[0]!.target;
    // Only unicast instances with disjoint peer lists share a VRID (add() refuses anything else).
    let candidates = 0;
    let only: Entry | null = null;
    for (const e of group) {
      if (e.peers!.has(h.src)) return e.target;
      if (e.version === h.vrrpVersion) {
        candidates++;
        only = e;
      }
    }
    if (candidates === 1) return only!.target;
    return candidates === 0 ? 'bad-version' : 'unknown-unicast-source';
  }

  private drop(reason: DemuxDropReason, datagram: Buffer): null {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    if (this.onDrop) this.onDrop(reason, () => describeDrop(reason, this.h, datagram));
    return null;
  }
}

/** The log text for a drop counted here (header-level reasons only look at the bytes). */
function describeDrop(reason: DemuxDropReason, h: DatagramHeader, datagram: Buffer): string {
  const src = uint32ToIp(h.src);
  switch (reason) {
    case 'bad-length':
      return `${h.payloadLength} bytes of VRRP from ${src}, too short for a VRID`;
    case 'unknown-vrid':
      return `VRID ${h.vrid} from ${src}: no instance here`;
    case 'bad-version':
      return `VRRP version ${h.vrrpVersion} for VRID ${h.vrid} from ${src}: no instance here speaks it`;
    case 'unknown-unicast-source':
      return `${src} is in no unicast peer list for VRID ${h.vrid}`;
    default:
      return describeDatagramProblem(reason, datagram);
  }
}

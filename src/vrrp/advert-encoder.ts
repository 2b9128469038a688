// Pre-encoded VRRP adverts for one instance: one complete IPv4 datagram (keepalived's header: TOS
// 0xc0, TTL 255, DF off, protocol 112 + the VRRP message) per destination, built once. Each send only
// writes the IP id and its header checksum; the priority byte and the VRRP checksum are rewritten only
// when the priority or the checksum form changes. The result is byte-identical to
// encodeAdvert + buildIpv4Header for the same fields. Pure: no socket, timer or clock.
//
// The datagrams returned by next() are the same Buffers every time: send them before the next call
// (a send that queues the buffer for later must copy it).
import { foldSum, onesComplementSum } from './checksum.js';
import { buildIpv4Header } from './ipv4.js';
import { checksumSeed, encodeAdvert, type ChecksumForm, type VrrpAdvert } from './packet.js';
import { ipToUint32 } from '../net/ip.js';

export interface AdvertEncoderOptions {
  version: 2 | 3;
  vrid: number;
  addresses: readonly string[]; // VIPs, dotted (no prefix)
  advertIntervalCs: number;
  authType: 0 | 1 | 2; // v2 only
  authData: Buffer; // v2: 8 bytes; v3: empty
  src: string;
  destinations: readonly string[]; // 224.0.0.18, or the unicast peers
  form?: ChecksumForm; // default 'rfc'
  /** The IP id of the first datagram (default 1, as keepalived); carry `nextIpId` over when an
   *  encoder replaces another (new source address, new peers). */
  firstIpId?: number;
}

export interface EncodedAdvert {
  readonly dst: string;
  readonly datagram: Buffer;
}

const IP_HEADER_LEN = 20;
const IP_ID = 4;
const IP_CHECKSUM = 10;
const VRRP_PRIORITY = IP_HEADER_LEN + 2;
const VRRP_CHECKSUM = IP_HEADER_LEN + 6;

interface Slot {
  readonly out: EncodedAdvert;
  readonly src: number;
  readonly dst: number;
  /** Folded sum of the IP header with id and checksum zero. */
  readonly ipBaseSum: number;
  /** Folded sum of the VRRP message (no pseudo-header) with priority and checksum zero. */
  readonly vrrpBaseSum: number;
}

export class AdvertEncoder {
  private readonly slots: Slot[];
  private readonly out: readonly EncodedAdvert[];
  private readonly version: 2 | 3;
  private readonly vrrpLength: number;
  private ipId: number;
  private priority = NaN; // what the buffers carry; NaN: not written yet (equal to nothing)
  private currentForm: ChecksumForm;

  /** Throws a RangeError on an advert that cannot be put on the wire (as encodeAdvert does). */
  constructor(o: AdvertEncoderOptions) {
    const first = o.firstIpId ?? 1;
    if (!Number.isInteger(first) || first < 1 || first > 0xffff) throw new RangeError(`bad first IP id ${first}`);
    if (o.destinations.length === 0) throw new RangeError('an advert needs at least one destination');
    this.version = o.version;
    this.ipId = first;
    this.currentForm = o.form ?? 'rfc';
    const advert: VrrpAdvert = {
      version: o.version,
      vrid: o.vrid,
      priority: 0,
      addresses: [...o.addresses],
      advertIntervalCs: o.advertIntervalCs,
      authType: o.authType,
      authData: o.authData,
    };
    this.slots = o.destinations.map((dst) => {
      const vrrp = encodeAdvert(advert, { src: o.src, dst }, this.currentForm);
      vrrp.writeUInt16BE(0, 6);
      const ip = buildIpv4Header({ src: o.src, dst, id: 0, payloadLength: vrrp.length });
      ip.writeUInt16BE(0, IP_CHECKSUM);
      const datagram = Buffer.concat([ip, vrrp]);
      return {
        out: Object.freeze({ dst, datagram }),
        src: ipToUint32(o.src),
        dst: ipToUint32(dst),
        ipBaseSum: onesComplementSum(ip),
        vrrpBaseSum: onesComplementSum(vrrp),
      };
    });
    this.vrrpLength = this.slots[0]!.out.datagram.length - IP_HEADER_LEN;
    this.out = Object.freeze(this.slots.map((s) => s.out));
  }

  get form(): ChecksumForm {
    return this.currentForm;
  }

  /** The IP id the next datagram will carry. */
  get nextIpId(): number {
    return this.ipId;
  }

  /** Switches the VRRPv3 checksum form (keepalived's old unicast checksum, v3_checksum_as_v2). */
  setForm(form: ChecksumForm): void {
    if (form === this.currentForm) return;
    this.currentForm = form;
    this.priority = NaN; // rewrite the checksums on the next send
  }

  /**
   * The datagrams of one advert at `priority`, one per destination in the configured order, each with
   * the next IP id (1, 2, … 0xffff, 1, …). Throws a RangeError on a priority outside 0..255.
   */
  next(priority: number): readonly EncodedAdvert[] {
    if (priority !== this.priority) this.writePriority(priority);
    for (const s of this.slots) {
      const d = s.out.datagram;
      const id = this.ipId;
      this.ipId = id >= 0xffff ? 1 : id + 1;
      d[IP_ID] = id >> 8;
      d[IP_ID + 1] = id & 0xff;
      const sum = ~foldSum(s.ipBaseSum + id) & 0xffff;
      d[IP_CHECKSUM] = sum >> 8;
      d[IP_CHECKSUM + 1] = sum & 0xff;
    }
    return this.out;
  }

  /**
   * The datagrams of an advert at `priority` for someone else to send (vrrp/offload.ts): fresh copies,
   * whose IP id and header checksum the sender sets, from nextIpId on, and their destinations as
   * uint32. Uses no IP id here.
   */
  template(priority: number): { datagrams: Buffer[]; dsts: number[] } {
    if (priority !== this.priority) this.writePriority(priority);
    return { datagrams: this.slots.map((s) => Buffer.from(s.out.datagram)), dsts: this.slots.map((s) => s.dst) };
  }

  /** Continues the IP ids from `id` (the next one someone else's sends left off at). */
  resumeIpId(id: number): void {
    this.ipId = Number.isInteger(id) && id >= 1 && id <= 0xffff ? id : 1;
  }

  private writePriority(priority: number): void {
    if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new RangeError(`cannot encode VRRP advert: priority ${priority}`);
    for (const s of this.slots) {
      const d = s.out.datagram;
      const seed = checksumSeed(this.version, this.currentForm, s.src, s.dst, this.vrrpLength);
      const sum = ~foldSum(s.vrrpBaseSum + seed + (priority << 8)) & 0xffff;
      d[VRRP_PRIORITY] = priority;
      d[VRRP_CHECKSUM] = sum >> 8;
      d[VRRP_CHECKSUM + 1] = sum & 0xff;
    }
    this.priority = priority;
  }
}

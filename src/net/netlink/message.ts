// rtnetlink codec, pure: builds the few requests the agent sends (link and address dumps, one link by
// name, add/delete one address) and parses what the kernel answers or multicasts (RTM_NEWLINK/DELLINK,
// RTM_NEWADDR/DELADDR, NLMSG_ERROR, NLMSG_DONE). No sockets here (route-socket.ts moves the bytes).
//
// Contract: parseMessages() never throws, whatever the bytes: a truncated or inconsistent message ends
// the walk and is reported in `malformed`, with what was parsed before it kept. Builders take checked
// input (an address that parseCidr accepted) and throw a RangeError otherwise.
//
// Layouts (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h), host byte order:
//   nlmsghdr  len u32 · type u16 · flags u16 · seq u32 · pid u32                        16 bytes
//   ifinfomsg family u8 · pad u8 · type u16 · index s32 · flags u32 · change u32         16 bytes
//   ifaddrmsg family u8 · prefixlen u8 · flags u8 · scope u8 · index u32                  8 bytes
//   rtattr    len u16 · type u16 · payload, each padded to 4 bytes
import { parseIpv4Address } from '../ip.js';

// Host byte order from a typed array rather than os.endianness(): node:os is otherwise never loaded
// by the agent, and every module it loads stays resident (issue #5).
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

/** Multicast groups (bit masks for nl_groups). */
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV6_IFADDR = 0x100;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_SKIP_STATS = 1 << 3; // no counters in link answers: smaller, cheaper (older kernels ignore it)

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;

/** Interface flags (linux/if.h), in the order `ip` prints them. */
const IFF_NAMES: readonly [number, string][] = [
  [0x8, 'LOOPBACK'],
  [0x2, 'BROADCAST'],
  [0x10, 'POINTOPOINT'],
  [0x1000, 'MULTICAST'],
  [0x80, 'NOARP'],
  [0x200, 'ALLMULTI'],
  [0x100, 'PROMISC'],
  [0x20, 'NOTRAILERS'],
  [0x4, 'DEBUG'],
  [0x8000, 'DYNAMIC'],
  [0x4000, 'AUTOMEDIA'],
  [0x2000, 'PORTSEL'],
  [0x800, 'SLAVE'],
  [0x400, 'MASTER'],
  [0x1, 'UP'],
  [0x10000, 'LOWER_UP'],
  [0x20000, 'DORMANT'],
  [0x40000, 'ECHO'],
];
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_LOWER_UP = 0x10000;

/** IF_OPER_* (RFC 2863), as /sys/class/net/IF/operstate spells them. */
const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

// ---------------------------------------------------------------------------------------------
// Parsed messages

interface Header {
  /** nlmsg_seq: 0 for multicast events. */
  seq: number;
  /** nlmsg_flags (NLM_F_MULTI, NLM_F_DUMP_INTR…). */
  nlFlags: number;
}

export interface LinkMessage extends Header {
  kind: 'link';
  op: 'new' | 'del';
  /** ifi_family: AF_UNSPEC for the interface itself; AF_BRIDGE etc. for a per-family view of it. */
  family: number;
  index: number;
  /** ifi_flags (IFF_*). */
  flags: number;
  name: string | null;
  /** Lower-case colon hex of IFLA_ADDRESS, null when absent. */
  mac: string | null;
  mtu: number | null;
  /** IFLA_OPERSTATE as sysfs spells it (up, down, lowerlayerdown…), null when absent. */
  operstate: string | null;
}

export interface AddressMessage extends Header {
  kind: 'address';
  op: 'new' | 'del';
  /** 4 or 6; null for another family (not an IP address). */
  family: 4 | 6 | null;
  index: number;
  prefixLen: number;
  /** IFA_FLAGS when present (32 bits), else ifa_flags. */
  flags: number;
  /** IFA_LOCAL, else IFA_ADDRESS (what `ip` shows as `local`), as text; null when neither is there. */
  address: string | null;
}

export interface ErrorMessage extends Header {
  kind: 'error';
  /** Positive errno; 0 is an acknowledgement. */
  errno: number;
}

export interface DoneMessage extends Header {
  kind: 'done';
}

export interface OtherMessage extends Header {
  kind: 'other';
  type: number;
}

export type NlMessage = LinkMessage | AddressMessage | ErrorMessage | DoneMessage | OtherMessage;

export interface Parsed {
  messages: NlMessage[];
  /** Why the walk stopped early, or null when every byte was accounted for. */
  malformed: string | null;
}

const align4 = (n: number) => (n + 3) & ~3;
const u16 = (b: Buffer, o: number) => (LE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number) => (LE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const s32 = (b: Buffer, o: number) => (LE ? b.readInt32LE(o) : b.readInt32BE(o));

/** Attributes (type → payload) in b[from, to); later copies win. Stops quietly at a bad length. */
function attributes(b: Buffer, from: number, to: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let o = from; o + RTA_HDRLEN <= to; ) {
    const len = u16(b, o);
    if (len < RTA_HDRLEN || o + len > to) break;
    out.set(u16(b, o + 2) & NLA_TYPE_MASK, b.subarray(o + RTA_HDRLEN, o + len));
    o += align4(len);
  }
  return out;
}

function cString(v: Buffer | undefined): string | null {
  if (!v) return null;
  const nul = v.indexOf(0);
  return v.subarray(0, nul < 0 ? v.length : nul).toString('utf8');
}

function uint32Attr(v: Buffer | undefined): number | null {
  return v && v.length >= 4 ? u32(v, 0) : null;
}

/** Bytes as lower-case colon hex (a MAC, or whatever link-layer address the device has). */
export function macText(v: Buffer): string {
  return [...v].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Four or sixteen bytes as address text (RFC 5952 for IPv6, as parseCidr canonicalizes); null for any other length. */
export function addressText(v: Buffer): string | null {
  if (v.length === 4) return `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
  if (v.length !== 16) return null;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((v[i]! << 8) | v[i + 1]!);
  // The longest run of two or more zero words becomes "::" (the first such run on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  // All hex, never a dotted IPv4 tail (`ip` prints ::ffff:a.b.c.d): the same text parseCidr() gives,
  // so a configured VIP and the kernel's copy of it always compare equal.
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

function parseLink(b: Buffer, o: number, end: number, op: 'new' | 'del', h: Header): LinkMessage | string {
  if (end - o < NLMSG_HDRLEN + IFINFOMSG_LEN) return 'link message shorter than ifinfomsg';
  const body = o + NLMSG_HDRLEN;
  const a = attributes(b, body + IFINFOMSG_LEN, end);
  const mac = a.get(IFLA_ADDRESS);
  const oper = a.get(IFLA_OPERSTATE);
  return {
    ...h,
    kind: 'link',
    op,
    family: b[body]!,
    index: s32(b, body + 4),
    flags: u32(b, body + 8),
    name: cString(a.get(IFLA_IFNAME)),
    mac: mac ? macText(mac) : null,
    mtu: uint32Attr(a.get(IFLA_MTU)),
    operstate: oper && oper.length >= 1 ? (OPERSTATES[oper[0]!] ?? 'unknown') : null,
  };
}

function parseAddress(b: Buffer, o: number, end: number, op: 'new' | 'del', h: Header): AddressMessage | string {
  if (end - o < NLMSG_HDRLEN + IFADDRMSG_LEN) return 'address message shorter than ifaddrmsg';
  const body = o + NLMSG_HDRLEN;
  const fam = b[body]!;
  const a = attributes(b, body + IFADDRMSG_LEN, end);
  const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  const family = fam === AF_INET ? 4 : fam === AF_INET6 ? 6 : null;
  const address = raw && family !== null && raw.length === (family === 4 ? 4 : 16) ? addressText(raw) : null;
  return {
    ...h,
    kind: 'address',
    op,
    family,
    index: u32(b, body + 4),
    prefixLen: b[body + 1]!,
    flags: uint32Attr(a.get(IFA_FLAGS)) ?? b[body + 2]!,
    address,
  };
}

/** Every netlink message in one datagram. Never throws. */
export function parseMessages(b: Buffer): Parsed {
  const messages: NlMessage[] = [];
  let o = 0;
  while (o < b.length) {
    if (b.length - o < NLMSG_HDRLEN) return { messages, malformed: `${b.length - o} trailing bytes, shorter than a netlink header` };
    const len = u32(b, o);
    if (len < NLMSG_HDRLEN || len > b.length - o) return { messages, malformed: `netlink header length ${len} does not fit the ${b.length - o} bytes left` };
    const type = u16(b, o + 4);
    const h: Header = { nlFlags: u16(b, o + 6), seq: u32(b, o + 8) };
    const end = o + len;
    let m: NlMessage | string;
    switch (type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
        m = parseLink(b, o, end, type === RTM_NEWLINK ? 'new' : 'del', h);
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        m = parseAddress(b, o, end, type === RTM_NEWADDR ? 'new' : 'del', h);
        break;
      case NLMSG_ERROR:
        m = len < NLMSG_HDRLEN + 4 ? 'NLMSG_ERROR without an error code' : { ...h, kind: 'error', errno: 0 - s32(b, o + NLMSG_HDRLEN) || 0 };
        break;
      case NLMSG_DONE:
        m = { ...h, kind: 'done' };
        break;
      default:
        m = { ...h, kind: 'other', type };
    }
    if (typeof m === 'string') return { messages, malformed: m };
    messages.push(m);
    o += align4(len);
  }
  return { messages, malformed: null };
}

/** ifi_flags as `ip` prints them: NO-CARRIER (up without carrier) first, then the set flags. */
export function linkFlagNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & IFF_UP && !(flags & IFF_RUNNING)) out.push('NO-CARRIER');
  for (const [bit, name] of IFF_NAMES) if (flags & bit) out.push(name);
  return out;
}

/** The inverse of linkFlagNames: IFF_* bits from names as `ip` prints them (RUNNING unless NO-CARRIER). */
export function linkFlagBits(names: readonly string[]): number {
  let bits = 0;
  for (const [bit, name] of IFF_NAMES) if (names.includes(name)) bits |= bit;
  if (bits & IFF_UP && !names.includes('NO-CARRIER')) bits |= IFF_RUNNING;
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Requests

function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(align4(RTA_HDRLEN + payload.length));
  writeU16(b, 0, RTA_HDRLEN + payload.length);
  writeU16(b, 2, type);
  payload.copy(b, RTA_HDRLEN);
  return b;
}

function writeU16(b: Buffer, o: number, v: number): void {
  if (LE) b.writeUInt16LE(v, o);
  else b.writeUInt16BE(v, o);
}

function writeU32(b: Buffer, o: number, v: number): void {
  if (LE) b.writeUInt32LE(v >>> 0, o);
  else b.writeUInt32BE(v >>> 0, o);
}

function u32Payload(v: number): Buffer {
  const b = Buffer.alloc(4);
  writeU32(b, 0, v);
  return b;
}

function message(type: number, flags: number, seq: number, body: Buffer, attrs: Buffer[] = []): Buffer {
  const payload = Buffer.concat([body, ...attrs]);
  const b = Buffer.alloc(NLMSG_HDRLEN + payload.length);
  writeU32(b, 0, b.length);
  writeU16(b, 4, type);
  writeU16(b, 6, flags);
  writeU32(b, 8, seq);
  writeU32(b, 12, 0);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

const ifinfomsg = () => Buffer.alloc(IFINFOMSG_LEN); // AF_UNSPEC, index 0, no flags
const skipStats = () => attr(IFLA_EXT_MASK, u32Payload(RTEXT_FILTER_SKIP_STATS));

/** RTM_GETLINK dump: every interface. */
export function linkDumpRequest(seq: number): Buffer {
  return message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, ifinfomsg(), [skipStats()]);
}

/** RTM_GETLINK for one interface by name: answered by one RTM_NEWLINK, or NLMSG_ERROR ENODEV. */
export function linkGetRequest(seq: number, ifname: string): Buffer {
  return message(RTM_GETLINK, NLM_F_REQUEST, seq, ifinfomsg(), [attr(IFLA_IFNAME, Buffer.from(`${ifname}\0`, 'utf8')), skipStats()]);
}

/**
 * RTM_GETADDR dump of every address of `family` (AF_UNSPEC: IPv4 and IPv6) on interface `index` (0:
 * every interface). The kernel honours the index only on a socket with NETLINK_GET_STRICT_CHK (the
 * addon sets it; Linux >= 4.20), so readers filter the answer again.
 */
export function addressDumpRequest(seq: number, family = AF_UNSPEC, index = 0): Buffer {
  const body = Buffer.alloc(IFADDRMSG_LEN);
  body[0] = family;
  writeU32(body, 4, index);
  return message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, body);
}

/** Address text → bytes: 4 for IPv4, 16 for IPv6. Throws a RangeError on anything else. */
export function addressBytes(text: string, family: 4 | 6): Buffer {
  if (family === 4) {
    const n = parseIpv4Address(text);
    if (n === null) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  }
  return ipv6Bytes(text);
}

function ipv6Bytes(text: string): Buffer {
  const bad = () => new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  let s = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  if (dotted) {
    const n = parseIpv4Address(dotted[2]!);
    if (n === null) throw bad();
    tail.push(n >>> 16, n & 0xffff);
    s = dotted[1]!.endsWith('::') ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const words = (part: string) => (part === '' ? [] : part.split(':').map((w) => (/^[0-9a-f]{1,4}$/i.test(w) ? parseInt(w, 16) : NaN)));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? [...words(halves[1]!), ...tail] : [];
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : [...head, ...tail];
  if (all.length !== 8 || all.some((w) => !Number.isInteger(w) || w < 0)) throw bad();
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

export interface AddressSpec {
  index: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
}

/**
 * RTM_NEWADDR (create, exclusive: an existing identical address answers EEXIST) or RTM_DELADDR (exact
 * address and prefix: another prefix answers EADDRNOTAVAIL), acknowledged. IFA_LOCAL and IFA_ADDRESS
 * both carry the address, as `ip addr add A/P dev IF` sends them; IPv6 gets IFA_F_NODAD (`nodad`).
 */
export function addressRequest(seq: number, op: 'add' | 'del', a: AddressSpec): Buffer {
  const max = a.family === 4 ? 32 : 128;
  if (!Number.isInteger(a.prefixLen) || a.prefixLen < 0 || a.prefixLen > max) throw new RangeError(`bad prefix length ${a.prefixLen}`);
  if (!Number.isInteger(a.index) || a.index <= 0 || a.index > 0x7fffffff) throw new RangeError(`bad interface index ${a.index}`);
  const bytes = addressBytes(a.address, a.family);
  const body = Buffer.alloc(IFADDRMSG_LEN);
  body[0] = a.family === 4 ? AF_INET : AF_INET6;
  body[1] = a.prefixLen;
  body[2] = op === 'add' && a.family === 6 ? IFA_F_NODAD : 0;
  body[3] = 0; // RT_SCOPE_UNIVERSE
  writeU32(body, 4, a.index);
  const type = op === 'add' ? RTM_NEWADDR : RTM_DELADDR;
  const flags = NLM_F_REQUEST | NLM_F_ACK | (op === 'add' ? NLM_F_CREATE | NLM_F_EXCL : 0);
  return message(type, flags, seq, body, [attr(IFA_LOCAL, bytes), attr(IFA_ADDRESS, bytes)]);
}

// ---------------------------------------------------------------------------------------------
// Routes (virtual_routes): rtmsg family u8 · dst_len u8 · src_len u8 · tos u8 · table u8 · protocol u8
// · scope u8 · type u8 · flags u32 (12 bytes); attributes RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY,
// RTA_TABLE (always sent; the rtmsg byte holds the table when < 256, else RT_TABLE_UNSPEC).

const RTMSG_LEN = 12;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3; // what `ip route add` marks its routes with
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255;
const RTN_UNICAST = 1;

export interface RouteSpec {
  /** Destination network address (host bits zero) and prefix length. */
  dst: string;
  dstLen: number;
  /** Next hop; absent: a directly connected (scope link) route. */
  gateway?: string;
  /** Output interface index. */
  index: number;
  metric?: number;
  /** Default RT_TABLE_MAIN. */
  table?: number;
}

/**
 * RTM_NEWROUTE (create, exclusive: the same route present answers EEXIST) or RTM_DELROUTE, IPv4,
 * acknowledged; the bytes `ip route add|del DST/LEN [via GW] dev IF [metric M] [table T]` sends
 * (protocol boot, scope universe with a gateway, link without; type unicast).
 */
export function routeRequest(seq: number, op: 'add' | 'del', r: RouteSpec): Buffer {
  if (!Number.isInteger(r.dstLen) || r.dstLen < 0 || r.dstLen > 32) throw new RangeError(`bad prefix length ${r.dstLen}`);
  if (!Number.isInteger(r.index) || r.index <= 0 || r.index > 0x7fffffff) throw new RangeError(`bad interface index ${r.index}`);
  const table = r.table ?? RT_TABLE_MAIN;
  const body = Buffer.alloc(RTMSG_LEN);
  body[0] = AF_INET;
  body[1] = r.dstLen;
  body[4] = table < 256 ? table : 0; // RT_TABLE_UNSPEC: the table is in RTA_TABLE
  body[5] = op === 'add' ? RTPROT_BOOT : 0;
  body[6] = op === 'add' ? (r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK) : RT_SCOPE_NOWHERE; // delete: match any scope, as `ip route del`
  body[7] = op === 'add' ? RTN_UNICAST : 0;
  const attrs = [attr(RTA_TABLE, u32Payload(table)), attr(RTA_DST, addressBytes(r.dst, 4))];
  if (r.gateway) attrs.push(attr(RTA_GATEWAY, addressBytes(r.gateway, 4)));
  attrs.push(attr(RTA_OIF, u32Payload(r.index)));
  if (r.metric !== undefined) attrs.push(attr(RTA_PRIORITY, u32Payload(r.metric)));
  const type = op === 'add' ? RTM_NEWROUTE : RTM_DELROUTE;
  const flags = NLM_F_REQUEST | NLM_F_ACK | (op === 'add' ? NLM_F_CREATE | NLM_F_EXCL : 0);
  return message(type, flags, seq, body, attrs);
}

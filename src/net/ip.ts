// IPv4 address helpers: dotted-quad <-> unsigned 32-bit number, validation, CIDR blocks, multicast test.
// Pure; the one place the agent converts IPv4 address text.

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The address as an unsigned 32-bit number, or null when `s` is not a dotted quad (no prefix, no leading zeros). */
export function parseIpv4Address(s: string): number | null {
  const m = DOTTED_QUAD.exec(s);
  if (!m) return null;
  let n = 0;
  for (const part of m.slice(1)) {
    if (part.length > 1 && part.startsWith('0')) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

export function isIpv4(s: string): boolean {
  return parseIpv4Address(s) !== null;
}

/** Dotted quad -> unsigned 32-bit number. Throws a RangeError on anything else. */
export function ipToUint32(s: string): number {
  const n = parseIpv4Address(s);
  if (n === null) throw new RangeError(`not an IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

/** Unsigned 32-bit number -> dotted quad. */
export function uint32ToIp(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a uint32: ${n}`);
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** An IPv4 block: its first address, its size and its prefix length. */
export interface Ipv4Range {
  base: number;
  size: number;
  prefix: number;
}

/** "a.b.c.d/n" → the block it lies in (host bits ignored), or null when it is not an IPv4 CIDR. */
export function ipv4Range(cidr: string): Ipv4Range | null {
  const [ip = '', len, ...rest] = cidr.split('/');
  const n = parseIpv4Address(ip);
  const prefix = len === undefined || !/^\d{1,2}$/.test(len) ? NaN : Number(len);
  if (rest.length > 0 || n === null || !(prefix >= 0 && prefix <= 32)) return null;
  const size = 2 ** (32 - prefix);
  return { base: n - (n % size), size, prefix };
}

/** Is the IPv4 `ip` inside `cidr`? False when either does not parse. */
export function ipv4InRange(cidr: string, ip: string): boolean {
  const r = ipv4Range(cidr);
  const n = parseIpv4Address(ip);
  return r !== null && n !== null && n >= r.base && n < r.base + r.size;
}

/** True for 224.0.0.0/4. False for anything that is not an IPv4 address. */
export function isMulticast(s: string): boolean {
  const n = parseIpv4Address(s);
  return n !== null && isMulticastUint32(n);
}

/** True for 224.0.0.0/4, from the address as an unsigned 32-bit number. */
export function isMulticastUint32(n: number): boolean {
  return n >>> 28 === 0xe;
}

/** The VRRP IPv4 multicast group (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2). */
export const VRRP_MCAST_GROUP = '224.0.0.18';

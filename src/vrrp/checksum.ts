// RFC 1071 internet checksum (16-bit one's complement of the one's complement sum), plus the
// IPv4 pseudo-header sum that VRRPv3 over IPv4 adds (src | dst | 0 | protocol | length).
import { ipToUint32 } from '../net/ip.js';

/** Folded 16-bit one's complement sum of `data`, continuing from `initial` (a previous folded sum).
 *  An odd trailing byte is padded with zero, so only the last chunk of a message may have odd length. */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (even < data.length) sum += data[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum to put on the wire: ~sum. Over a message that already carries a correct checksum, this is 0. */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~onesComplementSum(data, initial) & 0xffff;
}

/** The 12-byte IPv4 pseudo-header: src(4) | dst(4) | 0 | protocol | length(2). */
export function ipv4PseudoHeader(src: string, dst: string, protocol: number, length: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(ipToUint32(src), 0);
  b.writeUInt32BE(ipToUint32(dst), 4);
  b[9] = protocol;
  b.writeUInt16BE(length, 10);
  return b;
}

/** Folded sum of the IPv4 pseudo-header, to pass as `initial` to the functions above. */
export function ipv4PseudoHeaderSum(src: string, dst: string, protocol: number, length: number): number {
  return onesComplementSum(ipv4PseudoHeader(src, dst, protocol, length));
}

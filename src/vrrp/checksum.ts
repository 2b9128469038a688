// RFC 1071 internet checksum (16-bit one's complement of the one's complement sum), plus the
// IPv4 pseudo-header sum that VRRPv3 over IPv4 adds (src | dst | 0 | protocol | length).
import { ipToUint32 } from '../net/ip.js';

/** Folded 16-bit one's complement sum of `data[start..end)`, continuing from `initial` (a previous
 *  folded sum). An odd trailing byte is padded with zero, so only the last chunk of a message may have
 *  odd length. `start` must be even relative to the message the sum belongs to. */
export function onesComplementSum(data: Uint8Array, initial = 0, start = 0, end = data.length): number {
  let sum = initial;
  const even = start + ((end - start) & ~1);
  for (let i = start; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (even < end) sum += data[even]! << 8;
  return foldSum(sum);
}

/** Folds a sum of 16-bit words (below 2^32, i.e. any message up to 64 KiB) to 16 bits, end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum to put on the wire: ~sum. Over a message that already carries a correct checksum, this is 0. */
export function internetChecksum(data: Uint8Array, initial = 0, start = 0, end = data.length): number {
  return ~onesComplementSum(data, initial, start, end) & 0xffff;
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
  return ipv4PseudoHeaderSumOf(ipToUint32(src), ipToUint32(dst), protocol, length);
}

/** The same from numeric (uint32) addresses, without building the 12 bytes. */
export function ipv4PseudoHeaderSumOf(src: number, dst: number, protocol: number, length: number): number {
  return foldSum((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + length);
}

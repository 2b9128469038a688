// Tiny classic libpcap reader and writer (not pcapng), plus Ethernet II framing helpers, for
// replaying captures into the decoder and for feeding our own frames to tshark.
// Reads both byte orders and both microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d) files;
// writes little-endian microsecond files.

export const LINKTYPE_ETHERNET = 1;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;

export interface PcapRecord {
  tsSec: number;
  tsFrac: number; // microseconds, or nanoseconds when the file is nanosecond-resolution
  origLen: number;
  data: Buffer;
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  nanosecond: boolean;
  records: PcapRecord[];
}

export function readPcap(buf: Buffer): PcapFile {
  if (buf.length < 24) throw new Error(`pcap: ${buf.length} bytes, too short for the global header`);
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  const le = magicLE === MAGIC_USEC || magicLE === MAGIC_NSEC;
  if (!le && magicBE !== MAGIC_USEC && magicBE !== MAGIC_NSEC)
    throw new Error(`pcap: bad magic 0x${magicBE.toString(16)} (pcapng is not supported)`);
  const u32 = (off: number) => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const file: PcapFile = {
    linktype: u32(20) & 0x0fffffff,
    snaplen: u32(16),
    nanosecond: (le ? magicLE : magicBE) === MAGIC_NSEC,
    records: [],
  };
  let off = 24;
  while (off < buf.length) {
    if (off + 16 > buf.length) throw new Error(`pcap: truncated record header at offset ${off}`);
    const inclLen = u32(off + 8);
    const start = off + 16;
    if (start + inclLen > buf.length) throw new Error(`pcap: truncated record at offset ${off}`);
    file.records.push({ tsSec: u32(off), tsFrac: u32(off + 4), origLen: u32(off + 12), data: buf.subarray(start, start + inclLen) });
    off = start + inclLen;
  }
  return file;
}

export function writePcap(frames: Array<Buffer | { data: Buffer; tsSec?: number; tsUsec?: number }>, linktype = LINKTYPE_ETHERNET): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(MAGIC_USEC, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(linktype, 20);
  const parts: Buffer[] = [header];
  frames.forEach((f, i) => {
    const { data, tsSec = 1_700_000_000 + i, tsUsec = 0 } = Buffer.isBuffer(f) ? { data: f } : f;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(tsSec, 0);
    rec.writeUInt32LE(tsUsec, 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(data.length, 12);
    parts.push(rec, data);
  });
  return Buffer.concat(parts);
}

export interface EthernetFrame {
  dst: string; // aa:bb:cc:dd:ee:ff
  src: string;
  ethertype: number;
  payload: Buffer; // may include padding to the 60-byte minimum
}

const macToString = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const macFromString = (s: string) => Buffer.from(s.replaceAll(':', ''), 'hex');

/** Ethernet II (no 802.1Q tag); null when the frame is shorter than its 14-byte header. */
export function parseEthernet(frame: Buffer): EthernetFrame | null {
  if (frame.length < 14) return null;
  return {
    dst: macToString(frame.subarray(0, 6)),
    src: macToString(frame.subarray(6, 12)),
    ethertype: frame.readUInt16BE(12),
    payload: frame.subarray(14),
  };
}

export function buildEthernet(dst: string, src: string, ethertype: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(14);
  macFromString(dst).copy(head, 0);
  macFromString(src).copy(head, 6);
  head.writeUInt16BE(ethertype, 12);
  return Buffer.concat([head, payload]);
}

/** The Ethernet multicast MAC for an IPv4 multicast group (01:00:5e + low 23 bits). */
export function ipv4MulticastMac(group: string): string {
  const [, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return macToString(Buffer.from([0x01, 0x00, 0x5e, b & 0x7f, c, d]));
}

// rtnetlink codec (src/net/netlink/message.ts): requests byte for byte (what `ip addr add/del` and
// `ip link show dev` send), parsing of link/address/error/done messages, and fast-check properties:
// requests parse back to what was asked, IPv6 text round-trips through bytes, and parseMessages never
// throws on any bytes. Layouts are host byte order; these vectors are little-endian (x86, arm64).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import fc from 'fast-check';
import {
  addressBytes,
  addressDumpRequest,
  addressRequest,
  addressText,
  linkDumpRequest,
  linkFlagBits,
  linkFlagNames,
  linkGetRequest,
  parseMessages,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_MULTI,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  type AddressMessage,
  type LinkMessage,
} from '../../src/net/netlink/message.js';
import { parseCidr } from '../../src/net/address.js';
import { uint32ToIp } from '../../src/net/ip.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const le = endianness() === 'LE';

// ── test-side encoders (independent of the code under test) ──

function rta(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc((4 + payload.length + 3) & ~3);
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

function nlmsg(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

function ifinfo(family: number, index: number, flags: number, attrs: Buffer[]): Buffer {
  const b = Buffer.alloc(16);
  b[0] = family;
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  return Buffer.concat([b, ...attrs]);
}

function ifaddr(family: number, prefixLen: number, flags: number, index: number, attrs: Buffer[]): Buffer {
  const b = Buffer.alloc(8);
  b[0] = family;
  b[1] = prefixLen;
  b[2] = flags;
  b.writeUInt32LE(index, 4);
  return Buffer.concat([b, ...attrs]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};

/** An RTM_NEWLINK for eth0 as the kernel sends it (index 3, up with carrier, operstate up). */
const ETH0_LINK = nlmsg(RTM_NEWLINK, 0, 0, ifinfo(0, 3, 0x11043, [
  rta(3, Buffer.from('eth0\0')),
  rta(4, u32(1500)),
  rta(16, Buffer.from([6])),
  rta(1, hex('0200c6336401')),
  rta(0x8000 | 26, Buffer.alloc(8)), // a nested attribute we do not read
]));

describe('netlink requests', { skip: !le && 'vectors are little-endian' }, () => {
  it('RTM_NEWADDR for an IPv4 VIP: create+excl+ack, IFA_LOCAL and IFA_ADDRESS, like `ip addr add`', () => {
    const b = addressRequest(1, 'add', { index: 3, family: 4, address: '198.51.100.100', prefixLen: 24 });
    assert.equal(b.toString('hex'), hex(`28000000 1400 0506 01000000 00000000
      02 18 00 00 03000000
      0800 0200 c6336464
      0800 0100 c6336464`).toString('hex'));
  });

  it('RTM_NEWADDR for IPv6 carries IFA_F_NODAD (`ip … nodad`); RTM_DELADDR asks only for an ack', () => {
    const add = addressRequest(9, 'add', { index: 3, family: 6, address: '2001:db8::100', prefixLen: 64 });
    assert.equal(add.toString('hex'), hex(`40000000 1400 0506 09000000 00000000
      0a 40 02 00 03000000
      1400 0200 20010db8000000000000000000000100
      1400 0100 20010db8000000000000000000000100`).toString('hex'));
    const del = addressRequest(10, 'del', { index: 3, family: 4, address: '198.51.100.100', prefixLen: 32 });
    assert.equal(del.subarray(4, 8).toString('hex'), '15000500'); // RTM_DELADDR, REQUEST|ACK
    assert.equal(del[17], 32);
    assert.equal(del[18], 0, 'no NODAD on delete');
  });

  it('link by name, link dump and address dump', () => {
    assert.equal(linkGetRequest(7, 'eth0').toString('hex'), hex(`34000000 1200 0100 07000000 00000000
      00 00 0000 00000000 00000000 00000000
      0900 0300 65746830 00 000000
      0800 1d00 08000000`).toString('hex'));
    assert.equal(linkDumpRequest(2).subarray(4, 8).toString('hex'), '12000103'); // RTM_GETLINK, REQUEST|DUMP
    const dump = addressDumpRequest(3);
    assert.equal(dump.length, 24);
    assert.equal(dump.subarray(4, 8).toString('hex'), '16000103'); // RTM_GETADDR, REQUEST|DUMP
  });

  it('refuses what it cannot encode', () => {
    assert.throws(() => addressRequest(1, 'add', { index: 3, family: 4, address: '198.51.100.300', prefixLen: 24 }), RangeError);
    assert.throws(() => addressRequest(1, 'add', { index: 3, family: 4, address: '198.51.100.1', prefixLen: 33 }), RangeError);
    assert.throws(() => addressRequest(1, 'add', { index: 0, family: 4, address: '198.51.100.1', prefixLen: 32 }), RangeError);
    assert.throws(() => addressBytes('2001:db8::1::2', 6), RangeError);
    assert.throws(() => addressBytes('2001:db8:1:2:3:4:5:6:7', 6), RangeError);
    assert.throws(() => addressBytes('2001:db8::g', 6), RangeError);
  });
});

describe('netlink parsing', { skip: !le && 'vectors are little-endian' }, () => {
  it('RTM_NEWLINK: index, name, MAC, MTU, operstate, flags as `ip` prints them', () => {
    const { messages, malformed } = parseMessages(ETH0_LINK);
    assert.equal(malformed, null);
    const m = messages[0] as LinkMessage;
    assert.deepEqual(
      { kind: m.kind, op: m.op, family: m.family, index: m.index, name: m.name, mac: m.mac, mtu: m.mtu, operstate: m.operstate },
      { kind: 'link', op: 'new', family: 0, index: 3, name: 'eth0', mac: '02:00:c6:33:64:01', mtu: 1500, operstate: 'up' },
    );
    assert.deepEqual(linkFlagNames(m.flags), ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    const noCarrier = parseMessages(nlmsg(RTM_DELLINK, 0, 0, ifinfo(0, 4, 0x1003, []))).messages[0] as LinkMessage;
    assert.equal(noCarrier.op, 'del');
    assert.equal(noCarrier.name, null);
    assert.deepEqual(linkFlagNames(noCarrier.flags), ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
  });

  it('RTM_NEWADDR/DELADDR: IFA_LOCAL first, IFA_ADDRESS otherwise, IFA_FLAGS over ifa_flags', () => {
    const v4 = nlmsg(RTM_NEWADDR, NLM_F_MULTI, 5, ifaddr(2, 24, 0x81, 3, [rta(1, hex('c6336401')), rta(2, hex('c6336464'))]));
    const v6 = nlmsg(RTM_DELADDR, 0, 0, ifaddr(10, 64, 0x80, 3, [rta(1, hex('20010db8000000000000000000000100')), rta(8, u32(0x282))]));
    const { messages, malformed } = parseMessages(Buffer.concat([v4, v6, nlmsg(NLMSG_DONE, NLM_F_MULTI, 5, u32(0))]));
    assert.equal(malformed, null);
    const [a, b, done] = messages as [AddressMessage, AddressMessage, { kind: string; seq: number }];
    assert.deepEqual([a.op, a.family, a.index, a.prefixLen, a.flags, a.address, a.seq, a.nlFlags], ['new', 4, 3, 24, 0x81, '198.51.100.100', 5, NLM_F_MULTI]);
    assert.deepEqual([b.op, b.family, b.prefixLen, b.flags, b.address], ['del', 6, 64, 0x282, '2001:db8::100']);
    assert.deepEqual([done.kind, done.seq], ['done', 5]);
  });

  it('NLMSG_ERROR: the errno, positive; 0 is an ack', () => {
    const err = (code: number) => nlmsg(NLMSG_ERROR, 0, 8, Buffer.concat([u32(code >>> 0), Buffer.alloc(16)]));
    assert.deepEqual(parseMessages(err(-1)).messages, [{ kind: 'error', errno: 1, seq: 8, nlFlags: 0 }]);
    assert.deepEqual(parseMessages(err(0)).messages, [{ kind: 'error', errno: 0, seq: 8, nlFlags: 0 }]);
    assert.match(parseMessages(nlmsg(NLMSG_ERROR, 0, 8, Buffer.alloc(2))).malformed ?? '', /without an error code/);
  });

  it('keeps what came before a truncated message and says why it stopped', () => {
    const whole = Buffer.concat([ETH0_LINK, ETH0_LINK]);
    const cut = parseMessages(whole.subarray(0, whole.length - 3));
    assert.equal(cut.messages.length, 1);
    assert.match(cut.malformed ?? '', /does not fit/);
    assert.match(parseMessages(Buffer.alloc(7)).malformed ?? '', /shorter than a netlink header/);
    assert.match(parseMessages(nlmsg(RTM_NEWLINK, 0, 0, Buffer.alloc(4))).malformed ?? '', /shorter than ifinfomsg/);
    assert.deepEqual(parseMessages(Buffer.alloc(0)), { messages: [], malformed: null });
  });

  it('IFF flag names and bits are inverses (RUNNING implied unless NO-CARRIER)', () => {
    for (const names of [['LOOPBACK', 'UP', 'LOWER_UP'], ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'], ['BROADCAST', 'NOARP', 'UP', 'LOWER_UP'], []])
      assert.deepEqual(linkFlagNames(linkFlagBits(names)), names);
  });
});

describe('netlink codec properties', () => {
  const arbV6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));

  it('IPv6 text: bytes → text → bytes is the identity, and the text is what parseCidr canonicalizes to', () => {
    fc.assert(
      fc.property(arbV6, (b) => {
        const text = addressText(b)!;
        assert.deepEqual(addressBytes(text, 6), b);
        assert.equal(parseCidr(text).address, text);
      }),
      { numRuns: 2000 },
    );
    // runs of zeros: the longest (first on a tie) is "::", a single zero word stays
    assert.equal(addressText(hex('20010db8000000010000000000000001')), '2001:db8:0:1::1');
    assert.equal(addressText(hex('20010000000000010000000000000000')), '2001:0:0:1::');
    assert.equal(addressText(hex('20010db8000100010001000100010001')), '2001:db8:1:1:1:1:1:1');
    assert.equal(addressText(hex('20010000000100000000000100000000')), '2001:0:1::1:0:0');
    assert.equal(addressText(Buffer.alloc(16)), '::');
    assert.equal(addressText(Buffer.alloc(5)), null);
  });

  it('an address request parses back to the address, prefix, index and family asked for', () => {
    const arbSpec = fc.oneof(
      fc.record({ family: fc.constant(4 as const), address: fc.integer({ min: 0, max: 0xffffffff }).map(uint32ToIp), prefixLen: fc.integer({ min: 0, max: 32 }) }),
      fc.record({ family: fc.constant(6 as const), address: arbV6.map((b) => addressText(b)!), prefixLen: fc.integer({ min: 0, max: 128 }) }),
    );
    fc.assert(
      fc.property(arbSpec, fc.integer({ min: 1, max: 0x7fffffff }), fc.constantFrom('add' as const, 'del' as const), fc.nat(), (spec, index, op, seq) => {
        const { messages, malformed } = parseMessages(addressRequest(seq, op, { ...spec, index }));
        assert.equal(malformed, null);
        const m = messages[0] as AddressMessage;
        assert.deepEqual([m.kind, m.op, m.family, m.address, m.prefixLen, m.index, m.seq], ['address', op === 'add' ? 'new' : 'del', spec.family, spec.address, spec.prefixLen, index, seq]);
        assert.equal(m.flags, op === 'add' && spec.family === 6 ? 0x02 : 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseMessages never throws, on random bytes or on well-framed messages with random bodies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        const r = parseMessages(Buffer.from(a));
        assert.ok(Array.isArray(r.messages));
      }),
      { numRuns: 3000 },
    );
    const arbMsg = fc
      .tuple(fc.constantFrom(RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR, NLMSG_ERROR, NLMSG_DONE, 1, 99), fc.nat({ max: 0xffff }), fc.uint8Array({ maxLength: 120 }))
      .map(([type, flags, body]) => nlmsg(type, flags, 0, Buffer.from(body)));
    fc.assert(
      fc.property(fc.array(arbMsg, { maxLength: 5 }), (msgs) => {
        const r = parseMessages(Buffer.concat(msgs));
        for (const m of r.messages) assert.equal(typeof m.kind, 'string');
      }),
      { numRuns: 3000 },
    );
  });
});

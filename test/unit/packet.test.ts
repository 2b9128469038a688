// VRRP codec, IPv4 header codec, checksum and address helpers: byte-exact against every keepalived
// 2.2.7 golden vector and the spec §4.9 captures, plus fast-check round-trip and robustness properties.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  advertLength,
  decodeAdvert,
  encodeAdvert,
  passwordToAuthData,
  CHECKSUM_FORMS,
  type ChecksumForm,
  type VrrpAdvert,
} from '../../src/vrrp/packet.js';
import { buildIpv4Header, parseIpv4 } from '../../src/vrrp/ipv4.js';
import { internetChecksum, ipv4PseudoHeader, onesComplementSum } from '../../src/vrrp/checksum.js';
import { ipToUint32, isIpv4, isMulticast, parseIpv4Address, uint32ToIp } from '../../src/net/ip.js';
import { loadKeepalivedVectors } from '../support/fixtures.js';
import { parseEthernet } from '../support/pcap.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const MCAST = '224.0.0.18';

/** Our decode of a frame, rendered as the tshark fields the vectors file records. */
function fieldsOf(frame: Buffer): Record<string, string> {
  const eth = parseEthernet(frame);
  assert.ok(eth);
  const ip = parseIpv4(eth.payload);
  assert.ok(ip.ok);
  const h = ip.header;
  const d = decodeAdvert(ip.payload, h);
  assert.ok(d.ok, `decode failed: ${d.ok ? '' : d.detail}`);
  const a = d.advert;
  const f: Record<string, string> = {
    'eth.src': eth.src,
    'eth.dst': eth.dst,
    'ip.src': h.src,
    'ip.dst': h.dst,
    'ip.ttl': String(h.ttl),
    'ip.proto': String(h.protocol),
    'ip.dsfield': `0x${h.tos.toString(16).padStart(2, '0')}`,
    'vrrp.version': String(a.version),
    'vrrp.type': String(ip.payload[0]! & 0x0f),
    'vrrp.virt_rtr_id': String(a.vrid),
    'vrrp.prio': String(a.priority),
    'vrrp.addr_count': String(a.addresses.length),
    'vrrp.checksum': `0x${ip.payload.readUInt16BE(6).toString(16).padStart(4, '0')}`,
    'vrrp.checksum.status': '1',
    'vrrp.ip_addr': a.addresses.join(','),
  };
  if (a.version === 2) {
    f['vrrp.auth_type'] = String(a.authType);
    f['vrrp.adver_int'] = String(a.advertIntervalCs / 100);
    if (a.authType === 1) f['vrrp.auth_string'] = a.authData.toString('latin1').replace(/\0+$/, '');
  } else {
    f['vrrp.short_adver_int'] = String(a.advertIntervalCs);
  }
  return f;
}

describe('golden vectors: keepalived 2.2.7 (test/fixtures)', () => {
  const vectors = loadKeepalivedVectors();
  const vrrpVectors = vectors.filter((v) => v.vrrp_hex !== null);

  it('holds VRRP vectors for v2/v3 × multicast/unicast', () => {
    assert.equal(vrrpVectors.length, 12);
    assert.equal(vectors.length - vrrpVectors.length, 8, 'the rest are GARP frames');
  });

  for (const v of vrrpVectors) {
    const ip = { src: v.ip_src!, dst: v.ip_dst! };
    const vrrp = hex(v.vrrp_hex!);
    const frame = hex(v.frame_hex);

    it(`${v.name}: decodes to tshark's fields`, () => {
      assert.equal(frame.length, v.frame_len);
      assert.deepEqual(frame.subarray(34), vrrp, 'vrrp_hex is the tail of frame_hex');
      const ours = fieldsOf(frame);
      for (const [key, value] of Object.entries(v.tshark_fields)) assert.equal(ours[key], value, key);
    });

    it(`${v.name}: re-encodes byte-exact from the decoded fields`, () => {
      const d = decodeAdvert(vrrp, ip);
      assert.ok(d.ok);
      assert.equal(d.checksumForm, 'rfc');
      assert.deepEqual(encodeAdvert(d.advert, ip), vrrp);
      assert.equal(encodeAdvert(d.advert, ip).toString('hex'), v.vrrp_hex);
    });

    it(`${v.name}: IPv4 header parses to the recorded facts and rebuilds byte-exact`, () => {
      const p = parseIpv4(frame.subarray(14));
      assert.ok(p.ok);
      assert.deepEqual(
        { src: p.header.src, dst: p.header.dst, ttl: p.header.ttl, protocol: p.header.protocol, tos: p.header.tos, id: p.header.id, df: p.header.df },
        { src: v.ip_src, dst: v.ip_dst, ttl: v.ttl, protocol: v.ip_protocol, tos: v.ip_tos, id: v.ip_id, df: v.ip_df },
      );
      assert.equal(p.header.totalLength, frame.length - 14);
      assert.deepEqual(p.payload, vrrp);
      const rebuilt = buildIpv4Header({ src: ip.src, dst: ip.dst, id: v.ip_id!, payloadLength: vrrp.length });
      assert.deepEqual(rebuilt, frame.subarray(14, 34));
    });

    if (v.checksum_check?.['with_224.0.0.18'] === false) {
      it(`${v.name}: the old 224.0.0.18 pseudo-header form would give another checksum`, () => {
        const d = decodeAdvert(vrrp, ip);
        assert.ok(d.ok);
        assert.notDeepEqual(encodeAdvert(d.advert, ip, 'mcast-pseudo'), vrrp);
      });
    }
  }
});

describe('spec §4.9 captures', () => {
  const frames = {
    v2TwoVips: hex(`0100 5e00 0012 0200 5e10 000a 0800 45c0 002c 0001 0000 ff70 1884 c000 020a e000
      0012 2133 9602 0001 c3fe c000 0264 c000 0265 0000 0000 0000 0000`),
    v2Pass: hex(`0100 5e00 0012 0200 5e10 000a 0800 45c0 0028 0001 0000 ff70 1888 c000 020a e000
      0012 2134 6401 0102 7b47 c000 0266 7333 6372 6574 0000`),
    v3Ucast: hex(`9a54 95fc 5383 0200 5e10 000a 0800 45c0 0020 0001 0000 ff70 368e c000 020a c000
      0214 3135 c801 0032 bf93 c000 0267`),
    v3Mcast: hex(`0100 5e00 0012 0200 5e10 000a 0800 45c0 0020 0001 0000 ff70 1890 c000 020a e000
      0012 3136 6401 0064 0562 c000 0268`),
  };
  const SRC = '192.0.2.10';
  const PEER = '192.0.2.20';
  const none = Buffer.alloc(8);

  const cases: Array<[keyof typeof frames, string, VrrpAdvert]> = [
    ['v2TwoVips', MCAST, { version: 2, vrid: 51, priority: 150, addresses: ['192.0.2.100', '192.0.2.101'], advertIntervalCs: 100, authType: 0, authData: none }],
    ['v2Pass', MCAST, { version: 2, vrid: 52, priority: 100, addresses: ['192.0.2.102'], advertIntervalCs: 200, authType: 1, authData: passwordToAuthData('s3cret') }],
    ['v3Ucast', PEER, { version: 3, vrid: 53, priority: 200, addresses: ['192.0.2.103'], advertIntervalCs: 50, authType: 0, authData: Buffer.alloc(0) }],
    ['v3Mcast', MCAST, { version: 3, vrid: 54, priority: 100, addresses: ['192.0.2.104'], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0) }],
  ];

  for (const [name, dst, advert] of cases) {
    it(`${name}: encode gives the captured bytes, decode gives the advert`, () => {
      const frame = frames[name];
      const vrrp = frame.subarray(34);
      const ip = { src: SRC, dst };
      assert.deepEqual(encodeAdvert(advert, ip), vrrp);
      assert.deepEqual(decodeAdvert(vrrp, ip), { ok: true, advert, checksumForm: 'rfc' });
      assert.deepEqual(buildIpv4Header({ src: SRC, dst, id: 1, payloadLength: vrrp.length }), frame.subarray(14, 34));
    });
  }

  it('PASS s3cret goes out as 73 33 63 72 65 74 00 00', () => {
    assert.equal(passwordToAuthData('s3cret').toString('hex'), '7333637265740000');
  });

  it('v3 unicast 0xbf93: the alternate forms are 0xa195 (224.0.0.18) and 0x442f (no pseudo-header)', () => {
    const advert = cases[2]![2];
    const ip = { src: SRC, dst: PEER };
    const checksum = (form: ChecksumForm) => encodeAdvert(advert, ip, form).readUInt16BE(6);
    assert.equal(checksum('rfc'), 0xbf93);
    assert.equal(checksum('mcast-pseudo'), 0xa195);
    assert.equal(checksum('no-pseudo'), 0x442f);
    for (const form of CHECKSUM_FORMS) {
      const d = decodeAdvert(encodeAdvert(advert, ip, form), ip);
      assert.deepEqual(d, { ok: true, advert, checksumForm: form });
    }
    assert.equal(hex('3135c8010032a195c0000267').readUInt16BE(6), 0xa195);
    assert.deepEqual(decodeAdvert(hex('3135c8010032a195c0000267'), ip), { ok: true, advert, checksumForm: 'mcast-pseudo' });
    assert.deepEqual(decodeAdvert(hex('3135c8010032442fc0000267'), ip), { ok: true, advert, checksumForm: 'no-pseudo' });
  });

  it('shutdown adverts (priority 0) encode to the captured bytes', () => {
    const v2 = { ...cases[0]![2], priority: 0 };
    assert.equal(encodeAdvert(v2, { src: SRC, dst: MCAST }).toString('hex'), '2133000200' + '0159ffc0000264c0000265' + '00'.repeat(8));
    const v3 = { ...cases[2]![2], priority: 0 };
    assert.equal(encodeAdvert(v3, { src: SRC, dst: PEER }).toString('hex'), '313500010032' + '8794c0000267');
  });
});

describe('decodeAdvert rejects', () => {
  const ip = { src: '198.51.100.1', dst: MCAST };
  const v2: VrrpAdvert = { version: 2, vrid: 7, priority: 100, addresses: ['198.51.100.100'], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(8) };
  const v3: VrrpAdvert = { version: 3, vrid: 7, priority: 100, addresses: ['198.51.100.100'], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0) };
  /** Apply `edit` to an encoded advert, then fix the checksum in the given form. */
  const patched = (a: VrrpAdvert, edit: (b: Buffer) => void) => {
    const b = encodeAdvert(a, ip);
    edit(b);
    b.writeUInt16BE(0, 6);
    const seed = a.version === 3 ? onesComplementSum(ipv4PseudoHeader(ip.src, ip.dst, 112, b.length)) : 0;
    b.writeUInt16BE(internetChecksum(b, seed), 6);
    return b;
  };
  const reason = (b: Uint8Array) => {
    const d = decodeAdvert(b, ip);
    assert.equal(d.ok, false);
    return d.ok ? null : d.reason;
  };

  it('short messages and lengths that disagree with the count (keepalived wants the exact length)', () => {
    assert.equal(reason(Buffer.alloc(0)), 'bad-length');
    assert.equal(reason(encodeAdvert(v2, ip).subarray(0, 7)), 'bad-length');
    assert.equal(reason(encodeAdvert(v2, ip).subarray(0, 19)), 'bad-length');
    assert.equal(reason(Buffer.concat([encodeAdvert(v2, ip), Buffer.alloc(1)])), 'bad-length');
    assert.equal(reason(Buffer.concat([encodeAdvert(v3, ip), Buffer.alloc(4)])), 'bad-length');
    assert.equal(reason(patched(v3, (b) => (b[3] = 200))), 'bad-length');
  });

  it('versions other than 2 and 3, and types other than advertisement', () => {
    for (const version of [0, 1, 4, 15]) assert.equal(reason(patched(v3, (b) => (b[0] = (version << 4) | 1))), 'bad-version');
    assert.equal(reason(patched(v3, (b) => (b[0] = 0x32))), 'bad-type');
    assert.equal(reason(patched(v2, (b) => (b[0] = 0x20))), 'bad-type');
  });

  it('a wrong checksum, and a v2 checksum computed with a pseudo-header', () => {
    const wrong = encodeAdvert(v2, ip);
    wrong[7]! ^= 0x01;
    assert.equal(reason(wrong), 'bad-checksum');
    const withPseudo = encodeAdvert(v2, ip);
    withPseudo.writeUInt16BE(0, 6);
    withPseudo.writeUInt16BE(internetChecksum(withPseudo, onesComplementSum(ipv4PseudoHeader(ip.src, ip.dst, 112, 20))), 6);
    assert.equal(reason(withPseudo), 'bad-checksum');
  });

  it('v2 auth types other than 0/1/2 and a v3 interval of 0', () => {
    assert.equal(reason(patched(v2, (b) => (b[4] = 3))), 'bad-auth-type');
    assert.equal(reason(patched(v3, (b) => b.writeUInt16BE(0xf000, 4))), 'bad-interval');
  });

  it('ignores the v3 reserved bits on receive', () => {
    const d = decodeAdvert(patched(v3, (b) => b.writeUInt16BE(0xf064, 4)), ip);
    assert.ok(d.ok);
    assert.equal(d.advert.advertIntervalCs, 100);
  });

  it('v3 with unusable IP addresses: only the no-pseudo form can verify, and nothing throws', () => {
    const garbage = { src: 'x', dst: 'y' };
    assert.deepEqual(decodeAdvert(encodeAdvert(v3, ip), garbage).ok, false);
    assert.deepEqual(decodeAdvert(encodeAdvert(v3, ip, 'no-pseudo'), garbage), { ok: true, advert: v3, checksumForm: 'no-pseudo' });
  });
});

describe('encodeAdvert refuses what cannot go on the wire', () => {
  const ip = { src: '198.51.100.1', dst: MCAST };
  const v2: VrrpAdvert = { version: 2, vrid: 7, priority: 100, addresses: ['198.51.100.100'], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(8) };
  const v3: VrrpAdvert = { ...v2, version: 3, authData: Buffer.alloc(0) };
  const bad: Array<[string, VrrpAdvert]> = [
    ['vrid 0', { ...v2, vrid: 0 }],
    ['vrid 256', { ...v2, vrid: 256 }],
    ['priority 256', { ...v2, priority: 256 }],
    ['priority 1.5', { ...v2, priority: 1.5 }],
    ['v2 interval 150 cs', { ...v2, advertIntervalCs: 150 }],
    ['v2 interval 0', { ...v2, advertIntervalCs: 0 }],
    ['v2 interval 256 s', { ...v2, advertIntervalCs: 25600 }],
    ['v2 auth data of 7 bytes', { ...v2, authData: Buffer.alloc(7) }],
    ['v3 interval 0', { ...v3, advertIntervalCs: 0 }],
    ['v3 interval 4096', { ...v3, advertIntervalCs: 4096 }],
    ['v3 with auth', { ...v3, authType: 1 }],
    ['v3 with auth data', { ...v3, authData: Buffer.alloc(8) }],
    ['256 addresses', { ...v3, addresses: Array.from({ length: 256 }, () => '198.51.100.100') }],
    ['a bad address', { ...v3, addresses: ['198.51.100.300'] }],
    ['an address with a prefix', { ...v3, addresses: ['198.51.100.100/24'] }],
  ];
  for (const [what, a] of bad) it(what, () => assert.throws(() => encodeAdvert(a, ip), RangeError));

  it('accepts the limits: 255 addresses, v2 255 s, v3 1 and 4095 cs', () => {
    const many = Array.from({ length: 255 }, (_, i) => uint32ToIp(ipToUint32('198.51.100.0') + i));
    assert.equal(encodeAdvert({ ...v3, addresses: many }, ip).length, advertLength(3, 255));
    assert.equal(encodeAdvert({ ...v2, advertIntervalCs: 25500 }, ip)[5], 255);
    assert.equal(encodeAdvert({ ...v3, advertIntervalCs: 4095 }, ip).readUInt16BE(4), 4095);
    assert.equal(encodeAdvert({ ...v3, advertIntervalCs: 1 }, ip).readUInt16BE(4), 1);
  });

  it('passwordToAuthData keeps the first 8 bytes, NUL-padded', () => {
    assert.equal(passwordToAuthData('').toString('hex'), '00'.repeat(8));
    assert.equal(passwordToAuthData('secret12345').toString(), 'secret12');
    assert.equal(passwordToAuthData('secret12').toString(), 'secret12');
  });
});

describe('properties (fast-check)', () => {
  const arbIp = fc.integer({ min: 0, max: 0xffffffff }).map(uint32ToIp);
  const arbUnicast = arbIp.filter((s) => !isMulticast(s));
  const arbDst = fc.oneof(fc.constant(MCAST), arbUnicast);
  const arbCommon = { vrid: fc.integer({ min: 1, max: 255 }), priority: fc.integer({ min: 0, max: 255 }), addresses: fc.array(arbIp, { maxLength: 20 }) };
  const arbV2 = fc.record({
    version: fc.constant(2 as const),
    ...arbCommon,
    advertIntervalCs: fc.integer({ min: 1, max: 255 }).map((s) => s * 100),
    authType: fc.constantFrom(0 as const, 1 as const, 2 as const),
    authData: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((u) => Buffer.from(u)),
  });
  const arbV3 = fc.record({
    version: fc.constant(3 as const),
    ...arbCommon,
    advertIntervalCs: fc.integer({ min: 1, max: 4095 }),
    authType: fc.constant(0 as const),
    authData: fc.constant(Buffer.alloc(0)),
  });
  // fc.record builds null-prototype objects; spread them so deepEqual compares like with like.
  const arbAdvert: fc.Arbitrary<VrrpAdvert> = fc.oneof(arbV2, arbV3).map((a) => ({ ...a }));
  const arbCase = fc.record({ advert: arbAdvert, src: arbUnicast, dst: arbDst, form: fc.constantFrom(...CHECKSUM_FORMS) });

  it('decode(encode(x)) deep-equals x, and the reported form re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(arbCase, ({ advert, src, dst, form }) => {
        const ip = { src, dst };
        const bytes = encodeAdvert(advert, ip, form);
        assert.equal(bytes.length, advertLength(advert.version, advert.addresses.length));
        const d = decodeAdvert(bytes, ip);
        assert.ok(d.ok);
        assert.deepEqual(d.advert, advert);
        if (advert.version === 2) assert.equal(d.checksumForm, 'rfc');
        assert.deepEqual(encodeAdvert(d.advert, ip, d.checksumForm), bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it('random bytes never throw and decode to a well-formed result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), arbIp, arbDst, (bytes, src, dst) => {
        const d = decodeAdvert(bytes, { src, dst });
        if (d.ok) assert.equal(bytes.length, advertLength(d.advert.version, d.advert.addresses.length));
        else assert.equal(typeof d.detail, 'string');
      }),
      { numRuns: 20000 },
    );
  });

  it('random bytes behind a valid-looking header never throw', () => {
    const arbHeaded = fc.tuple(fc.constantFrom(0x21, 0x31, 0x11, 0x41, 0x22), fc.uint8Array({ minLength: 3, maxLength: 80 }));
    fc.assert(
      fc.property(arbHeaded, arbIp, arbDst, ([first, rest], src, dst) => {
        const d = decodeAdvert(Buffer.concat([Buffer.from([first]), rest]), { src, dst });
        assert.equal(typeof d.ok, 'boolean');
      }),
      { numRuns: 20000 },
    );
  });

  it('every proper prefix and every extension of a valid message is rejected', () => {
    fc.assert(
      fc.property(arbCase, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), ({ advert, src, dst, form }, cut, extra) => {
        const ip = { src, dst };
        const bytes = encodeAdvert(advert, ip, form);
        assert.equal(decodeAdvert(bytes.subarray(0, cut % bytes.length), ip).ok, false);
        assert.equal(decodeAdvert(Buffer.concat([bytes, extra]), ip).ok, false);
      }),
      { numRuns: 5000 },
    );
  });

  it('a single flipped bit is always caught (v3: unless it lands exactly on another accepted form)', () => {
    fc.assert(
      fc.property(arbCase, fc.nat(), ({ advert, src, dst, form }, bit) => {
        const ip = { src, dst };
        const bytes = encodeAdvert(advert, ip, form);
        const d0 = decodeAdvert(bytes, ip);
        assert.ok(d0.ok);
        const flipped = Buffer.from(bytes);
        const i = bit % (bytes.length * 8);
        flipped[i >> 3]! ^= 0x80 >> (i & 7);
        const d = decodeAdvert(flipped, ip);
        if (!d.ok) return;
        // One's complement sums catch every single-bit error, so a flip can only survive by landing
        // on another accepted checksum form, which exists only for v3.
        assert.equal(advert.version, 3, `v2 flip of bit ${i} went unnoticed`);
        assert.notEqual(d.checksumForm, d0.checksumForm, `flip of bit ${i} went unnoticed`);
      }),
      { numRuns: 20000 },
    );
  });
});

describe('checksum, IPv4 header and address helpers', () => {
  it('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
    const data = hex('0001f203f4f5f6f7');
    assert.equal(onesComplementSum(data), 0xddf2);
    assert.equal(internetChecksum(data), 0x220d);
    assert.equal(onesComplementSum(hex('0001f203f4f5f6')), onesComplementSum(hex('0001f203f4f5f600')), 'odd length pads with 0');
    assert.equal(internetChecksum(Buffer.concat([data, hex('220d')])), 0, 'a message with its checksum sums to 0');
  });

  it('the IPv4 pseudo-header layout is src | dst | 0 | proto | length', () => {
    assert.equal(ipv4PseudoHeader('192.0.2.10', '192.0.2.20', 112, 12).toString('hex'), 'c000020ac0000214' + '0070' + '000c');
  });

  it('parseIpv4 reports truncated, non-IPv4 and bad header lengths', () => {
    const good = Buffer.concat([buildIpv4Header({ src: '198.51.100.1', dst: MCAST, id: 1, payloadLength: 4 }), Buffer.alloc(4)]);
    assert.deepEqual(parseIpv4(Buffer.alloc(0)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseIpv4(good.subarray(0, 19)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseIpv4(Buffer.from([0x60, ...Buffer.alloc(39)])), { ok: false, reason: 'not-ipv4' });
    const shortIhl = Buffer.from(good);
    shortIhl[0] = 0x44;
    assert.deepEqual(parseIpv4(shortIhl), { ok: false, reason: 'bad-header-length' });
    const longIhl = Buffer.from(good);
    longIhl[0] = 0x4f; // 60-byte header, but tot_len is 24
    assert.deepEqual(parseIpv4(longIhl), { ok: false, reason: 'bad-header-length' });
    const p = parseIpv4(good);
    assert.ok(p.ok);
    assert.equal(p.payload.length, 4);
    assert.equal(internetChecksum(good.subarray(0, 20)), 0, 'header checksum verifies');
  });

  it('parseIpv4 skips IP options (IHL > 5) and cuts the payload at tot_len', () => {
    const h = buildIpv4Header({ src: '198.51.100.1', dst: MCAST, id: 9, payloadLength: 4 + 3 });
    const withOptions = Buffer.concat([h, Buffer.from([0x94, 0x04, 0, 0]), hex('aabbcc'), Buffer.alloc(10)]);
    withOptions[0] = 0x46;
    const p = parseIpv4(withOptions);
    assert.ok(p.ok);
    assert.equal(p.header.ihl, 6);
    assert.equal(p.payload.toString('hex'), 'aabbcc');
  });

  it('parseIpv4 never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => void parseIpv4(b)), { numRuns: 10000 });
  });

  it('buildIpv4Header: DF off, defaults TOS 0xc0 / TTL 255 / protocol 112, overridable', () => {
    const h = buildIpv4Header({ src: '198.51.100.1', dst: '198.51.100.2', id: 0xbeef, payloadLength: 12, ttl: 64, tos: 0, protocol: 2 });
    const p = parseIpv4(Buffer.concat([h, Buffer.alloc(12)]));
    assert.ok(p.ok);
    assert.deepEqual([p.header.ttl, p.header.tos, p.header.protocol, p.header.id, p.header.df, p.header.totalLength], [64, 0, 2, 0xbeef, false, 32]);
    const d = parseIpv4(Buffer.concat([buildIpv4Header({ src: '198.51.100.1', dst: MCAST, id: 1, payloadLength: 0 })]));
    assert.ok(d.ok);
    assert.deepEqual([d.header.ttl, d.header.tos, d.header.protocol, d.header.flags], [255, 0xc0, 112, 0]);
    assert.throws(() => buildIpv4Header({ src: '198.51.100.1', dst: MCAST, id: 1, payloadLength: 70000 }), RangeError);
    assert.throws(() => buildIpv4Header({ src: '198.51.100.1', dst: MCAST, id: 1, payloadLength: 1, ttl: 256 }), RangeError);
  });

  it('address helpers', () => {
    assert.equal(ipToUint32('255.255.255.255'), 0xffffffff);
    assert.equal(ipToUint32('192.0.2.1'), 0xc0000201);
    assert.equal(uint32ToIp(0xe0000012), MCAST);
    assert.equal(uint32ToIp(0), '0.0.0.0');
    for (const bad of ['', '198.51.100', '1.2.3.4.5', '198.51.100.256', '198.51.100.01', '1.2.3.4/24', ' 1.2.3.4', 'a.b.c.d']) {
      assert.equal(parseIpv4Address(bad), null, bad);
      assert.equal(isIpv4(bad), false, bad);
      assert.throws(() => ipToUint32(bad), RangeError, bad);
    }
    assert.throws(() => uint32ToIp(-1), RangeError);
    assert.throws(() => uint32ToIp(2 ** 32), RangeError);
    assert.equal(isMulticast(MCAST), true);
    assert.equal(isMulticast(uint32ToIp(0xefffffff)), true, 'top of 224.0.0.0/4');
    assert.equal(isMulticast(uint32ToIp(0xdfffffff)), false, 'just below 224.0.0.0/4');
    assert.equal(isMulticast(uint32ToIp(0xf0000000)), false, 'just above 224.0.0.0/4');
    assert.equal(isMulticast('garbage'), false);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipToUint32(uint32ToIp(n)) === n));
  });
});

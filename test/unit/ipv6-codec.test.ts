// VRRPv3 over IPv6 and unsolicited NA, byte for byte against keepalived 2.2.7's captured frames
// (spec §4.9 "v3 IPv6" and §5.2), the IPv6 pseudo-header checksum, the receive checks (hop limit
// from recvmsg: anything but 255 is dropped and counted on a multicast instance), the IPv6 demux,
// the IPv6 election's counting, and the config rules for IPv6 instances.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { canonicalIpv6, decodeAdvert6, encodeAdvert6, ipv6Bytes, ipv6PseudoHeaderSum, ipv6Text, parseIpv6, verifyAdvert6 } from '../../src/vrrp/ipv6.js';
import { buildUnsolicitedNa, parseNaFrame, NA_FRAME_LEN } from '../../src/net/nd.js';
import { checkAdvert6, compileView6, Ipv6Demux, key6Of, type Rx6 } from '../../src/vrrp/ipv6-validate.js';
import { Ipv6VrrpElection } from '../../src/vrrp/ipv6-election.js';
import type { Ipv6Port } from '../../src/vrrp/ipv6-port.js';
import { internetChecksum } from '../../src/vrrp/checksum.js';
import { Scheduler } from '../../src/scheduler.js';
import { parseConfig, formatIssue } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';

const quiet = createLogger('silent');

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// spec §4.9: keepalived 2.2.7, VRID 56, priority 100, 100 cs, VIP 2001:db8::100, fe80::5eff:fe10:a > ff02::12
const KA_V6_FRAME = hex(`3333 0000 0012 0200 5e10 000a 86dd 6c09
  023b 0018 70ff fe80 0000 0000 0000 0000
  5eff fe10 000a ff02 0000 0000 0000 0000
  0000 0000 0012 3138 6401 0064 e070 2001
  0db8 0000 0000 0000 0000 0000 0100`);
const KA_SRC = 'fe80::5eff:fe10:a';
// spec §5.2: keepalived's unsolicited NA for 2001:db8::100 from 02:00:5e:10:00:0a
const KA_NA_FRAME = hex(`3333 0000 0001 0200 5e10 000a 86dd 6000
  0000 0020 3aff 2001 0db8 0000 0000 0000
  0000 0000 0100 ff02 0000 0000 0000 0000
  0000 0000 0001 8800 9913 2000 0000 2001
  0db8 0000 0000 0000 0000 0000 0100 0201
  0200 5e10 000a`);

/** The VRRP message of the captured frame: after Ethernet (14) and IPv6 (40) headers. */
const KA_MSG = KA_V6_FRAME.subarray(54);

function rx(data: Buffer, src: string, dst: string, hopLimit = 255): Rx6 {
  return { data, src: ipv6Bytes(src), dst: ipv6Bytes(dst), hopLimit };
}

describe('IPv6 addresses', () => {
  test('text ↔ 16 bytes, RFC 5952 canonical text', () => {
    assert.equal(ipv6Bytes('2001:db8::100').toString('hex'), '20010db8000000000000000000000100');
    assert.equal(ipv6Text(ipv6Bytes('2001:DB8:0:0:0:0:0:100')), '2001:db8::100');
    assert.equal(canonicalIpv6('fe80::0:5eff:fe10:a%eth0'), KA_SRC);
    assert.equal(canonicalIpv6('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1'); // longest zero run, not the first
    assert.equal(canonicalIpv6('::ffff:198.51.100.1'), '::ffff:c633:6401');
    assert.equal(canonicalIpv6('::'), '::');
    for (const bad of ['2001:db8::1::2', '198.51.100.1', 'eth0', '', '2001:db8::g']) assert.equal(parseIpv6(bad), null, bad);
  });

  test('bytes → text → bytes is the identity (fast-check), and matches what URL canonicalises to', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const text = ipv6Text(b);
        assert.deepEqual([...ipv6Bytes(text)], [...b]);
        assert.equal(text, new URL(`http://[${text}]`).hostname.slice(1, -1));
      }),
      { numRuns: 300 },
    );
  });
});

describe('VRRPv3 over IPv6 codec', () => {
  test('encodes keepalived 2.2.7\'s captured advert byte for byte (checksum 0xe070 with the IPv6 pseudo-header)', () => {
    const msg = encodeAdvert6({ vrid: 56, priority: 100, addresses: ['2001:db8::100'], advertIntervalCs: 100 }, KA_SRC, 'ff02::12');
    assert.equal(msg.toString('hex'), KA_MSG.toString('hex'));
    assert.equal(msg.readUInt16BE(6), 0xe070);
  });

  test('decodes the captured advert', () => {
    const d = decodeAdvert6(KA_MSG, KA_SRC, 'ff02::12');
    assert.deepEqual(d, { ok: true, advert: { vrid: 56, priority: 100, addresses: ['2001:db8::100'], advertIntervalCs: 100 } });
  });

  test('the pseudo-header: src 16 | dst 16 | length 32 bits | 0 0 0 | next header 112', () => {
    const pseudo = Buffer.concat([ipv6Bytes(KA_SRC), ipv6Bytes('ff02::12'), hex('00000018 00000070')]);
    assert.equal(internetChecksum(Buffer.concat([pseudo, KA_MSG])), 0);
    assert.equal(internetChecksum(KA_MSG, ipv6PseudoHeaderSum(ipv6Bytes(KA_SRC), ipv6Bytes('ff02::12'), KA_MSG.length, 112)), 0);
  });

  test('unicast: the destination is in the checksum, so each peer gets its own', () => {
    const a = { vrid: 62, priority: 100, addresses: ['2001:db8::100'], advertIntervalCs: 20 };
    const to2 = encodeAdvert6(a, '2001:db8::1', '2001:db8::2');
    const to3 = encodeAdvert6(a, '2001:db8::1', '2001:db8::3');
    assert.notEqual(to2.readUInt16BE(6), to3.readUInt16BE(6));
    assert.equal(verifyAdvert6(to2, to2.length, ipv6Bytes('2001:db8::1'), ipv6Bytes('2001:db8::2')), null);
    assert.equal(verifyAdvert6(to2, to2.length, ipv6Bytes('2001:db8::1'), ipv6Bytes('2001:db8::3'))?.reason, 'bad-checksum');
  });

  test('round trip for any advert (fast-check); length is exactly 8 + 16N', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6Text(b));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.array(addr, { minLength: 0, maxLength: 20 }), fc.integer({ min: 1, max: 4095 }), addr, addr, (vrid, priority, addresses, iv, src, dst) => {
        const msg = encodeAdvert6({ vrid, priority, addresses, advertIntervalCs: iv }, src, dst);
        assert.equal(msg.length, 8 + 16 * addresses.length);
        assert.deepEqual(decodeAdvert6(msg, src, dst), { ok: true, advert: { vrid, priority, addresses, advertIntervalCs: iv } });
      }),
      { numRuns: 200 },
    );
  });

  test('malformed messages: each dropped with its reason, never a throw', () => {
    const src = ipv6Bytes(KA_SRC);
    const dst = ipv6Bytes('ff02::12');
    const with_ = (i: number, v: number) => {
      const b = Buffer.from(KA_MSG);
      b[i] = v;
      return b;
    };
    const cases: [Buffer, string][] = [
      [KA_MSG.subarray(0, 7), 'bad-length'],
      [Buffer.concat([KA_MSG, Buffer.alloc(1)]), 'bad-length'], // keepalived: exact length
      [with_(0, 0x21), 'bad-version'],
      [with_(0, 0x32), 'bad-type'],
      [with_(3, 2), 'bad-length'],
      [with_(7, 0x71), 'bad-checksum'],
    ];
    for (const [b, reason] of cases) assert.equal(verifyAdvert6(b, b.length, src, dst)?.reason, reason, reason);
    const zero = encodeAdvert6({ vrid: 56, priority: 100, addresses: ['2001:db8::100'], advertIntervalCs: 1 }, KA_SRC, 'ff02::12');
    zero[5] = 0;
    zero.writeUInt16BE(0, 6);
    zero.writeUInt16BE(internetChecksum(zero, ipv6PseudoHeaderSum(src, dst, zero.length, 112)), 6);
    assert.equal(verifyAdvert6(zero, zero.length, src, dst)?.reason, 'bad-interval');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => void verifyAdvert6(b, b.length, src, dst)));
  });

  test('encode refuses what cannot go on the wire', () => {
    const a = { vrid: 1, priority: 100, addresses: ['2001:db8::1'], advertIntervalCs: 100 };
    for (const bad of [{ vrid: 0 }, { priority: 256 }, { advertIntervalCs: 0 }, { advertIntervalCs: 4096 }, { addresses: ['198.51.100.1'] }])
      assert.throws(() => encodeAdvert6({ ...a, ...bad }, KA_SRC, 'ff02::12'), RangeError, JSON.stringify(bad));
  });
});

describe('unsolicited neighbour advertisement (spec §5.2)', () => {
  test("byte for byte keepalived's frame: 33:33:00:00:00:01, VIP → ff02::1, hop limit 255, Override, TLLA option", () => {
    const f = buildUnsolicitedNa('02:00:5e:10:00:0a', '2001:db8::100');
    assert.equal(f.length, NA_FRAME_LEN);
    assert.equal(f.toString('hex'), KA_NA_FRAME.toString('hex'));
  });

  test('the Router flag (interface forwards): flags 0xa0, checksum still verifies', () => {
    const f = buildUnsolicitedNa('02:00:5e:10:00:0a', '2001:db8::100', true);
    assert.equal(f[54 + 4], 0xa0);
    const p = parseNaFrame(f)!;
    assert.deepEqual(p.flags, { router: true, solicited: false, override: true });
    assert.equal(p.checksumOk, true);
    assert.deepEqual(f.subarray(0, 56), KA_NA_FRAME.subarray(0, 56));
  });

  test('parses the captured frame; rejects ARP and short frames', () => {
    assert.deepEqual(parseNaFrame(KA_NA_FRAME), {
      dst: '33:33:00:00:00:01',
      src: '02:00:5e:10:00:0a',
      ipSrc: '2001:db8::100',
      ipDst: 'ff02::1',
      hopLimit: 255,
      flags: { router: false, solicited: false, override: true },
      target: '2001:db8::100',
      targetMac: '02:00:5e:10:00:0a',
      checksumOk: true,
    });
    assert.equal(parseNaFrame(KA_NA_FRAME.subarray(0, 60)), null);
    assert.equal(parseNaFrame(KA_V6_FRAME), null);
  });

  test('refuses an IPv4 VIP or a bad MAC', () => {
    assert.throws(() => buildUnsolicitedNa('02:00:5e:10:00:0a', '198.51.100.1'), RangeError);
    assert.throws(() => buildUnsolicitedNa('02:00:5e:10:00', '2001:db8::1'), RangeError);
  });
});

describe('IPv6 receive checks', () => {
  const peer = 'fe80::c6ff:fe33:6402';
  const advert = (o: { priority?: number; vips?: string[]; src?: string; dst?: string; vrid?: number } = {}) =>
    encodeAdvert6({ vrid: o.vrid ?? 61, priority: o.priority ?? 200, addresses: o.vips ?? ['2001:db8::100'], advertIntervalCs: 20 }, o.src ?? peer, o.dst ?? 'ff02::12');
  const mcast = compileView6({ vrid: 61, vips: ['2001:db8::100/64'], unicast: null }, new Set([key6Of('fe80::c6ff:fe33:6401')]));
  const ucast = compileView6({ vrid: 61, vips: ['2001:db8::100/64'], unicast: { peers: ['2001:db8::2'], checkSource: true } });

  test('accepted: priority, interval and the sender as text', () => {
    assert.deepEqual(checkAdvert6(mcast, rx(advert(), peer, 'ff02::12')), { ok: true, priority: 200, advertIntervalCs: 20, checksumForm: 'rfc', src: peer });
  });

  test('multicast: a hop limit other than 255 is dropped as bad-ttl, also when the kernel gave none (RFC 5798 §7.1)', () => {
    for (const hl of [64, 254, 1, 0, -1]) {
      const r = checkAdvert6(mcast, rx(advert(), peer, 'ff02::12', hl));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, 'bad-ttl', String(hl));
    }
  });

  test('unicast: the hop limit is not checked (keepalived: only multicast, adverts may cross routers)', () => {
    const r = checkAdvert6(ucast, rx(advert({ src: '2001:db8::2', dst: '2001:db8::1' }), '2001:db8::2', '2001:db8::1', 64));
    assert.equal(r.ok, true);
  });

  test('each keepalived rule with its reason', () => {
    const cases: [ReturnType<typeof compileView6>, Rx6, string][] = [
      [mcast, rx(advert({ src: 'fe80::c6ff:fe33:6401' }), 'fe80::c6ff:fe33:6401', 'ff02::12'), 'own-packet'],
      [mcast, rx(advert({ vrid: 62 }), peer, 'ff02::12'), 'unknown-vrid'],
      [mcast, rx(advert({ vips: ['2001:db8::101'] }), peer, 'ff02::12'), 'address-mismatch'],
      [mcast, rx(advert({ vips: ['2001:db8::100', '2001:db8::101'] }), peer, 'ff02::12'), 'address-mismatch'],
      [mcast, rx(advert({ dst: '2001:db8::1' }), peer, '2001:db8::1'), 'dst-mode-mismatch'],
      [ucast, rx(advert(), peer, 'ff02::12'), 'dst-mode-mismatch'],
      [ucast, rx(advert({ src: '2001:db8::3', dst: '2001:db8::1' }), '2001:db8::3', '2001:db8::1'), 'unknown-unicast-source'],
      [mcast, rx(advert(), peer, '2001:db8::1'), 'bad-checksum'], // checksummed for ff02::12, received for another destination
    ];
    for (const [view, r, reason] of cases) {
      const c = checkAdvert6(view, r);
      assert.equal(c.ok ? 'ok' : c.reason, reason, reason);
    }
  });

  test('demux: by VRID; unicast instances sharing a VRID are told apart by peer; the rest is counted', () => {
    const got: string[] = [];
    const d = new Ipv6Demux();
    d.add(61, null, { receive: () => got.push('m61') });
    d.add(62, ['2001:db8::2'], { receive: () => got.push('u62a') });
    d.add(62, ['2001:db8::3'], { receive: () => got.push('u62b') });
    assert.throws(() => d.add(61, null, { receive: () => {} }), /already served/);
    assert.throws(() => d.add(62, ['2001:db8::3'], { receive: () => {} }), /overlapping/);
    d.dispatch(rx(advert(), peer, 'ff02::12'));
    d.dispatch(rx(advert({ vrid: 62 }), '2001:db8::3', '2001:db8::1'));
    d.dispatch(rx(advert({ vrid: 62 }), '2001:db8::9', '2001:db8::1'));
    d.dispatch(rx(advert({ vrid: 70 }), peer, 'ff02::12'));
    d.dispatch(rx(Buffer.alloc(1), peer, 'ff02::12'));
    assert.deepEqual(got, ['m61', 'u62b']);
    assert.deepEqual(d.dropped, { 'unknown-unicast-source': 1, 'unknown-vrid': 1, 'bad-length': 1 });
    assert.equal(d.size, 3);
  });

  /** An IPv6 election on a fake port that records what it sends. */
  function election(inst: Record<string, unknown>, source: string) {
    const scheduler = new Scheduler();
    const sent: { msg: Buffer; dst: Buffer; src: Buffer }[] = [];
    const port = {
      local: new Set<string>(),
      socket: { send: (msg: Buffer, dst: Buffer, src: Buffer) => (sent.push({ msg: Buffer.from(msg), dst, src }), true), stats: { lastError: null } },
    } as unknown as Ipv6Port;
    const cfg = parseConfig(stringify({ instances: { VI_1: { interface: 'eth0', vrid: 61, version: 3, vips: ['2001:db8::100/64'], ...inst } } }));
    assert.ok(cfg.ok);
    const hooks = { hold() {}, release() {}, announce() {}, transition() {} };
    return { scheduler, sent, e: new Ipv6VrrpElection('VI_1', cfg.config.instances['VI_1']!, { port, source, hooks, log: quiet, scheduler }) };
  }

  test('the election counts a hop-limit drop per reason, and follows an accepted master', () => {
    const { scheduler, sent, e } = election({ advertInterval: 0.2 }, 'fe80::c6ff:fe33:6401');
    try {
      e.start(null);
      assert.equal(e.status().state, 'BACKUP');
      e.receive(rx(advert(), peer, 'ff02::12', 64));
      e.receive(rx(advert(), peer, 'ff02::12', 63));
      assert.deepEqual(e.status().counters.dropped, { 'bad-ttl': 2 });
      assert.equal(e.status().counters.advertsReceived, 0);
      e.receive(rx(advert(), peer, 'ff02::12', 255));
      assert.equal(e.status().counters.advertsReceived, 1);
      assert.equal(e.status().master, peer);
      e.shutdown(); // a BACKUP sends nothing on shutdown
      assert.equal(sent.length, 0);
    } finally {
      e.close();
      scheduler.close();
    }
  });

  test('the election as MASTER sends from its source to ff02::12, checksummed for it; priority 0 on shutdown', () => {
    const { scheduler, sent, e } = election({ priority: 255 }, 'fe80::1');
    try {
      e.start(null); // the owner (255) goes MASTER at once
      e.shutdown();
      assert.equal(sent.length, 2);
      for (const s of sent) {
        assert.equal(ipv6Text(s.dst), 'ff02::12');
        assert.equal(ipv6Text(s.src), 'fe80::1');
        assert.equal(verifyAdvert6(s.msg, s.msg.length, s.src, s.dst), null);
      }
      assert.deepEqual([sent[0]!.msg[2], sent[1]!.msg[2]], [255, 0]);
    } finally {
      e.close();
      scheduler.close();
    }
  });
});

describe('config: IPv6 instances', () => {
  const parse = (inst: Record<string, unknown>) => parseConfig(stringify({ instances: { VI_1: { interface: 'eth0', vrid: 61, ...inst } } }));
  const errs = (inst: Record<string, unknown>) => {
    const r = parse(inst);
    assert.equal(r.ok, false, 'expected errors');
    return r.ok ? [] : r.errors;
  };

  test('an IPv6 VRRPv3 garp instance is accepted; VIPs canonical, /128 by default', () => {
    const r = parse({ version: 3, vips: ['2001:DB8:0::100', '2001:db8::101/64'], unicast: { source: '2001:db8::1', peers: ['2001:db8::2'] } });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
    assert.deepEqual(r.config.instances['VI_1']!.vips, ['2001:db8::100/128', '2001:db8::101/64']);
  });

  test('version 2 with IPv6 VIPs: an error whose fix is "set version: 3"', () => {
    const [e] = errs({ vips: ['2001:db8::100/64'] });
    assert.equal(e!.path, 'instances.VI_1.vips[0]');
    assert.match(e!.message, /needs VRRPv3/);
    assert.match(e!.fix, /set version: 3/);
  });

  test('one family per instance: VIPs, unicast source and peers', () => {
    const es = errs({ version: 3, vips: ['2001:db8::100', '198.51.100.100'], unicast: { source: '198.51.100.1', peers: ['2001:db8::2', '198.51.100.2'] } });
    assert.deepEqual(es.map((e) => e.path).sort(), ['instances.VI_1.unicast.peers[1]', 'instances.VI_1.unicast.source', 'instances.VI_1.vips[1]']);
    for (const e of es) assert.match(e.fix, /one address family/);
  });

  test('aws and alibaba refuse IPv6 VIPs with a clear error', () => {
    for (const provider of [{ type: 'aws', region: 'us-east-1' }, { type: 'alibaba', haVipId: 'havip-bp1abcdefghijklmnopqr', regionId: 'cn-hangzhou' }]) {
      const es = errs({ version: 3, vips: ['2001:db8::100'], unicast: { source: '2001:db8::1', peers: ['2001:db8::2'] }, provider });
      const e = es.find((x) => /cannot move IPv6 VIPs/.test(x.message));
      assert.ok(e, `${provider.type}: ${es.map(formatIssue).join('\n')}`);
      assert.match(e.fix, /type: garp/);
    }
  });

  test('dual stack: an IPv4 and an IPv6 instance may share a VRID on one interface (keepalived allows it); two IPv6 ones may not', () => {
    const two = (v6b: boolean) => parseConfig(stringify({ instances: { V4: { interface: 'eth0', vrid: 51, vips: [v6b ? '2001:db8::101' : '198.51.100.100'], version: 3 }, V6: { interface: 'eth0', vrid: 51, version: 3, vips: ['2001:db8::100'] } } }));
    assert.ok(two(false).ok);
    const r = two(true);
    assert.ok(!r.ok && r.errors.some((e) => /both use vrid 51/.test(e.message)));
  });

  test('unusable IPv6 addresses are named', () => {
    const cases: [string, RegExp][] = [
      ['::', /unspecified/],
      ['::1', /loopback/],
      ['ff02::12', /multicast/],
      ['::ffff:198.51.100.1', /IPv4-mapped/],
      ['2001:db8::1/129', /prefix length/],
      ['2001:db8::1::2', /not an IPv6 address/],
    ];
    for (const [vip, re] of cases) {
      const es = errs({ version: 3, vips: [vip] });
      assert.ok(es.some((e) => e.path === 'instances.VI_1.vips[0]' && re.test(e.message)), `${vip}: ${es.map(formatIssue).join('\n')}`);
    }
    const es = errs({ version: 3, vips: ['2001:db8::100'], unicast: { peers: ['fe80::1%eth0'] } });
    assert.ok(es.some((e) => /%zone/.test(e.message)));
  });
});

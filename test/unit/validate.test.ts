// checkDatagram: keepalived 2.2.x receive rules, one case per drop reason (and a check that every
// reason in DROP_REASONS is reachable), the golden vectors accepted, and never a throw on junk.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkDatagram, DROP_REASONS, type DropReason, type InstanceView } from '../../src/vrrp/validate.js';
import { encodeAdvert, passwordToAuthData, type ChecksumForm, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { buildIpv4Header, type Ipv4HeaderFields } from '../../src/vrrp/ipv4.js';
import { internetChecksum, onesComplementSum } from '../../src/vrrp/checksum.js';
import { loadKeepalivedVectors } from '../support/fixtures.js';

const MCAST = '224.0.0.18';
const A = '198.51.100.1'; // the sender
const B = '198.51.100.2'; // us
const VIP = '198.51.100.100';
const VIP2 = '198.51.100.101';

const mcastV2: InstanceView = {
  version: 2, vrid: 51, advertIntervalCs: 100, authType: 1, authData: passwordToAuthData('secret12'),
  vips: [VIP, VIP2], unicast: null, localAddresses: [B],
};
const ucastV3: InstanceView = {
  version: 3, vrid: 52, advertIntervalCs: 10, authType: 0, authData: Buffer.alloc(0),
  vips: [VIP], unicast: { peers: [A], checkSource: true }, localAddresses: [B],
};
const advertFor = (inst: InstanceView): VrrpAdvert => ({
  version: inst.version, vrid: inst.vrid, priority: 150, addresses: [...inst.vips], advertIntervalCs: inst.advertIntervalCs,
  authType: inst.authType, authData: inst.version === 2 ? Buffer.from(inst.authData) : Buffer.alloc(0),
});

/** A datagram as the raw socket delivers it: our IPv4 header + the encoded advert. */
function datagram(a: VrrpAdvert, ip: Partial<Ipv4HeaderFields> & { src: string; dst: string }, form: ChecksumForm = 'rfc'): Buffer {
  const vrrp = encodeAdvert(a, ip, form);
  return Buffer.concat([buildIpv4Header({ id: 1, payloadLength: vrrp.length, ...ip }), vrrp]);
}
const mcastOk = () => datagram(advertFor(mcastV2), { src: A, dst: MCAST });
const ucastOk = () => datagram(advertFor(ucastV3), { src: A, dst: B });

const seen = new Set<DropReason>();
function expectDrop(inst: InstanceView, d: Uint8Array, reason: DropReason): void {
  const r = checkDatagram(inst, d);
  assert.equal(r.ok, false, `expected a drop for ${reason}`);
  if (r.ok) return;
  assert.equal(r.reason, reason, r.detail);
  assert.ok(r.detail.length > 0);
  seen.add(reason);
}

describe('checkDatagram accepts', () => {
  it('a multicast v2 PASS advert, returning the advert, addresses, TTL and checksum form', () => {
    const r = checkDatagram(mcastV2, mcastOk());
    assert.deepEqual(r, { ok: true, advert: advertFor(mcastV2), src: A, dst: MCAST, ttl: 255, checksumForm: 'rfc' });
  });

  it('a unicast v3 advert in all three checksum forms', () => {
    for (const form of ['rfc', 'mcast-pseudo', 'no-pseudo'] as const) {
      const r = checkDatagram(ucastV3, datagram(advertFor(ucastV3), { src: A, dst: B }, form));
      assert.ok(r.ok, form);
      assert.equal(r.checksumForm, form);
    }
  });

  it('VIPs in any order, and instance VIPs written with a prefix length', () => {
    const reversed = { ...advertFor(mcastV2), addresses: [VIP2, VIP] };
    assert.ok(checkDatagram(mcastV2, datagram(reversed, { src: A, dst: MCAST })).ok);
    assert.ok(checkDatagram({ ...mcastV2, vips: [`${VIP}/24`, `${VIP2}/24`] }, mcastOk()).ok);
  });

  it('unicast: any TTL (keepalived checks TTL only for multicast)', () => {
    assert.ok(checkDatagram(ucastV3, datagram(advertFor(ucastV3), { src: A, dst: B, ttl: 1 })).ok);
  });

  it('unicast without checkSource: any source (keepalived default)', () => {
    const inst = { ...ucastV3, unicast: { peers: [A], checkSource: false } };
    assert.ok(checkDatagram(inst, datagram(advertFor(ucastV3), { src: '198.51.100.9', dst: B })).ok);
  });

  it('priority 0 (shutdown) adverts', () => {
    const r = checkDatagram(mcastV2, datagram({ ...advertFor(mcastV2), priority: 0 }, { src: A, dst: MCAST }));
    assert.ok(r.ok);
    assert.equal(r.advert.priority, 0);
  });

  it('v3 adverts whose interval differs from ours (v3 learns the interval)', () => {
    assert.ok(checkDatagram(ucastV3, datagram({ ...advertFor(ucastV3), advertIntervalCs: 300 }, { src: A, dst: B })).ok);
  });

  it('every golden VRRP vector, with a matching instance view', () => {
    let n = 0;
    for (const v of loadKeepalivedVectors()) {
      if (v.vrrp_hex === null) continue;
      const v2 = v.name.startsWith('v2');
      const unicast = v.name.includes('ucast');
      const inst: InstanceView = {
        version: v2 ? 2 : 3, vrid: 51, advertIntervalCs: v2 ? 100 : 10,
        authType: v.name.includes('pass') ? 1 : 0, authData: passwordToAuthData(v.name.includes('pass') ? 'secret12' : ''),
        vips: ['192.0.2.100'], unicast: unicast ? { peers: [v.ip_src!], checkSource: true } : null,
        localAddresses: [v.ip_src === '192.0.2.1' ? '192.0.2.2' : '192.0.2.1'],
      };
      const r = checkDatagram(inst, Buffer.from(v.frame_hex, 'hex').subarray(14));
      assert.ok(r.ok, `${v.name}: ${r.ok ? '' : r.detail}`);
      assert.equal(r.src, v.ip_src);
      n++;
    }
    assert.equal(n, 12);
  });
});

describe('checkDatagram drops', () => {
  it('truncated, not-ipv4, bad-header-length', () => {
    expectDrop(mcastV2, mcastOk().subarray(0, 12), 'truncated');
    expectDrop(mcastV2, Buffer.alloc(0), 'truncated');
    const v6 = mcastOk();
    v6[0] = 0x60;
    expectDrop(mcastV2, v6, 'not-ipv4');
    const ihl = mcastOk();
    ihl[0] = 0x43;
    expectDrop(mcastV2, ihl, 'bad-header-length');
  });

  it('ip-length-mismatch: tot_len must equal the bytes received (trailing padding too)', () => {
    expectDrop(mcastV2, Buffer.concat([mcastOk(), Buffer.alloc(6)]), 'ip-length-mismatch');
    expectDrop(mcastV2, mcastOk().subarray(0, 40), 'ip-length-mismatch');
  });

  it('wrong-protocol (AH = 51, IGMP = 2)', () => {
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: A, dst: MCAST, protocol: 51 }), 'wrong-protocol');
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: A, dst: MCAST, protocol: 2 }), 'wrong-protocol');
  });

  it('own-packet: the source is one of our addresses', () => {
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: B, dst: MCAST }), 'own-packet');
    expectDrop({ ...ucastV3, localAddresses: ['198.51.100.7', `${A}/24`] }, ucastOk(), 'own-packet');
  });

  it('bad-ttl: a multicast instance needs TTL 255', () => {
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: A, dst: MCAST, ttl: 254 }), 'bad-ttl');
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: A, dst: MCAST, ttl: 1 }), 'bad-ttl');
  });

  it('unknown-vrid', () => {
    expectDrop(mcastV2, datagram({ ...advertFor(mcastV2), vrid: 52 }, { src: A, dst: MCAST }), 'unknown-vrid');
  });

  it('bad-version: v2 and v3 do not mix; version 1 or 4 never decodes', () => {
    expectDrop(mcastV2, datagram({ ...advertFor(ucastV3), vrid: 51 }, { src: A, dst: MCAST }), 'bad-version');
    expectDrop(ucastV3, datagram({ ...advertFor(mcastV2), vrid: 52 }, { src: A, dst: B }), 'bad-version');
    const v4 = mcastOk();
    v4[20] = 0x41;
    expectDrop(mcastV2, v4, 'bad-version');
  });

  it('bad-type, bad-length, bad-checksum (from the codec)', () => {
    const type = mcastOk();
    type[20] = 0x22;
    fixVrrpChecksum(type);
    expectDrop(mcastV2, type, 'bad-type');
    expectDrop(mcastV2, withIpPayload(mcastOk().subarray(20, 40), { src: A, dst: MCAST }), 'bad-length'); // auth data missing
    expectDrop(mcastV2, withIpPayload(Buffer.concat([mcastOk().subarray(20), Buffer.alloc(4)]), { src: A, dst: MCAST }), 'bad-length');
    expectDrop(mcastV2, withIpPayload(mcastOk().subarray(20, 21), { src: A, dst: MCAST }), 'bad-length');
    const sum = mcastOk();
    sum[27]! ^= 0x10;
    expectDrop(mcastV2, sum, 'bad-checksum');
    // A v3 unicast advert checksummed for another destination verifies in none of the three forms.
    const elsewhere = encodeAdvert(advertFor(ucastV3), { src: A, dst: '198.51.100.3' });
    expectDrop(ucastV3, withIpPayload(elsewhere, { src: A, dst: B }), 'bad-checksum');
  });

  it('bad-auth-type and bad-interval (from the codec)', () => {
    const authType = mcastOk();
    authType[24] = 5;
    fixVrrpChecksum(authType);
    expectDrop(mcastV2, authType, 'bad-auth-type');
    const interval = ucastOk();
    interval.writeUInt16BE(0, 24);
    fixVrrpChecksum(interval, { src: A, dst: B });
    expectDrop(ucastV3, interval, 'bad-interval');
  });

  it('auth-type-mismatch and auth-failed (all 8 bytes compared)', () => {
    const none = { ...advertFor(mcastV2), authType: 0 as const, authData: Buffer.alloc(8) };
    expectDrop(mcastV2, datagram(none, { src: A, dst: MCAST }), 'auth-type-mismatch');
    expectDrop({ ...mcastV2, authType: 0 }, mcastOk(), 'auth-type-mismatch');
    const ah = { ...advertFor(mcastV2), authType: 2 as const };
    expectDrop(mcastV2, datagram(ah, { src: A, dst: MCAST }), 'auth-type-mismatch');
    const wrong = { ...advertFor(mcastV2), authData: passwordToAuthData('secret13') };
    expectDrop(mcastV2, datagram(wrong, { src: A, dst: MCAST }), 'auth-failed');
    const prefix = { ...advertFor(mcastV2), authData: passwordToAuthData('secret1') };
    expectDrop(mcastV2, datagram(prefix, { src: A, dst: MCAST }), 'auth-failed');
    // The configured password is cut to 8 bytes like keepalived does.
    assert.ok(checkDatagram({ ...mcastV2, authData: Buffer.from('secret12-and-more') }, mcastOk()).ok);
  });

  it('interval-mismatch (v2 only)', () => {
    expectDrop(mcastV2, datagram({ ...advertFor(mcastV2), advertIntervalCs: 200 }, { src: A, dst: MCAST }), 'interval-mismatch');
  });

  it('dst-mode-mismatch: unicast instance vs 224.0.0.18 and multicast instance vs a unicast destination', () => {
    expectDrop(ucastV3, datagram(advertFor(ucastV3), { src: A, dst: MCAST }), 'dst-mode-mismatch');
    expectDrop(mcastV2, datagram(advertFor(mcastV2), { src: A, dst: B }), 'dst-mode-mismatch');
  });

  it('address-mismatch: the count and the set must both equal ours', () => {
    const adv = advertFor(mcastV2);
    expectDrop(mcastV2, datagram({ ...adv, addresses: [VIP] }, { src: A, dst: MCAST }), 'address-mismatch');
    expectDrop(mcastV2, datagram({ ...adv, addresses: [VIP, VIP2, '198.51.100.102'] }, { src: A, dst: MCAST }), 'address-mismatch');
    expectDrop(mcastV2, datagram({ ...adv, addresses: [VIP, '198.51.100.102'] }, { src: A, dst: MCAST }), 'address-mismatch');
    expectDrop(mcastV2, datagram({ ...adv, addresses: [VIP, VIP] }, { src: A, dst: MCAST }), 'address-mismatch');
    expectDrop(mcastV2, datagram({ ...adv, addresses: [] }, { src: A, dst: MCAST }), 'address-mismatch');
  });

  it('unknown-unicast-source: with checkSource the source must be a peer', () => {
    expectDrop(ucastV3, datagram(advertFor(ucastV3), { src: '198.51.100.9', dst: B }), 'unknown-unicast-source');
  });

  // Runs last in this suite (tests in a describe run in order), after every case above has been seen.
  it('every reason in DROP_REASONS is produced by one of the cases above', () => {
    const missing = DROP_REASONS.filter((r) => !seen.has(r));
    assert.deepEqual(missing, []);
  });
});

describe('checkDatagram robustness (fast-check)', () => {
  const insts = [mcastV2, ucastV3];
  it('never throws on random bytes, and never accepts them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom(...insts), (b, inst) => {
        assert.equal(checkDatagram(inst, b).ok, false);
      }),
      { numRuns: 20000 },
    );
  });

  it('never throws on valid datagrams with random bytes overwritten', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (mcast, edits) => {
        const d = mcast ? mcastOk() : ucastOk();
        for (const [i, v] of edits) d[i % d.length] = v;
        const r = checkDatagram(mcast ? mcastV2 : ucastV3, d);
        if (!r.ok) assert.ok(DROP_REASONS.includes(r.reason));
      }),
      { numRuns: 20000 },
    );
  });

  it('the reasons list is a list of distinct strings', () => {
    assert.equal(new Set(DROP_REASONS).size, DROP_REASONS.length);
  });
});

/** Replace the IP payload of a datagram, with a fresh header around it. */
function withIpPayload(vrrp: Buffer, ip: { src: string; dst: string }): Buffer {
  return Buffer.concat([buildIpv4Header({ ...ip, id: 1, payloadLength: vrrp.length }), vrrp]);
}

/** Recompute the VRRP checksum of a datagram in place: v2 form, or v3 with the given pseudo-header. */
function fixVrrpChecksum(d: Buffer, v3ip?: { src: string; dst: string }): void {
  const vrrp = d.subarray(20);
  vrrp.writeUInt16BE(0, 6);
  let seed = 0;
  if (v3ip) {
    const ph = Buffer.alloc(12);
    d.copy(ph, 0, 12, 20);
    ph[9] = 112;
    ph.writeUInt16BE(vrrp.length, 10);
    seed = onesComplementSum(ph);
  }
  vrrp.writeUInt16BE(internetChecksum(vrrp, seed), 6);
}

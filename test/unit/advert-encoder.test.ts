// AdvertEncoder: the pre-encoded datagrams are byte-identical to what Instance.sendAdvert built from
// scratch (encodeAdvert + buildIpv4Header + Buffer.concat per destination, IP id 1, 2, … 0xffff, 1),
// for random adverts, priority sequences and checksum-form switches; the same Buffers every time;
// what it sends passes the receive checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AdvertEncoder, type AdvertEncoderOptions } from '../../src/vrrp/advert-encoder.js';
import { encodeAdvert, passwordToAuthData, type ChecksumForm, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { buildIpv4Header } from '../../src/vrrp/ipv4.js';
import { checkDatagram } from '../../src/vrrp/validate.js';
import { uint32ToIp } from '../../src/net/ip.js';

const MCAST = '224.0.0.18';

/** A copy of Instance.sendAdvert before the encoder (the reference). */
class ReferenceSender {
  ipId: number;
  form: ChecksumForm;
  constructor(
    private readonly o: AdvertEncoderOptions,
  ) {
    this.ipId = o.firstIpId ?? 1;
    this.form = o.form ?? 'rfc';
  }
  send(priority: number): { dst: string; datagram: Buffer }[] {
    const { version, vrid, advertIntervalCs, authType, authData, src } = this.o;
    const advert: VrrpAdvert = { version, vrid, priority, addresses: [...this.o.addresses], advertIntervalCs, authType, authData };
    return this.o.destinations.map((dst) => {
      const vrrp = encodeAdvert(advert, { src, dst }, this.form);
      const ip = buildIpv4Header({ src, dst, id: this.ipId, payloadLength: vrrp.length });
      this.ipId = this.ipId >= 0xffff ? 1 : this.ipId + 1;
      return { dst, datagram: Buffer.concat([ip, vrrp]) };
    });
  }
}

const address = fc.integer({ min: 0, max: 0xffffffff }).map(uint32ToIp);
const options: fc.Arbitrary<AdvertEncoderOptions> = fc
  .record({
    v2: fc.boolean(),
    vrid: fc.integer({ min: 1, max: 255 }),
    addresses: fc.array(address, { maxLength: 6 }),
    seconds: fc.integer({ min: 1, max: 255 }),
    cs: fc.integer({ min: 1, max: 4095 }),
    authType: fc.constantFrom(0 as const, 1 as const, 2 as const),
    authData: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    src: address,
    destinations: fc.oneof(fc.constant([MCAST]), fc.array(address, { minLength: 1, maxLength: 3 })),
    form: fc.constantFrom<ChecksumForm>('rfc', 'mcast-pseudo', 'no-pseudo'),
    firstIpId: fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0xfff0, max: 0xffff })),
  })
  .map((r) => ({
    version: r.v2 ? 2 : 3,
    vrid: r.vrid,
    addresses: r.addresses,
    advertIntervalCs: r.v2 ? r.seconds * 100 : r.cs,
    authType: r.v2 ? r.authType : 0,
    authData: r.v2 ? Buffer.from(r.authData) : Buffer.alloc(0),
    src: r.src,
    destinations: r.destinations,
    form: r.form,
    firstIpId: r.firstIpId,
  }));
type Op = { priority: number } | { form: ChecksumForm };
const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ priority: fc.oneof(fc.constantFrom(0, 100, 150, 255), fc.integer({ min: 0, max: 255 })) }) },
    { weight: 1, arbitrary: fc.record({ form: fc.constantFrom<ChecksumForm>('rfc', 'mcast-pseudo', 'no-pseudo') }) },
  ),
  { minLength: 1, maxLength: 40 },
);

describe('AdvertEncoder', () => {
  it('is byte-identical to encodeAdvert + buildIpv4Header for random adverts, priorities and form switches (ids included)', () => {
    fc.assert(
      fc.property(options, ops, (o, seq) => {
        const enc = new AdvertEncoder(o);
        const ref = new ReferenceSender(o);
        let buffers: Buffer[] | null = null;
        for (const op of seq) {
          if ('form' in op) {
            enc.setForm(op.form);
            ref.form = op.form;
            assert.equal(enc.form, op.form);
            continue;
          }
          const got = enc.next(op.priority);
          const want = ref.send(op.priority);
          assert.deepEqual(got.map((g) => g.dst), want.map((w) => w.dst));
          got.forEach((g, i) => assert.equal(g.datagram.toString('hex'), want[i]!.datagram.toString('hex'), `datagram ${i} at priority ${op.priority}`));
          buffers ??= got.map((g) => g.datagram);
          got.forEach((g, i) => assert.equal(g.datagram, buffers![i], 'the same Buffer every time'));
          assert.equal(enc.nextIpId, ref.ipId);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('numbers IP ids from 1 per datagram and wraps 0xffff → 1 (keepalived)', () => {
    const enc = new AdvertEncoder({
      version: 3, vrid: 51, addresses: ['198.51.100.100'], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0),
      src: '198.51.100.1', destinations: ['198.51.100.2', '198.51.100.3'],
    });
    const ids = () => enc.next(150).map((a) => a.datagram.readUInt16BE(4));
    assert.deepEqual(ids(), [1, 2]);
    assert.deepEqual(ids(), [3, 4]);
    const late = new AdvertEncoder({
      version: 3, vrid: 51, addresses: [], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0),
      src: '198.51.100.1', destinations: [MCAST], firstIpId: 0xfffe,
    });
    assert.deepEqual([0, 1, 2].map(() => late.next(100)[0]!.datagram.readUInt16BE(4)), [0xfffe, 0xffff, 1]);
  });

  it('rewrites the priority byte only when it changes, and its datagrams pass the receive checks', () => {
    const enc = new AdvertEncoder({
      version: 2, vrid: 7, addresses: ['198.51.100.100', '198.51.100.101'], advertIntervalCs: 100, authType: 1,
      authData: passwordToAuthData('secret12'), src: '198.51.100.1', destinations: [MCAST],
    });
    for (const priority of [150, 150, 0, 255]) {
      const [a] = enc.next(priority);
      assert.equal(a!.datagram[22], priority);
      const r = checkDatagram(
        { version: 2, vrid: 7, advertIntervalCs: 100, authType: 1, authData: passwordToAuthData('secret12'), vips: ['198.51.100.101', '198.51.100.100'], unicast: null, localAddresses: ['198.51.100.2'] },
        a!.datagram,
      );
      assert.ok(r.ok, r.ok ? '' : r.detail);
      assert.equal(r.advert.priority, priority);
    }
  });

  it('refuses what encodeAdvert refuses, and a bad priority or first id', () => {
    const base: AdvertEncoderOptions = {
      version: 3, vrid: 51, addresses: [], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0), src: '198.51.100.1', destinations: [MCAST],
    };
    assert.throws(() => new AdvertEncoder({ ...base, vrid: 0 }), RangeError);
    assert.throws(() => new AdvertEncoder({ ...base, advertIntervalCs: 4096 }), RangeError);
    assert.throws(() => new AdvertEncoder({ ...base, addresses: ['198.51.100.300'] }), RangeError);
    assert.throws(() => new AdvertEncoder({ ...base, destinations: [] }), RangeError);
    assert.throws(() => new AdvertEncoder({ ...base, firstIpId: 0 }), RangeError);
    const enc = new AdvertEncoder(base);
    assert.throws(() => enc.next(256), RangeError);
    assert.throws(() => enc.next(-1), RangeError);
    assert.equal(enc.nextIpId, 1, 'a refused priority consumes no IP id');
  });
});

// ReceiveDemux + checkAdvert against the receive path they replace: every datagram given to every
// instance on the interface, each running the old checkDatagram (test/support/reference-receive.ts,
// a verbatim copy). For random instance sets (as the config allows them) and random, valid and
// mutated datagrams: the one instance that gets a datagram reaches the old verdict, no acceptance is
// lost (except where unicast instances without source checking share a VRID: ambiguous by design),
// drops for datagrams nobody serves are counted once per interface; the demux never throws.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReceiveDemux, DemuxConflictError, type DemuxKey, type DemuxTarget, type DatagramHeader } from '../../src/vrrp/demux.js';
import { checkAdvert, checkDatagram, compileView, type AdvertCheck, type CheckResult, type InstanceView } from '../../src/vrrp/validate.js';
import { encodeAdvert, passwordToAuthData, type ChecksumForm, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { buildIpv4Header } from '../../src/vrrp/ipv4.js';
import { referenceCheckDatagram } from '../support/reference-receive.js';

const MCAST = '224.0.0.18';
const NODES = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5', '203.0.113.9'];
const LOCAL = ['198.51.100.1', '203.0.113.1']; // this node's addresses on the interface
const VIPS = ['198.51.100.100', '198.51.100.101', '198.51.100.102'];
const PASSWORDS = ['secret12', 'other'];
const HEADER_REASONS = ['truncated', 'not-ipv4', 'bad-header-length', 'ip-length-mismatch', 'wrong-protocol'];

/** An instance under test: its view, its demux key, and what it was handed. */
class Recorder implements DemuxTarget {
  readonly got: AdvertCheck[] = [];
  private readonly compiled;
  constructor(
    readonly view: InstanceView,
  ) {
    this.compiled = compileView(view);
  }
  get key(): DemuxKey {
    return { version: this.view.version, vrid: this.view.vrid, unicastPeers: this.view.unicast?.peers ?? null };
  }
  receive(h: Readonly<DatagramHeader>, datagram: Buffer): void {
    this.got.push(checkAdvert(this.compiled, h, datagram));
  }
}

function view(p: Partial<InstanceView> & Pick<InstanceView, 'version' | 'vrid'>): InstanceView {
  const v2 = p.version === 2;
  return {
    advertIntervalCs: v2 ? 100 : 10, authType: 0, authData: v2 ? Buffer.alloc(8) : Buffer.alloc(0),
    vips: [VIPS[0]!], unicast: null, localAddresses: LOCAL, ...p,
  };
}

function datagram(a: Partial<VrrpAdvert> & Pick<VrrpAdvert, 'version' | 'vrid'>, ip: { src: string; dst: string; ttl?: number; protocol?: number }, form: ChecksumForm = 'rfc'): Buffer {
  const v2 = a.version === 2;
  const advert: VrrpAdvert = {
    priority: 100, addresses: [VIPS[0]!], advertIntervalCs: v2 ? 100 : 10, authType: 0, authData: v2 ? Buffer.alloc(8) : Buffer.alloc(0), ...a,
  };
  const vrrp = encodeAdvert(advert, ip, form);
  return Buffer.concat([buildIpv4Header({ id: 1, payloadLength: vrrp.length, ...ip }), vrrp]);
}

function demuxOf(views: InstanceView[]): { demux: ReceiveDemux; targets: Recorder[] } {
  const demux = new ReceiveDemux();
  const targets = views.map((v) => new Recorder(v));
  for (const t of targets) demux.add(t.key, t);
  return { demux, targets };
}

describe('ReceiveDemux routing', () => {
  it('200 multicast instances: a datagram reaches only its VRID; unknown VRIDs and junk are counted once for the interface', () => {
    const { demux, targets } = demuxOf(Array.from({ length: 200 }, (_, i) => view({ version: 3, vrid: i + 1 })));
    assert.equal(demux.size, 200);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 17 }, { src: NODES[1]!, dst: MCAST })), targets[16]);
    assert.deepEqual(targets.map((t, i) => [i, t.got.length]).filter(([, n]) => n !== 0), [[16, 1]]);
    assert.equal(targets[16]!.got[0]!.ok, true);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 250 }, { src: NODES[1]!, dst: MCAST })), null);
    assert.equal(demux.dispatch(Buffer.alloc(10)), null);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 17 }, { src: NODES[1]!, dst: MCAST, protocol: 2 })), null);
    assert.deepEqual(demux.dropped, { 'unknown-vrid': 1, 'not-ipv4': 1, 'wrong-protocol': 1 });
    assert.equal(targets.reduce((n, t) => n + t.got.length, 0), 1);
    assert.equal(demux.delivered, 1);
  });

  it('unicast instances sharing a VRID are told apart by the source; a source in no list is counted once', () => {
    const a = new Recorder(view({ version: 3, vrid: 9, unicast: { peers: [NODES[1]!], checkSource: true } }));
    const b = new Recorder(view({ version: 3, vrid: 9, unicast: { peers: [NODES[2]!, NODES[3]!], checkSource: true } }));
    const demux = new ReceiveDemux();
    demux.add(a.key, a);
    demux.add(b.key, b);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 9 }, { src: NODES[1]!, dst: LOCAL[0]! })), a);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 9 }, { src: NODES[3]!, dst: LOCAL[0]! })), b);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 9 }, { src: NODES[4]!, dst: LOCAL[0]! })), null);
    assert.deepEqual(demux.dropped, { 'unknown-unicast-source': 1 });
    assert.deepEqual([a.got.map((r) => r.ok), b.got.map((r) => r.ok)], [[true], [true]]);
  });

  it('a single instance with the VRID gets everything for it and reports the mismatch itself (source, version)', () => {
    const u = new Recorder(view({ version: 2, vrid: 10, unicast: { peers: [NODES[1]!], checkSource: true } }));
    const demux = new ReceiveDemux();
    demux.add(u.key, u);
    demux.dispatch(datagram({ version: 2, vrid: 10 }, { src: NODES[4]!, dst: LOCAL[0]! }));
    demux.dispatch(datagram({ version: 3, vrid: 10 }, { src: NODES[1]!, dst: LOCAL[0]! }));
    assert.deepEqual(u.got.map((r) => (r.ok ? 'ok' : r.reason)), ['unknown-unicast-source', 'bad-version']);
    assert.deepEqual(demux.dropped, {});
  });

  it('v2 and v3 unicast instances sharing a VRID: the version picks the candidate; a version nobody speaks is counted', () => {
    const v2 = new Recorder(view({ version: 2, vrid: 11, unicast: { peers: [NODES[1]!], checkSource: false } }));
    const v3 = new Recorder(view({ version: 3, vrid: 11, unicast: { peers: [NODES[2]!], checkSource: false } }));
    const demux = new ReceiveDemux();
    demux.add(v2.key, v2);
    demux.add(v3.key, v3);
    assert.equal(demux.dispatch(datagram({ version: 3, vrid: 11 }, { src: NODES[4]!, dst: LOCAL[0]! })), v3);
    assert.equal(demux.dispatch(datagram({ version: 2, vrid: 11 }, { src: NODES[2]!, dst: LOCAL[0]! })), v3, 'the source decides first');
    const v4 = datagram({ version: 3, vrid: 11 }, { src: NODES[4]!, dst: LOCAL[0]! });
    v4[20] = 0x41;
    assert.equal(demux.dispatch(v4), null);
    assert.deepEqual(demux.dropped, { 'bad-version': 1 });
    assert.deepEqual(v3.got.map((r) => (r.ok ? 'ok' : r.reason)), ['ok', 'bad-version']);
  });

  it('a VRRP message too short to carry a VRID is counted as bad-length', () => {
    const { demux } = demuxOf([view({ version: 3, vrid: 1 })]);
    const ip = buildIpv4Header({ src: NODES[1]!, dst: MCAST, id: 1, payloadLength: 1 });
    assert.equal(demux.dispatch(Buffer.concat([ip, Buffer.from([0x31])])), null);
    assert.deepEqual(demux.dropped, { 'bad-length': 1 });
  });

  it('add refuses what the config refuses; remove makes room (reload), and unknown targets are reported', () => {
    const demux = new ReceiveDemux();
    const m = new Recorder(view({ version: 3, vrid: 5 }));
    const u1 = new Recorder(view({ version: 3, vrid: 6, unicast: { peers: [NODES[1]!, NODES[2]!], checkSource: true } }));
    demux.add(m.key, m);
    demux.add(u1.key, u1);
    assert.throws(() => demux.add({ version: 2, vrid: 5, unicastPeers: null }, new Recorder(view({ version: 2, vrid: 5 }))), DemuxConflictError);
    assert.throws(() => demux.add({ version: 3, vrid: 5, unicastPeers: [NODES[3]!] }, new Recorder(view({ version: 3, vrid: 5 }))), DemuxConflictError);
    assert.throws(() => demux.add({ version: 3, vrid: 6, unicastPeers: [NODES[2]!] }, new Recorder(view({ version: 3, vrid: 6 }))), DemuxConflictError);
    assert.throws(() => demux.add({ version: 3, vrid: 6, unicastPeers: null }, new Recorder(view({ version: 3, vrid: 6 }))), DemuxConflictError);
    assert.throws(() => demux.add({ version: 3, vrid: 0, unicastPeers: null }, new Recorder(view({ version: 3, vrid: 0 }))), RangeError);
    assert.throws(() => demux.add({ version: 3, vrid: 7, unicastPeers: ['198.51.100.300'] }, new Recorder(view({ version: 3, vrid: 7 }))), RangeError);
    assert.throws(() => demux.add(m.key, m), DemuxConflictError);
    assert.equal(demux.size, 2);
    assert.equal(demux.remove(m), true);
    assert.equal(demux.remove(m), false);
    const replaced = new Recorder(view({ version: 2, vrid: 5 }));
    demux.add(replaced.key, replaced);
    assert.equal(demux.dispatch(datagram({ version: 2, vrid: 5 }, { src: NODES[1]!, dst: MCAST })), replaced);
    assert.equal(m.got.length, 0);
  });

  it('onDrop sees each counted drop with its reason and a detail built on demand', () => {
    const seen: string[] = [];
    const demux = new ReceiveDemux({ onDrop: (reason, detail) => seen.push(`${reason}: ${detail()}`) });
    demux.dispatch(datagram({ version: 3, vrid: 42 }, { src: NODES[1]!, dst: MCAST }));
    demux.dispatch(Buffer.concat([datagram({ version: 3, vrid: 42 }, { src: NODES[1]!, dst: MCAST }), Buffer.alloc(2)]));
    assert.deepEqual(seen, [`unknown-vrid: VRID 42 from ${NODES[1]}: no instance here`, 'ip-length-mismatch: tot_len 32, received 34']);
  });
});

// ---- Random instance sets and datagrams -------------------------------------------------------

const vridArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) });
const instanceArb: fc.Arbitrary<InstanceView> = fc
  .record({
    v2: fc.boolean(),
    vrid: vridArb,
    slow: fc.boolean(),
    pass: fc.option(fc.constantFrom(...PASSWORDS)),
    vips: fc.subarray(VIPS),
    unicast: fc.option(fc.record({ peers: fc.subarray(NODES, { minLength: 1 }), checkSource: fc.boolean() }), { freq: 2 }),
  })
  .map((r) => ({
    version: r.v2 ? 2 : 3,
    vrid: r.vrid,
    advertIntervalCs: r.v2 ? (r.slow ? 200 : 100) : r.slow ? 100 : 10,
    authType: r.v2 && r.pass !== null ? 1 : 0,
    authData: r.v2 ? passwordToAuthData(r.pass ?? '') : Buffer.alloc(0),
    vips: r.vips,
    unicast: r.unicast,
    localAddresses: LOCAL,
  }));

/** The config rule: a VRID is shared on an interface only by unicast instances with disjoint peers. */
function allowed(views: InstanceView[]): InstanceView[] {
  const kept: InstanceView[] = [];
  for (const v of views) {
    const clash = kept.some((k) => k.vrid === v.vrid && (!k.unicast || !v.unicast || k.unicast.peers.some((p) => v.unicast!.peers.includes(p))));
    if (!clash) kept.push(v);
  }
  return kept;
}
const instanceSetArb = fc.array(instanceArb, { minLength: 1, maxLength: 6 }).map(allowed);

/** A random advert, or (mostly) one built for an instance of the set with a few fields changed. */
const datagramSpecArb = fc.record({
  base: fc.option(fc.nat(), { freq: 4, nil: null }), // null one time in 4
  keep: fc.array(fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), { minLength: 8, maxLength: 8 }),
  v2: fc.boolean(),
  vrid: vridArb,
  priority: fc.integer({ min: 0, max: 255 }),
  slow: fc.boolean(),
  authType: fc.constantFrom(0 as const, 1 as const, 2 as const),
  pass: fc.constantFrom(...PASSWORDS, ''),
  addresses: fc.oneof(fc.subarray(VIPS), fc.array(fc.constantFrom(...VIPS), { maxLength: 3 })),
  src: fc.constantFrom(...NODES, ...LOCAL),
  peer: fc.nat(),
  dst: fc.constantFrom(MCAST, ...LOCAL, ...NODES),
  ttl: fc.oneof({ weight: 5, arbitrary: fc.constant(255) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  protocol: fc.oneof({ weight: 20, arbitrary: fc.constant(112) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  form: fc.constantFrom<ChecksumForm>('rfc', 'mcast-pseudo', 'no-pseudo'),
  edits: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }) }),
  cut: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -30, max: 4 }) }),
  junk: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }) }),
});
type DatagramSpec = typeof datagramSpecArb extends fc.Arbitrary<infer T> ? T : never;

function buildDatagram(r: DatagramSpec, views: InstanceView[]): Buffer {
  if (r.junk) return Buffer.from(r.junk);
  const b = r.base === null || views.length === 0 ? null : views[r.base % views.length]!;
  const pick = <T>(i: number, fromBase: T | undefined, random: T): T => (b && r.keep[i] && fromBase !== undefined ? fromBase : random);
  const version = pick(0, b?.version, r.v2 ? 2 : 3);
  const v2 = version === 2;
  const randomInterval = v2 ? (r.slow ? 200 : 100) : r.slow ? 100 : 10;
  const peers = b?.unicast?.peers;
  let d = datagram(
    {
      version,
      vrid: pick(1, b?.vrid, r.vrid),
      priority: r.priority,
      addresses: pick(2, b?.vips, r.addresses),
      advertIntervalCs: b && b.version === version ? pick(3, b.advertIntervalCs, randomInterval) : randomInterval,
      authType: v2 ? pick(4, b?.version === 2 ? b.authType : undefined, r.authType) : 0,
      authData: v2 ? pick(4, b?.version === 2 ? b.authData : undefined, passwordToAuthData(r.pass)) : Buffer.alloc(0),
    },
    {
      src: pick(5, peers?.[r.peer % peers.length], r.src),
      dst: pick(6, b ? (b.unicast ? LOCAL[0] : MCAST) : undefined, r.dst),
      ttl: r.ttl,
      protocol: r.protocol,
    },
    pick(7, 'rfc', r.form),
  );
  for (const [i, v] of r.edits) d[i % d.length] = v;
  if (r.cut < 0) d = d.subarray(0, Math.max(0, d.length + r.cut));
  if (r.cut > 0) d = Buffer.concat([d, Buffer.alloc(r.cut)]);
  return d;
}

/** The verdicts must agree: accepted with the same facts, or dropped for the same reason and detail. */
function sameVerdict(got: AdvertCheck, want: CheckResult): void {
  if (!want.ok) {
    assert.deepEqual(got, want);
    return;
  }
  assert.deepEqual(got, { ok: true, priority: want.advert.priority, advertIntervalCs: want.advert.advertIntervalCs, checksumForm: want.checksumForm, src: want.src });
}

describe('ReceiveDemux + checkAdvert = the old per-instance loop (fast-check)', () => {
  it('for random instance sets and random, valid and mutated datagrams', () => {
    let delivered = 0;
    let accepted = 0;
    const reasons = new Set<string>();
    fc.assert(
      fc.property(instanceSetArb, fc.array(datagramSpecArb, { minLength: 1, maxLength: 12 }), (views, specs) => {
        const { demux, targets } = demuxOf(views);
        for (const spec of specs) {
          const d = buildDatagram(spec, views);
          const old = views.map((v) => referenceCheckDatagram(v, d)); // the loop the demux replaces
          const counted = { ...demux.dropped };
          const hit = demux.dispatch(d);
          const reached = targets.filter((t) => t.got.length > 0);
          assert.ok(reached.length <= 1, 'one instance at most');
          assert.equal(hit, reached[0] ?? null);
          const newDrops = Object.entries(demux.dropped).filter(([k, n]) => n !== (counted[k] ?? 0));
          const ambiguous = (i: number) => views[i]!.unicast?.checkSource === false && views.some((v, j) => j !== i && v.vrid === views[i]!.vrid);

          if (hit) {
            const i = targets.indexOf(hit as Recorder);
            sameVerdict(targets[i]!.got.pop()!, old[i]!);
            assert.deepEqual(newDrops, [], 'a delivered datagram is not counted by the demux');
            delivered++;
            if (old[i]!.ok) accepted++;
            reasons.add(old[i]!.ok ? 'ok' : (old[i] as { reason: string }).reason);
          } else {
            assert.equal(newDrops.length, 1, 'counted once, for one reason');
            const [reason, n] = newDrops[0]!;
            reasons.add(`demux:${reason}`);
            assert.equal(n, (counted[reason] ?? 0) + 1);
            const oldReasons = old.map((r) => (r.ok ? 'ok' : r.reason));
            if (HEADER_REASONS.includes(reason)) assert.deepEqual(new Set(oldReasons), new Set([reason]));
            else if (reason === 'unknown-vrid' || reason === 'bad-length')
              for (const r of oldReasons) assert.ok([reason, 'own-packet', 'bad-ttl'].includes(r), `${reason} vs ${r}`);
            else assert.ok(['bad-version', 'unknown-unicast-source'].includes(reason));
          }
          // No acceptance is lost, except between unicast instances that share a VRID and accept any source.
          old.forEach((r, i) => {
            if (r.ok && hit !== targets[i]) assert.ok(ambiguous(i), `instance ${i} accepted the datagram in the old loop`);
          });
          // The one instance with that VRID always gets it.
          const vrid = d.length > 21 && d[0]! >> 4 === 4 ? d[((d[0]! & 0xf) * 4) + 1] : undefined;
          const owners = views.filter((v) => v.vrid === vrid);
          if (owners.length === 1 && !HEADER_REASONS.some((h) => old[0]!.ok === false && old[0]!.reason === h))
            assert.equal(hit, targets[views.indexOf(owners[0]!)]);
        }
      }),
      // A fixed seed: the coverage check below needs rare cases (demux:bad-version takes several
      // unicast instances on one VRID and a datagram of a version none of them speaks), which an
      // unlucky random run of 3000 can miss (seen once in CI-like runs): reproducible, not flaky.
      { numRuns: 3000, seed: 20261202 },
    );
    // The generators reach the accept path and the instance and interface reasons (bad-auth-type and
    // bad-interval need a rewritten checksum: validate.test.ts has them).
    const expected = ['ok', 'own-packet', 'bad-ttl', 'bad-version', 'bad-checksum', 'auth-type-mismatch', 'auth-failed', 'interval-mismatch',
      'dst-mode-mismatch', 'address-mismatch', 'unknown-unicast-source', 'demux:unknown-vrid', 'demux:unknown-unicast-source',
      'demux:bad-version', 'demux:wrong-protocol', 'demux:ip-length-mismatch', 'demux:truncated'];
    assert.deepEqual(expected.filter((r) => !reasons.has(r)), []);
    assert.ok(delivered > 5000 && accepted > 3000, `the generators reach the interesting cases (${delivered} delivered, ${accepted} accepted)`);
  });

  it('checkDatagram (compile + header + checkAdvert) returns exactly what the old checkDatagram returned', () => {
    fc.assert(
      fc.property(instanceArb, datagramSpecArb, (v, spec) => {
        const d = buildDatagram(spec, [v]);
        assert.deepEqual(checkDatagram(v, d), referenceCheckDatagram(v, d));
      }),
      { numRuns: 20000 },
    );
  });

  it('never throws on random bytes, and counts each undelivered datagram exactly once', () => {
    const { demux, targets } = demuxOf([view({ version: 3, vrid: 1 }), view({ version: 2, vrid: 2, unicast: { peers: [NODES[1]!], checkSource: true } })]);
    let n = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        n++;
        demux.dispatch(Buffer.from(b));
      }),
      { numRuns: 20000 },
    );
    const counted = Object.values(demux.dropped).reduce((a, b) => a + b, 0);
    assert.equal(counted + demux.delivered, n);
    assert.equal(demux.delivered, targets.reduce((a, t) => a + t.got.length, 0));
  });
});

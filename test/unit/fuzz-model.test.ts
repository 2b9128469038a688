// The packet fuzzer's pure parts (bench/fuzz/mutate.ts, bench/fuzz/model.ts): the cases are
// deterministic in the seed, the templates are keepalived's adverts re-addressed and valid, the
// oracle sends IP-level lies to the kernel and VRRP-level ones to the agent's own drop reasons, and
// after safeCase no case can be an advert that beats the target.
import assert from 'node:assert/strict';
import test from 'node:test';
import { FAMILIES, fuzzCase, Rng, templatesFrom, ipDatagram, type FuzzAddresses } from '../../bench/fuzz/mutate.js';
import { FuzzModel, TARGET_PRIORITY } from '../../bench/fuzz/model.js';
import { loadKeepalivedVectors } from '../support/fixtures.js';

const A: FuzzAddresses = { fuzzerIp: '198.51.100.20', fuzzerMac: '02:00:00:00:00:14', targetIp: '198.51.100.10', targetMac: '02:00:00:00:00:0a', strangerIp: '198.51.100.50', orphanIp: '198.51.100.51' };
const templates = templatesFrom(loadKeepalivedVectors(), A);
const SEED = 42;

test('templates: three adverts per family, each accepted by its instance', () => {
  assert.equal(templates.length, 3 * FAMILIES.length);
  const model = new FuzzModel(A);
  for (const t of templates) {
    const dst = t.family.unicast ? A.targetIp : '224.0.0.18';
    const fate = model.fate({ mutation: 'none', template: t.name, datagrams: [ipDatagram({ src: A.fuzzerIp, dst, ttl: 255, protocol: 112, id: 1, options: Buffer.alloc(0), fragment: 0 }, t.vrrp)], dsts: [dst] });
    assert.equal(fate.outcome, 'accepted', t.name);
    assert.equal(fate.instance, `F_${t.family.key.replace('-', '_')}`);
  }
});

test('cases are deterministic in (seed, index)', () => {
  for (const i of [0, 1, 999]) assert.deepEqual(fuzzCase(SEED, i, templates, A), fuzzCase(SEED, i, templates, A));
  assert.notDeepEqual(fuzzCase(SEED, 1, templates, A).datagrams, fuzzCase(SEED + 1, 1, templates, A).datagrams);
});

test('the oracle: kernel fates for IP lies, agent drop reasons for VRRP ones, no case beats the target', () => {
  const model = new FuzzModel(A);
  const rng = new Rng(SEED);
  const fates = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const s = model.safeCase(fuzzCase(SEED, i, templates, A), rng);
    fates.set(s.fate.outcome, (fates.get(s.fate.outcome) ?? 0) + 1);
    if (s.fate.outcome === 'accepted') {
      const src = s.fate.delivered!.readUInt32BE(12) >>> 0;
      const p = s.fate.priority!;
      assert.ok(!(p > TARGET_PRIORITY || (p === TARGET_PRIORITY && src > 0xc633640a)), `case ${i} (priority ${p}) would beat the target`);
    }
    if (s.c.mutation === 'ip-checksum') assert.equal(s.fate.outcome, 'kernel:ip-checksum');
    if (s.c.mutation === 'lone-fragment') assert.equal(s.fate.outcome, 'kernel:fragment-incomplete');
    if (s.c.mutation === 'bad-checksum') assert.notEqual(s.fate.outcome, 'accepted');
  }
  assert.equal(fates.get('kernel:unmodelled') ?? 0, 0, 'every case is modelled');
  for (const k of ['accepted', 'bad-checksum', 'bad-length', 'bad-ttl', 'address-mismatch', 'auth-failed', 'unknown-vrid', 'kernel:ip-header', 'kernel:ip-truncated', 'kernel:other-protocol'])
    assert.ok((fates.get(k) ?? 0) > 0, `some cases end as ${k}: ${JSON.stringify([...fates])}`);
});

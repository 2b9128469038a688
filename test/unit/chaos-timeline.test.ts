// The pure parts of `npm run chaos` (bench/chaos/): holder intervals from adverts and from address
// events, the timeline segments and their dual- / zero-holder spans and transitions, the compact
// timeline text, the nftables rule text and counter parsing, `ip monitor address` lines, the
// after-heal figure, and the README's chaos section. Known events in, exact values out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressIntervals,
  advertIntervals,
  dualSpans,
  formatTimeline,
  maxAdvertGap,
  runsOf,
  segments,
  transitions,
  zeroSpans,
  type AdvertEvent,
} from '../../bench/chaos/timeline.js';
import { faultRule, faultScript, parseCounters } from '../../bench/chaos/nft.js';
import { parseAddressLine } from '../../bench/chaos/lab.js';
import { afterHeal } from '../../bench/chaos/partition.js';
import { CHAOS_END, CHAOS_START, renderChaosReport, summaryLines, updateChaosReadme, type ChaosResults } from '../../bench/chaos/report.js';
import { README_END, README_START } from '../../bench/report.js';

const A = '198.51.100.1';
const B = '198.51.100.2';
const nodeOf = (ip: string) => (ip === A ? 'a' : ip === B ? 'b' : null);
const adv = (time: number, src: string, priority = 100): AdvertEvent => ({ time, src, priority });
/** Adverts of `src` every `step` ms in [from, to]. */
const every = (src: string, from: number, to: number, step = 1000, priority = 100) => {
  const out: AdvertEvent[] = [];
  for (let t = from; t <= to; t += step) out.push(adv(t, src, priority));
  return out;
};

describe('chaos timeline: holders on the wire', () => {
  it('joins adverts into runs held one interval past the last, breaks at a gap above gapMs, ends at priority 0', () => {
    const ivs = advertIntervals([...every(A, 0, 3000), ...every(A, 6000, 8000), adv(8500, A, 0), adv(9000, A), adv(500, '198.51.100.9')], nodeOf, 2000, 1000);
    assert.deepEqual(ivs.get('a'), [
      { from: 0, to: 4000 },
      { from: 6000, to: 8500 },
      { from: 9000, to: 10_000 },
    ]);
    assert.equal(ivs.size, 1);
  });

  it('a run is cut short by the other node\'s next advert (a handover), never extended past it', () => {
    const ivs = advertIntervals([...every(B, 0, 3000), adv(3400, A), adv(4400, A)], nodeOf, 2000, 1000);
    assert.deepEqual(ivs.get('b'), [{ from: 0, to: 3400 }]);
    assert.deepEqual(ivs.get('a'), [{ from: 3400, to: 5400 }]);
  });

  it('a partition: both advertise, then the backup stops when the master\'s advert comes after the heal', () => {
    const adverts = [...every(A, 0, 20_000), ...every(B, 4000, 10_300, 1000)];
    const segs = segments(advertIntervals(adverts, nodeOf, 2000, 1000), 0, 20_000);
    assert.deepEqual(
      segs.map((s) => [s.from, s.to, s.holders.join('+')]),
      [
        [0, 4000, 'a'],
        [4000, 11_000, 'a+b'],
        [11_000, 20_000, 'a'],
      ],
    );
    assert.deepEqual(dualSpans(segs).map((s) => s.ms), [7000]);
    assert.deepEqual(zeroSpans(segs), []);
    assert.equal(transitions(segs), 2);
    assert.deepEqual(afterHeal(dualSpans(segs), [10_200]), [800]);
    assert.deepEqual(afterHeal(dualSpans(segs), [15_000]), [0]);
  });

  it('a frozen master: a zero-holder gap, the backup takes over, the master takes back without a gap', () => {
    const adverts = [...every(A, 0, 1000), ...every(B, 4600, 6000, 700), ...every(A, 6100, 10_000)];
    const iv = advertIntervals(adverts, nodeOf, 2000, 1000);
    const segs = segments(iv, 0, 10_000);
    assert.deepEqual(segs.map((s) => s.holders.join('+') || '-'), ['a', '-', 'b', 'a']);
    assert.deepEqual(zeroSpans(segs).map((s) => [s.from, s.to]), [[2000, 4600]]);
    assert.deepEqual(runsOf(iv, 'b', 0), [{ from: 4600, to: 6100 }]);
    assert.equal(maxAdvertGap(adverts, A, 0, 10_000), 5100);
    assert.equal(formatTimeline(segs, 0), '0.0s A | 2.0s — (2.6s) | 4.6s B | 6.1s A');
  });

  it('a single advert from the backup makes a dual-holder span until the master\'s next advert', () => {
    const segs = segments(advertIntervals([...every(A, 0, 5000), adv(2500, B)], nodeOf, 2000, 1000), 0, 5000);
    assert.deepEqual(segs.map((s) => [s.from, s.to, s.holders.join('+')]), [
      [0, 2500, 'a'],
      [2500, 3000, 'a+b'],
      [3000, 5000, 'a'],
    ]);
    assert.deepEqual(dualSpans(segs).map((s) => s.ms), [500]);
    assert.equal(formatTimeline(segs, 0, { minMs: 50 }), '0.0s A | 2.5s A+B (0.5s) | 3.0s A');
  });

  it('one run ending where another starts is a handover, not a dual-holder instant', () => {
    const segs = segments(
      new Map([
        ['a', [{ from: 0, to: 2000 }]],
        ['b', [{ from: 2000, to: 4000 }]],
      ]),
      0,
      4000,
    );
    assert.deepEqual(segs.map((s) => [s.from, s.to, s.holders.join('+')]), [
      [0, 2000, 'a'],
      [2000, 4000, 'b'],
    ]);
    assert.deepEqual(dualSpans(segs), []);
  });
});

describe('chaos timeline: holders on an interface', () => {
  it('pairs adds with deletes per node and closes what is still held at the end', () => {
    const ivs = addressIntervals(
      [
        { time: 100, node: 'a', added: true },
        { time: 4000, node: 'b', added: true },
        { time: 5000, node: 'b', added: false },
        { time: 200, node: 'a', added: true },
        { time: 9000, node: 'b', added: false },
      ],
      10_000,
    );
    assert.deepEqual(ivs.get('a'), [{ from: 100, to: 10_000 }]);
    assert.deepEqual(ivs.get('b'), [{ from: 4000, to: 5000 }]);
    const segs = segments(ivs, 0, 10_000);
    assert.deepEqual(zeroSpans(segs), [], 'before the first holder is not a zero-holder span');
    assert.equal(formatTimeline(segs, 0), '0.0s — (0.1s) | 0.1s A | 4.0s A+B (1.0s) | 5.0s A');
  });

  it('formatTimeline drops short single-holder stretches, merges what is left, and caps the length', () => {
    const segs = [
      { from: 0, to: 1000, holders: ['a'] },
      { from: 1000, to: 1010, holders: [] },
      { from: 1010, to: 3000, holders: ['a'] },
      { from: 3000, to: 3500, holders: ['b'] },
      { from: 3500, to: 4000, holders: ['a'] },
    ];
    assert.equal(formatTimeline(segs, 0, { minMs: 50 }), '0.0s A | 3.0s B | 3.5s A');
    assert.equal(formatTimeline(segs, 0, { minMs: 50, max: 2 }), '0.0s A | 3.0s B | … +1');
  });

  it('parses ip -ts -o monitor address lines about the VIP only', () => {
    const add = parseAddressLine('[2026-12-03T04:30:19.476135] 2: eth0    inet 198.51.100.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever', 'b');
    assert.deepEqual(add, { time: new Date('2026-12-03T04:30:19.476').getTime(), node: 'b', added: true });
    const del = parseAddressLine('[2026-12-03T04:30:19.479940] Deleted 2: eth0    inet 198.51.100.100/24 scope global secondary eth0', 'b');
    assert.equal(del?.added, false);
    assert.equal(parseAddressLine('[2026-12-03T04:30:19.470489] 2: eth0    inet 198.51.100.2/24 scope global eth0', 'b'), null);
    assert.equal(parseAddressLine('garbage', 'b'), null);
  });
});

describe('chaos nftables rules', () => {
  it('drops all VRRP for a partition and N % at random for a loss, on input, counted', () => {
    assert.equal(faultRule({ kind: 'partition' }), 'ip protocol vrrp counter drop');
    assert.equal(faultRule({ kind: 'loss', percent: 30 }), 'ip protocol vrrp numgen random mod 100 < 30 counter drop');
    assert.throws(() => faultRule({ kind: 'loss', percent: 101 }), /out of 0\.\.100/);
    const script = faultScript({ kind: 'loss', percent: 10 });
    assert.match(script, /^table inet chaos\ndelete table inet chaos\ntable inet chaos \{\n {2}chain input \{\n {4}type filter hook input priority 0; policy accept;\n {4}ip protocol vrrp counter\n {4}ip protocol vrrp numgen random mod 100 < 10 counter drop\n/);
    assert.doesNotMatch(script, /output/);
  });

  it('reads the seen and dropped counters from nft -j', () => {
    const rule = (packets: number, drop: boolean) => ({ rule: { expr: [{ match: {} }, { counter: { packets, bytes: 40 * packets } }, ...(drop ? [{ drop: null }] : [])] } });
    const json = JSON.stringify({ nftables: [{ metainfo: {} }, { table: {} }, { chain: {} }, rule(40, false), rule(13, true)] });
    assert.deepEqual(parseCounters(json), { seen: 40, dropped: 13 });
    assert.deepEqual(parseCounters('{"nftables":[]}'), { seen: 0, dropped: 0 });
  });
});

describe('chaos report', () => {
  const r: ChaosResults = {
    date: '2026-12-03',
    startedAt: '2026-12-03T05:00:00.000Z',
    finishedAt: '2026-12-03T05:04:00.000Z',
    quick: true,
    host: { cpus: 2, loadavgStart: '1.00 1.00 1.00', loadavgEnd: '2.00 1.50 1.20', node: 'v20', kernel: '6', keepalived: '2.2.7' },
    scenarios: [
      {
        scenario: 'partition',
        label: 'partition+heal ×2',
        how: 'how it is measured',
        seconds: 30,
        runs: {
          ours: { ok: true, figure: { text: 'both hold after heal 400 ms', metrics: {} }, wireTimeline: '0.0s A', vipTimeline: '0.0s A | 4.0s A+B (6.4s) | 10.4s A', daemons: { a: 'none', b: '4.0s MASTER, 10.4s BACKUP' }, marks: { heal: [10] } },
          keepalived: { ok: false, error: 'boom' },
        },
      },
    ],
  };

  it('prints one line per scenario with both figures, then the VIP timelines', () => {
    const lines = summaryLines(r);
    assert.match(lines[0]!, /^partition\+heal ×2 +ours: both hold after heal 400 ms {2}\| {2}keepalived: failed: boom$/);
    assert.match(lines[1]!, /ours +VIP {2}0\.0s A \| 4\.0s A\+B \(6\.4s\) \| 10\.4s A$/);
    assert.equal(lines.length, 2);
    const md = renderChaosReport(r);
    assert.match(md, /load average 1\.00 1\.00 1\.00 at the start and 2\.00 1\.50 1\.20 at the end/);
    assert.match(md, /\| partition\+heal ×2 \| both hold after heal 400 ms \| failed: boom \|/);
    assert.match(md, /B {5}4\.0s MASTER, 10\.4s BACKUP/);
  });

  it('puts its README section right after the Benchmarks section, and replaces it in place next time', () => {
    const readme = `# x\n\n## Benchmarks\n\n${README_START}\nbench\n${README_END}\n\n## License\n`;
    const once = updateChaosReadme(readme, r, 'bench/results/2026-12-03-chaos-quick');
    assert.ok(once.indexOf(README_END) < once.indexOf(CHAOS_START));
    assert.ok(once.indexOf(CHAOS_END) < once.indexOf('## License'));
    assert.match(once, /\[bench\/results\/2026-12-03-chaos-quick\]\(bench\/results\/2026-12-03-chaos-quick\/README\.md\)/);
    const twice = updateChaosReadme(once, { ...r, date: '2026-12-04' }, 'bench/results/2026-12-04-chaos');
    assert.equal(twice.split(CHAOS_START).length, 2);
    assert.match(twice, /\*\*2026-12-04\*\*/);
    assert.doesNotMatch(twice, /2026-12-03-chaos-quick/);
    assert.match(updateChaosReadme('# bare\n', r, 'd'), /^# bare\n\n## Chaos\n\n<!-- chaos:start/);
  });
});

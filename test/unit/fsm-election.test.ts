// Elections between several pure VRRP state machines on the simulated LAN (test/support/sim-network.ts):
// exact takeover times on a virtual clock for kill -9, graceful stop, preemption, nopreempt,
// preempt_delay and tie-breaks, plus a fast-check property over random clusters and failure schedules.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FsmConfig } from '../../src/vrrp/fsm.js';
import { masterDownIntervalMs } from '../../src/vrrp/timers.js';
import { SimNetwork } from '../support/sim-network.js';

const A = '198.51.100.1';
const B = '198.51.100.2';
const C = '198.51.100.3';

function node(localAddress: string, priority: number, over: Partial<FsmConfig> = {}): FsmConfig {
  return { version: 2, priority, advertIntervalCs: 100, preempt: true, preemptDelayMs: 0, localAddress, ...over };
}

/** Two nodes, a (priority 200) and b (priority 100), 1 ms latency, started together at 0. */
function pair(over: Partial<FsmConfig> = {}, aOver: Partial<FsmConfig> = {}): SimNetwork {
  const net = new SimNetwork({ latencyMs: 1 });
  net.addNode('a', node(A, 200, { ...over, ...aOver }));
  net.addNode('b', node(B, 100, over));
  net.startAll();
  return net;
}

function becameMasterAt(net: SimNetwork, name: string, after = -Infinity): number | undefined {
  return net.transitionsOf(name).find((t) => t.to === 'MASTER' && t.at > after)?.at;
}

/** Time the last advert from `from` reached `to` before `until`. */
function lastDeliveryAt(net: SimNetwork, from: string, to: string, until: number): number {
  const d = net.delivered.filter((x) => x.node === from && x.to === to && x.deliveredAt <= until);
  const last = d[d.length - 1];
  assert.ok(last, `no delivery from ${from} to ${to}`);
  return last.deliveredAt;
}

describe('steady state', () => {
  test('2 nodes (v2): the higher priority wins after its own Master_Down_Interval', () => {
    const net = pair();
    net.runUntil(20_000);
    assert.deepEqual(net.masters(), ['a']);
    assert.deepEqual(net.holders(), ['a']);
    assert.equal(becameMasterAt(net, 'a'), 3218.75); // 3 s + 56/256 s
    assert.deepEqual(
      net.transitionsOf('b').map((t) => t.to),
      ['BACKUP'],
    );
    // a advertises every second from then on: 3218.75, 4218.75, … 19218.75.
    assert.equal(net.sent.filter((s) => s.node === 'a').length, 17);
  });

  test('3 nodes (v3, 0.1 s): exactly one MASTER, the highest priority, nobody else ever masters', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('a', node(A, 100, { version: 3, advertIntervalCs: 10 }));
    net.addNode('b', node(B, 150, { version: 3, advertIntervalCs: 10 }));
    net.addNode('c', node(C, 200, { version: 3, advertIntervalCs: 10 }));
    net.startAll();
    net.runUntil(5000);
    assert.deepEqual(net.masters(), ['c']);
    assert.equal(becameMasterAt(net, 'c'), 321.875); // 300 + 56×100/256
    assert.deepEqual(
      net.transitions.filter((t) => t.to === 'MASTER').map((t) => t.node),
      ['c'],
    );
  });

  test('started at different times, a higher-priority late joiner preempts', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('a', node(A, 200));
    net.addNode('b', node(B, 100));
    net.start('b');
    net.runUntil(5000); // b masters alone at 3609.375
    net.start('a');
    net.runUntil(20_000);
    assert.equal(becameMasterAt(net, 'b'), 3609.375);
    assert.equal(becameMasterAt(net, 'a'), 5000 + 3218.75);
    assert.deepEqual(net.masters(), ['a']);
  });
});

describe('failover', () => {
  test('kill -9 of the master (v2, 1 s): takeover exactly Master_Down_Interval after its last advert', () => {
    const net = pair();
    net.runUntil(10_000);
    net.kill('a'); // a's last advert left at 9218.75 and reached b at 9219.75
    net.runUntil(30_000);
    const last = lastDeliveryAt(net, 'a', 'b', 10_000);
    assert.equal(last, 9219.75);
    assert.equal(becameMasterAt(net, 'b'), 9219.75 + 3609.375);
    assert.equal(becameMasterAt(net, 'b'), 12_829.125);
    assert.equal(net.transitionsOf('b').at(-1)?.reason, 'master-down-timer');
    assert.deepEqual(net.masters(), ['b']);
  });

  test('kill -9 of the master (v3, 0.1 s): takeover at 922.875 + 300 + 156×100/256 ms', () => {
    const net = pair({ version: 3, advertIntervalCs: 10 });
    net.runUntil(1000); // a masters at 321.875; adverts at 321.875 + k×100
    net.kill('a');
    net.runUntil(5000);
    assert.equal(lastDeliveryAt(net, 'a', 'b', 1000), 922.875);
    assert.equal(becameMasterAt(net, 'b'), 1283.8125); // 922.875 + 360.9375
    assert.deepEqual(net.masters(), ['b']);
  });

  test('graceful stop (v2): priority 0 makes the backup take over after Skew_Time only', () => {
    const net = pair();
    net.runUntil(10_000);
    net.stop('a'); // priority 0 sent at 10000, delivered at 10001
    net.runUntil(30_000);
    assert.deepEqual(
      net.sent.filter((s) => s.node === 'a' && s.priority === 0).map((s) => s.at),
      [10_000],
    );
    assert.equal(becameMasterAt(net, 'b'), 10_001 + 609.375);
    assert.equal(net.transitionsOf('b').at(-1)?.reason, 'master-sent-priority-0');
  });

  test('graceful stop (v3, 0.1 s): takeover after 156×100/256 = 60.9375 ms', () => {
    const net = pair({ version: 3, advertIntervalCs: 10 });
    net.runUntil(1000);
    net.stop('a');
    net.runUntil(3000);
    assert.equal(becameMasterAt(net, 'b'), 1001 + 60.9375);
  });

  test('fault on the master: priority 0 and release, the backup takes over after Skew_Time', () => {
    const net = pair();
    net.runUntil(10_000);
    net.fault('a', 'eth0 down');
    net.runUntil(12_000);
    assert.equal(net.state('a'), 'FAULT');
    assert.equal(becameMasterAt(net, 'b'), 10_609.375 + 1);
    assert.deepEqual(net.holders(), ['b']);
    net.recover('a'); // back as BACKUP at 12000, preempts when its timer runs out
    net.runUntil(20_000);
    assert.equal(becameMasterAt(net, 'a', 12_000), 12_000 + 3218.75);
    assert.deepEqual(net.masters(), ['a']);
  });

  test('priority drop on the master (tracking): the backup preempts when its timer runs out', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('a', node(A, 200));
    net.addNode('b', node(B, 150));
    net.startAll();
    net.runUntil(10_000);
    net.setPriority('a', 100); // next advert (10218.75) carries 100: b discards it
    net.runUntil(20_000);
    // b's timer was last reset by a's advert delivered at 9219.75: 9219.75 + 3000 + 106/256 s.
    assert.equal(becameMasterAt(net, 'b'), 12_633.8125);
    assert.equal(net.transitionsOf('a').at(-1)?.at, 12_634.8125);
    assert.deepEqual(net.masters(), ['b']);
  });
});

describe('preemption', () => {
  /** a stops gracefully at 10 s (b masters at 10610.375, adverts delivered at …611.375), a restarts at `back`. */
  function comeback(aOver: Partial<FsmConfig>, back: number): SimNetwork {
    const net = pair({}, aOver);
    net.runUntil(10_000);
    net.stop('a');
    net.runUntil(back);
    net.start('a');
    net.runUntil(back + 30_000);
    return net;
  }

  test('preempt: the higher priority returns and takes over after its Master_Down_Interval', () => {
    const net = comeback({}, 20_000);
    assert.equal(becameMasterAt(net, 'b'), 10_610.375);
    assert.equal(becameMasterAt(net, 'a', 20_000), 23_218.75);
    const bBack = net.transitionsOf('b').at(-1)!;
    assert.deepEqual([bBack.to, bBack.at, bBack.reason], ['BACKUP', 23_219.75, 'higher-priority-advert']);
    assert.deepEqual(net.masters(), ['a']);
  });

  test('nopreempt: the higher priority returns and stays BACKUP', () => {
    const net = comeback({ preempt: false }, 20_000);
    assert.equal(becameMasterAt(net, 'a', 20_000), undefined);
    assert.deepEqual(net.masters(), ['b']);
    assert.equal(net.snapshot('a')?.masterAddress, B);
  });

  test('preempt_delay delays preemption by exactly the delay when rejoining right after an advert', () => {
    // b's adverts reach a at 20611.375, 21611.375, …; a rejoins just as one goes by, so the first
    // it hears comes one full interval later, and the preempt clock starts there.
    const back = 20_611.375;
    const plain = becameMasterAt(comeback({}, back), 'a', back);
    const delayed = becameMasterAt(comeback({ preemptDelayMs: 5000 }, back), 'a', back);
    assert.equal(plain, back + 3218.75);
    assert.equal(delayed, plain! + 5000);
  });

  test('preempt_delay follows keepalived: takeover = last lower advert accepted before preempt_time + MDI', () => {
    // a rejoins at 20000; first lower advert at 20611.375 starts preempt_time = 25611.375; adverts up
    // to 24611.375 are accepted, the one at 25611.375 is discarded; 24611.375 + 3218.75 = 27830.125.
    const net = comeback({ preemptDelayMs: 5000 }, 20_000);
    assert.equal(becameMasterAt(net, 'a', 20_000), 27_830.125);
    assert.deepEqual(net.masters(), ['a']);
  });

  test('equal priorities: started together, the higher address wins the tie-break among masters', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('low', node('198.51.100.9', 100));
    net.addNode('high', node('198.51.100.10', 100)); // numerically higher, lower as a string
    net.startAll();
    net.runUntil(10_000);
    assert.deepEqual(net.masters(), ['high']);
    assert.deepEqual(
      net.transitionsOf('low').map((t) => [t.to, t.at, t.reason]),
      [
        ['BACKUP', 0, 'startup'],
        ['MASTER', 3609.375, 'master-down-timer'],
        ['BACKUP', 3610.375, 'equal-priority-higher-address'],
      ],
    );
    // high answered low's advert at once with its own (keepalived), plus a GARP announce.
    assert.ok(net.actions.some((r) => r.node === 'high' && r.at === 3610.375 && r.action.type === 'announce'));
  });

  test('two address owners started together: both demote to 254, then the higher address keeps MASTER', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('x', node(A, 255));
    net.addNode('y', node(B, 255));
    net.startAll();
    net.runUntil(20_000);
    assert.deepEqual(net.masters(), ['y']);
    assert.equal(net.snapshot('x')?.effectivePriority, 254);
    assert.equal(net.snapshot('y')?.effectivePriority, 254);
    // Both became MASTER at 0, heard each other's 255 at 1 and yielded; both timed out together
    // at 1 + 3 s + 2/256 s, and the equal-priority tie-break among masters left y.
    assert.deepEqual(
      net.transitionsOf('x').map((t) => [t.to, t.at]),
      [['MASTER', 0], ['BACKUP', 1], ['MASTER', 3008.8125], ['BACKUP', 3009.8125]],
    );
  });

  test('an owner joining a running owner: the incumbent demotes, the newcomer keeps 255', () => {
    const net = new SimNetwork({ latencyMs: 1 });
    net.addNode('x', node(A, 255));
    net.addNode('y', node(B, 255));
    net.start('y'); // y masters at once and advertises at 0, 1000, … 5000
    net.runUntil(5500);
    net.start('x'); // x masters at once; y hears x's 255 at 5501, demotes and yields
    net.runUntil(20_000);
    assert.deepEqual(net.masters(), ['x']);
    assert.equal(net.snapshot('y')?.effectivePriority, 254);
    assert.equal(net.snapshot('x')?.effectivePriority, 255);
    assert.deepEqual(net.transitionsOf('y').at(-1), {
      at: 5501,
      node: 'y',
      from: 'MASTER',
      to: 'BACKUP',
      reason: 'higher-priority-advert',
    });
  });
});

describe('property: random clusters converge', () => {
  type OpKind = 'kill' | 'restart' | 'stop' | 'fault' | 'recover' | 'prio';
  type Op = { at: number; node: number; kind: OpKind; priority: number };

  const nodeArb = fc.record({
    priority: fc.oneof(
      { weight: 12, arbitrary: fc.integer({ min: 1, max: 254 }) },
      { weight: 1, arbitrary: fc.constant(255) }, // an address owner now and then
    ),
    preempt: fc.boolean(),
    preemptDelayMs: fc.constantFrom(0, 0, 0, 1500, 4000),
    v3IntervalCs: fc.constantFrom(10, 25, 50, 100),
    lowerPrioNoAdvert: fc.boolean(),
  });
  const opArb: fc.Arbitrary<Op> = fc.record({
    at: fc.integer({ min: 0, max: 15_000 }),
    node: fc.nat({ max: 4 }),
    kind: fc.constantFrom('kill', 'restart', 'stop', 'fault', 'recover', 'prio'),
    priority: fc.integer({ min: 1, max: 254 }),
  });
  const scenarioArb = fc.record({
    version: fc.constantFrom(2 as const, 3 as const),
    v2IntervalCs: fc.constantFrom(100, 200),
    nodes: fc.array(nodeArb, { minLength: 2, maxLength: 5 }),
    octets: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 5, maxLength: 5 }),
    latencyMs: fc.constantFrom(0, 0.5, 1, 7),
    lossRate: fc.constantFrom(0, 0.1, 0.3),
    everyonePreempts: fc.boolean(),
    ops: fc.array(opArb, { maxLength: 10 }),
    seed: fc.integer(),
  });

  test('after a quiet period there is exactly one MASTER (the highest priority when everyone preempts)', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const net = new SimNetwork({ latencyMs: sc.latencyMs, lossRate: sc.lossRate, seed: sc.seed });
        const cfgs = sc.nodes.map(
          (n, i): FsmConfig => ({
            version: sc.version,
            priority: n.priority,
            advertIntervalCs: sc.version === 2 ? sc.v2IntervalCs : n.v3IntervalCs,
            preempt: sc.everyonePreempts || n.preempt,
            preemptDelayMs: n.preemptDelayMs,
            localAddress: `198.51.100.${sc.octets[i]}`,
            lowerPrioNoAdvert: n.lowerPrioNoAdvert,
          }),
        );
        cfgs.forEach((c, i) => net.addNode(`n${i}`, c));
        net.startAll();

        // Chaos: failures, restarts and priority changes on a lossy network.
        const ops = [...sc.ops].sort((x, y) => x.at - y.at);
        for (const op of ops) {
          net.runUntil(op.at);
          const name = `n${op.node % cfgs.length}`;
          if (op.kind === 'kill') net.kill(name);
          else if (op.kind === 'restart') net.restart(name);
          else if (op.kind === 'stop') net.stop(name);
          else if (op.kind === 'fault') net.fault(name);
          else if (op.kind === 'recover') net.recover(name);
          else net.setPriority(name, op.priority);
        }
        net.runUntil(15_000);

        // Quiet: no loss, faults cleared, at least one node running; then wait long enough for a
        // chain of preemptions (each ≤ preempt_delay + Master_Down_Interval + an interval).
        net.lossRate = 0;
        for (const name of net.names()) if (net.state(name) === 'FAULT') net.recover(name);
        if (net.names().every((name) => !net.isRunning(name))) net.start('n0');
        const maxIntervalMs = Math.max(...cfgs.map((c) => c.advertIntervalCs * 10));
        const maxMdi = masterDownIntervalMs(sc.version, 1, maxIntervalMs / 10);
        const maxDelay = Math.max(...cfgs.map((c) => c.preemptDelayMs));
        net.runFor(cfgs.length * (maxDelay + maxMdi + maxIntervalMs + sc.latencyMs) + maxMdi);

        // Stable: nothing changes for another Master_Down_Interval.
        const before = net.transitions.length;
        net.runFor(maxMdi + maxIntervalMs);
        assert.equal(net.transitions.length, before, 'still changing after the quiet period');

        const masters = net.masters();
        assert.equal(masters.length, 1, `masters: ${masters.join(',')}`);
        assert.deepEqual(net.holders(), masters);
        const running = net.names().filter((name) => net.isRunning(name));
        for (const name of running) if (name !== masters[0]) assert.equal(net.state(name), 'BACKUP');

        const allPreempt = cfgs.every((c) => c.preempt || c.priority === 255);
        if (allPreempt) {
          // RFC 5798 §6.4.2: a Backup accepts an equal-priority master, so among equal top
          // priorities any may hold MASTER; the priority itself must be the highest.
          const prio = (name: string) => net.snapshot(name)!.effectivePriority;
          const top = Math.max(...running.map(prio));
          const winner = masters[0]!;
          assert.equal(prio(winner), top, `master ${winner} has ${prio(winner)}, top is ${top}`);
          const tops = running.filter((name) => prio(name) === top);
          if (tops.length === 1) assert.equal(winner, tops[0]);
          // Every other top-priority node must at least know the winner as master.
          for (const name of tops) {
            if (name !== winner) assert.equal(net.snapshot(name)!.masterAddress, net.config(winner).localAddress);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

// Gratuitous ARP frames byte-exact against keepalived 2.2.7 captures, and the GARP schedule against
// keepalived's timing, on a fake clock. The arping fallback's queue (spawns spread over event-loop
// turns, a cap on processes at once) with a fake spawner. Also the small pure helpers of src/net
// (CIDR, ip -j parsing, capability bits).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildGratuitousArp, parseArpFrame, isGratuitousArp, macToBytes, ipv4ToBytes, ARP_FRAME_LEN } from '../../src/net/arp.js';
import { ArpingAnnouncer, ARPING_MAX_CONCURRENT, type LinkAnnouncer } from '../../src/net/announcer.js';
import { GarpSchedule, KEEPALIVED_GARP_DEFAULTS, type GarpSettings, type TimerApi } from '../../src/net/garp.js';
import { NetError } from '../../src/net/link.js';
import { ExecError, type ExecOptions, type ExecResult } from '../../src/exec.js';
import { parseCidr } from '../../src/net/address.js';
import { parseIpAddrJson, primaryIPv4 } from '../../src/net/link.js';
import { missingCapabilities } from '../../providers/garp/preflight.js';
import { loadKeepalivedVectors } from '../support/fixtures.js';

// ── vectors ──

const vectors = loadKeepalivedVectors();
const garpVectors = vectors.filter((v) => /garp-(new|startup)-master$/.test(v.name));

describe('gratuitous ARP frame (keepalived 2.2.7 vectors)', () => {
  test('there are GARP vectors to compare with', () => {
    assert.equal(garpVectors.length, 8);
  });

  for (const v of garpVectors) {
    test(`${v.name}: buildGratuitousArp is byte-identical`, () => {
      assert.ok(v.arp);
      const frame = buildGratuitousArp(v.arp.sha, v.arp.spa);
      assert.equal(frame.length, ARP_FRAME_LEN);
      assert.equal(frame.toString('hex'), v.frame_hex);
    });

    test(`${v.name}: parseArpFrame decodes what tshark decoded`, () => {
      const f = parseArpFrame(Buffer.from(v.frame_hex, 'hex'));
      assert.ok(f && v.arp);
      assert.deepEqual(
        { op: f.op, sha: f.sha, spa: f.spa, tha: f.tha, tpa: f.tpa },
        { op: v.arp.op, sha: v.arp.sha, spa: v.arp.spa, tha: v.arp.tha, tpa: v.arp.tpa },
      );
      assert.equal(f.dst, 'ff:ff:ff:ff:ff:ff');
      assert.equal(f.src, v.arp.sha);
      assert.ok(isGratuitousArp(f));
    });
  }

  test('the lab MAC and VIP give the same layout with their own bytes', () => {
    const f = buildGratuitousArp('02:00:C6:33:64:01', '198.51.100.100');
    assert.equal(
      f.toString('hex'),
      'ffffffffffff' + '0200c6336401' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '0200c6336401' + 'c6336464' + 'ffffffffffff' + 'c6336464',
    );
  });

  test('parseArpFrame accepts a frame padded to 60 bytes and rejects non-ARP', () => {
    const padded = Buffer.concat([buildGratuitousArp('02:00:c6:33:64:01', '198.51.100.100'), Buffer.alloc(18)]);
    assert.equal(parseArpFrame(padded)?.tpa, '198.51.100.100');
    const advert = vectors.find((v) => v.name.endsWith('.advert'));
    assert.ok(advert);
    assert.equal(parseArpFrame(Buffer.from(advert.frame_hex, 'hex')), null);
    assert.equal(parseArpFrame(Buffer.alloc(20)), null);
  });

  test('bad MAC or IPv4 text is refused', () => {
    assert.throws(() => macToBytes('02:00:c6:33:64'), RangeError);
    assert.throws(() => macToBytes('zz:00:c6:33:64:01'), RangeError);
    assert.throws(() => ipv4ToBytes('198.51.100.256'), RangeError);
    assert.throws(() => ipv4ToBytes('198.51.100'), RangeError);
    assert.throws(() => buildGratuitousArp('02:00:c6:33:64:01', '2001:db8::1'), RangeError);
  });
});

// ── schedule on a fake clock ──

class FakeClock implements TimerApi {
  now = 0;
  private seq = 0;
  private readonly queue = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.queue.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number);
  }
  get pending(): number {
    return this.queue.size;
  }
  /** Runs every timer due within `ms`, in time order, moving `now` along. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.queue) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.queue.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

interface Sent {
  t: number;
  ifname: string;
  mac: string;
  vip: string;
  count: number;
}

function recorder(clock: FakeClock, fail?: Error): LinkAnnouncer & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    kind: 'test',
    sent,
    sendGarp(ifname, mac, vip, count) {
      sent.push({ t: clock.now, ifname, mac, vip, count });
      return fail ? Promise.reject(fail) : Promise.resolve();
    },
    close() {},
  };
}

function schedule(settings: Partial<GarpSettings>, vips = ['198.51.100.100']) {
  const clock = new FakeClock();
  const announcer = recorder(clock);
  const s = new GarpSchedule({ announcer, ifname: 'eth0', mac: '02:00:c6:33:64:01', vips, settings: { ...KEEPALIVED_GARP_DEFAULTS, ...settings }, timers: clock });
  return { clock, announcer, s };
}

/** Frames per distinct time: [[t, frames], …]. */
function bursts(sent: Sent[]): [number, number][] {
  const m = new Map<number, number>();
  for (const x of sent) m.set(x.t, (m.get(x.t) ?? 0) + x.count);
  return [...m];
}

describe('GARP schedule', () => {
  test('defaults are keepalived 2.2 defaults', () => {
    assert.deepEqual({ ...KEEPALIVED_GARP_DEFAULTS }, { repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 5 });
  });

  test('start(1): the takeover fast path sent one GARP per VIP already: 4 more at 0 ms, then 5 at 5000 ms', () => {
    const { clock, announcer, s } = schedule({});
    s.start(1);
    clock.advance(60_000);
    assert.deepEqual(bursts(announcer.sent), [
      [0, 4],
      [5000, 5],
    ]);
  });

  test('default schedule: 5 at 0 ms, 5 at 5000 ms, then nothing', () => {
    const { clock, announcer, s } = schedule({});
    s.start();
    clock.advance(60_000);
    assert.deepEqual(bursts(announcer.sent), [
      [0, 5],
      [5000, 5],
    ]);
    assert.ok(announcer.sent.every((x) => x.ifname === 'eth0' && x.mac === '02:00:c6:33:64:01' && x.vip === '198.51.100.100'));
    assert.equal(clock.pending, 0);
  });

  test('matches the burst structure keepalived showed on the wire', () => {
    for (const v of garpVectors.filter((x) => x.garp_times_rel_first_advert_ms)) {
      const times = v.garp_times_rel_first_advert_ms!;
      // Group the capture into bursts (frames less than 100 ms apart), then round each start to 100 ms.
      const wire: [number, number][] = [];
      for (const t of times) {
        const last = wire[wire.length - 1];
        if (last && t - last[0] < 100) last[1]++;
        else wire.push([t, 1]);
      }
      const first = wire[0]![0];
      const rounded = wire.map(([t, n]) => [Math.round((t - first) / 100) * 100, n] as [number, number]);
      const { clock, announcer, s } = schedule({});
      s.start();
      clock.advance(30_000);
      assert.deepEqual(bursts(announcer.sent), rounded, v.name);
    }
  });

  test('several VIPs are interleaved within a burst, as keepalived does', () => {
    const { clock, announcer, s } = schedule({ repeat: 3, delay: 0 }, ['198.51.100.100', '198.51.100.101']);
    s.start();
    clock.advance(10_000);
    assert.deepEqual(
      announcer.sent.map((x) => x.vip.split('.')[3]),
      ['100', '101', '100', '101', '100', '101'],
    );
  });

  test('delay 0 means no second burst', () => {
    const { clock, announcer, s } = schedule({ delay: 0 });
    s.start();
    clock.advance(60_000);
    assert.deepEqual(bursts(announcer.sent), [[0, 5]]);
  });

  test('refresh: refreshRepeat GARPs every refresh seconds until stop()', () => {
    const { clock, announcer, s } = schedule({ delay: 2, refresh: 10, refreshRepeat: 2 });
    s.start();
    clock.advance(35_000);
    assert.deepEqual(bursts(announcer.sent), [
      [0, 5],
      [2000, 5],
      [10_000, 2],
      [20_000, 2],
      [30_000, 2],
    ]);
    s.stop();
    clock.advance(60_000);
    assert.equal(announcer.sent.length, 16);
    assert.equal(clock.pending, 0);
  });

  test('stop() cancels the pending second burst', () => {
    const { clock, announcer, s } = schedule({});
    s.start();
    clock.advance(4_999);
    s.stop();
    clock.advance(10_000);
    assert.deepEqual(bursts(announcer.sent), [[0, 5]]);
    assert.equal(s.running, false);
    assert.equal(clock.pending, 0);
  });

  test('start() while running does not start a second schedule', () => {
    const { clock, announcer, s } = schedule({});
    s.start();
    clock.advance(1_000);
    s.start();
    clock.advance(20_000);
    assert.deepEqual(bursts(announcer.sent), [
      [0, 5],
      [5000, 5],
    ]);
  });

  test('lower-priority burst: lowerPrioRepeat at once, again after the delay', () => {
    const { clock, announcer, s } = schedule({ delay: 5, lowerPrioRepeat: 3 });
    s.start();
    clock.advance(10_000);
    void s.burst('lower-priority');
    clock.advance(10_000);
    assert.deepEqual(bursts(announcer.sent), [
      [0, 5],
      [5000, 5],
      [10_000, 3],
      [15_000, 3],
    ]);
  });

  test('lowerPrioRepeat 0 sends nothing; lowerPrioDelay overrides the delay', () => {
    const a = schedule({ lowerPrioRepeat: 0, delay: 0 });
    a.s.start();
    void a.s.burst('lower-priority');
    a.clock.advance(20_000);
    assert.deepEqual(bursts(a.announcer.sent), [[0, 5]]);

    const b = schedule({ lowerPrioRepeat: 2, delay: 0, lowerPrioDelay: 1 });
    b.s.start();
    b.clock.advance(3_000);
    void b.s.burst('lower-priority');
    b.clock.advance(5_000);
    assert.deepEqual(bursts(b.announcer.sent), [
      [0, 5],
      [3000, 2],
      [4000, 2],
    ]);
  });

  test('refresh reason uses refreshRepeat; bursts after stop() send nothing', async () => {
    const { clock, announcer, s } = schedule({ delay: 0, refreshRepeat: 1 });
    s.start();
    clock.advance(1_000);
    await s.burst('refresh');
    assert.deepEqual(bursts(announcer.sent), [
      [0, 5],
      [1000, 1],
    ]);
    s.stop();
    await s.burst('lower-priority');
    await s.burst('refresh');
    assert.equal(announcer.sent.length, 6);
  });

  test('a failing sender is reported through onError, never thrown', async () => {
    const clock = new FakeClock();
    const announcer = recorder(clock, new Error('cannot send: Operation not permitted'));
    const errors: string[] = [];
    const s = new GarpSchedule({
      announcer,
      ifname: 'eth0',
      mac: '02:00:c6:33:64:01',
      vips: ['198.51.100.100'],
      settings: { ...KEEPALIVED_GARP_DEFAULTS, delay: 0 },
      timers: clock,
      onError: (e, reason) => errors.push(`${reason}: ${e.message}`),
    });
    s.start();
    await s.burst('reacquire');
    assert.deepEqual(errors, ['start: cannot send: Operation not permitted', 'reacquire: cannot send: Operation not permitted']);
  });
});

// ── arping fallback, with a fake spawner ──

/** Resolves after `n` turns of the event loop. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((res) => setImmediate(res));
}

interface FakeRun {
  argv: readonly string[];
  /** Event-loop turn (counted by a setImmediate ticker) in which the process was started. */
  turn: number;
  signal: AbortSignal | undefined;
  finish(r?: Partial<ExecResult>): void;
}

/**
 * A stand-in for execFile: records each "process", counts how many are alive at once; `auto` finishes
 * each one on the next turn. `spawnCostMs` busy-waits like a real synchronous spawn (~1.6 ms).
 */
function fakeSpawner(opts: { auto?: boolean; spawnCostMs?: number } = {}) {
  const runs: FakeRun[] = [];
  const state = { live: 0, maxLive: 0, turn: 0, ticking: true };
  const tick = () => {
    state.turn++;
    if (state.ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const exec = (argv: readonly string[], o: ExecOptions): Promise<ExecResult> => {
    const until = performance.now() + (opts.spawnCostMs ?? 0);
    while (performance.now() < until); // the synchronous part of spawn()
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        state.live--;
        fn();
      };
      state.live++;
      state.maxLive = Math.max(state.maxLive, state.live);
      const run: FakeRun = {
        argv,
        turn: state.turn,
        signal: o.signal,
        finish: (r = {}) => settle(() => resolve({ code: 0, signal: null, stdout: '', stderr: '', ...r })),
      };
      o.signal?.addEventListener('abort', () => settle(() => reject(new ExecError('arping: aborted', null))), { once: true });
      runs.push(run);
      if (opts.auto) setImmediate(() => run.finish());
    });
  };
  return { exec, runs, state, stop: () => (state.ticking = false) };
}

/** Waits (in event-loop turns, bounded) until `cond` holds. */
async function until(cond: () => boolean, maxTurns = 2_000): Promise<void> {
  for (let i = 0; i < maxTurns && !cond(); i++) await turns(1);
  assert.ok(cond(), 'condition not reached');
}

const VIPS4 = ['198.51.100.100', '198.51.100.101', '198.51.100.102', '198.51.100.103'];

function arpingSchedule(announcer: LinkAnnouncer, settings: Partial<GarpSettings>, onError?: (e: Error) => void) {
  return new GarpSchedule({
    announcer,
    ifname: 'eth0',
    mac: '02:00:c6:33:64:01',
    vips: VIPS4,
    settings: { ...KEEPALIVED_GARP_DEFAULTS, delay: 0, ...settings },
    timers: new FakeClock(),
    ...(onError ? { onError } : {}),
  });
}

describe('arping fallback', () => {
  test('a burst starts no process in the caller\'s turn, then one per event-loop turn, in burst order', async () => {
    const fake = fakeSpawner({ auto: true });
    const s = arpingSchedule(new ArpingAnnouncer({ exec: fake.exec, maxConcurrent: 100 }), { repeat: 5 });
    try {
      s.start(); // 4 VIPs × 5 = 20 frames
      assert.equal(fake.runs.length, 0, 'no arping spawned synchronously inside start()');
      await until(() => fake.runs.length === 20);
      const startTurns = fake.runs.map((r) => r.turn);
      assert.ok(startTurns.every((t, i) => i === 0 || t > startTurns[i - 1]!), `spawn turns ${startTurns.join(',')}: two spawns shared a turn`);
      assert.deepEqual(fake.runs.map((r) => r.argv.at(-1)), Array.from({ length: 5 }, () => VIPS4).flat(), 'interleaved VIP1, VIP2, … as keepalived');
      assert.deepEqual(fake.runs[0]!.argv, ['arping', '-U', '-c', '1', '-I', 'eth0', '198.51.100.100']);
    } finally {
      s.stop();
      fake.stop();
    }
  });

  test('100 sends from 25 callers: nothing spawns in the callers\' turn, then one spawn per event-loop turn', async () => {
    // One synchronous spawn per turn is what keeps the loop free (bench/timing.ts measures the longest
    // block with a 2 ms spawn cost); here only the order is asserted.
    const fake = fakeSpawner({ auto: true });
    const announcer = new ArpingAnnouncer({ exec: fake.exec });
    try {
      const sends = Array.from({ length: 25 }, (_, i) => announcer.sendGarp('eth0', '02:00:c6:33:64:01', `198.51.100.${100 + i}`, 4));
      assert.equal(fake.runs.length, 0, 'no arping spawned synchronously inside sendGarp()');
      await Promise.all(sends);
      assert.equal(fake.runs.length, 100);
      const startTurns = fake.runs.map((r) => r.turn);
      assert.ok(startTurns.every((t, i) => i === 0 || t > startTurns[i - 1]!), `spawn turns ${startTurns.join(',')}: two spawns shared a turn`);
      assert.ok(fake.state.maxLive <= ARPING_MAX_CONCURRENT, `${fake.state.maxLive} arping processes at once`);
    } finally {
      fake.stop();
    }
  });

  test(`at most ${ARPING_MAX_CONCURRENT} arping processes at once; the rest wait their turn`, async () => {
    assert.equal(ARPING_MAX_CONCURRENT, 8);
    const fake = fakeSpawner();
    const announcer = new ArpingAnnouncer({ exec: fake.exec });
    try {
      let done = false;
      const sent = announcer.sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 20).then(() => (done = true));
      await turns(50);
      assert.equal(fake.runs.length, 8, 'only 8 started while none has finished');
      assert.equal(fake.state.live, 8);
      fake.runs[0]!.finish();
      fake.runs[1]!.finish();
      await until(() => fake.runs.length === 10);
      await turns(20);
      assert.equal(fake.runs.length, 10, 'one more per finished process, no more');
      for (let i = 0; i < 20; i++) {
        await until(() => fake.runs.length > i);
        fake.runs[i]!.finish();
      }
      await sent;
      assert.ok(done);
      assert.equal(fake.runs.length, 20);
      assert.equal(fake.state.maxLive, 8);
    } finally {
      fake.stop();
    }
  });

  test('stop() drops the frames still queued and kills the running ones: nothing is announced after a release', async () => {
    const fake = fakeSpawner();
    const announcer = new ArpingAnnouncer({ exec: fake.exec });
    const errors: Error[] = [];
    const s = arpingSchedule(announcer, { repeat: 5 }, (e) => errors.push(e));
    try {
      s.start();
      const burst = s.burst('reacquire'); // 40 frames queued in all
      await until(() => fake.runs.length === 8);
      s.stop();
      await burst; // resolves: the cancelled frames are not failures
      await turns(50);
      assert.equal(fake.runs.length, 8, 'no arping started after stop()');
      assert.ok(fake.runs.every((r) => r.signal?.aborted), 'the running ones were killed');
      assert.equal(fake.state.live, 0);
      assert.deepEqual(errors, []);

      s.start(); // the same sender works for the next takeover
      await until(() => fake.runs.length === 16);
      fake.runs.slice(8).forEach((r) => r.finish());
    } finally {
      s.stop();
      fake.stop();
    }
  });

  test('close() drops everything queued; the sender stays usable', async () => {
    const fake = fakeSpawner();
    const announcer = new ArpingAnnouncer({ exec: fake.exec, maxConcurrent: 2 });
    try {
      const first = announcer.sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 10);
      await until(() => fake.runs.length === 2);
      announcer.close();
      await first; // resolves quietly
      await turns(20);
      assert.equal(fake.runs.length, 2);
      const again = announcer.sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 1);
      await until(() => fake.runs.length === 3);
      fake.runs[2]!.finish();
      await again;
    } finally {
      fake.stop();
    }
  });

  test('failures keep their messages and fixes; a spawner that throws does not stall the queue', async () => {
    const fail = (result: Partial<ExecResult> | Error | 'throw') => (): Promise<ExecResult> => {
      if (result === 'throw') throw new Error('spawn EAGAIN');
      if (result instanceof Error) return Promise.reject(result);
      return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '', ...result });
    };
    const send = (exec: () => Promise<ExecResult>) => new ArpingAnnouncer({ exec }).sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 1);

    await assert.rejects(send(fail({ code: 2, stderr: 'arping: socket: Operation not permitted\n' })), (e: unknown) => {
      assert.ok(e instanceof NetError);
      assert.equal(e.detail, 'arping -U for 198.51.100.100 on eth0 exited 2: arping: socket: Operation not permitted');
      assert.equal(e.fix, 'run as root or grant CAP_NET_RAW');
      return true;
    });
    await assert.rejects(send(fail(new ExecError('arping: not found (is it installed and on PATH?)', null))), /arping is not installed — fix: apt-get install iputils-arping/);
    await assert.rejects(send(fail('throw')), /cannot send gratuitous ARP for 198\.51\.100\.100 on eth0: spawn EAGAIN/);

    let n = 0;
    const flaky = new ArpingAnnouncer({ exec: () => (++n === 1 ? fail('throw')() : fail({})()) , maxConcurrent: 1 });
    await assert.rejects(flaky.sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 1));
    await flaky.sendGarp('eth0', '02:00:c6:33:64:01', '198.51.100.100', 1);
    assert.equal(n, 2);
  });
});

// ── helpers ──

describe('net helpers', () => {
  test('parseCidr: default prefix /32 (IPv4) and /128 (IPv6); rejects junk', () => {
    assert.deepEqual(parseCidr('198.51.100.100'), { address: '198.51.100.100', prefixLen: 32, family: 4, cidr: '198.51.100.100/32' });
    assert.equal(parseCidr('198.51.100.100/24').cidr, '198.51.100.100/24');
    assert.equal(parseCidr('2001:DB8::64').cidr, '2001:db8::64/128');
    assert.equal(parseCidr('2001:db8:0:0::0:64/64').cidr, '2001:db8::64/64');
    for (const bad of ['198.51.100.300', '198.51.100.1/33', '198.51.100.1/', '198.51.100.1/24/1', 'eth0', '', '198.51.100.1/2x', '2001:db8::1::2', '2001:db8::1/129'])
      assert.throws(() => parseCidr(bad), RangeError, bad);
  });

  test('parseIpAddrJson and primaryIPv4 (a /32 VIP is not the primary address)', () => {
    const link = parseIpAddrJson({
      ifindex: 3,
      ifname: 'eth0',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      address: '02:00:C6:33:64:01',
      addr_info: [
        { family: 'inet', local: '198.51.100.101', prefixlen: 32 },
        { family: 'inet', local: '198.51.100.1', prefixlen: 24 },
        { family: 'inet', local: '198.51.100.100', prefixlen: 24, secondary: true },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
      ],
    });
    assert.equal(link.up, true);
    assert.equal(link.mac, '02:00:c6:33:64:01');
    assert.equal(link.addresses.length, 4);
    assert.deepEqual(link.addresses[2], { address: '198.51.100.100', prefixLen: 24, secondary: true, family: 4 });
    assert.equal(primaryIPv4(link), '198.51.100.101');
    assert.equal(primaryIPv4(link, ['198.51.100.101/32', '198.51.100.100/24']), '198.51.100.1');
    assert.equal(parseIpAddrJson({ ifindex: 4, ifname: 'eth1', flags: ['NO-CARRIER', 'UP'] }).up, false);
  });

  test('missingCapabilities reads CAP_NET_ADMIN (bit 12) and CAP_NET_RAW (bit 13) from CapEff', () => {
    assert.deepEqual(missingCapabilities('Name:\tnode\nCapEff:\t000001ffffffffff\n'), []);
    assert.deepEqual(missingCapabilities('CapEff:\t0000000000000000\n'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    assert.deepEqual(missingCapabilities('CapEff:\t0000000000002000\n'), ['CAP_NET_ADMIN']);
    assert.deepEqual(missingCapabilities('CapEff:\t0000000000001000\n'), ['CAP_NET_RAW']);
    assert.equal(missingCapabilities('Name:\tnode\n'), null);
  });
});

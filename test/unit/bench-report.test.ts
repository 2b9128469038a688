// The pure parts of `npm run bench` (bench/stats.ts, report.ts, charts.ts) and the agent's benchmark
// load hook (src/bench-hog.ts): percentiles and interval summaries on known data, the markdown tables
// and the README section from a fixed set of results, chart specs from those results rendered to real
// PNG bytes. Nothing here measures or times anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { histogram, intervals, intervalSummary, quantile, stats } from '../../bench/stats.js';
import { costTable, failoverTable, jitterTable, cloudTable, mdTable, renderReport, updateReadme, README_END, README_START, scenarioOfKey, type BenchResults, type Part } from '../../bench/report.js';

function dataOf<T>(p: Part<T> | undefined): T {
  if (!p?.ok) throw new Error('fixture part missing');
  return p.data;
}
import { chartSpecs, renderPng } from '../../bench/charts.js';
import { startBenchHog } from '../../src/bench-hog.js';
import type { FailoverSample } from '../../bench/failover.js';
import type { RunResult } from '../../bench/cost.js';

const sample = (takeoverMs: number, clientMs: number | null): FailoverSample => ({ takeoverMs, byeMs: null, advertMs: takeoverMs - 50, garpMs: takeoverMs - 49, clientMs, exitMs: null });

function costRun(scenario: string, impl: 'ours' | 'keepalived', cpu: number, rssMb: number): RunResult {
  return {
    scenario, impl, cpuMaster: cpu, cpuBackup: cpu / 2, cpuMasterRoot: cpu, cpuBackupRoot: cpu / 2, measuredS: 5, rssMasterKb: rssMb * 1024, rssBackupKb: rssMb * 1024,
    rssPids: 1, movesDuringWindow: 0, faults: 0, unsettled: [], electionS: 1, loadavg: '1 1 1', garpLagMs: null, garpMissing: 0,
  };
}

function fixture(): BenchResults {
  const hist = histogram([9.9, 10, 10.1, 10.2, 12.5], 0.25, 25);
  return {
    date: '2026-12-02',
    startedAt: '2026-12-02T22:00:00.000Z',
    finishedAt: '2026-12-02T22:10:00.000Z',
    quick: true,
    host: { cpus: 2, loadavgStart: '1.00 1.00 1.00', loadavgEnd: '2.00 2.00 2.00', node: 'v20.0.0', kernel: '6.1.0', keepalived: '2.2.7' },
    failover: {
      ok: true,
      seconds: 60,
      data: {
        runs: 3,
        pingIntervalS: 0.01,
        results: (['ours', 'keepalived'] as const).map((impl) => ({
          mode: 'v3 0.1 s', version: 3 as const, advertInterval: 0.1, kind: 'kill -9' as const, cast: 'multicast' as const, impl, boundMs: 360.9375,
          samples: impl === 'ours' ? [sample(362, 330), sample(364, 340), sample(370, null)] : [sample(366, 300), sample(362, 310)],
          errors: [],
        })),
      },
    },
    cost: { ok: true, seconds: 30, data: { options: { settleS: 2, measureS: 5, scenarios: ['1@0.1', '16@1'] }, results: [costRun('1@0.1', 'ours', 0.5, 40), costRun('1@0.1', 'keepalived', 0.25, 10), costRun('16@1', 'ours', 1, 50), costRun('16@1', 'keepalived', 1, 12)] } },
    jitter: {
      ok: true,
      seconds: 20,
      data: {
        intervalMs: 10, targetP99Ms: 2, windowS: 5,
        results: [
          { condition: 'idle', impl: 'ours', summary: intervalSummary([10, 10.5, 9.5, 11], 10), adverts: 5, expected: 500, histogram: hist },
          { condition: 'idle', impl: 'keepalived', summary: intervalSummary([10, 14, 10], 10), adverts: 4, expected: 500, histogram: hist },
        ],
      },
    },
    cloudAws: { ok: true, seconds: 40, data: { runs: 1, steadyS: 30, remapDelayMs: 1000, samples: { ours: [{ toWireMs: 60, toRequestMs: 70, effectiveMs: 4400, calls: 1 }], keepalived: [{ toWireMs: 1200, toRequestMs: 1210, effectiveMs: 5600, calls: 1 }] }, steadyPerHour: { master: 120, backup: 0 } } },
    cloudAlibaba: { ok: false, seconds: 31, error: 'alibaba exited 1: the HaVip never named ha1' },
  };
}

describe('bench stats', () => {
  it('quantile is the nearest rank; stats carries p95', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 10);
    assert.equal(quantile(xs, 0.95), 19);
    assert.equal(quantile(xs, 1), 20);
    assert.equal(quantile([7], 0.99), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.deepEqual(stats([3, null, 1, 2]), { median: 2, min: 1, max: 3, p95: 3, n: 3 });
    assert.equal(stats([null]), null);
  });

  it('intervals, their summary and histogram', () => {
    assert.deepEqual(intervals([100, 110, 121, 130]), [10, 11, 9]);
    const s = intervalSummary([10, 11, 9, 14], 10)!;
    assert.deepEqual({ n: s.n, p50: s.p50, max: s.max, jitterMax: s.jitterMax }, { n: 4, p50: 10, max: 14, jitterMax: 4 });
    assert.equal(intervalSummary([], 10), null);
    const h = histogram([0.1, 0.3, 0.3, 99], 0.25, 1);
    assert.deepEqual(h, [{ from: 0, count: 1 }, { from: 0.25, count: 2 }, { from: 0.5, count: 0 }, { from: 0.75, count: 1 }]);
  });
});

describe('bench report', () => {
  it('renders a markdown table with escaped cells', () => {
    assert.equal(mdTable(['a', 'b'], [['1', 'x|y']]), '| a | b |\n| --- | --- |\n| 1 | x\\|y |');
  });

  it('failover table: median / p95 per implementation, the bound, the client ratio', () => {
    const t = failoverTable(dataOf(fixture().failover));
    const row = t.split('\n')[2]!;
    assert.match(row, /^\| v3 0\.1 s \| kill -9 \| multicast \| 361 \| 364 \/ 370 \| 364 \/ 366 \|/);
    // client reply: ours median of 330, 340 = 335; keepalived of 300, 310 = 305; ratio 1.10.
    assert.match(row, /\| 335 \/ 340 \| 305 \/ 310 \| 1\.10× \| 3 \/ 2 \|$/);
  });

  it('cost, jitter and cloud tables', () => {
    const r = fixture();
    const cost = costTable(dataOf(r.cost));
    assert.match(cost, /\| 1 \| 0\.1 s \| 0\.50 % \/ 0\.25 % \| 0\.25 % \/ 0\.13 % \| 2\.00× \| 40\.0 \/ 40\.0 \| 10\.0 \/ 10\.0 \| 4\.00× \|/);
    assert.match(cost, /\| 16 \| 1 s \|/);
    assert.deepEqual(scenarioOfKey('n200'), { count: 200, interval: 1 });
    assert.deepEqual(scenarioOfKey('64@0.1'), { count: 64, interval: 0.1 });
    const jitter = jitterTable(dataOf(r.jitter));
    assert.match(jitter, /\| idle \| 10\.00 \/ 11\.00 \/ 11\.00 \| 10\.00 \/ 14\.00 \/ 14\.00 \| 1\.00 \| 4\.00 \| ✓ \| 5 \/ 4 of 500 \|/);
    // With keepalived at vrrp_rt_priority 1 as well (results from before it have two series only).
    const withRt = dataOf(r.jitter);
    withRt.results.push({ condition: 'idle', impl: 'keepalived-rt', summary: intervalSummary([10, 12, 10], 10), adverts: 3, expected: 500, histogram: [] });
    const rt = jitterTable(withRt);
    assert.match(rt, /\| load in our process \| interval ms ours p50 \/ p99 \/ max \| ka p50 \/ p99 \/ max \| ka rt p50 \/ p99 \/ max \| jitter p99 ours \| jitter p99 ka \| jitter p99 ka rt \|/);
    assert.match(rt, /\| idle \| 10\.00 \/ 11\.00 \/ 11\.00 \| 10\.00 \/ 14\.00 \/ 14\.00 \| 10\.00 \/ 12\.00 \/ 12\.00 \| 1\.00 \| 4\.00 \| 2\.00 \| ✓ \| 5 \/ 4 \/ 3 of 500 \|/);
    const cloud = cloudTable(dataOf(r.cloudAws), null);
    assert.match(cloud, /transition → first EC2 request on the wire, ms \| 60\.0 \| 1200\.0 \| 0\.05× \|/);
    assert.match(cloud, /steady EC2 calls per hour \(master \/ backup\) \| 120 \/ 0 \|/);
  });

  it('the report names a failed part and links every chart; the README section is replaced, not duplicated', () => {
    const r = fixture();
    const rep = renderReport(r);
    assert.match(rep, /^# Benchmarks 2026-12-02 \(quick run\)/);
    assert.match(rep, /Alibaba \(bench:alibaba\): failed — alibaba exited 1: the HaVip never named ha1/);
    for (const f of ['failover.png', 'cost-cpu.png', 'jitter.png']) assert.ok(rep.includes(`(./${f})`), f);
    const once = updateReadme('# x\n\nintro\n', r, 'bench/results/2026-12-02-quick');
    assert.match(once, /## Benchmarks\n\n<!-- bench:start/);
    assert.ok(once.includes('](bench/results/2026-12-02-quick/failover.png)'));
    assert.ok(once.includes('Latest: **2026-12-02** (quick run'));
    const twice = updateReadme(once.replace('intro', 'intro changed'), { ...r, date: '2026-12-03' }, 'bench/results/2026-12-03');
    assert.equal(twice.split(README_START).length, 2);
    assert.equal(twice.split(README_END).length, 2);
    assert.ok(twice.includes('intro changed') && twice.includes('Latest: **2026-12-03**') && !twice.includes('2026-12-02-quick'));
  });
});

describe('bench charts', () => {
  it('builds the three specs from the results and renders each to PNG bytes', async () => {
    const specs = chartSpecs(fixture());
    assert.deepEqual(Object.keys(specs).sort(), ['cost-cpu.png', 'failover.png', 'jitter.png']);
    const failover = specs['failover.png'] as { data: { values: { impl: string; ms: number }[] } };
    // 3 + 2 takeovers and 2 + 2 client replies (one ours run had none).
    assert.equal(failover.data.values.length, 9);
    for (const [name, spec] of Object.entries(specs)) {
      const png = await renderPng(spec);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], name);
      assert.ok(png.length > 2000, `${name}: ${png.length} bytes`);
    }
  });

  it('leaves out the charts of parts that failed', () => {
    const r = fixture();
    r.cost = { ok: false, error: 'x', seconds: 1 };
    delete r.jitter;
    assert.deepEqual(Object.keys(chartSpecs(r)), ['failover.png']);
  });
});

describe('bench hog (HA_AGENT_BENCH_HOG)', () => {
  /** A clock that records the intervals asked for and never runs them. */
  function fakeClock() {
    const live = new Set<object>();
    const periods: number[] = [];
    const clock = {
      setInterval: ((_fn: () => void, ms: number) => {
        const t = { ms, unref: () => t };
        periods.push(ms);
        live.add(t);
        return t;
      }) as unknown as typeof setInterval,
      clearInterval: ((t: object) => live.delete(t)) as unknown as typeof clearInterval,
    };
    return { clock, live, periods };
  }

  /** A fake process for the stall handler: handlers by signal, and the stalls it asked for. */
  function fakeSignals() {
    const handlers = new Map<string, Set<() => void>>();
    const stalls: number[] = [];
    const target = {
      on: (sig: string, fn: () => void) => handlers.set(sig, (handlers.get(sig) ?? new Set()).add(fn)),
      off: (sig: string, fn: () => void) => handlers.get(sig)?.delete(fn),
    };
    const fire = (sig: string) => [...(handlers.get(sig) ?? [])].forEach((fn) => fn());
    const count = () => [...handlers.values()].reduce((n, s) => n + s.size, 0);
    return { target, stalls, fire, count, stall: (ms: number) => stalls.push(ms) };
  }

  it('starts nothing and installs no signal handler when unset or empty', () => {
    const f = fakeClock();
    const s = fakeSignals();
    startBenchHog(undefined, undefined, f.clock, s.target, s.stall)();
    startBenchHog(' ', undefined, f.clock, s.target, s.stall);
    startBenchHog('cpu', undefined, fakeClock().clock, s.target, s.stall);
    assert.deepEqual(f.periods, []);
    assert.equal(s.count(), 0);
    s.fire('SIGUSR2');
    assert.deepEqual(s.stalls, []);
  });

  it('stall: each SIGUSR2 stalls once for 500 ms (or stall:<ms>), no timer; stop removes the handler', () => {
    const f = fakeClock();
    const s = fakeSignals();
    const warned: unknown[] = [];
    const stop = startBenchHog('stall', { warn: ((o: unknown) => warned.push(o)) as never }, f.clock, s.target, s.stall);
    assert.deepEqual(f.periods, []);
    assert.deepEqual(s.stalls, [], 'nothing until the signal');
    s.fire('SIGUSR2');
    s.fire('SIGUSR1');
    s.fire('SIGUSR2');
    assert.deepEqual(s.stalls, [500, 500]);
    assert.equal(warned.filter((w) => (w as { ms?: number }).ms === 500).length, 2, 'each stall is logged');
    stop();
    assert.equal(s.count(), 0);
    s.fire('SIGUSR2');
    assert.deepEqual(s.stalls, [500, 500]);
    const stop2 = startBenchHog('stall:120', undefined, f.clock, s.target, s.stall);
    s.fire('SIGUSR2');
    assert.deepEqual(s.stalls, [500, 500, 120]);
    stop2();
  });

  it('starts one timer per known load, warns about unknown words, and stops them all', () => {
    const f = fakeClock();
    const warned: unknown[] = [];
    const stop = startBenchHog('cpu, gc,bogus', { warn: ((o: unknown) => warned.push(o)) as never }, f.clock);
    assert.deepEqual(f.periods, [25, 10]);
    assert.equal(f.live.size, 2);
    stop();
    assert.equal(f.live.size, 0);
    assert.ok(warned.some((w) => (w as { value?: string }).value === 'bogus'));
  });
});

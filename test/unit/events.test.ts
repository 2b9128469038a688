// The event bus, GET /events (server-sent events), `ha-agent events`, `ha-agent status --watch`, and the
// event-driven /metrics series (transitions by reason, provider calls, failover duration, event-loop
// delay), in process against a real status server on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventBus, HISTORY } from '../../src/events/bus.js';
import { SseParser, type SseMessage } from '../../src/events/sse-client.js';
import { sseStats } from '../../src/events/sse.js';
import { startStatusServer, type StatusServer } from '../../src/status/server.js';
import { AgentMetrics, reasonLabel } from '../../src/status/metrics.js';
import { eventsCommand } from '../../src/commands/events.js';
import { statusWatchCommand } from '../../src/commands/status-watch.js';
import { Telemetry } from '../../src/events/observe.js';
import { CheckScheduler } from '../../src/checks/driver.js';
import { realClock } from '../../src/provider/runner/clock.js';
import type { InstanceStatusJson, StatusJson } from '../../src/status/types.js';
import { parsePrometheusText, sampleValue } from '../support/prom-text.js';

const log = pino({ level: 'silent' });

function instance(state: InstanceStatusJson['state']): InstanceStatusJson {
  return {
    state,
    priority: 150,
    effectivePriority: 150,
    master: state === 'MASTER' ? '198.51.100.1' : '198.51.100.2',
    vips: ['198.51.100.100/24'],
    provider: {
      type: 'garp',
      ownership: state === 'MASTER' ? 'held' : 'not-held',
      vips: { '198.51.100.100/24': state === 'MASTER' ? 'held' : 'not-held' },
      lastError: null,
      lastErrorClass: null,
      fix: null,
      fault: null,
      desired: state === 'MASTER' ? 'held' : 'released',
      busy: false,
      lastChange: null,
      counters: { acquireOk: 1, acquireFail: 0, releaseOk: 0, releaseFail: 0, verifyFail: 0, drift: 0 },
    },
    interface: 'eth0',
    vrid: 51,
    version: 3,
    mode: 'multicast',
    advertIntervalCs: 100,
    masterPriority: 150,
    since: null,
    faultReason: null,
    faults: {},
    counters: { advertsSent: 1, advertSendErrors: 0, advertsReceived: 0, transitions: 1, becameMaster: 1, dropped: {} },
  };
}

function statusWith(state: InstanceStatusJson['state']): StatusJson {
  return { version: '0.1.0', pid: 1, startedAt: '2025-01-01T00:00:00.000Z', uptimeSeconds: 5, instances: { VI_1: instance(state) } };
}

function capture() {
  const o = { out: '', err: '' };
  return { o, io: { stdout: { write: (s: string) => ((o.out += s), true) }, stderr: { write: (s: string) => ((o.err += s), true) } } };
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withServer<T>(bus: EventBus, getStatus: () => StatusJson, fn: (base: string, srv: StatusServer) => Promise<T>, listen = '127.0.0.1:0'): Promise<T> {
  const srv = await startStatusServer({ listen, getStatus, log, events: bus });
  try {
    return await fn(`http://${srv.address}`, srv);
  } finally {
    await srv.close();
  }
}

test('bus: inactive (payload never built) until someone subscribes; then events in order, history for replay', () => {
  const bus = new EventBus();
  let built = 0;
  bus.publish('transition', () => (built++, { instance: 'VI_1' }));
  assert.equal(bus.active, false);
  assert.equal(built, 0, 'no payload built while nobody listens');
  const got: string[] = [];
  const off = bus.subscribe((e) => got.push(`${e.type}:${String(e.data.n)}`));
  bus.publish('transition', { n: 1 });
  bus.publish('provider', () => ({ n: 2 }));
  off();
  bus.publish('check', { n: 3 }); // kept for replay although nobody listens now
  assert.deepEqual(got, ['transition:1', 'provider:2']);
  assert.equal(bus.subscribers, 0);
  const all = bus.since('someone-else-7');
  assert.equal(all.gap, true, 'an id of another agent: everything, flagged');
  assert.deepEqual(all.events.map((e) => e.data.n), [1, 2, 3]);
  const after1 = bus.since(all.events[0]!.id);
  assert.deepEqual([after1.gap, after1.events.map((e) => e.data.n)], [false, [2, 3]]);
  // More than HISTORY events: an id older than what is kept is a gap.
  for (let i = 0; i < HISTORY + 5; i++) bus.publish('check', { n: 100 + i });
  const old = bus.since(all.events[0]!.id);
  assert.equal(old.gap, true);
  assert.equal(old.events.length, HISTORY);
  assert.deepEqual(bus.published, { transition: 1, provider: 1, check: HISTORY + 6, 'config-reload': 0 });
});

test('SSE parser: fields, comments, CRLF and CR, multi-line data, chunks split anywhere', () => {
  const text = 'retry: 1500\r\n: a comment\r\nid: a-1\r\nevent: transition\r\ndata: {"x":1}\r\n\r\nid: a-2\rdata: line1\rdata: line2\r\rdata: no-id\n\n';
  for (const split of [1, 2, 3, 7, text.length]) {
    const p = new SseParser();
    const got: SseMessage[] = [];
    for (let i = 0; i < text.length; i += split) got.push(...p.push(text.slice(i, i + split)));
    assert.deepEqual(got, [
      { event: 'transition', data: '{"x":1}', id: 'a-1' },
      { event: 'message', data: 'line1\nline2', id: 'a-2' },
      { event: 'message', data: 'no-id', id: 'a-2' },
    ], `split ${split}`);
    assert.equal(p.retryMs, 1500);
  }
});

test('GET /events: a published event arrives as an SSE message; Last-Event-ID replays what was missed', async () => {
  const bus = new EventBus();
  await withServer(bus, () => statusWith('MASTER'), async (base) => {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    await until('the subscription', () => bus.subscribers === 1);
    bus.publish('transition', { instance: 'VI_1', from: 'BACKUP', to: 'MASTER', reason: 'master-down-timer', priority: 150 });
    bus.publish('config-reload', { ok: true, added: ['VI_2'], removed: [], changed: [] });
    const parser = new SseParser();
    const got: SseMessage[] = [];
    const reader = res.body!.getReader();
    while (got.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      got.push(...parser.push(new TextDecoder().decode(value)));
    }
    ac.abort();
    assert.equal(got[0]!.event, 'transition');
    const d = JSON.parse(got[0]!.data) as Record<string, unknown>;
    assert.deepEqual({ ...d, time: typeof d.time }, { time: 'string', instance: 'VI_1', from: 'BACKUP', to: 'MASTER', reason: 'master-down-timer', priority: 150 });
    assert.equal(got[1]!.event, 'config-reload');
    await until('the unsubscribe', () => bus.subscribers === 0);

    // Missed while away: replayed after the id given, then the stream goes on.
    bus.publish('check', { check: 'web', status: 'failed' });
    const again = await fetch(`${base}/events`, { headers: { 'last-event-id': got[1]!.id } });
    const p2 = new SseParser();
    const r2 = again.body!.getReader();
    const more: SseMessage[] = [];
    while (more.length < 1) more.push(...p2.push(new TextDecoder().decode((await r2.read()).value)));
    await r2.cancel();
    assert.deepEqual([more[0]!.event, JSON.parse(more[0]!.data).check], ['check', 'web']);
  });
});

test('GET /events: a client that does not read never blocks the agent; its events are dropped, counted, and it is told', async () => {
  const bus = new EventBus();
  await withServer(bus, () => statusWith('MASTER'), async (base) => {
    const { hostname, port } = new URL(base);
    const sock = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.pause(); // never reads: the kernel buffers fill, then the server's
    await until('the subscription', () => bus.subscribers === 1);
    const droppedBefore = sseStats.dropped;
    const blob = 'x'.repeat(8 * 1024);
    let published = 0;
    // Published in timer turns, so the server's socket can fill the kernel buffers in between.
    for (let round = 0; round < 100 && sseStats.dropped === droppedBefore; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 100; i++, published++) bus.publish('provider', { instance: 'VI_1', blob });
      assert.ok(performance.now() - t0 < 2_000, 'publishing never waits for the client');
      await new Promise((r) => setTimeout(r, 20));
    }
    const dropped = sseStats.dropped - droppedBefore;
    assert.ok(dropped > 0, 'events were dropped for the slow client');
    // Once it reads again it gets what was queued, then how many it missed: nothing is lost silently.
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString('latin1')));
    sock.resume();
    await until('the dropped notice', () => /event: dropped\ndata: \{"count":\d+\}/.test(text), 20_000);
    const n = Number(/event: dropped\ndata: \{"count":(\d+)\}/.exec(text)![1]);
    assert.equal(n, dropped);
    const delivered = text.split('event: provider\n').length - 1;
    assert.equal(delivered + n, published, `${delivered} delivered + ${n} dropped`);
    assert.ok(delivered * blob.length < 64 * 1024 * 1024, 'what was queued for it stayed bounded');
    sock.destroy();
  });
});

test('ha-agent events: JSON lines, and across a lost connection it resumes with Last-Event-ID (nothing missed)', async () => {
  const bus = new EventBus();
  let listen = '127.0.0.1:0';
  const cap = capture();
  let run: Promise<number> | undefined;
  await withServer(bus, () => statusWith('MASTER'), async (base, srv) => {
    listen = srv.address;
    run = eventsCommand({ url: base, count: 3 }, cap.io);
    await until('the subscription', () => bus.subscribers === 1);
    bus.publish('transition', { instance: 'VI_1', from: 'BACKUP', to: 'MASTER', reason: 'master-down-timer', priority: 150 });
    await until('the first line', () => cap.o.out.split('\n').length > 1);
  });
  // The server is gone: the command retries; an event published meanwhile must reach it after.
  bus.publish('provider', { instance: 'VI_1', provider: 'garp', op: 'acquire', outcome: 'ok', ms: 1.5 });
  await withServer(
    bus,
    () => statusWith('MASTER'),
    async () => {
      await until('the resubscription', () => bus.subscribers === 1, 15_000);
      bus.publish('check', { check: 'web', status: 'ok', reason: 'passed', value: 0 });
      assert.equal(await run, 0);
    },
    listen,
  );
  const lines = cap.o.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((l) => l.type),
    ['transition', 'provider', 'check'],
  );
  assert.deepEqual([lines[0]!.instance, lines[0]!.to, lines[1]!.op, lines[2]!.check], ['VI_1', 'MASTER', 'acquire', 'web']);
  for (const l of lines) assert.match(String(l.id), /^[0-9a-z]+-\d+$/);
  assert.match(cap.o.err, /lost .*\/events .*reconnecting/);
  assert.match(cap.o.err, /reconnected/);
});

test('ha-agent events: no agent is one clear line and exit 1; a bad --count is 2', async () => {
  const cap = capture();
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  const port = (free.address() as AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  assert.equal(await eventsCommand({ url: `http://127.0.0.1:${port}` }, cap.io), 1);
  assert.match(cap.o.err, new RegExp(`no ha-agent answering at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
  assert.equal(await eventsCommand({ url: 'http://127.0.0.1:1', count: 0 }, capture().io), 2);
  assert.equal(await eventsCommand({ url: 'ftp://x' }, capture().io), 2);
});

test('ha-agent status --watch (not a terminal): a frame at start, a new frame per event with the LAST EVENT column', async () => {
  const bus = new EventBus();
  let current = statusWith('MASTER');
  await withServer(bus, () => current, async (base) => {
    const cap = capture();
    const ac = new AbortController();
    const run = statusWatchCommand({ url: base, tty: false }, cap.io, ac.signal);
    await until('the first frame and the subscription', () => cap.o.out.includes('--- frame 1') && bus.subscribers === 1);
    assert.match(cap.o.out, /INSTANCE\s+STATE\s+PRIO\/EFF\s+MASTER\s+VIPS\s+PROVIDER\s+LAST ERROR\s+LAST EVENT/);
    assert.match(cap.o.out, /VI_1\s+MASTER\s+150\/150\s+198\.51\.100\.1\s+198\.51\.100\.100\/24\s+garp held\s+-\s+-/);
    current = statusWith('BACKUP');
    bus.publish('transition', { instance: 'VI_1', from: 'MASTER', to: 'BACKUP', reason: 'higher-priority-advert', priority: 150 });
    await until('a frame with BACKUP', () => /VI_1\s+BACKUP\s.*garp not-held.*MASTER→BACKUP \(higher-priority-advert\)/.test(cap.o.out));
    assert.match(cap.o.out, /last event: \d\d:\d\d:\d\d MASTER→BACKUP \(higher-priority-advert\) \[VI_1\]/);
    ac.abort();
    assert.equal(await run, 0);
    const frames = cap.o.out.split(/^--- frame \d+$/m).filter((f) => f.trim());
    assert.ok(frames.length >= 2, `${frames.length} frames`);
    assert.ok(!cap.o.out.includes('\x1b['), 'no terminal escapes when not on a terminal');
  });
});

test('metrics: transitions by reason, provider calls and their latency, failover duration; forget() drops the instance', async () => {
  const scheduler = { wakeups: 10, lateTotalMs: 25, lateMaxMs: 7 };
  const metrics = new AgentMetrics({ getStatus: () => statusWith('MASTER'), scheduler, bus: new EventBus() });
  const bus = new EventBus();
  const seen: string[] = [];
  bus.subscribe((e) => seen.push(`${e.type}:${String(e.data.op ?? e.data.to)}`));
  const t = new Telemetry(metrics, bus).instance('VI_1', 'garp');
  t.transition('INIT', 'BACKUP', 'startup', 150);
  t.transition('BACKUP', 'MASTER', 'master-down-timer', 150);
  t.providerCall('acquire', 'ok', 12, undefined);
  t.providerCall('verify', 'ok', 3, undefined);
  t.providerCall('verify', 'retryable', 30, 'throttled');
  t.transition('MASTER', 'FAULT', 'fault: interface eth0 is down', 0);
  t.providerCall('release', 'ok', 4, undefined);
  assert.deepEqual(seen, ['transition:BACKUP', 'transition:MASTER', 'provider:acquire', 'provider:verify', 'transition:FAULT', 'provider:release'], 'a fine verify is no event');

  const f = parsePrometheusText(await metrics.render());
  assert.equal(sampleValue(f, 'ha_agent_transitions_total', { instance: 'VI_1', to: 'MASTER', reason: 'master-down-timer' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_transitions_total', { instance: 'VI_1', to: 'FAULT', reason: 'fault' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_provider_operations_total', { instance: 'VI_1', op: 'verify', outcome: 'retryable' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_provider_operation_duration_seconds_count', { provider: 'garp', op: 'verify', outcome: 'ok' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_provider_operation_duration_seconds_sum', { provider: 'garp', op: 'acquire', outcome: 'ok' }), 0.012);
  assert.equal(sampleValue(f, 'ha_agent_provider_operation_duration_seconds_bucket', { provider: 'garp', op: 'acquire', outcome: 'ok', le: '0.01' }), 0);
  assert.equal(sampleValue(f, 'ha_agent_provider_operation_duration_seconds_bucket', { provider: 'garp', op: 'acquire', outcome: 'ok', le: '0.025' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'held' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'released' }), 1);
  assert.equal(f.get('ha_agent_failover_duration_seconds')?.type, 'histogram');
  assert.equal(sampleValue(f, 'ha_agent_event_loop_delay_max_seconds'), 0.007);
  assert.equal(sampleValue(f, 'ha_agent_event_loop_delay_seconds_total'), 0.025);
  assert.equal(sampleValue(f, 'ha_agent_timer_wakeups_total'), 10);
  assert.equal(scheduler.lateMaxMs, 0, 'the max restarts at each scrape');

  new Telemetry(metrics, bus).instance('VI_2', 'garp').transition('INIT', 'BACKUP', 'startup', 100);
  await metrics.forget('VI_1');
  const g = parsePrometheusText(await metrics.render());
  assert.deepEqual(g.get('ha_agent_transitions_total')?.samples.map((x) => x.labels), [{ instance: 'VI_2', to: 'BACKUP', reason: 'startup' }]);
  assert.equal(g.get('ha_agent_provider_operations_total')?.samples.length, 0);
  assert.equal(sampleValue(g, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'held' }), 1, 'histograms by provider stay');
  // A transition reported late (aws: logged after the EC2 request left) counts from when it happened.
  const late = new Telemetry(metrics, bus).instance('VI_3', 'aws');
  late.transition('BACKUP', 'MASTER', 'master-down-timer', 150, 2_000);
  late.providerCall('acquire', 'ok', 5, undefined);
  const held = sampleValue(parsePrometheusText(await metrics.render()), 'ha_agent_failover_duration_seconds_sum', { provider: 'aws', goal: 'held' })!;
  assert.ok(held >= 2 && held < 3, `from the transition, 2 s before its report: ${held}`);
  assert.equal(reasonLabel('fault: x y'), 'fault');
  assert.equal(reasonLabel('  '), 'other');
});

test('ha-agent status --watch on a terminal (a pseudo-terminal through script(1)) redraws in place', async () => {
  const bus = new EventBus();
  let current = statusWith('MASTER');
  await withServer(bus, () => current, async (base) => {
    const cli = join(process.cwd(), 'dist', 'src', 'cli.js');
    const child = spawn('script', ['-qfec', `${process.execPath} ${cli} status --watch --url ${base}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    try {
      await until('the first frame and the subscription', () => out.includes('VI_1') && bus.subscribers === 1, 15_000);
      current = statusWith('BACKUP');
      bus.publish('transition', { instance: 'VI_1', from: 'MASTER', to: 'BACKUP', reason: 'higher-priority-advert', priority: 150 });
      await until('the redraw', () => /VI_1\s+BACKUP/.test(out), 10_000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
    const frames = out.split('\x1b[H\x1b[2J').filter((f) => f.trim());
    assert.ok(frames.length >= 2, `${frames.length} screens`);
    assert.match(frames[0]!, /VI_1\s+MASTER/);
    assert.match(frames.at(-1)!, /VI_1\s+BACKUP\s.*MASTER→BACKUP \(higher-priority-advert\)/);
    assert.match(frames.at(-1)!, /Ctrl-C to quit/);
    assert.ok(!out.includes('--- frame'), 'no frame separators on a terminal');
  });
});

test('check results: a status change is a `check` event; /metrics has the status and runs by result', async () => {
  let ok = true;
  const probe = { run: async () => ({ ok, detail: ok ? 'exit 0' : 'exit 1', durationMs: 2 }) };
  const checks = new CheckScheduler([{ type: 'exec', spec: { name: 'chk_web', intervalMs: 20, timeoutMs: 1000, rise: 1, fall: 1, initFail: false }, probe }], realClock, log);
  const bus = new EventBus();
  const seen: Record<string, unknown>[] = [];
  bus.subscribe((e) => e.type === 'check' && seen.push(e.data));
  const metrics = new AgentMetrics({ getStatus: () => ({ ...statusWith('MASTER'), checks: checks.status() }), bus });
  new Telemetry(metrics, bus).watchChecks(checks);
  checks.start();
  try {
    await until('ok', () => seen.some((d) => d.status === 'ok'));
    ok = false;
    await until('failed', () => seen.some((d) => d.status === 'failed'));
  } finally {
    checks.close();
  }
  assert.deepEqual(seen.slice(0, 2).map((d) => [d.check, d.status]), [['chk_web', 'ok'], ['chk_web', 'failed']]);
  assert.match(String(seen[1]!.reason), /chk_web/);
  const f = parsePrometheusText(await metrics.render());
  assert.equal(sampleValue(f, 'ha_agent_check_status', { check: 'chk_web', status: 'failed' }), 1);
  assert.equal(sampleValue(f, 'ha_agent_check_status', { check: 'chk_web', status: 'ok' }), 0);
  assert.ok((sampleValue(f, 'ha_agent_check_runs_total', { check: 'chk_web', result: 'ok' }) ?? 0) >= 1);
  assert.ok((sampleValue(f, 'ha_agent_check_runs_total', { check: 'chk_web', result: 'failed' }) ?? 0) >= 1);
  assert.equal(sampleValue(f, 'ha_agent_check_last_duration_seconds', { check: 'chk_web' }), 0.002);
});

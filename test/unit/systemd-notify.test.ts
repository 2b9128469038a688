// systemd's notify protocol (src/systemd/notify.ts, service.ts, watchdog.ts) against a real unix
// datagram socket the test listens on (test/support/notify-listener.ts, python3 with SO_PASSCRED as
// systemd has it), and electionSettled (src/status/settled.ts). No timings are asserted: the watchdog
// is checked by what it sends and by the order of its log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { NotifySocket, parseWatchdog } from '../../src/systemd/notify.js';
import { SystemdService, aroundReload, type NotifySource } from '../../src/systemd/service.js';
import { electionSettled, SUMMARY_LIST_MAX } from '../../src/status/settled.js';
import type { InstanceStatusJson, StatusJson } from '../../src/status/types.js';
import { NotifyListener } from '../support/notify-listener.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'watchdog-child.js');

function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

function tmpSocketPath(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-sdnotify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'notify.sock');
}

function inst(state: InstanceStatusJson['state'], extra: Partial<InstanceStatusJson> = {}): InstanceStatusJson {
  return {
    state,
    priority: 100,
    effectivePriority: 100,
    master: state === 'MASTER' ? '198.51.100.1' : null,
    vips: ['198.51.100.100/24'],
    provider: {} as InstanceStatusJson['provider'],
    interface: 'eth0',
    vrid: 51,
    version: 3,
    mode: 'multicast',
    advertIntervalCs: 100,
    masterPriority: null,
    since: '2026-01-01T00:00:00.000Z',
    faultReason: state === 'FAULT' ? 'interface eth0 is down' : null,
    faults: {},
    counters: { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, transitions: 0, becameMaster: 0, dropped: {} },
    ...extra,
  };
}

function statusOf(instances: Record<string, InstanceStatusJson>): StatusJson {
  return { version: 'test', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 0, instances };
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

test('electionSettled: MASTER, BACKUP that knows its master, FAULT with a reason are settled; INIT and a listening BACKUP are not', () => {
  assert.deepEqual(electionSettled(statusOf({ VI_1: inst('MASTER'), VI_2: inst('BACKUP', { master: '198.51.100.2' }) }), T0), { settled: true, summary: 'VI_1 MASTER, VI_2 BACKUP' });
  assert.deepEqual(electionSettled(statusOf({ VI_1: inst('INIT') }), T0), { settled: false, summary: 'VI_1 INIT' });
  assert.deepEqual(electionSettled(statusOf({ VI_1: inst('MASTER'), VI_2: inst('BACKUP') }), T0 + 1000), { settled: false, summary: 'VI_1 MASTER, VI_2 BACKUP (listening for a master)' });
  // 4 advert intervals (1 s each) without a master: it would have taken over unless held; settled.
  assert.deepEqual(electionSettled(statusOf({ VI_2: inst('BACKUP') }), T0 + 4000), { settled: true, summary: 'VI_2 BACKUP (no master heard)' });
  assert.deepEqual(electionSettled(statusOf({ VI_3: inst('FAULT') }), T0), { settled: true, summary: 'VI_3 FAULT (interface eth0 is down)' });
  assert.equal(electionSettled(statusOf({ VI_3: inst('FAULT', { faultReason: null }) }), T0).settled, false);
  assert.deepEqual(electionSettled(statusOf({}), T0), { settled: true, summary: 'no instances' });
});

test('electionSettled: many instances are counted, faulted ones named', () => {
  const many: Record<string, InstanceStatusJson> = {};
  for (let i = 0; i < SUMMARY_LIST_MAX + 4; i++) many[`VI_${i}`] = i < 2 ? inst('FAULT') : inst(i % 2 ? 'MASTER' : 'BACKUP', { master: '198.51.100.9' });
  const r = electionSettled(statusOf(many), T0);
  assert.equal(r.settled, true);
  assert.equal(r.summary, `${SUMMARY_LIST_MAX + 4} instances: 2 FAULT, 5 BACKUP, 5 MASTER; FAULT: VI_0 (interface eth0 is down), VI_1 (interface eth0 is down)`);
});

test('NotifySocket: unset NOTIFY_SOCKET is null and silent; an unusable one is said once; the variables are removed', () => {
  const { log, lines } = capture();
  const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '1000000' };
  assert.equal(NotifySocket.open(env, log), null);
  assert.deepEqual(lines, []);
  assert.deepEqual(env, {}, 'WATCHDOG_USEC is not passed on to hooks');
  const vsock: NodeJS.ProcessEnv = { NOTIFY_SOCKET: 'vsock:2:1234', WATCHDOG_USEC: '1', WATCHDOG_PID: '1', KEEP: 'x' };
  assert.equal(NotifySocket.open(vsock, log), null);
  assert.deepEqual(vsock, { KEEP: 'x' });
  const said = lines as Record<string, unknown>[];
  assert.equal(said.length, 1);
  assert.equal(said[0]!.evt, 'sd-notify-off');
  assert.match(String(said[0]!.msg), /NOTIFY_SOCKET=vsock:2:1234 cannot be used .*running on without systemd notifications/);
});

test('parseWatchdog: WATCHDOG_PID of another process means no watchdog; bad values are said', () => {
  const { log, lines } = capture();
  assert.equal(parseWatchdog('2000000', undefined, 42, log), 2_000_000);
  assert.equal(parseWatchdog('2000000', '42', 42, log), 2_000_000);
  assert.equal(parseWatchdog('2000000', '43', 42, log), null);
  assert.equal(parseWatchdog(undefined, undefined, 42, log), null);
  assert.equal(lines.length, 0);
  assert.equal(parseWatchdog('soon', undefined, 42, log), null);
  assert.match(String(lines[0]!.msg), /WATCHDOG_USEC=soon is not a positive number/);
});

for (const kind of ['path', 'abstract'] as const) {
  test(`NotifySocket sends KEY=value datagrams to a ${kind} NOTIFY_SOCKET, with our pid as the sender`, async (t) => {
    const address = kind === 'path' ? tmpSocketPath(t) : `@ha-agent-test-${process.pid}-${Date.now()}`;
    const listener = await NotifyListener.start(address);
    t.after(() => listener.stop());
    const { log, lines } = capture();
    const sock = NotifySocket.open({ NOTIFY_SOCKET: address }, log);
    assert.ok(sock);
    t.after(() => sock.close());
    assert.equal(sock.send({ READY: 1, STATUS: 'VI_1 MASTER,\nVI_2 BACKUP' }), true);
    const m = await listener.waitFor((x) => 'READY' in x.fields, 'READY');
    assert.deepEqual(m.fields, { READY: '1', STATUS: 'VI_1 MASTER, VI_2 BACKUP' });
    assert.equal(m.pid, process.pid);
    assert.deepEqual(lines, []);
  });
}

test('NotifySocket: a socket nobody listens on is said once, counted, and never throws', (t) => {
  const { log, lines } = capture();
  const sock = NotifySocket.open({ NOTIFY_SOCKET: tmpSocketPath(t) }, log);
  assert.ok(sock);
  assert.equal(sock.send({ STATUS: 'one' }), false);
  assert.equal(sock.send({ STATUS: 'two' }), false);
  assert.equal(sock.failed, 2);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.evt, 'sd-notify-failed');
  assert.match(String(lines[0]!.msg), /cannot notify systemd at NOTIFY_SOCKET=.*No such file or directory/);
  sock.close();
});

test('SystemdService: READY=1 only once settled, STATUS= on transitions, RELOADING=1/READY=1 around a reload, STOPPING=1', async (t) => {
  const address = tmpSocketPath(t);
  const listener = await NotifyListener.start(address);
  t.after(() => listener.stop());
  const { log } = capture();
  const svc = SystemdService.open({ NOTIFY_SOCKET: address }, log);
  assert.ok(svc);
  t.after(() => svc.close());
  await listener.waitFor((m) => m.fields.STATUS?.startsWith('starting') === true, 'STATUS=starting');

  // A fake agent: its status is what the test says; transitions are announced by the test.
  let instances: Record<string, InstanceStatusJson> = { VI_1: inst('INIT'), VI_2: inst('INIT') };
  const now = () => new Date().toISOString();
  let transition = () => {};
  const source: NotifySource = { status: () => statusOf(instances), onTransition: (fn) => void (transition = fn) };
  svc.attach(source);
  instances = { VI_1: inst('BACKUP', { since: now() }), VI_2: inst('BACKUP', { since: now() }) };
  transition();
  await listener.waitFor((m) => m.fields.STATUS === 'starting: VI_1 BACKUP (listening for a master), VI_2 BACKUP (listening for a master)', 'STATUS while listening');
  // VI_2 hears its master (no transition: the poll sees it); VI_1 becomes MASTER (a transition).
  instances = { ...instances, VI_2: inst('BACKUP', { master: '198.51.100.2', since: now() }) };
  await listener.waitFor((m) => m.fields.STATUS === 'starting: VI_1 BACKUP (listening for a master), VI_2 BACKUP', 'STATUS after VI_2 heard its master');
  assert.equal(listener.messages.filter((m) => 'READY' in m.fields).length, 0, 'no READY=1 before every instance settled');
  instances = { ...instances, VI_1: inst('MASTER', { since: now() }) };
  transition();
  const ready = await listener.waitFor((m) => m.fields.READY === '1', 'READY=1');
  assert.equal(ready.fields.STATUS, 'VI_1 MASTER, VI_2 BACKUP');

  instances = { ...instances, VI_1: inst('FAULT', { since: now() }) };
  transition();
  transition(); // a burst: one STATUS
  await listener.waitFor((m) => m.fields.STATUS === 'VI_1 FAULT (interface eth0 is down), VI_2 BACKUP', 'STATUS after a transition');

  const n = listener.messages.length;
  await aroundReload(svc, async () => {
    instances = { ...instances, VI_1: inst('BACKUP', { master: '198.51.100.2', since: now() }) };
  });
  const reloading = await listener.waitFor((m) => m.fields.RELOADING === '1', 'RELOADING=1', 15_000, n);
  assert.match(reloading.fields.MONOTONIC_USEC ?? '', /^\d+$/);
  const again = await listener.waitFor((m) => m.fields.READY === '1', 'READY=1 after the reload', 15_000, n);
  assert.ok(again.seq > reloading.seq);
  assert.equal(again.fields.STATUS, 'VI_1 BACKUP, VI_2 BACKUP');

  svc.stopping();
  const stopping = await listener.waitFor((m) => m.fields.STOPPING === '1', 'STOPPING=1');
  assert.match(stopping.fields.STATUS ?? '', /^stopping/);
  transition();
  await new Promise((r) => setImmediate(r));
  assert.equal(listener.messages.at(-1)?.fields.STOPPING, '1', 'nothing after STOPPING=1');
});

/** Runs the watchdog fixture with a notify listener; returns its stdout JSON lines in order. */
async function runWatchdogChild(t: { after: (fn: () => void) => void }, mode: string, env: Record<string, string>, until: (l: NotifyListener, out: Record<string, unknown>[]) => Promise<void>): Promise<{ out: Record<string, unknown>[]; listener: NotifyListener; pid: number }> {
  const address = tmpSocketPath(t);
  const listener = await NotifyListener.start(address);
  t.after(() => listener.stop());
  const proc = spawn(process.execPath, [child, mode], { env: { PATH: process.env.PATH, NOTIFY_SOCKET: address, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => proc.kill('SIGKILL'));
  const out: Record<string, unknown>[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => out.push(JSON.parse(l) as Record<string, unknown>));
  await until(listener, out);
  return { out, listener, pid: proc.pid! };
}

test('watchdog: WATCHDOG=1 from the agent at half of WATCHDOG_USEC; none when WATCHDOG_PID is another process', async (t) => {
  const { out, listener, pid } = await runWatchdogChild(t, 'pings', { WATCHDOG_USEC: '200000' }, async (l) => {
    await l.waitFor((m) => l.messages.filter((x) => x.fields.WATCHDOG === '1').length >= 5 && m.fields.WATCHDOG === '1', 'five WATCHDOG=1');
  });
  const pings = listener.messages.filter((m) => m.fields.WATCHDOG === '1');
  assert.ok(pings.every((m) => m.pid === pid), 'pings come from the agent process itself');
  const started = out.find((l) => l.evt === 'watchdog');
  assert.deepEqual([started?.periodMs, started?.pingMs], [200, 100]);

  const other = await runWatchdogChild(t, 'pings', { WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' }, async (l) => {
    await l.waitFor((m) => m.fields.STATUS?.startsWith('starting') === true, 'STATUS=starting');
  });
  // The STATUS went out and the watchdog would have pinged at once: nothing, and no watchdog line.
  assert.equal(other.listener.messages.filter((m) => 'WATCHDOG' in m.fields).length, 0);
  assert.equal(other.out.filter((l) => l.evt === 'watchdog').length, 0);
});

test('watchdog: a stalled event loop is logged while it is stalled (before systemd would act), and again when it recovers', async (t) => {
  const periodMs = 400;
  const { out } = await runWatchdogChild(t, 'stall', { WATCHDOG_USEC: String(periodMs * 1000), FIXTURE_PERIOD_MS: String(periodMs) }, async (_l, lines) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no busy-done: ${JSON.stringify(lines)}`)), 20_000);
      const check = setInterval(() => {
        if (!lines.some((l) => l.evt === 'busy-done')) return;
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }, 20);
    });
  });
  const evts = out.map((l) => l.evt).filter((e) => e === 'watchdog-stall' || e === 'watchdog-late' || e === 'busy-done');
  assert.deepEqual(evts, ['watchdog-stall', 'watchdog-late', 'busy-done']);
  const stall = out.find((l) => l.evt === 'watchdog-stall')!;
  assert.equal(stall.level, 40);
  assert.equal(stall.watchdogMs, periodMs);
  assert.ok(typeof stall.stalledMs === 'number' && stall.stalledMs >= periodMs * 0.75, `stalledMs ${String(stall.stalledMs)}`);
  assert.match(String(stall.msg), /event loop stalled for \d+ ms: no watchdog ping; systemd restarts the agent at 400 ms/);
  assert.match(String(stall.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

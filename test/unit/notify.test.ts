// Notify hooks (src/notify/): keepalived's argv for every hook incl. the generic `any` (exact argument
// order: INSTANCE|GROUP name STATE priority), the FIFO line format, the queue's pure step (order, one at
// a time, timeout → kill → next, abandon after the kill grace, cutoff), the runner on a virtual clock
// with a fake spawner, and one real process group killed at its timeout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { notifyCommands, notifyEnv } from '../../src/notify/argv.js';
import { fifoLine } from '../../src/notify/fifo-line.js';
import { initialQueue, KILL_GRACE_MS, step, type NotifyJob, type QueueEffect, type QueueState } from '../../src/notify/queue.js';
import { NotifyRunner, processSpawner, type Spawner } from '../../src/notify/runner.js';
import { Notifier } from '../../src/notify/notifier.js';
import { realClock } from '../../src/provider/runner/clock.js';
import { VirtualClock } from '../support/virtual-clock.js';

const silent = pino({ level: 'silent' });
const cfg = {
  master: ['/etc/ha-agent/to-master.sh', 'VI_1'],
  backup: ['/etc/ha-agent/to-backup.sh'],
  fault: ['/etc/ha-agent/to-fault.sh'],
  stop: ['/etc/ha-agent/to-stop.sh'],
  any: ['/etc/ha-agent/notify.sh', '--flag'],
  timeout: 30,
};

describe('argv: keepalived notify conventions', () => {
  it('each state runs its own hook with its argv only, then `any` with INSTANCE name STATE priority appended', () => {
    const cases = [
      ['MASTER', cfg.master],
      ['BACKUP', cfg.backup],
      ['FAULT', cfg.fault],
      ['STOP', cfg.stop],
    ] as const;
    for (const [state, own] of cases) {
      const got = notifyCommands(cfg, { kind: 'INSTANCE', name: 'VI_1', state, priority: 150 });
      assert.deepEqual(got, [
        { hook: state.toLowerCase(), argv: [...own] },
        { hook: 'any', argv: ['/etc/ha-agent/notify.sh', '--flag', 'INSTANCE', 'VI_1', state, '150'] },
      ]);
    }
  });

  it('a group: GROUP name STATE 0', () => {
    const got = notifyCommands({ any: ['/n.sh'] }, { kind: 'GROUP', name: 'VG_1', state: 'FAULT', priority: 0 });
    assert.deepEqual(got, [{ hook: 'any', argv: ['/n.sh', 'GROUP', 'VG_1', 'FAULT', '0'] }]);
  });

  it('nothing configured: nothing runs; only `any`: only it runs', () => {
    assert.deepEqual(notifyCommands(undefined, { kind: 'INSTANCE', name: 'x', state: 'MASTER', priority: 1 }), []);
    assert.deepEqual(notifyCommands({ master: ['/m'] }, { kind: 'INSTANCE', name: 'x', state: 'BACKUP', priority: 1 }), []);
  });

  it('the environment carries the event as HA_AGENT_*, on top of the base', () => {
    const env = notifyEnv({ PATH: '/usr/bin' }, { kind: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 100 });
    assert.deepEqual(env, { PATH: '/usr/bin', HA_AGENT_TYPE: 'INSTANCE', HA_AGENT_NAME: 'VI_1', HA_AGENT_STATE: 'MASTER', HA_AGENT_PRIORITY: '100' });
  });
});

describe('FIFO line: keepalived notify_fifo format', () => {
  it('instance and group lines', () => {
    assert.equal(fifoLine({ kind: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 100 }), 'INSTANCE "VI_1" MASTER 100\n');
    assert.equal(fifoLine({ kind: 'INSTANCE', name: 'VI_1', state: 'STOP', priority: 0 }), 'INSTANCE "VI_1" STOP 0\n');
    assert.equal(fifoLine({ kind: 'GROUP', name: 'VG_1', state: 'BACKUP', priority: 0 }), 'GROUP "VG_1" BACKUP 0\n');
  });
});

const job = (hook: string, timeoutMs = 1000): NotifyJob => ({ hook, argv: [`/${hook}`], env: {}, timeoutMs });

function run(s: QueueState, events: Parameters<typeof step>[1][], now: number): { state: QueueState; effects: QueueEffect[] } {
  const effects: QueueEffect[] = [];
  for (const e of events) {
    const r = step(s, e, now);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

describe('queue step (pure)', () => {
  it('runs jobs in order, one at a time', () => {
    let r = run(initialQueue(), [{ type: 'enqueue', job: job('master') }, { type: 'enqueue', job: job('backup') }], 0);
    assert.deepEqual(r.effects.filter((e) => e.type === 'spawn').map((e) => (e as { job: NotifyJob }).job.hook), ['master']);
    assert.equal(r.state.pending.length, 1);
    r = run(r.state, [{ type: 'exit', id: 1, code: 0, signal: null, stderr: '' }], 50);
    const done = r.effects.find((e) => e.type === 'done') as Extract<QueueEffect, { type: 'done' }>;
    assert.equal(done.job.hook, 'master');
    assert.equal(done.result.outcome, 'ok');
    assert.equal(done.result.durationMs, 50);
    const spawned = r.effects.find((e) => e.type === 'spawn') as Extract<QueueEffect, { type: 'spawn' }>;
    assert.equal(spawned.job.hook, 'backup');
    assert.equal(spawned.id, 2);
  });

  it('a non-zero exit is failed, with its first stderr', () => {
    const r = run(initialQueue(), [{ type: 'enqueue', job: job('fault') }, { type: 'exit', id: 1, code: 3, signal: null, stderr: 'boom\n' }], 0);
    const done = r.effects.find((e) => e.type === 'done') as Extract<QueueEffect, { type: 'done' }>;
    assert.deepEqual([done.result.outcome, done.result.code, done.result.stderr], ['failed', 3, 'boom\n']);
  });

  it('timeout: kill at the deadline, then the exit counts as timeout and the next job starts', () => {
    let r = run(initialQueue(), [{ type: 'enqueue', job: job('master', 500) }, { type: 'enqueue', job: job('any') }], 0);
    assert.deepEqual(r.effects.at(-1), { type: 'arm', at: 500 });
    r = run(r.state, [{ type: 'timer' }], 499);
    assert.equal(r.effects.some((e) => e.type === 'kill'), false, 'not before the deadline');
    r = run(r.state, [{ type: 'timer' }], 500);
    assert.deepEqual(r.effects[0], { type: 'kill', id: 1 });
    assert.deepEqual(r.effects.at(-1), { type: 'arm', at: 500 + KILL_GRACE_MS });
    r = run(r.state, [{ type: 'exit', id: 1, code: null, signal: 'SIGKILL', stderr: '' }], 510);
    const done = r.effects.find((e) => e.type === 'done') as Extract<QueueEffect, { type: 'done' }>;
    assert.equal(done.result.outcome, 'timeout');
    assert.ok(r.effects.some((e) => e.type === 'spawn' && e.job.hook === 'any'));
  });

  it('a killed job that never exits is abandoned after the grace, and its late exit ignored', () => {
    let r = run(initialQueue(), [{ type: 'enqueue', job: job('master', 100) }, { type: 'enqueue', job: job('backup') }], 0);
    assert.equal(r.effects.filter((e) => e.type === 'spawn').length, 1);
    r = run(r.state, [{ type: 'timer' }], 100);
    assert.ok(r.effects.some((e) => e.type === 'kill'));
    r = run(r.state, [{ type: 'timer' }], 100 + KILL_GRACE_MS - 1);
    assert.equal(r.effects.some((e) => e.type === 'done'), false, 'still waiting for the exit');
    r = run(r.state, [{ type: 'timer' }], 100 + KILL_GRACE_MS);
    const done = r.effects.find((e) => e.type === 'done') as Extract<QueueEffect, { type: 'done' }>;
    assert.equal(done.result.outcome, 'timeout');
    assert.ok(r.effects.some((e) => e.type === 'spawn' && e.job.hook === 'backup'));
    const late = step(r.state, { type: 'exit', id: 1, code: null, signal: 'SIGKILL', stderr: '' }, 5000);
    assert.deepEqual(late.effects, []);
    assert.equal(late.state, r.state);
  });

  it('a spawn error ends the job at once and the next starts', () => {
    const r = run(initialQueue(), [{ type: 'enqueue', job: job('master') }, { type: 'enqueue', job: job('any') }, { type: 'spawn-error', id: 1, error: 'spawn /master ENOENT' }], 0);
    const done = r.effects.find((e) => e.type === 'done') as Extract<QueueEffect, { type: 'done' }>;
    assert.deepEqual([done.result.outcome, done.result.stderr], ['spawn-error', 'spawn /master ENOENT']);
    assert.equal(r.state.running?.job.hook, 'any');
  });

  it('cutoff kills what runs and drops what waits', () => {
    const r = run(initialQueue(), [{ type: 'enqueue', job: job('stop') }, { type: 'enqueue', job: job('any') }, { type: 'cutoff' }], 10);
    assert.ok(r.effects.some((e) => e.type === 'kill' && e.id === 1));
    const dropped = r.effects.filter((e) => e.type === 'done');
    assert.deepEqual(dropped.map((e) => (e as Extract<QueueEffect, { type: 'done' }>).result.outcome), ['dropped']);
    assert.equal(r.state.pending.length, 0);
  });
});

/** A spawner whose processes the test ends by hand. */
function fakeSpawner() {
  const procs: { job: NotifyJob; killed: boolean; exit: (code: number | null, signal: string | null, stderr?: string) => void }[] = [];
  const spawner: Spawner = (j, cb) => {
    const p = { job: j, killed: false, exit: (code: number | null, signal: string | null, stderr = '') => cb.exit(code, signal, stderr) };
    procs.push(p);
    return { kill: () => void (p.killed = true) };
  };
  return { procs, spawner };
}

describe('NotifyRunner on a virtual clock', () => {
  it('serialises: the second hook starts only when the first exits; counters and last', async () => {
    const clock = new VirtualClock();
    const { procs, spawner } = fakeSpawner();
    const r = new NotifyRunner('VI_1', clock, silent, spawner);
    r.run(job('master'));
    r.run(job('any'));
    assert.equal(procs.length, 1);
    assert.deepEqual(r.status().running, 'master');
    assert.equal(r.status().queued, 1);
    await clock.advance(200);
    procs[0]!.exit(0, null);
    assert.equal(procs.length, 2);
    assert.equal(procs[1]!.job.hook, 'any');
    procs[1]!.exit(2, null, 'first line\nsecond');
    assert.deepEqual(r.status().counters, { ok: 1, failed: 1, timeout: 0, spawnError: 0, dropped: 0 });
    assert.deepEqual(r.status().last, { hook: 'any', outcome: 'failed', code: 2, signal: null, stderr: 'first line', durationMs: 0 });
  });

  it('a hung hook is killed at its timeout and the queue goes on', async () => {
    const clock = new VirtualClock();
    const { procs, spawner } = fakeSpawner();
    const r = new NotifyRunner('VI_1', clock, silent, spawner);
    r.run(job('master', 3000));
    r.run(job('backup', 3000));
    await clock.advance(2999);
    assert.equal(procs[0]!.killed, false);
    await clock.advance(1);
    assert.equal(procs[0]!.killed, true);
    procs[0]!.exit(null, 'SIGKILL');
    assert.equal(procs.length, 2);
    assert.equal(r.status().counters.timeout, 1);
  });

  it('drain resolves when idle, or kills at its deadline', async () => {
    const clock = new VirtualClock();
    const { procs, spawner } = fakeSpawner();
    const r = new NotifyRunner('VI_1', clock, silent, spawner);
    r.run(job('stop', 10_000));
    r.run(job('any', 10_000));
    let drained = false;
    const d = r.drain(700).then(() => (drained = true));
    await clock.advance(699);
    assert.equal(drained, false);
    await clock.advance(1);
    await d;
    assert.equal(procs[0]!.killed, true);
    assert.equal(r.status().counters.dropped, 1);
    assert.equal(procs.length, 1, 'the dropped hook never ran');
  });

  it('Notifier: MASTER then BACKUP queue the hooks in that order; INIT is not notified; STOP at the end', async () => {
    const clock = new VirtualClock();
    const { procs, spawner } = fakeSpawner();
    const n = new Notifier('INSTANCE', 'VI_1', cfg, { clock, log: silent, fifo: null, spawner, env: {} });
    n.state('MASTER', 150);
    n.state('BACKUP', 150);
    n.state('INIT', 150);
    const order: string[][] = [];
    for (let i = 0; i < 4; i++) {
      order.push(procs[i]!.job.argv);
      procs[i]!.exit(0, null);
    }
    const stopped = n.stop(150, 1000);
    for (let i = 4; i < 6; i++) {
      order.push(procs[i]!.job.argv);
      procs[i]!.exit(0, null);
    }
    await stopped;
    assert.deepEqual(order, [
      ['/etc/ha-agent/to-master.sh', 'VI_1'],
      ['/etc/ha-agent/notify.sh', '--flag', 'INSTANCE', 'VI_1', 'MASTER', '150'],
      ['/etc/ha-agent/to-backup.sh'],
      ['/etc/ha-agent/notify.sh', '--flag', 'INSTANCE', 'VI_1', 'BACKUP', '150'],
      ['/etc/ha-agent/to-stop.sh'],
      ['/etc/ha-agent/notify.sh', '--flag', 'INSTANCE', 'VI_1', 'STOP', '150'],
    ]);
    assert.equal(procs[0]!.job.env['HA_AGENT_STATE'], 'MASTER');
  });
});

/** Running (a zombie waiting for a reaper that never comes, in a container, counts as dead). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('processSpawner (real processes)', () => {
  it('a hook that hangs is killed with its whole process group; the runner reports timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-notify-'));
    const script = join(dir, 'hang.sh');
    const pidFile = join(dir, 'child.pid');
    writeFileSync(script, `#!/bin/sh\nsleep 60 &\necho $! > ${pidFile}\necho "hanging" >&2\nwait\n`);
    chmodSync(script, 0o755);
    const r = new NotifyRunner('VI_1', realClock, silent, processSpawner);
    r.run({ hook: 'master', argv: [script], env: process.env, timeoutMs: 300 });
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (r.status().last) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    assert.equal(r.status().last?.outcome, 'timeout');
    assert.equal(r.status().last?.stderr, 'hanging');
    assert.ok(existsSync(pidFile));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(alive(grandchild), false, 'the background child died with the group');
  });

  it('a hook that exits while something it started keeps stderr open is done (ok) at its exit; that process is left alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-notify-'));
    const script = join(dir, 'bg.sh');
    const pidFile = join(dir, 'bg.pid');
    writeFileSync(script, `#!/bin/sh\nsleep 30 &\necho $! > ${pidFile}\necho "started" >&2\nexit 0\n`);
    chmodSync(script, 0o755);
    const r = new NotifyRunner('VI_1', realClock, silent, processSpawner);
    r.run({ hook: 'master', argv: [script], env: process.env, timeoutMs: 20_000 });
    await r.drain(25_000);
    const bg = Number(readFileSync(pidFile, 'utf8'));
    try {
      assert.equal(r.status().last?.outcome, 'ok');
      assert.equal(r.status().last?.stderr, 'started');
      assert.equal(alive(bg), true, 'the background process was not killed');
    } finally {
      try {
        process.kill(bg, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  it('a missing program is a spawn error, counted', async () => {
    const r = new NotifyRunner('VI_1', realClock, silent, processSpawner);
    r.run({ hook: 'master', argv: ['/nonexistent/ha-agent-hook'], env: process.env, timeoutMs: 1000 });
    await r.drain(5000);
    assert.equal(r.status().counters.spawnError, 1);
    assert.match(r.status().last?.stderr ?? '', /ENOENT/);
  });
});

describe('metrics', () => {
  it('ha_agent_notify_runs_total by outcome', async () => {
    const { renderMetrics } = await import('../../src/status/metrics.js');
    const notify = { counters: { ok: 4, failed: 1, timeout: 2, spawnError: 0, dropped: 0 }, queued: 0, running: null, last: null };
    const provider = { type: 'garp', ownership: 'held', vips: {}, lastError: null, lastErrorClass: null, fix: null, fault: null, desired: 'held', busy: false, lastChange: null, counters: { acquireOk: 0, acquireFail: 0, releaseOk: 0, releaseFail: 0, verifyFail: 0, drift: 0 } };
    const instance = {
      state: 'MASTER', priority: 100, effectivePriority: 100, master: null, vips: [], provider, interface: 'eth0', vrid: 51, version: 3, mode: 'multicast',
      advertIntervalCs: 100, masterPriority: null, since: null, faultReason: null, faults: {},
      counters: { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, transitions: 0, becameMaster: 0, dropped: {} }, notify,
    };
    const text = await renderMetrics({ version: 'x', pid: 1, startedAt: '', uptimeSeconds: 0, instances: { VI_1: instance as never } });
    const lines = text.split('\n').filter((l) => l.startsWith('ha_agent_notify_runs_total{'));
    assert.deepEqual(lines, [
      'ha_agent_notify_runs_total{instance="VI_1",outcome="ok"} 4',
      'ha_agent_notify_runs_total{instance="VI_1",outcome="failed"} 1',
      'ha_agent_notify_runs_total{instance="VI_1",outcome="timeout"} 2',
      'ha_agent_notify_runs_total{instance="VI_1",outcome="spawn-error"} 0',
      'ha_agent_notify_runs_total{instance="VI_1",outcome="dropped"} 0',
    ]);
  });
});

// Instance: the set of fault sources (FAULT while any is present, recover only when it is empty),
// faultAfter from the provider runner turned into a provider fault with a retry later, and the
// runner never calling back into the instance from inside the election's own step. A scripted
// election stands in for VRRP; the provider runner is the real one, on a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Instance } from '../../src/instance.js';
import { ProviderRunner } from '../../src/provider/runner/index.js';
import type { Election, ElectionHooks, ElectionState, ElectionStatus } from '../../src/election/types.js';
import type { PreflightCheck, ProviderTiming, VipOwnership, VipProvider } from '../../src/provider/types.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { VirtualClock } from '../support/virtual-clock.js';

const VIP = '198.51.100.100/24';
const cfg = ConfigSchema.parse({ instances: { VI_1: { interface: 'eth0', vrid: 51, vips: [VIP] } } }).instances['VI_1']!;
const timing: ProviderTiming = { operationTimeoutMs: 1_000, confirmTimeoutMs: 0, reconcileMs: 10_000, backoffBaseMs: 100, backoffMaxMs: 400, faultAfterMs: 3_000 };
const log = pino({ level: 'silent' });

/** An election that does what the test says and records what the instance tells it. */
class ScriptedElection implements Election {
  readonly kind = 'scripted';
  state: ElectionState = 'INIT';
  started: (string | null)[] = [];
  faults: (string | null)[] = [];
  /** onProviderChange calls seen while this election was inside one of its own steps. */
  reentered = 0;
  inStep = false;
  constructor(readonly hooks: ElectionHooks) {}
  start(fault: string | null) {
    this.started.push(fault);
    this.state = fault ? 'FAULT' : 'BACKUP';
  }
  setFault(reason: string | null) {
    this.faults.push(reason);
    if (reason !== null && this.state !== 'FAULT') this.step('FAULT', 'fault', () => this.state === 'MASTER' && this.hooks.release());
    else if (reason === null && this.state === 'FAULT') this.step('BACKUP', 'recover', () => {});
  }
  /** A state change the way VRRP makes one: side actions, then the transition, all synchronous. */
  step(to: ElectionState, reason: string, actions: () => void) {
    this.inStep = true;
    actions();
    const from = this.state;
    this.state = to;
    this.hooks.transition(from, to, reason);
    this.inStep = false;
  }
  becomeMaster() {
    this.step('MASTER', 'master-down-timer', () => this.hooks.hold());
  }
  shutdown() {
    if (this.state === 'MASTER') this.hooks.release();
    this.state = 'INIT';
  }
  trouble() {
    return null;
  }
  status(): ElectionStatus {
    return { state: this.state, effectivePriority: 100, master: null, masterPriority: null, since: 0, faultReason: null, counters: { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, dropped: {} } };
  }
  close() {}
}

class Provider implements VipProvider {
  readonly type = 'fake';
  acquireFails = false;
  held = false;
  async acquire() {
    if (this.acquireFails) throw Object.assign(new Error('Operation not permitted'), { fix: 'grant CAP_NET_ADMIN' });
    this.held = true;
  }
  async release() {
    this.held = false;
  }
  async verify(): Promise<VipOwnership> {
    return { [VIP]: this.held ? 'held' : 'not-held' };
  }
  async *preflight(): AsyncIterable<PreflightCheck> {}
}

function setup(onTransition?: (from: ElectionState, to: ElectionState, reason: string, priority: number, agoMs: number) => void) {
  const clock = new VirtualClock();
  const provider = new Provider();
  let instance: Instance | undefined;
  let election: ScriptedElection | undefined;
  const runner = new ProviderRunner(provider, {
    log,
    timing,
    vips: [VIP],
    clock,
    random: () => 0.5,
    onChange: (st) => {
      if (election?.inStep) election.reentered++;
      instance?.onProviderChange(st);
    },
  });
  instance = new Instance('VI_1', cfg, { runner, log, clock, onTransition, election: (hooks) => (election = new ScriptedElection(hooks)) });
  return { clock, provider, runner, instance, election: election! };
}

test('fault sources: FAULT while any is present, recover only when the set is empty', () => {
  const { instance, election } = setup();
  instance.setFault('link', 'interface eth0 is down');
  assert.deepEqual(election.started, [], 'nothing reaches the election before start()');
  instance.start();
  assert.deepEqual(election.started, ['interface eth0 is down'], 'starts in FAULT with the reason');
  instance.setFault('unicast-source', 'unicast source 198.51.100.1 is not on eth0');
  instance.setFault('link', null);
  assert.equal(election.state, 'FAULT', 'still FAULT: the unicast source is missing');
  assert.equal(election.faults.at(-1), 'unicast source 198.51.100.1 is not on eth0');
  instance.setFault('unicast-source', 'unicast source 198.51.100.1 is not on eth0'); // same again: no call
  assert.equal(election.faults.length, 2);
  instance.setFault('unicast-source', null);
  assert.equal(election.faults.at(-1), null);
  assert.equal(election.state, 'BACKUP', 'recovered once the set is empty');
  assert.deepEqual(instance.status().faults, {});
});

test('both reasons are reported while two sources are present', () => {
  const { instance } = setup();
  instance.start();
  instance.setFault('link', 'interface eth0 is down');
  instance.setFault('socket', 'cannot send adverts on eth0');
  assert.equal(instance.faultReason(), 'interface eth0 is down; cannot send adverts on eth0');
  assert.deepEqual(instance.status().faults, { link: 'interface eth0 is down', socket: 'cannot send adverts on eth0' });
});

test('a master that cannot acquire for faultAfter goes to FAULT with the reason and fix, and tries again later', async () => {
  const { clock, provider, runner, instance, election } = setup();
  provider.acquireFails = true;
  instance.start();
  election.becomeMaster();
  await clock.advance(2_000);
  assert.equal(election.state, 'MASTER', 'not yet: faultAfter is 3 s');
  await clock.advance(1_500);
  assert.equal(election.state, 'FAULT');
  const reason = instance.status().faults['provider'] ?? '';
  assert.match(reason, /^cannot take the VIPs: no successful acquire for 3 s/);
  assert.match(reason, /grant CAP_NET_ADMIN/);
  assert.equal(runner.status().desired, 'released', 'FAULT released the VIPs');
  // The provider works again; the retry timer (30 s) lets the instance take part again.
  provider.acquireFails = false;
  await clock.advance(29_000);
  assert.equal(election.state, 'FAULT');
  await clock.advance(2_000);
  assert.equal(election.state, 'BACKUP');
  election.becomeMaster();
  await clock.advance(100);
  assert.equal(runner.status().ownership, 'held');
  assert.equal(election.reentered, 0, 'the runner never called back inside an election step');
});

test('provider faults in a row back off: 30 s, then 60 s', async () => {
  const { clock, provider, instance, election } = setup();
  provider.acquireFails = true;
  instance.start();
  election.becomeMaster();
  await clock.advance(3_500);
  assert.equal(election.state, 'FAULT');
  await clock.advance(31_000);
  assert.equal(election.state, 'BACKUP');
  election.becomeMaster();
  await clock.advance(3_500);
  assert.equal(election.state, 'FAULT', 'second provider fault');
  await clock.advance(31_000);
  assert.equal(election.state, 'FAULT', 'the second retry waits longer');
  await clock.advance(30_000);
  assert.equal(election.state, 'BACKUP');
});

test('a link fault during a provider fault keeps FAULT after the provider retry', async () => {
  const { clock, provider, instance, election } = setup();
  provider.acquireFails = true;
  instance.start();
  election.becomeMaster();
  await clock.advance(3_500);
  instance.setFault('link', 'interface eth0 is down');
  await clock.advance(31_000);
  assert.equal(election.state, 'FAULT', 'the link is still down');
  assert.deepEqual(Object.keys(instance.status().faults), ['link']);
  instance.setFault('link', null);
  assert.equal(election.state, 'BACKUP');
});

test('transitions: to MASTER with a provider whose acquire is remote, reported after the acquire started; every other at once; always in order', async () => {
  const seen: string[] = [];
  const ago: number[] = [];
  let acquireStarted = false;
  const { instance, election, provider, clock } = setup((from, to, _reason, _priority, agoMs) => {
    seen.push(`${from}>${to}${acquireStarted ? ' (acquire started)' : ''}`);
    ago.push(agoMs);
  });
  const acquire = provider.acquire.bind(provider);
  provider.acquire = async () => {
    acquireStarted = true;
    return acquire();
  };
  instance.start();
  election.becomeMaster();
  assert.deepEqual(seen, ['BACKUP>MASTER'], 'a local provider: reported inside the step, before its acquire');
  assert.deepEqual(ago, [0]);
  instance.setFault('link', 'down');
  assert.deepEqual(seen.slice(1), ['MASTER>FAULT'], 'leaving MASTER: at once');
  instance.setFault('link', null);

  (provider as { acquireIsRemote?: boolean }).acquireIsRemote = true;
  acquireStarted = false;
  seen.length = 0;
  election.becomeMaster();
  assert.deepEqual(seen, [], 'a remote provider: to MASTER is not reported inside the step');
  assert.equal(instance.counters.becameMaster, 2, 'but counted at once');
  clock.jump(7);
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(seen, ['BACKUP>MASTER (acquire started)'], 'reported in the next macrotask, after the acquire started');
  assert.deepEqual(ago.slice(-1), [7], 'with how long ago it happened (the failover histogram starts there)');

  // A deferred one, then one reported at once in the same step: both now, in order, once.
  instance.setFault('link', 'down');
  instance.setFault('link', null);
  seen.length = 0;
  acquireStarted = false;
  election.becomeMaster();
  instance.setFault('link', 'down');
  assert.deepEqual(seen, ['BACKUP>MASTER', 'MASTER>FAULT']);
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(seen.length, 2, 'nothing reported twice');
});

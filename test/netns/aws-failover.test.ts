// The aws provider (secondary-ip mode) end to end (issue #6): two real agents in lab namespaces,
// unicast VRRPv3, talking to "AWS" (the EC2 emulator and one IMDSv2 emulator per instance, in a
// third namespace: aws-cloud.ts). Each test checks the three places the VIP can be: EC2 (which ENI
// holds it, cloud.snapshot()/holderOf), the instance's IMDS (local-ipv4s of its ENI, read from inside
// its namespace, which is what the agent confirms with), and the interfaces (the lab), plus the
// agents' own state and /status. EC2 calls are told apart by the key that signed them (one key per
// agent, or one instance-role key per instance).
//
// Timings are short (adverts every 0.5 s, the provider's timing in seconds below) so the suite runs
// in about a minute and a half; the only timing assertion is the packet-schedule property of the
// API-stall test (every gap between the new master's adverts, from the capture).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import {
  TAKEOVER_REASON,
  agentConfig,
  eventually,
  expectSteady,
  labDir,
  reasonOf,
  requireRoot,
  settle,
  sleep,
  startAgent,
  unicastBetween,
  waitVipHolders,
  waitVipOn,
  withLab,
  type AgentHandle,
  type LogEvent,
} from './harness.js';
import { AGENT_KEY, AwsCloud, type CloudCall, type World } from './aws-cloud.js';
import { decodeVrrp, startCapture } from './capture.js';

const VIP = '198.51.100.100/24';
const VIP_IP = '198.51.100.100';
const VRID = 61;
/** Seconds between adverts (VRRPv3). */
const ADVERT_S = 0.5;
// AWS reserves .1–.3 of a subnet: the instances are .11 and .12, "AWS" listens on .250.
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];
const PEER: Record<string, string> = { ha1: 'ha2', ha2: 'ha1' };
/** One key per agent, so every EC2 call says who made it. */
const KEYS: Record<string, { accessKeyId: string; secretAccessKey: string }> = {
  ha1: AGENT_KEY,
  ha2: { accessKeyId: 'AKIDLABAGENT00000002', secretAccessKey: 'labAgentSecret000000000000000000000000002' },
};
/** Provider timing (seconds) unless a test says otherwise. */
const TIMING = { operationTimeout: 10, confirmTimeout: 5, reconcile: 3, backoffBase: 0.2, backoffMax: 1, faultAfter: 10 };
const ASSIGN = 'AssignPrivateIpAddresses';
const DESCRIBE = 'DescribeNetworkInterfaces';

type Timing = Partial<typeof TIMING>;

interface AgentOpts {
  timing?: Timing;
  /** Credentials from the instance role through IMDS (no environment keys). */
  role?: boolean;
}

/** AWS_E2E_TRACE=1: print where each test spends its time. */
let T0 = 0;
const trace = (what: string) => process.env.AWS_E2E_TRACE && console.log(`  +${Date.now() - T0} ms ${what}`);

/** A lab with ha1, ha2 and "AWS" in `cloud`; the cloud child is closed whatever happens. */
async function withCloud(fn: (lab: Lab, cloud: AwsCloud) => Promise<void>, world: { role?: { name: string; lifetimeMs: number } } = {}): Promise<void> {
  T0 = Date.now();
  await withLab(NODES, async (lab) => {
    trace('lab');
    const w: Omit<World, 'host'> = {
      region: 'eu-west-1',
      vpcCidr: '198.51.100.0/24',
      subnetCidr: '198.51.100.0/24',
      keys: world.role ? [] : Object.values(KEYS),
      instances: ['ha1', 'ha2'].map((n) => ({
        name: n,
        mac: lab.node(n).mac,
        privateIp: lab.node(n).ip,
        ...(world.role ? { role: world.role.name, roleLifetimeMs: world.role.lifetimeMs } : {}),
      })),
    };
    const cloud = await AwsCloud.start(lab, 'cloud', w);
    trace('cloud');
    try {
      await fn(lab, cloud);
      trace('test body done');
    } finally {
      await cloud.close();
    }
  });
}

/** The agent's environment: none of this process's AWS_* settings, a HOME without ~/.aws, and its key (or none: the instance role). */
function agentEnv(lab: Lab, node: string, role: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  const home = join(labDir(lab), `home-${node}`);
  mkdirSync(home, { recursive: true });
  env.HOME = home;
  if (!role) {
    env.AWS_ACCESS_KEY_ID = KEYS[node]!.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = KEYS[node]!.secretAccessKey;
    env.AWS_EC2_METADATA_DISABLED = 'true';
  }
  return env;
}

/** Starts an agent on `node` with one aws instance (VI_1) moving VIP, unicast to the other agent. */
function awsAgent(lab: Lab, cloud: AwsCloud, node: string, priority: number, o: AgentOpts = {}): AgentHandle {
  const cfg = agentConfig({ version: 3, vrid: VRID, priority, advertInterval: ADVERT_S, unicast: unicastBetween(lab, node, [PEER[node]!]), vips: [VIP] });
  const inst = cfg.instances.VI_1!;
  delete inst.garp;
  inst.provider = { type: 'aws', endpoint: cloud.ec2Url, imdsEndpoint: cloud.imdsUrl[node], timing: { ...TIMING, ...o.timing } };
  return startAgent(lab, node, cfg, undefined, agentEnv(lab, node, o.role ?? false));
}

/** The agent's own clock for a log event (pino "time"), else when we read the line. */
function timeOf(e: LogEvent): number {
  const t = typeof e.time === 'string' ? Date.parse(e.time) : typeof e.time === 'number' ? e.time : NaN;
  return Number.isFinite(t) ? t : e.at;
}

/** When the agent last became MASTER (its clock): the transition's `since` (it is logged after its EC2 request left). */
function masterSince(h: AgentHandle): number {
  const e = h.transitions().filter((x) => x.to === 'MASTER').at(-1);
  assert.ok(e, `${h.label} never became MASTER`);
  const since = typeof e.since === 'string' ? Date.parse(e.since) : NaN;
  assert.ok(Number.isFinite(since), `the transition log line has its time: ${JSON.stringify(e)}`);
  return since;
}

/** The next "VIPs acquired" at or after event index `since`. */
function acquired(h: AgentHandle, since: number, timeoutMs = 20_000): Promise<LogEvent> {
  return h.waitFor((e) => e.msg === 'VIPs acquired', timeoutMs, since, '"VIPs acquired"');
}

/** Starts `node` and waits until it is MASTER with the VIP acquired. */
async function firstMaster(lab: Lab, cloud: AwsCloud, node: string, priority: number, o: AgentOpts = {}): Promise<AgentHandle> {
  const h = awsAgent(lab, cloud, node, priority, o);
  await h.waitState('VI_1', 'MASTER', 15_000);
  trace(`${node} MASTER`);
  await acquired(h, 0);
  trace(`${node} acquired`);
  return h;
}

/** Starts a lower-priority `node` and waits until it has settled as BACKUP. */
async function backup(lab: Lab, cloud: AwsCloud, master: AgentHandle, node: string, priority: number, o: AgentOpts = {}): Promise<AgentHandle> {
  const h = awsAgent(lab, cloud, node, priority, o);
  await settle([[master, 'MASTER'], [h, 'BACKUP']], 1_000, 15_000);
  trace(`${node} settled BACKUP`);
  return h;
}

/** EC2 calls signed by `key` whose arrival is within [from, to] (ms since the epoch). */
function callsBy(calls: CloudCall[], key: string, from = 0, to = Infinity): CloudCall[] {
  return calls.filter((c) => c.accessKeyId === key && c.at >= from && c.at <= to);
}

const fmtCalls = (calls: CloudCall[]) => calls.map((c) => `${c.action}:${c.status ?? 'none'}`).join(' ');

/**
 * local-ipv4s of `node`'s ENI as its IMDS answers it, read from inside the node's namespace (IMDSv2:
 * PUT a token, then GET) — what the agent itself confirms a move with.
 */
async function imdsLocalIpv4s(lab: Lab, cloud: AwsCloud, node: string): Promise<string[]> {
  const script = `
    const [base, mac] = process.argv.slice(1);
    const token = await (await fetch(base + '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })).text();
    const r = await fetch(base + '/latest/meta-data/network/interfaces/macs/' + mac + '/local-ipv4s', { headers: { 'x-aws-ec2-metadata-token': token } });
    if (!r.ok) throw new Error('IMDS answered ' + r.status);
    process.stdout.write(await r.text());`;
  const out = await lab.run(node, [process.execPath, '--input-type=module', '-e', script, cloud.imdsUrl[node]!, lab.node(node).mac], { timeoutMs: 10_000 });
  return out.split('\n').filter(Boolean);
}

/**
 * EC2, both IMDS and the interfaces agree that `node` holds the VIP, and only it. `peerKilled`: the
 * other agent was killed with -9, so its interface keeps a stale copy (nothing removed it); EC2 and
 * IMDS are what count for it.
 */
async function expectVipOn(lab: Lab, cloud: AwsCloud, node: string, o: { peerKilled?: boolean } = {}): Promise<void> {
  const eni = cloud.instance(node).eni;
  const other = PEER[node]!;
  await eventually(() => cloud.holderOf(VIP_IP), (h) => h === eni, 10_000, `EC2: ${VIP_IP} on ${node}'s ENI ${eni}`);
  const snap = await cloud.snapshot();
  assert.deepEqual(snap.enis[eni], [lab.node(node).ip, VIP_IP], `EC2: ${node}'s ENI has its primary address and the VIP`);
  assert.deepEqual(snap.enis[cloud.instance(other).eni], [lab.node(other).ip], `EC2: ${other}'s ENI has only its primary address`);
  assert.ok((await imdsLocalIpv4s(lab, cloud, node)).includes(VIP_IP), `IMDS of ${node} lists the VIP on its ENI`);
  assert.ok(!(await imdsLocalIpv4s(lab, cloud, other)).includes(VIP_IP), `IMDS of ${other} does not list the VIP`);
  trace('expectVipOn: EC2, IMDS');
  if (o.peerKilled) await waitVipOn(lab, VIP, node);
  else await waitVipHolders(lab, VIP, [node]);
  trace('expectVipOn: interfaces');
}

/** Drops incoming VRRP (IP protocol 112) in `node`'s namespace; the cloud stays reachable. */
async function cutVrrp(lab: Lab, node: string): Promise<void> {
  await lab.run(node, ['nft', 'add table inet hapart; add chain inet hapart in { type filter hook input priority 0 ; policy accept ; }; add rule inet hapart in ip protocol 112 drop']);
}

async function healVrrp(lab: Lab, node: string): Promise<void> {
  await lab.run(node, ['nft', 'delete table inet hapart']);
}

type ProviderStatus = { ownership: string; lastError: string | null; fix?: string | null; fault?: string | null; desired?: string | null };
async function providerStatus(h: AgentHandle): Promise<ProviderStatus> {
  return (await h.instanceStatus()).provider as unknown as ProviderStatus;
}

// ---------------------------------------------------------------------------------------------

test('aws: the first election puts the VIP on the master\'s ENI (EC2, IMDS, interface) in at most 3 EC2 calls; the backup has it nowhere', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const ha1 = awsAgent(lab, cloud, 'ha1', 200);
    await ha1.waitState('VI_1', 'MASTER', 15_000);
    const done = await acquired(ha1, 0);
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100);

    await expectVipOn(lab, cloud, 'ha1');
    const takeover = callsBy(await cloud.calls(), KEYS.ha1!.accessKeyId, masterSince(ha1), timeOf(done));
    assert.ok(takeover.length <= 3, `EC2 calls for the first takeover: ${fmtCalls(takeover)}`);
    assert.deepEqual(
      takeover.filter((c) => c.action === ASSIGN).map((c) => c.status),
      [200],
      `one successful assign: ${fmtCalls(takeover)}`,
    );
    assert.ok(takeover.every((c) => c.action === ASSIGN || c.action === DESCRIBE), fmtCalls(takeover));

    const s1 = await ha1.instanceStatus();
    assert.equal(s1.state, 'MASTER');
    assert.equal(s1.provider.ownership, 'held');
    assert.equal(s1.provider.lastError, null);
    // The backup's reconcile reads EC2 (every 3 s) and sees the VIP on the other ENI.
    await eventually(() => providerStatus(ha2), (p) => p.ownership === 'elsewhere', 10_000, 'ha2: provider ownership "elsewhere"');
    assert.equal((await ha2.instanceStatus()).state, 'BACKUP');
    await waitVipHolders(lab, VIP, ['ha1']);
  });
});

test('aws: kill -9 of the master → the backup assigns and confirms in at most 3 EC2 calls; the restarted node preempts back and EC2 follows', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const ha1 = await firstMaster(lab, cloud, 'ha1', 200);
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100);
    await expectVipOn(lab, cloud, 'ha1');

    const m2 = ha2.mark();
    await ha1.kill9();
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    assert.equal(reasonOf(ha2, 'MASTER'), TAKEOVER_REASON.masterDown);
    const done = await acquired(ha2, m2);
    // EC2 and ha2's IMDS (what the agent confirmed with) show the VIP on ha2's ENI.
    await expectVipOn(lab, cloud, 'ha2', { peerKilled: true });
    const failover = callsBy(await cloud.calls(), KEYS.ha2!.accessKeyId, masterSince(ha2), timeOf(done));
    assert.ok(failover.length <= 3, `EC2 calls for the failover: ${fmtCalls(failover)}`);
    assert.deepEqual(failover.filter((c) => c.action === ASSIGN).map((c) => c.status), [200], fmtCalls(failover));
    assert.equal((await providerStatus(ha2)).ownership, 'held');

    // ha1 comes back with a higher priority: it preempts, and EC2 follows it.
    const ha1b = awsAgent(lab, cloud, 'ha1', 250);
    await ha1b.waitState('VI_1', 'MASTER', 15_000);
    await ha2.waitState('VI_1', 'BACKUP', 10_000);
    await acquired(ha1b, 0);
    await expectVipOn(lab, cloud, 'ha1');
    await settle([[ha1b, 'MASTER'], [ha2, 'BACKUP']], 1_000, 10_000);
    assert.equal((await providerStatus(ha1b)).ownership, 'held');
  });
});

test('aws: VRRP partitioned both ways → both MASTER, the cut-off backup assigns in EC2; healed → one master, and EC2 ends on its ENI', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const ha1 = await firstMaster(lab, cloud, 'ha1', 200);
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100);
    await expectVipOn(lab, cloud, 'ha1');

    const m1 = ha1.mark();
    const m2 = ha2.mark();
    await cutVrrp(lab, 'ha1');
    await cutVrrp(lab, 'ha2');
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    await acquired(ha2, m2);
    assert.equal(ha1.state(), 'MASTER', 'ha1 stays MASTER: split brain');
    await waitVipHolders(lab, VIP, ['ha1', 'ha2']);
    // EC2 now has the VIP on ha2's ENI (ha1 takes it back at its next reconcile: a tug of war).
    const during = callsBy(await cloud.calls(), KEYS.ha2!.accessKeyId, masterSince(ha2));
    assert.ok(during.some((c) => c.action === ASSIGN && c.status === 200), `ha2 assigned during the partition: ${fmtCalls(during)}`);

    await healVrrp(lab, 'ha1');
    await healVrrp(lab, 'ha2');
    await ha2.waitState('VI_1', 'BACKUP', 10_000);
    assert.ok(
      ha1.events.slice(m1).every((e) => !(e.evt === 'transition' && e.instance === 'VI_1')),
      `ha1 never left MASTER: ${ha1.events.slice(m1).filter((e) => e.evt === 'transition').map((e) => e.to).join(' → ')}`,
    );
    await expectVipOn(lab, cloud, 'ha1');
    // It stays there: no reconcile (every 3 s) of either node moves it again.
    await expectSteady([ha1, ha2], 4_000);
    assert.equal(await cloud.holderOf(VIP_IP), cloud.instance('ha1').eni);
    await waitVipHolders(lab, VIP, ['ha1']);
    const afterHeal = await cloud.calls();
    assert.ok(
      callsBy(afterHeal, KEYS.ha1!.accessKeyId, masterSince(ha2)).some((c) => c.action === ASSIGN && c.status === 200),
      'ha1 assigned the VIP back after ha2 had taken it',
    );
    assert.equal((await providerStatus(ha1)).ownership, 'held');
    await eventually(() => providerStatus(ha2), (p) => p.ownership === 'elsewhere', 8_000, 'ha2: provider ownership "elsewhere"');
  });
});

test('aws: throttling and 5xx during a failover → the new master retries and converges', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const ha1 = await firstMaster(lab, cloud, 'ha1', 200);
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100);

    await cloud.call('fault', { action: ASSIGN, kind: 'throttle', times: 3 });
    await cloud.call('fault', { action: ASSIGN, kind: 'error5xx', times: 2 });
    const since = (await cloud.calls()).length;
    const m2 = ha2.mark();
    await ha1.kill9();
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    await acquired(ha2, m2);
    await expectVipOn(lab, cloud, 'ha2', { peerKilled: true });

    const assigns = callsBy(await cloud.calls(since), KEYS.ha2!.accessKeyId).filter((c) => c.action === ASSIGN);
    assert.deepEqual(
      assigns.map((c) => c.status),
      [503, 503, 503, 500, 500, 200],
      `3 throttled (RequestLimitExceeded), 2 InternalError, then the assign: ${fmtCalls(assigns)}`,
    );
    const retries = ha2.events.slice(m2).filter((e) => e.msg === 'will retry acquire');
    assert.equal(retries.length, 5, 'one retry per failed assign');
    const st = await ha2.instanceStatus();
    assert.equal(st.state, 'MASTER');
    assert.equal(st.provider.ownership, 'held');
    assert.equal(st.provider.lastError, null, 'the error is cleared by the success');
  });
});

test('aws: IMDS down on the new master during a failover → a clear error with its fix, retries, converges once IMDS is back', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const ha1 = await firstMaster(lab, cloud, 'ha1', 200);
    // ha2's IMDS answers 503 from its start: it has never read its instance facts.
    await cloud.call('imdsFault', { instance: 'ha2', kind: 'status', status: 503, times: null });
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100);

    const m2 = ha2.mark();
    await ha1.kill9();
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    const failed = (e: LogEvent) => e.msg !== undefined && String(e.msg).startsWith('acquire failed');
    const first = await ha2.waitFor(failed, 10_000, m2, '"acquire failed"');
    assert.match(String(first.err), /instance metadata .*HTTP 503/, 'the log says IMDS failed');
    assert.match(String(first.fix), /instance metadata service \(IMDSv2\) did not answer/, 'with the fix');
    const p = await providerStatus(ha2);
    assert.match(p.lastError ?? '', /^acquire: instance metadata .*HTTP 503/, `/status lastError: ${p.lastError}`);
    assert.match(p.fix ?? '', /IMDSv2/, `/status fix: ${p.fix}`);
    // It keeps trying (backing off), and nothing moved in EC2 meanwhile.
    await eventually(async () => ha2.events.slice(m2).filter(failed).length, (n) => n >= 3, 10_000, 'three failed acquires');
    assert.equal(await cloud.holderOf(VIP_IP), cloud.instance('ha1').eni, 'EC2 unchanged while ha2 cannot read IMDS');
    assert.equal(ha2.state(), 'MASTER');

    const m2b = ha2.mark();
    await cloud.call('clearImdsFaults', { instance: 'ha2' });
    await acquired(ha2, m2b);
    await expectVipOn(lab, cloud, 'ha2', { peerKilled: true });
    const after = await providerStatus(ha2);
    assert.equal(after.lastError, null);
    assert.equal(after.ownership, 'held');
    assert.equal((await ha2.instanceStatus()).state, 'MASTER', 'the outage was shorter than faultAfter: no FAULT');
  });
});

test('aws: instance-role credentials rotate → the next failover is signed with the new key', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  // A 4-minute key: the SDK refreshes credentials within 5 minutes of their expiry, so it reads the
  // role again before each call.
  await withCloud(
    async (lab, cloud) => {
      const ha1 = await firstMaster(lab, cloud, 'ha1', 200, { role: true });
      const ha2 = await backup(lab, cloud, ha1, 'ha2', 100, { role: true });
      const calls0 = await cloud.calls();
      const k1 = calls0.find((c) => c.action === ASSIGN && c.status === 200)?.accessKeyId;
      assert.ok(k1?.startsWith('ASIA'), `ha1 signed with its role's temporary key: ${k1}`);
      // ha2's reconcile (every 3 s) signs with ha2's role key.
      const before = await eventually(
        async () => (await cloud.calls()).filter((c) => c.accessKeyId !== k1 && c.status === 200),
        (c) => c.length > 0,
        10_000,
        'an EC2 call by ha2',
      );
      const { old, next } = await cloud.call<{ old: string; next: string }>('rotate', { instance: 'ha2' });
      assert.equal(before[0]!.accessKeyId, old, 'ha2 used its role key before the rotation');
      assert.notEqual(old, next);

      const since = (await cloud.calls()).length;
      const m2 = ha2.mark();
      await ha1.kill9();
      await ha2.waitState('VI_1', 'MASTER', 10_000);
      await acquired(ha2, m2);
      await expectVipOn(lab, cloud, 'ha2', { peerKilled: true });
      const after = (await cloud.calls(since)).filter((c) => c.accessKeyId !== k1);
      const assigns = after.filter((c) => c.action === ASSIGN);
      assert.deepEqual(
        assigns.map((c) => [c.accessKeyId, c.status]),
        [[next, 200]],
        `the failover's assign is signed with the new key: ${JSON.stringify(after)}`,
      );
      assert.ok(!after.some((c) => c.accessKeyId === old), `nothing signed with the revoked key after the rotation: ${JSON.stringify(after)}`);
      assert.equal((await providerStatus(ha2)).lastError, null);
    },
    { role: { name: 'web-ha', lifetimeMs: 4 * 60_000 } },
  );
});

test('aws: a 10 s EC2 stall during a failover does not move the new master\'s advert schedule (from a capture); the VIP converges after it', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const timing: Timing = { faultAfter: 30 };
    const ha1 = await firstMaster(lab, cloud, 'ha1', 200, { timing });
    const ha2 = await backup(lab, cloud, ha1, 'ha2', 100, { timing });

    // Two assigns that never answer: each is abandoned after the 5 s request timeout, then retried.
    await cloud.call('fault', { action: ASSIGN, kind: 'hang', times: 2 });
    const cap = await startCapture(lab, { filter: 'ip proto 112', name: 'stall' });
    const since = (await cloud.calls()).length;
    const m2 = ha2.mark();
    await ha1.kill9();
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    const done = await acquired(ha2, m2, 40_000);
    await sleep(1_000);
    const rows = await decodeVrrp(await cap.stop());

    const from = masterSince(ha2);
    const to = timeOf(done);
    const assigns = callsBy(await cloud.calls(since), KEYS.ha2!.accessKeyId).filter((c) => c.action === ASSIGN);
    assert.deepEqual(assigns.map((c) => c.status), [null, null, 200], `two hung assigns, then one that worked: ${fmtCalls(assigns)}`);
    // Each hung request was given up by the EC2 client's own request timeout (5 s), not by the
    // runner's operation deadline (10 s).
    const gaveUp = ha2.events.slice(m2).filter((e) => String(e.msg ?? '').startsWith('acquire failed'));
    assert.equal(gaveUp.length, 2, 'two failed acquires');
    for (const e of gaveUp) assert.match(String(e.err), /exceeded the configured 5000 ms requestTimeout/, String(e.err));
    const stallMs = to - from;
    assert.ok(stallMs >= 9_000, `the acquire was stalled for ${stallMs} ms (expected ≈ 10 s)`);

    const ip = lab.node('ha2').ip;
    const adverts = rows.filter((r) => r.src === ip && r.vrid === VRID && r.priority === 100 && r.time >= from - 50 && r.time <= to + 1_000);
    const gaps = adverts.slice(1).map((r, i) => r.time - adverts[i]!.time);
    const interval = ADVERT_S * 1000;
    console.log(`API stall ${stallMs} ms: ${adverts.length} adverts from the new master; gaps (ms) ${gaps.map((g) => g.toFixed(0)).join(' ')}`);
    assert.ok(adverts.length >= Math.floor(stallMs / interval), `only ${adverts.length} adverts during a ${stallMs} ms stall`);
    assert.ok(adverts[0]!.time - from <= interval, 'the first advert left at the transition');
    // The takeover advert goes out at once; the next one is on the masters' advert grid (fsm.ts
    // nextAdverAt: the first multiple of the interval at least half an interval away), so the first
    // gap is 0.5–1.5 intervals by design (plus a little send/capture jitter). Every gap after it is
    // one interval, whatever EC2 does: bound 1.5 intervals.
    const [first, ...steady] = gaps;
    assert.ok(first !== undefined && first >= 0.5 * interval - 50 && first <= 1.5 * interval + 50, `first gap ${first?.toFixed(1)} ms: not the grid's 0.5–1.5 intervals`);
    const worst = Math.max(...steady);
    assert.ok(steady.length >= 15, `${steady.length} steady gaps`);
    assert.ok(worst <= 1.5 * interval, `a gap of ${worst.toFixed(1)} ms between adverts during the stall (bound ${1.5 * interval} ms): ${gaps.map((g) => g.toFixed(0)).join(' ')}`);

    await expectVipOn(lab, cloud, 'ha2', { peerKilled: true });
    const st = await ha2.instanceStatus();
    assert.equal(st.state, 'MASTER');
    assert.equal(st.provider.ownership, 'held');
  });
});

test('aws: EC2 refuses the would-be master → after faultAfter it goes to FAULT, sends priority 0, says why; the healthy peer takes the VIP', { timeout: 90_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withCloud(async (lab, cloud) => {
    const timing: Timing = { faultAfter: 3 };
    // ha1's credentials may read but not assign.
    await cloud.call('allow', { accessKeyId: KEYS.ha1!.accessKeyId, actions: [DESCRIBE] });
    const cap = await startCapture(lab, { filter: 'ip proto 112', name: 'fault' });
    const ha1 = awsAgent(lab, cloud, 'ha1', 200, { timing });
    await ha1.waitState('VI_1', 'MASTER', 15_000);
    const ha2 = awsAgent(lab, cloud, 'ha2', 100, { timing });
    await ha2.ready();

    await ha1.waitState('VI_1', 'FAULT', 15_000);
    const faultAt = timeOf(ha1.transitions().filter((e) => e.to === 'FAULT').at(-1)!);
    await ha2.waitState('VI_1', 'MASTER', 10_000);
    assert.equal(reasonOf(ha2, 'MASTER'), TAKEOVER_REASON.priorityZero, 'ha2 took over on ha1\'s priority-0 advert');
    await acquired(ha2, 0);

    const st = await ha1.instanceStatus();
    assert.equal(st.state, 'FAULT');
    const reason = String(st.faultReason);
    assert.match(reason, /cannot take the VIPs: no successful acquire for 3 s/, reason);
    assert.match(reason, /last error: acquire: .*AssignPrivateIpAddresses/, reason);
    assert.match(reason, /fix: allow ec2:AssignPrivateIpAddresses/, reason);
    const refused = callsBy(await cloud.calls(), KEYS.ha1!.accessKeyId).filter((c) => c.action === ASSIGN);
    assert.ok(refused.length >= 1 && refused.every((c) => c.status === 403), `ha1's assigns were refused: ${fmtCalls(refused)}`);

    await expectVipOn(lab, cloud, 'ha2');
    const rows = await decodeVrrp(await cap.stop());
    const ip1 = lab.node('ha1').ip;
    const goodbye = rows.filter((r) => r.src === ip1 && r.vrid === VRID && r.priority === 0);
    assert.ok(goodbye.length >= 1, 'ha1 sent a priority-0 advert');
    assert.ok(goodbye[0]!.time >= faultAt - 200, 'on going to FAULT');
    assert.ok(rows.some((r) => r.src === ip1 && r.priority === 200 && r.time < goodbye[0]!.time), 'after advertising as master with its priority');
    assert.equal(ha1.state(), 'FAULT', 'still in FAULT (it tries again only after 30 s)');
    // Every refused call was logged with its error: never with the key that signed it.
    for (const h of [ha1, ha2]) for (const k of Object.values(KEYS)) assert.ok(!h.logs(100_000).includes(k.secretAccessKey), `${h.label}'s log holds no secret key`);
    assert.match(ha1.logs(100_000), /AssignPrivateIpAddresses/, 'the log does name the refused action');
  });
});

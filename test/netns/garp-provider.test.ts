// The garp provider for real, inside a network-namespace lab (needs root): the provider runs in a child
// process inside ha1's namespace (test/netns/fixtures/garp-child.ts); a tcpdump on the lab bridge
// records what it puts on the wire; a client namespace shows what the segment learns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Lab } from '../../src/lab/lab.js';
import { buildGratuitousArp, parseArpFrame } from '../../src/net/arp.js';
import type { PreflightCheck } from '../../src/provider/types.js';

const isRoot = process.getuid?.() === 0;
const mustRun = process.env.CI === 'true';
if (!isRoot && !mustRun) console.warn('SKIPPING test/netns/garp-provider.test.ts: network namespaces need root (run as root; under CI=true this suite never skips)');

const VIP = '198.51.100.100';
const VIP2 = '198.51.100.102';
const VIP_ARPING = '198.51.100.101';
const OTHER_MAC = '02:00:c6:33:64:99';
const V1 = `${VIP}/24`;
const V2 = `${VIP2}/32`;
/** verify()'s answer for the two VIPs [V1, V2]. */
const own = (a: string, b: string) => ({ [V1]: a, [V2]: b });
const BOTH = own('held', 'held');
const NONE = own('not-held', 'not-held');

// ── the child running the provider ──

const here = dirname(fileURLToPath(import.meta.url));
const runningTs = import.meta.url.endsWith('.ts');
const childScript = join(here, 'fixtures', runningTs ? 'garp-child.ts' : 'garp-child.js');
const childArgs = runningTs ? ['--import', import.meta.resolve('tsx')] : [];

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
  errorClass?: string | null;
  fix?: string | null;
  code?: string | null;
  at: number;
}

class ProviderChild {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  stderr = '';
  readonly ready: Promise<void>;

  constructor(private readonly proc: ChildProcess) {
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    let markReady!: () => void;
    this.ready = new Promise((res) => (markReady = res));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Reply & { ready?: boolean };
      if (msg.ready) return markReady();
      this.waiting.get(msg.id)?.(msg);
      this.waiting.delete(msg.id);
    });
  }

  /** `wrapper` runs first (e.g. setpriv to drop capabilities) and execs node. */
  static start(lab: Lab, node: string, cfg: object, env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): ProviderChild {
    const proc = lab.spawn(node, [...wrapper, process.execPath, ...childArgs, childScript, JSON.stringify(cfg)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    return new ProviderChild(proc);
  }

  async call(cmd: string, extra: object = {}): Promise<Reply> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((res, rej) => {
      this.waiting.set(id, res);
      const t = setTimeout(() => rej(new Error(`child: ${cmd} timed out; stderr: ${this.stderr}`)), 15_000);
      t.unref();
    });
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...extra }) + '\n');
    return reply;
  }

  /** Calls and insists on success; returns the value. */
  async ok(cmd: string, extra: object = {}): Promise<unknown> {
    const r = await this.call(cmd, extra);
    assert.ok(r.ok, `${cmd} failed: ${r.error}\nchild stderr: ${this.stderr}`);
    return r.value;
  }

  async exit(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const gone = new Promise((res) => this.proc.once('exit', res));
    this.proc.stdin!.write(JSON.stringify({ id: ++this.seq, cmd: 'exit' }) + '\n');
    await Promise.race([gone, new Promise((res) => setTimeout(res, 3_000))]);
  }
}

// ── capture ──

interface Captured {
  t: number; // ms since the epoch
  frame: Buffer;
}

/** Records of a classic pcap file (µs or ns timestamps); a record still being written is ignored. */
function readPcap(path: string): Captured[] {
  const b = readFileSync(path);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  assert.ok(magic === 0xa1b2c3d4 || nano, `not a little-endian pcap file: ${path}`);
  const out: Captured[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const sec = b.readUInt32LE(off);
    const frac = b.readUInt32LE(off + 4);
    const len = b.readUInt32LE(off + 8);
    if (off + 16 + len > b.length) break;
    out.push({ t: sec * 1000 + frac / (nano ? 1e6 : 1e3), frame: b.subarray(off + 16, off + 16 + len) });
    off += 16 + len;
  }
  return out;
}

async function startCapture(lab: Lab, file: string): Promise<ChildProcess> {
  const p = lab.spawn(lab.bridgeNs, ['tcpdump', '-i', 'br0', '--immediate-mode', '-U', '-Z', 'root', '-w', file, 'arp']);
  await new Promise<void>((res, rej) => {
    let err = '';
    const t = setTimeout(() => rej(new Error(`tcpdump did not start: ${err}`)), 5_000);
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(t);
        res();
      }
    });
    p.once('exit', (code) => rej(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  return p;
}

/** Gratuitous ARPs for `vip` in the capture, after `since` (ms since the epoch). */
function garpsFor(file: string, vip: string, since = 0): Captured[] {
  return readPcap(file).filter((c) => {
    const f = parseArpFrame(c.frame);
    return c.t >= since && f !== null && f.op === 1 && f.spa === vip && f.tpa === vip;
  });
}

/** Groups frames into bursts: a gap of more than 300 ms starts a new one (the schedules here are
 *  ≥ 1 s apart; the spacing itself is measured by bench/timing.ts, not asserted). */
function groupBursts(frames: Captured[]): Captured[][] {
  const out: Captured[][] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (last && f.t - last[last.length - 1]!.t < 300) last.push(f);
    else out.push([f]);
  }
  return out;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

async function vipsOn(lab: Lab, node: string): Promise<string[]> {
  const out = await lab.run(node, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']);
  const [entry] = JSON.parse(out) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
  return (entry?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

async function neighbourMac(lab: Lab, node: string, ip: string): Promise<string | null> {
  const out = await lab.run(node, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0']);
  return (JSON.parse(out || '[]') as { lladdr?: string }[])[0]?.lladdr ?? null;
}

function failing(checks: PreflightCheck[]): PreflightCheck[] {
  return checks.filter((c) => !c.ok);
}

test('garp provider in a namespace lab: addresses, GARP bursts on the wire, idempotence, verify, preflight', { skip: !isRoot && !mustRun, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'garp-test-'));
  const pcap = join(dir, 'br0.pcap');
  const lab = await Lab.create([
    { name: 'ha1', octet: 1 },
    { name: 'client', octet: 10 },
  ]);
  try {
    const ha1 = lab.node('ha1');
    const capture = await startCapture(lab, pcap);
    const settings = { repeat: 5, delay: 1, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 2 };
    const child = ProviderChild.start(lab, 'ha1', { instanceName: 'VI_1', interface: 'eth0', vips: [`${VIP}/24`, `${VIP2}/32`], settings });
    await child.ready;

    // The in-process sender is what a normal install uses.
    const sender = (await child.ok('sender')) as { addon: { ok: boolean; error: string | null } };
    assert.ok(sender.addon.ok, `native addon not loaded (${sender.addon.error}); run npm install (node-gyp) first`);

    // Preflight passes on a healthy node, and moves nothing.
    const checks = (await child.ok('preflight')) as PreflightCheck[];
    assert.deepEqual(failing(checks), [], JSON.stringify(checks, null, 1));
    assert.deepEqual(
      checks.map((c) => c.check),
      ['privileges', 'address backend', 'interface eth0', 'IPv4 source address', 'GARP sender', `VIP ${VIP}/24`, `VIP ${VIP2}/32`],
    );
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24']);
    assert.deepEqual(await child.ok('verify'), NONE);

    // The client has a stale entry for the VIP pointing elsewhere; the GARP must correct it.
    await lab.run('client', ['ip', 'neigh', 'replace', VIP, 'lladdr', OTHER_MAC, 'dev', 'eth0', 'nud', 'stale']);

    // acquire: both VIPs on eth0 with their configured prefix, 5 GARPs each at once, 5 more after 1 s.
    const asked = Date.now();
    const acquired = await child.call('acquire');
    assert.ok(acquired.ok, acquired.error);
    assert.deepEqual((await vipsOn(lab, 'ha1')).sort(), ['198.51.100.1/24', `${VIP}/24`, `${VIP2}/32`].sort());
    assert.deepEqual(await child.ok('verify'), BOTH);
    await sleep(1_600);

    const expected = buildGratuitousArp(ha1.mac, VIP);
    const first = garpsFor(pcap, VIP);
    const bursts = groupBursts(first);
    assert.equal(bursts.length, 2, `expected 2 bursts, got ${JSON.stringify(first.map((c) => Math.round(c.t - acquired.at)))} ms after acquire (now +${Date.now() - acquired.at}); child stderr: ${child.stderr}`);
    assert.deepEqual(bursts.map((b) => b.length), [5, 5]);
    for (const c of first) assert.equal(c.frame.subarray(0, 42).toString('hex'), expected.toString('hex'));
    assert.ok(first.every((c) => c.frame.subarray(42).every((x) => x === 0)), 'only zero padding after the 42-byte frame');
    const b0 = bursts[0]!;
    const b1 = bursts[1]!;
    assert.ok(b0[0]!.t >= asked, 'no GARP before the acquire was asked for');
    assert.ok(b1[0]!.t > b0[b0.length - 1]!.t, 'the second burst came after the first');
    const second = groupBursts(garpsFor(pcap, VIP2)).map((b) => b.length);
    assert.deepEqual(second, [5, 5], 'the /32 VIP gets its own 5 + 5');
    // keepalived interleaves VIPs within a burst: VIP, VIP2, VIP, VIP2, …
    const order = readPcap(pcap)
      .map((c) => parseArpFrame(c.frame))
      .filter((f) => f && f.spa === f.tpa && (f.spa === VIP || f.spa === VIP2))
      .slice(0, 4)
      .map((f) => f!.spa);
    assert.deepEqual(order, [VIP, VIP2, VIP, VIP2]);

    // The segment learned: the client's stale entry now points at ha1, without the client asking.
    assert.equal(await neighbourMac(lab, 'client', VIP), ha1.mac);
    await lab.flushNeighbour('client', VIP);
    assert.equal(await lab.resolveMac('client', VIP), ha1.mac);

    // acquire while held: one more burst, no second schedule (no extra delayed burst).
    const before = Date.now();
    await child.ok('acquire');
    await sleep(1_300);
    assert.deepEqual(groupBursts(garpsFor(pcap, VIP, before - 5)).map((b) => b.length), [5]);
    assert.deepEqual((await vipsOn(lab, 'ha1')).sort(), ['198.51.100.1/24', `${VIP}/24`, `${VIP2}/32`].sort());

    // announce('lower-priority'): lowerPrioRepeat (2) at once, 2 more after the delay.
    const lp = Date.now();
    await child.ok('announce', { reason: 'lower-priority' });
    await sleep(1_300);
    assert.deepEqual(groupBursts(garpsFor(pcap, VIP, lp - 5)).map((b) => b.length), [2, 2]);

    // verify with only some VIPs present: it says which (the runner decides what that means).
    await lab.run('ha1', ['ip', 'addr', 'del', `${VIP2}/32`, 'dev', 'eth0']);
    assert.deepEqual(await child.ok('verify'), own('held', 'not-held'));
    // verifyMany: one read of eth0 answers this provider and another instance's on the same interface.
    assert.deepEqual(await child.ok('verify-many', { others: [{ instanceName: 'VI_9', vips: [V2, '198.51.100.77/24'] }] }), [
      own('held', 'not-held'),
      { [V2]: 'not-held', '198.51.100.77/24': 'not-held' },
    ]);
    await child.ok('acquire');
    assert.deepEqual(await child.ok('verify'), BOTH);

    // release: VIPs gone, GARPs stop; twice is fine.
    await child.ok('release');
    const released = Date.now();
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24']);
    assert.deepEqual(await child.ok('verify'), NONE);
    await child.ok('release');
    assert.deepEqual(await child.ok('verify'), NONE);
    // A leftover copy after a release is reported as held, so the runner releases again.
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP2}/32`, 'dev', 'eth0']);
    assert.deepEqual(await child.ok('verify'), own('not-held', 'held'));
    await child.ok('release');
    assert.deepEqual(await child.ok('verify'), NONE);
    await sleep(1_100); // the re-acquire burst's delayed repeat would have fired by now
    assert.deepEqual(garpsFor(pcap, VIP, released), [], 'no GARP after release');

    // A second acquire/release cycle, with a repeated acquire, behaves the same.
    await child.ok('acquire');
    await child.ok('acquire');
    assert.deepEqual(await child.ok('verify'), BOTH);
    assert.deepEqual((await vipsOn(lab, 'ha1')).sort(), ['198.51.100.1/24', `${VIP}/24`, `${VIP2}/32`].sort());
    await child.ok('release');
    await child.ok('release');
    assert.deepEqual(await child.ok('verify'), NONE);
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24']);

    // Preflight for a missing interface: a failing check with a fix naming the real ones.
    const bad = (await child.ok('preflight', { override: { interface: 'eth9', vips: [`${VIP}/24`] } })) as PreflightCheck[];
    const iface = bad.find((c) => c.check === 'interface eth9');
    assert.ok(iface && !iface.ok, JSON.stringify(bad));
    assert.equal(iface.detail, 'interface eth9 not found');
    assert.equal(iface.fix, 'set instances.VI_1.interface to one of: lo, eth0');
    assert.ok(bad.find((c) => c.check === 'privileges')?.ok, 'other checks still run');

    // Preflight for a VIP another host answers for (here: the client's own address).
    const client = lab.node('client');
    const taken = (await child.ok('preflight', { override: { vips: [`${client.ip}/24`] } })) as PreflightCheck[];
    const vipCheck = taken.find((c) => c.check === `VIP ${client.ip}/24`);
    assert.ok(vipCheck && !vipCheck.ok, JSON.stringify(taken));
    assert.equal(vipCheck.detail, `${client.ip} is already answered by ${client.mac} on eth0`);
    assert.match(vipCheck.fix ?? '', /current VRRP master this is expected/);
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24'], 'preflight moved nothing');
    await child.exit();

    // The arping fallback (no addon) puts the same frame on the wire; a small burst still goes out
    // together (one process per event-loop turn, up to 8 at once).
    const fallback = ProviderChild.start(lab, 'ha1', { instanceName: 'VI_2', interface: 'eth0', vips: [VIP_ARPING], settings: { ...settings, repeat: 3, delay: 0 } }, { HA_AGENT_GARP_SENDER: 'arping' });
    await fallback.ready;
    const fbStart = Date.now();
    await fallback.ok('acquire');
    assert.deepEqual((await vipsOn(lab, 'ha1')).sort(), ['198.51.100.1/24', `${VIP_ARPING}/32`].sort());
    await sleep(1_500);
    const viaArping = garpsFor(pcap, VIP_ARPING, fbStart - 5);
    assert.equal(viaArping.length, 3, 'repeat 3, delay 0: three frames and no delayed repeat');
    for (const c of viaArping) assert.equal(c.frame.subarray(0, 42).toString('hex'), buildGratuitousArp(ha1.mac, VIP_ARPING).toString('hex'));
    await fallback.ok('release');
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24']);
    await fallback.exit();

    // Without CAP_NET_ADMIN/CAP_NET_RAW: preflight says so, and acquire fails with a message that says what to do.
    const unprivileged = ProviderChild.start(lab, 'ha1', { instanceName: 'VI_3', interface: 'eth0', vips: [`${VIP}/24`], settings }, {}, [
      'setpriv', '--inh-caps=-all', '--bounding-set=-net_admin,-net_raw', '--',
    ]);
    await unprivileged.ready;
    const weak = (await unprivileged.ok('preflight')) as PreflightCheck[];
    const priv = weak.find((c) => c.check === 'privileges');
    assert.ok(priv && !priv.ok, JSON.stringify(weak));
    assert.equal(priv.detail, 'missing CAP_NET_ADMIN and CAP_NET_RAW (needed to add addresses and send ARP)');
    assert.match(priv.fix ?? '', /run as root or grant CAP_NET_RAW,CAP_NET_ADMIN \(systemd: AmbientCapabilities=/);
    assert.equal(weak.find((c) => c.check === 'GARP sender')?.ok, false, 'opening the AF_PACKET socket is refused');
    const denied = await unprivileged.call('acquire');
    assert.equal(denied.ok, false);
    assert.equal(denied.error, `cannot add ${VIP}/24 to eth0: Operation not permitted`);
    assert.equal(denied.errorClass, 'permanent');
    assert.match(denied.fix ?? '', /^run as root or grant CAP_NET_ADMIN/);
    assert.deepEqual(await vipsOn(lab, 'ha1'), ['198.51.100.1/24']);
    await unprivileged.exit();

    capture.kill('SIGINT');
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('release removes every copy of a VIP whatever its prefix (a stale /32 under a /24 config), and stays idempotent', { skip: !isRoot && !mustRun, timeout: 30_000 }, async () => {
  const lab = await Lab.create([{ name: 'ha1', octet: 1 }]);
  try {
    const settings = { repeat: 1, delay: 0, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 0 };
    const child = ProviderChild.start(lab, 'ha1', { instanceName: 'VI_1', interface: 'eth0', vips: [`${VIP}/24`, `${VIP2}/32`], settings });
    await child.ready;
    const own = '198.51.100.1/24';

    // Copies left by another setup (e.g. keepalived's default /32): same addresses, other prefixes.
    // The kernel refuses `ip addr del VIP/24` for them ("not found"): that used to pass for "absent".
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP2}/24`, 'dev', 'eth0']);
    assert.deepEqual(await child.ok('verify'), BOTH, 'a VIP under another prefix is still this VIP');
    await child.ok('release'); // what start-up does to remove stale copies
    assert.deepEqual(await vipsOn(lab, 'ha1'), [own], 'stale copies under other prefixes are gone; the host address stays');
    assert.deepEqual(await child.ok('verify'), NONE);
    await child.ok('release');
    assert.deepEqual(await vipsOn(lab, 'ha1'), [own]);

    // The configured copy and a stale one side by side (the kernel allows both): release takes both.
    await child.ok('acquire');
    await lab.run('ha1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
    assert.deepEqual((await vipsOn(lab, 'ha1')).sort(), [own, `${VIP}/24`, `${VIP}/32`, `${VIP2}/32`].sort());
    await child.ok('release');
    assert.deepEqual(await vipsOn(lab, 'ha1'), [own]);
    assert.deepEqual(await child.ok('verify'), NONE);
    await child.exit();

    // On a missing interface there is nothing to remove: release succeeds.
    const gone = ProviderChild.start(lab, 'ha1', { instanceName: 'VI_2', interface: 'eth9', vips: [`${VIP}/24`], settings });
    await gone.ready;
    await gone.ok('release');
    // …verify says not-held, and acquire fails permanently with a fix naming the real interfaces.
    assert.deepEqual(await gone.ok('verify'), { [V1]: 'not-held' });
    const missing = await gone.call('acquire');
    assert.equal(missing.ok, false);
    assert.equal(missing.error, 'interface eth9 not found');
    assert.equal(missing.errorClass, 'permanent');
    assert.equal(missing.fix, 'set instances.VI_2.interface to one of: lo, eth0');
    await gone.exit();
  } finally {
    await lab.destroy();
  }
});

// The VRRP offload (native/vrrp_offload.c through src/vrrp/offload.ts) for real, inside a
// network-namespace lab (needs root). The offload's sockets belong to the namespace of the process
// that opens them, so it runs in a child process inside ha1's namespace: this very file, started
// again with OFFLOAD_TEST_CHILD=1, reads one JSON command per stdin line and answers one JSON line
// on stdout (plus { datagram } for every datagram the offload hands to onDatagram and { ended } for
// every rule that ended by itself). The same child in ha2's namespace plays the peer: it sends
// datagrams through the agent's own VRRP socket (src/vrrp/transport.ts). A tcpdump on the lab bridge
// records the wire; the pcap is read here byte for byte (IP ids, checksums, order of frames).
// Asserts bytes, counts and reports, never durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import { AdvertEncoder } from '../../src/vrrp/advert-encoder.js';
import { addressRequest } from '../../src/net/netlink/message.js';
import { buildGratuitousArp, parseArpFrame } from '../../src/net/arp.js';
import { readDatagramHeader, type DatagramHeader } from '../../src/vrrp/ipv4.js';
import { ipToUint32, uint32ToIp } from '../../src/net/ip.js';
import { startCapture, decodeVrrp } from './capture.js';
import { eventually, fifoThreads, requireRoot, sleep, withLab } from './harness.js';
import { AdvertOffload, offloadUnavailable, type OffloadReport, type OffloadStats } from '../../src/vrrp/offload.js';
import { VrrpSocket } from '../../src/vrrp/transport.js';

const CHILD_ENV = 'OFFLOAD_TEST_CHILD';
const VIP = '203.0.113.77';
const VIP2 = '203.0.113.78';
const MCAST = '224.0.0.18';
const VRID = 51;
const OTHER_VRID = 52;
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
];

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// The child (inside a namespace)

interface Command {
  id: number;
  op: string;
  ifname?: string;
  key?: number;
  datagrams?: string[];
  dsts?: number[];
  ipId?: number;
  delayMs?: number;
  intervalMs?: number;
  downMs?: number;
  expected?: string;
  plan?: HexPlan | null;
  keys?: number[];
  send?: { dst: string; hex: string; repeat?: number }[];
  ms?: number;
  rtPriority?: number;
}

interface HexPlan {
  adverts: string[];
  dsts: number[];
  ipId: number;
  netlink: string[];
  frames: string[];
  ifindex: number;
}

function runChild(): void {
  let offload: AdvertOffload | null = null;
  let sock: VrrpSocket | null = null;
  const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
  const ifindexOf = (ifname: string) => Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
  const hex = (s: string) => Buffer.from(s, 'hex');
  const need = (): AdvertOffload => {
    if (!offload) throw new Error('not open');
    return offload;
  };

  const handle = (c: Command): unknown => {
    switch (c.op) {
      case 'open': {
        const ifname = c.ifname ?? 'eth0';
        const ifindex = ifindexOf(ifname);
        offload = AdvertOffload.open(ifname, ifindex, c.rtPriority);
        if (!offload) throw new Error(`offload unavailable: ${offloadUnavailable()}`);
        offload.onDatagram((d: Buffer) => say({ datagram: d.toString('hex'), at: Date.now() }));
        return { ifindex };
      }
      case 'key': {
        // the callback reports its own key (assigned before the rule can end)
        let k = 0;
        k = need().key(() => say({ ended: k, at: Date.now() }));
        return k;
      }
      case 'send':
        need().send(c.key!, c.datagrams!.map(hex), c.dsts!, c.ipId!, c.delayMs!, c.intervalMs!);
        return null;
      case 'absorb': {
        const p = c.plan;
        const plan = p
          ? { adverts: p.adverts.map(hex), dsts: p.dsts, ipId: p.ipId, netlink: p.netlink.map(hex), frames: p.frames.map(hex), ifindex: p.ifindex }
          : null;
        need().absorb(c.key!, hex(c.expected!), c.downMs!, c.delayMs!, plan);
        return null;
      }
      case 'stop':
        return need().stop(c.key!);
      case 'peek':
        return need().peek(c.key!);
      case 'stats':
        return need().stats();
      case 'lease':
        need().lease(c.ms!);
        return null;
      case 'close': {
        // peek every rule, close, and say when close returned (the thread is joined by then)
        const o = need();
        const before = (c.keys ?? []).map((k) => o.peek(k));
        o.close();
        return { before, closedAt: Date.now() };
      }
      case 'inject': {
        // the peer: datagrams (IP header included) through the agent's own VRRP socket
        const ifname = c.ifname ?? 'eth0';
        sock ??= VrrpSocket.open(ifname, ifindexOf(ifname));
        for (const d of c.send!) {
          const bytes = hex(d.hex);
          for (let i = 0; i < (d.repeat ?? 1); i++) if (!sock.send(bytes, d.dst)) throw new Error(`send failed: ${sock.stats.lastError}`);
        }
        return sock.stats.sent;
      }
      case 'block': {
        // the event loop stuck for ms (a long GC, a flood): what the thread queues meanwhile waits
        say({ blocking: true });
        const until = Date.now() + c.ms!;
        while (Date.now() < until);
        return null;
      }
      case 'exit':
        // no process.exit(): the process must end by itself, the offload's thread and tsfn included
        sock?.close();
        rl.close();
        return null;
      default:
        throw new Error(`unknown op ${c.op}`);
    }
  };

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const c = JSON.parse(line) as Command;
    try {
      say({ id: c.id, ok: true, value: handle(c) ?? null });
    } catch (e) {
      say({ id: c.id, ok: false, error: (e as Error).message });
    }
  });
  say({ ready: true, pid: process.pid });
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// The test side

const thisFile = fileURLToPath(import.meta.url);
const loader = import.meta.url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];

interface Line {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  ready?: boolean;
  datagram?: string;
  ended?: number;
  at?: number;
  blocking?: boolean;
}

class Child {
  private seq = 0;
  private readonly pending = new Map<number, (l: Line) => void>();
  readonly datagrams: { bytes: Buffer; at: number }[] = [];
  readonly ended: number[] = [];
  /** The child said its event loop is about to be stuck (block()). */
  blocking = false;
  stderr = '';
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly proc: ChildProcess) {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    let ready!: () => void;
    this.ready = new Promise((res) => (ready = res));
    this.exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as Line;
      if (l.ready) ready();
      else if (l.datagram !== undefined) this.datagrams.push({ bytes: Buffer.from(l.datagram, 'hex'), at: l.at ?? 0 });
      else if (l.ended !== undefined) this.ended.push(l.ended);
      else if (l.blocking) this.blocking = true;
      else if (l.id !== undefined) this.pending.get(l.id)?.(l);
    });
  }

  static async start(lab: Lab, node: string): Promise<Child> {
    const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: '1' };
    delete env.NODE_TEST_CONTEXT; // the child is no test runner's child
    const c = new Child(lab.spawn(node, [process.execPath, ...loader, thisFile], { stdio: ['pipe', 'pipe', 'pipe'], env }));
    await Promise.race([
      c.ready,
      c.exited.then((e) => {
        throw new Error(`child on ${node} exited before it was ready (${JSON.stringify(e)}): ${c.stderr}`);
      }),
    ]);
    return c;
  }

  async op<T = unknown>(op: string, args: object = {}): Promise<T> {
    const id = ++this.seq;
    const l = await new Promise<Line>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${op}: no answer within 10 s; stderr: ${this.stderr}`)), 10_000);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        this.pending.delete(id);
        res(a);
      });
      this.proc.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
    assert.ok(l.ok, `${op} ${JSON.stringify(args)} failed: ${l.error}\nstderr: ${this.stderr}`);
    return l.value as T;
  }

  /** The child's pid (ip netns exec execs node). */
  get pid(): number {
    return this.proc.pid!;
  }
  open(rtPriority?: number): Promise<{ ifindex: number }> {
    return this.op('open', rtPriority === undefined ? {} : { rtPriority });
  }
  key(): Promise<number> {
    return this.op('key');
  }
  peek(key: number): Promise<OffloadReport | null> {
    return this.op('peek', { key });
  }
  stop(key: number): Promise<OffloadReport | null> {
    return this.op('stop', { key });
  }
  stats(): Promise<OffloadStats> {
    return this.op('stats');
  }
  lease(ms: number): Promise<null> {
    return this.op('lease', { ms });
  }
  /** Busy-loops the child's event loop for ms (resolves when it is free again). */
  block(ms: number): Promise<null> {
    return this.op('block', { ms });
  }
  send(key: number, t: { datagrams: Buffer[]; dsts: number[] }, ipId: number, delayMs: number, intervalMs: number): Promise<null> {
    return this.op('send', { key, datagrams: t.datagrams.map((d) => d.toString('hex')), dsts: t.dsts, ipId, delayMs, intervalMs });
  }
  absorb(key: number, expected: Buffer, downMs: number, delayMs: number, plan: Plan | null): Promise<null> {
    const p: HexPlan | null = plan && {
      adverts: plan.adverts.map((b) => b.toString('hex')),
      dsts: plan.dsts,
      ipId: plan.ipId,
      netlink: plan.netlink.map((b) => b.toString('hex')),
      frames: plan.frames.map((b) => b.toString('hex')),
      ifindex: plan.ifindex,
    };
    return this.op('absorb', { key, expected: expected.toString('hex'), downMs, delayMs, plan: p });
  }
  /** Sends datagrams from this node (the peer), each to its destination (dotted). */
  inject(datagrams: { dst: string; bytes: Buffer; repeat?: number }[]): Promise<number> {
    return this.op('inject', { send: datagrams.map((d) => ({ dst: d.dst, hex: d.bytes.toString('hex'), ...(d.repeat ? { repeat: d.repeat } : {}) })) });
  }

  /** Waits until `key`'s ended callback was called. */
  waitEnded(key: number, timeoutMs = 10_000): Promise<number[]> {
    return eventually(async () => this.ended, (e) => e.includes(key), timeoutMs, `ended callback of rule ${key}`, 20);
  }

  /** Waits for the n-th (1-based) datagram handed to onDatagram. */
  async waitDatagrams(n: number, timeoutMs = 10_000): Promise<Buffer[]> {
    await eventually(async () => this.datagrams.length, (len) => len >= n, timeoutMs, `${n} datagram(s) delivered to onDatagram`, 20);
    return this.datagrams.map((d) => d.bytes);
  }

  /** Asks the child to end by itself (closing its stdin reader) and waits for its exit. */
  async exit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.op('exit');
    this.proc.stdin!.end();
    return Promise.race([
      this.exited,
      sleep(timeoutMs).then(() => {
        throw new Error(`child did not exit by itself within ${timeoutMs} ms; stderr: ${this.stderr}`);
      }),
    ]);
  }
}

type Plan = { adverts: Buffer[]; dsts: number[]; ipId: number; netlink: Buffer[]; frames: Buffer[]; ifindex: number };

// ── the wire: a minimal pcap reader (tcpdump -w, Ethernet) ──

interface Frame {
  /** Capture order. */
  index: number;
  bytes: Buffer;
}

function readPcap(path: string): Frame[] {
  const b = readFileSync(path);
  assert.ok(b.length >= 24, `${path}: no pcap header`);
  let le: boolean;
  if (b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d) le = true;
  else if (b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d) le = false;
  else throw new Error(`${path}: not a pcap file`);
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  assert.equal(u32(20), 1, 'link type Ethernet');
  const frames: Frame[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const incl = u32(off + 8);
    if (off + 16 + incl > b.length) break; // a record cut by SIGINT
    frames.push({ index: frames.length, bytes: b.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return frames;
}

interface WireDatagram {
  index: number;
  /** The IPv4 datagram, trimmed to its total length (no Ethernet padding). */
  ip: Buffer;
  src: string;
  dst: string;
  id: number;
  vrid: number;
  priority: number;
}

/** The VRRP datagrams (IPv4, protocol 112) in capture order. */
function vrrpOnWire(frames: Frame[]): WireDatagram[] {
  const out: WireDatagram[] = [];
  const h = {} as DatagramHeader;
  for (const f of frames) {
    if (f.bytes.length < 34 || f.bytes.readUInt16BE(12) !== 0x0800) continue;
    const ip = f.bytes.subarray(14);
    const len = ip.readUInt16BE(2);
    const d = ip.subarray(0, len);
    if (readDatagramHeader(d, h) !== null || h.protocol !== 112) continue;
    out.push({ index: f.index, ip: d, src: uint32ToIp(h.src), dst: uint32ToIp(h.dst), id: d.readUInt16BE(4), vrid: d[h.payloadOffset + 1]!, priority: d[h.payloadOffset + 2]! });
  }
  return out;
}

/** Gratuitous ARPs for `ip` from `mac`, in capture order (index = capture order). */
function garpsOnWire(frames: Frame[], ip: string, mac: string): Frame[] {
  return frames.filter((f) => {
    const a = parseArpFrame(f.bytes);
    return a !== null && a.spa === ip && a.tpa === ip && a.sha === mac && a.src === mac;
  });
}

/** The IPv4 header checksum is right when the ones' complement sum of the header is 0xffff. */
function headerChecksumOk(ip: Buffer): boolean {
  const hl = (ip[0]! & 0x0f) * 4;
  let sum = 0;
  for (let i = 0; i < hl; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

/** The next IP id after `id`, as AdvertEncoder and the addon count (1..0xffff). */
const nextId = (id: number) => (id >= 0xffff ? 1 : id + 1);

function encoder(src: string, destinations: string[], opts: { vrid?: number; firstIpId?: number; addresses?: string[] } = {}): AdvertEncoder {
  return new AdvertEncoder({
    version: 3,
    vrid: opts.vrid ?? VRID,
    addresses: opts.addresses ?? [VIP],
    advertIntervalCs: 100,
    authType: 0,
    authData: Buffer.alloc(0),
    src,
    destinations,
    ...(opts.firstIpId !== undefined ? { firstIpId: opts.firstIpId } : {}),
  });
}

/** The IPv4 addresses `ip` shows on a node's eth0, as "a.b.c.d/len". */
/** The peer's (ha2, priority 200) advert an absorb rule expects, and ours (ha1, 150) for sends and takeovers. */
const peerAdvert = (lab: Lab): Buffer => encoder(lab.node('ha2').ip, [MCAST]).template(200).datagrams[0]!;
const ourAdvert = (lab: Lab) => encoder(lab.node('ha1').ip, [MCAST]).template(150);

async function addressesOf(lab: Lab, node: string): Promise<string[]> {
  const [entry] = JSON.parse(await lab.run(node, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { local: string; prefixlen: number }[] }[];
  return (entry?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

/**
 * Runs a send rule on ha1 for `template` until it sent at least `atLeast` adverts, stops it, lets the
 * capture drain, and compares the wire with what AdvertEncoder.next() would have sent from `ipId` on.
 */
async function checkSendRule(lab: Lab, ha1: Child, destinations: string[], ipId: number, atLeast: number): Promise<void> {
  const src = lab.node('ha1').ip;
  const tpl = encoder(src, destinations).template(150);
  assert.deepEqual(tpl.dsts, destinations.map(ipToUint32));
  const cap = await startCapture(lab, { name: `send-${destinations.length}` });
  const key = await ha1.key();
  await ha1.send(key, tpl, ipId, 0, 25);
  await eventually(() => ha1.peek(key), (r) => (r?.count ?? 0) >= atLeast, 10_000, `${atLeast} adverts sent`, 20);
  const report = await ha1.stop(key);
  assert.ok(report, 'stop() reports the rule');
  assert.equal(await ha1.peek(key), null, 'stop() removed the rule');
  const pcap = await cap.stop(500); // stopped first: everything counted is already on its way

  assert.equal(report.ended, 0, 'it was still running');
  assert.equal(report.error, null);
  assert.ok(report.count >= atLeast);
  assert.ok(report.lastAgoMs >= 0, 'the last advert has an age');
  const wire = vrrpOnWire(readPcap(pcap)).filter((d) => d.src === src);
  assert.equal(wire.length, report.count * destinations.length, `every datagram of the ${report.count} adverts was captured, no more`);

  // byte for byte what AdvertEncoder would have sent, round by round (ids interleaved across destinations)
  const ref = encoder(src, destinations, { firstIpId: ipId });
  let id = ipId;
  for (let k = 0; k < report.count; k++) {
    const round = ref.next(150);
    for (let j = 0; j < destinations.length; j++) {
      const got = wire.find((w) => w.dst === destinations[j] && w.id === id);
      assert.ok(got, `round ${k}: the datagram to ${destinations[j]} with IP id ${id} is on the wire`);
      assert.ok(headerChecksumOk(got.ip), `round ${k}: IP header checksum valid (id ${id})`);
      assert.deepEqual(got.ip, round[j]!.datagram, `round ${k}, ${destinations[j]}: same bytes as AdvertEncoder.next() (id ${id})`);
      assert.deepEqual(got.ip.subarray(20), tpl.datagrams[j]!.subarray(20), 'the template\'s VRRP bytes');
      id = nextId(id);
    }
  }
  // per destination, consecutive rounds in capture order
  for (let j = 0; j < destinations.length; j++) {
    const ids = wire.filter((w) => w.dst === destinations[j]).map((w) => w.id);
    let want = ipId;
    for (let s = 0; s < j; s++) want = nextId(want);
    for (const got of ids) {
      assert.equal(got, want, `to ${destinations[j]}: ids in capture order ${ids.join(',')}`);
      for (let s = 0; s < destinations.length; s++) want = nextId(want);
    }
  }
  assert.equal(report.nextIpId, id, 'nextIpId: where the ids left off');
  assert.equal(report.nextIpId, ref.nextIpId);
  // tshark agrees: VRID, priority, VRRP checksum good
  const rows = (await decodeVrrp(pcap)).filter((r) => r.src === src);
  assert.equal(rows.length, wire.length);
  for (const r of rows) {
    assert.equal(r.vrid, VRID);
    assert.equal(r.priority, 150);
    assert.equal(r.ttl, 255);
    assert.equal(r.checksumStatus, 1, 'VRRP checksum good');
    assert.deepEqual(r.addrs, [VIP]);
  }
}

const childMode = process.env[CHILD_ENV] === '1';

if (childMode) {
  runChild();
} else {
  test('send rule: the template\'s bytes every interval, consecutive IP ids (wrapping as AdvertEncoder), valid checksums, count and nextIpId', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const ha1 = await Child.start(lab, 'ha1');
      await ha1.open();
      // one destination
      await checkSendRule(lab, ha1, [MCAST], 1000, 8);
      // two destinations (two datagrams per advert): round k has ids ipId+2k and ipId+2k+1, here
      // across the wrap 0xffff → 1. The peer's neighbour entry first, so no unicast waits for ARP.
      await lab.run('ha1', ['ping', '-c', '1', '-W', '2', lab.node('ha2').ip]);
      await checkSendRule(lab, ha1, [MCAST, lab.node('ha2').ip], 0xfff7, 8);
      const stats = await ha1.stats();
      assert.equal(stats.sendErrors, 0);
      assert.ok(stats.sent >= 8 + 16, JSON.stringify(stats));
      assert.equal((await ha1.exit()).code, 0);
    });
  });

  test('rtPriority: the thread runs SCHED_FIFO at that priority (root has CAP_SYS_NICE) and still sends; 0 is a normal thread; outside 0..99 open() throws', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      // Root here normally has CAP_SYS_NICE; a runner whose root lacks it sees the refusal instead.
      const capEff = BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
      const nice = (capEff >> 23n) & 1n ? true : false;
      if (!nice) console.warn('\n!!!!! this runner\'s root has no CAP_SYS_NICE: the realtime thread cannot be made here; checking the refusal instead !!!!!\n');
      const ha1 = await Child.start(lab, 'ha1');
      await ha1.open(7);
      assert.deepEqual(fifoThreads(ha1.pid).map((th) => th.priority), nice ? [7] : [], 'exactly one SCHED_FIFO thread: the offload\'s');
      await checkSendRule(lab, ha1, [MCAST], 1000, 4);
      const stats = await ha1.stats();
      assert.equal(stats.rtPriority, nice ? 7 : 0);
      assert.equal(stats.rtError, nice ? null : 'Operation not permitted');
      assert.equal((await ha1.exit()).code, 0);

      const ha2 = await Child.start(lab, 'ha2');
      await ha2.open(0);
      assert.deepEqual(fifoThreads(ha2.pid), []);
      assert.deepEqual([(await ha2.stats()).rtPriority, (await ha2.stats()).rtError], [0, null]);
      assert.equal((await ha2.exit()).code, 0);

      const bad = await Child.start(lab, 'ha1');
      await assert.rejects(bad.open(100), /rtPriority must be 0\.\.99/);
      assert.equal((await bad.exit()).code, 0);
    });
  });

  test('a stuck event loop: at most 8 MiB of datagrams wait for it, the rest are dropped and counted (queueDrops), never queued without bound', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const [ha1, ha2] = await Promise.all([Child.start(lab, 'ha1'), Child.start(lab, 'ha2')]);
      await ha1.open();
      // 1000-byte datagrams for another VRID (the thread forwards them all): 8 MiB holds 8388 of them.
      const SIZE = 1000;
      const N = 10_000;
      const FIT = Math.floor((8 << 20) / SIZE);
      const advert = Buffer.from(encoder(lab.node('ha2').ip, [MCAST], { vrid: OTHER_VRID, firstIpId: 1 }).next(200)[0]!.datagram);
      const big = Buffer.concat([advert, Buffer.alloc(SIZE - advert.length, 0xab)]);
      big.writeUInt16BE(SIZE, 2); // IP total length (the kernel fills in the header checksum)
      const blocked = ha1.block(5000);
      await eventually(async () => ha1.blocking, (b) => b, 10_000, 'the child\'s event loop stuck', 20);
      await ha2.inject([{ dst: MCAST, bytes: big, repeat: N }]);
      await blocked;
      await ha1.waitDatagrams(FIT);
      await sleep(300);
      assert.equal(ha1.datagrams.length, FIT, 'exactly what fits in the bound reached onDatagram');
      assert.ok(ha1.datagrams.every((d) => d.bytes.length === SIZE && d.bytes.subarray(20).equals(big.subarray(20))), 'each as sent');
      const stats = await ha1.stats();
      assert.deepEqual([stats.received, stats.forwarded, stats.queueDrops], [N, FIT, N - FIT]);
      // Once the loop drains the queue, datagrams flow again.
      await ha2.inject([{ dst: MCAST, bytes: advert, repeat: 3 }]);
      await ha1.waitDatagrams(FIT + 3);
      assert.equal((await ha1.stats()).queueDrops, N - FIT);
      assert.equal((await ha1.exit()).code, 0);
      assert.equal((await ha2.exit()).code, 0);
    });
  });

  test('absorb rule: identical adverts are counted, not delivered; another VRID is delivered and the rule runs on; the same VRID at another priority ends it (2)', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const [ha1, ha2] = await Promise.all([Child.start(lab, 'ha1'), Child.start(lab, 'ha2')]);
      await ha1.open();
      const peer = lab.node('ha2').ip;
      const master = encoder(peer, [MCAST], { firstIpId: 40 });
      const expected = master.template(200).datagrams[0]!; // id 0, checksum 0: those may differ
      const key = await ha1.key();
      await ha1.absorb(key, expected, 60_000, 60_000, null);

      // N identical adverts (each with its own IP id and header checksum)
      const N = 5;
      const sent = Array.from({ length: N }, () => Buffer.from(master.next(200)[0]!.datagram));
      assert.equal(new Set(sent.map((d) => d.readUInt16BE(4))).size, N, 'the IP ids differ');
      sent[2]![1] = 0x00; // and one has another TOS (0xc0 elsewhere); the kernel redoes the header checksum
      const cap = await startCapture(lab, { name: 'absorb' });
      await ha2.inject(sent.map((bytes) => ({ dst: MCAST, bytes })));
      const absorbed = await eventually(() => ha1.peek(key), (r) => (r?.count ?? 0) >= N, 10_000, `${N} adverts absorbed`, 20);
      assert.equal(absorbed?.count, N);
      assert.equal(absorbed?.ended, 0);
      assert.equal(absorbed?.tookOver, false);
      assert.equal(ha1.datagrams.length, 0, 'no absorbed advert reached onDatagram');
      assert.deepEqual(ha1.ended, []);
      let stats = await ha1.stats();
      assert.equal(stats.absorbed, N);
      assert.equal(stats.forwarded, 0);
      const onWire = vrrpOnWire(readPcap(await cap.stop(300))).filter((d) => d.src === peer);
      assert.deepEqual(onWire.map((d) => d.id), sent.map((d) => d.readUInt16BE(4)), 'the peer\'s adverts were on the wire, ids as sent');
      assert.deepEqual(onWire.map((d) => d.ip[1]), [0xc0, 0xc0, 0x00, 0xc0, 0xc0], 'one with another TOS');
      assert.ok(onWire.every((d) => headerChecksumOk(d.ip)));

      // another VRID: delivered, and the rule keeps running
      const other = Buffer.from(encoder(peer, [MCAST], { vrid: OTHER_VRID, firstIpId: 900 }).next(200)[0]!.datagram);
      await ha2.inject([{ dst: MCAST, bytes: other }]);
      const [first] = await ha1.waitDatagrams(1);
      assert.deepEqual(first, other, 'the other VRID\'s advert, as sent');
      const still = await ha1.peek(key);
      assert.equal(still?.ended, 0, 'another VRID does not end the rule');
      assert.equal(still?.count, N);
      assert.deepEqual(ha1.ended, []);
      // and it still absorbs
      await ha2.inject([{ dst: MCAST, bytes: Buffer.from(master.next(200)[0]!.datagram) }]);
      await eventually(() => ha1.peek(key), (r) => r?.count === N + 1, 10_000, 'one more absorbed', 20);

      // the same VRID at another priority: delivered, and the rule ends (2) with its callback called
      const changed = Buffer.from(master.next(100)[0]!.datagram);
      await ha2.inject([{ dst: MCAST, bytes: changed }]);
      const delivered = await ha1.waitDatagrams(2);
      assert.deepEqual(delivered[1], changed, 'the changed advert reached onDatagram');
      assert.equal(delivered.length, 2);
      await ha1.waitEnded(key);
      assert.deepEqual(ha1.ended, [key], 'the ended callback ran once, for this rule');
      const ended = await ha1.peek(key);
      assert.equal(ended?.ended, 2);
      assert.equal(ended?.count, N + 1);
      const report = await ha1.stop(key);
      assert.equal(report?.ended, 2);
      assert.equal(report?.count, N + 1);
      assert.equal(report?.tookOver, false);
      assert.equal(report?.firedAgoMs, -1, 'the deadline never passed');
      assert.ok((report?.lastAgoMs ?? -1) >= 0);
      assert.equal(await ha1.stop(key), null, 'gone after stop()');
      stats = await ha1.stats();
      assert.equal(stats.absorbed, N + 1);
      assert.equal(stats.forwarded, 2);
      assert.equal(stats.received, N + 3);
      assert.equal(stats.sent, 0, 'an absorb rule without a plan sends nothing');
      assert.equal((await ha1.exit()).code, 0);
      assert.equal((await ha2.exit()).code, 0);
    });
  });

  test('absorb deadline without a plan: the rule ends (1), its callback runs, nothing is sent', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const ha1 = await Child.start(lab, 'ha1');
      await ha1.open();
      const expected = peerAdvert(lab);
      const key = await ha1.key();
      const cap = await startCapture(lab, { name: 'deadline' });
      await ha1.absorb(key, expected, 200, 200, null);
      await ha1.waitEnded(key);
      const peeked = await ha1.peek(key);
      assert.equal(peeked?.ended, 1, 'the rule stays until stop(), ended');
      const report = await ha1.stop(key);
      assert.ok(report);
      assert.equal(report.ended, 1);
      assert.ok(report.firedAgoMs >= 0, `firedAgoMs ${report.firedAgoMs}`);
      assert.equal(report.tookOver, false);
      assert.equal(report.count, 0);
      assert.equal(report.lastAgoMs, -1);
      assert.equal(report.nlError, null);
      assert.equal(report.error, null);
      assert.deepEqual(ha1.ended, [key]);
      const frames = readPcap(await cap.stop(300));
      assert.deepEqual(vrrpOnWire(frames).filter((d) => d.src === lab.node('ha1').ip), [], 'no advert sent');
      assert.equal((await ha1.stats()).sent, 0);
      assert.equal((await ha1.exit()).code, 0);
    });
  });

  test('absorb deadline with a takeover plan: advert, then the VIP added, then the gratuitous ARP; again with the VIP already there (EEXIST is success)', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const node = lab.node('ha1');
      const ha1 = await Child.start(lab, 'ha1');
      const { ifindex } = await ha1.open();
      const expected = peerAdvert(lab);
      const ours = ourAdvert(lab);
      const garp = buildGratuitousArp(node.mac, VIP);
      const plan = (ipId: number, seq: number): Plan => ({
        adverts: ours.datagrams,
        dsts: ours.dsts,
        ipId,
        netlink: [addressRequest(seq, 'add', { index: ifindex, family: 4, address: VIP, prefixLen: 32 })],
        frames: [garp],
        ifindex,
      });
      assert.ok(!(await addressesOf(lab, 'ha1')).includes(`${VIP}/32`));
      const cap = await startCapture(lab, { name: 'takeover' });

      for (const [run, ipId] of [[1, 300], [2, 0xffff]] as const) {
        const key = await ha1.key();
        await ha1.absorb(key, expected, 300, 300, plan(ipId, run));
        await ha1.waitEnded(key);
        assert.ok((await addressesOf(lab, 'ha1')).includes(`${VIP}/32`), `run ${run}: the VIP is on eth0`);
        const report = await ha1.stop(key);
        assert.ok(report);
        assert.equal(report.ended, 1, `run ${run}`);
        assert.equal(report.tookOver, true, `run ${run}`);
        assert.equal(report.nlError, null, `run ${run}: ${run === 2 ? 'EEXIST counts as success' : 'added'}`);
        assert.equal(report.error, null);
        assert.ok(report.firedAgoMs >= 0);
        assert.equal(report.nextIpId, nextId(ipId), `run ${run}: one datagram sent`);
      }
      assert.deepEqual(ha1.ended.length, 2);

      const frames = readPcap(await cap.stop(500));
      const adverts = vrrpOnWire(frames).filter((d) => d.src === node.ip);
      const garps = garpsOnWire(frames, VIP, node.mac);
      assert.deepEqual(adverts.map((a) => a.id), [300, 0xffff], 'one advert per takeover, with the plan\'s IP id');
      assert.equal(garps.length, 2, 'one gratuitous ARP per takeover');
      for (let i = 0; i < 2; i++) {
        const a = adverts[i]!;
        const want = encoder(node.ip, [MCAST], { firstIpId: a.id }).next(150)[0]!.datagram;
        assert.deepEqual(a.ip, want, `takeover ${i + 1}: our advert, as AdvertEncoder sends it`);
        assert.ok(headerChecksumOk(a.ip));
        assert.deepEqual(garps[i]!.bytes.subarray(0, garp.length), garp, `takeover ${i + 1}: the plan's frame`);
        assert.ok(a.index < garps[i]!.index, `takeover ${i + 1}: the advert is on the wire before the gratuitous ARP`);
      }
      assert.ok(adverts[1]!.index > garps[0]!.index, 'the second takeover came after the first');
      // the VIP was added once (a /32 beside the node's own address), not twice
      assert.deepEqual((await addressesOf(lab, 'ha1')).sort(), [node.cidr, `${VIP}/32`].sort());
      assert.equal((await ha1.exit()).code, 0);
    });
  });

  test('a takeover whose netlink request fails: nlError says why, no frame is sent, the earlier request and the advert were carried out', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const node = lab.node('ha1');
      const ha1 = await Child.start(lab, 'ha1');
      const { ifindex } = await ha1.open();
      const expected = peerAdvert(lab);
      const ours = ourAdvert(lab);
      const missing = 999_999;
      assert.notEqual(missing, ifindex);
      const cap = await startCapture(lab, { name: 'nl-error' });
      const key = await ha1.key();
      await ha1.absorb(key, expected, 300, 300, {
        adverts: ours.datagrams,
        dsts: ours.dsts,
        ipId: 77,
        netlink: [
          addressRequest(1, 'add', { index: ifindex, family: 4, address: VIP2, prefixLen: 32 }),
          addressRequest(2, 'add', { index: missing, family: 4, address: VIP, prefixLen: 32 }),
        ],
        frames: [buildGratuitousArp(node.mac, VIP), buildGratuitousArp(node.mac, VIP2)],
        ifindex,
      });
      await ha1.waitEnded(key);
      const report = await ha1.stop(key);
      assert.ok(report);
      assert.equal(report.ended, 1);
      assert.equal(report.tookOver, true, 'the plan was carried out as far as it went');
      assert.equal(typeof report.nlError, 'string');
      assert.match(report.nlError!, /no such device/i, 'ENODEV for an interface index that does not exist');
      assert.equal(report.nextIpId, 78);
      const addrs = await addressesOf(lab, 'ha1');
      assert.ok(addrs.includes(`${VIP2}/32`), 'the request before the failing one was carried out');
      assert.ok(!addrs.some((a) => a.startsWith(`${VIP}/`)));
      const frames = readPcap(await cap.stop(500));
      assert.deepEqual(garpsOnWire(frames, VIP, node.mac), [], 'no gratuitous ARP for the VIP');
      assert.deepEqual(garpsOnWire(frames, VIP2, node.mac), [], 'no gratuitous ARP at all: never announce after a failed request');
      const adverts = vrrpOnWire(frames).filter((d) => d.src === node.ip);
      assert.deepEqual(adverts.map((a) => a.id), [77], 'the advert went out before the requests');
      assert.equal((await ha1.exit()).code, 0);
    });
  });

  test('close() while rules are active: no crash, no more sends or deliveries, stop()/peek() null, the process ends by itself', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const node = lab.node('ha1');
      const [ha1, ha2] = await Promise.all([Child.start(lab, 'ha1'), Child.start(lab, 'ha2')]);
      const { ifindex } = await ha1.open();
      const peer = lab.node('ha2').ip;
      const master = encoder(peer, [MCAST]);
      const ours = ourAdvert(lab);
      const cap = await startCapture(lab, { name: 'close' });
      const sendKey = await ha1.key();
      const absorbKey = await ha1.key();
      const armedKey = await ha1.key();
      await ha1.send(sendKey, ours, 10, 0, 20);
      await ha1.absorb(absorbKey, master.template(200).datagrams[0]!, 60_000, 60_000, null);
      // a takeover plan that must never run: its deadline is far away
      await ha1.absorb(armedKey, encoder(peer, [MCAST], { vrid: OTHER_VRID }).template(200).datagrams[0]!, 60_000, 60_000, {
        adverts: ours.datagrams,
        dsts: ours.dsts,
        ipId: 5000,
        netlink: [addressRequest(1, 'add', { index: ifindex, family: 4, address: VIP, prefixLen: 32 })],
        frames: [buildGratuitousArp(node.mac, VIP)],
        ifindex,
      });
      await ha2.inject([1, 2, 3].map(() => ({ dst: MCAST, bytes: Buffer.from(master.next(200)[0]!.datagram) })));
      await eventually(() => ha1.peek(absorbKey), (r) => r?.count === 3, 10_000, 'three absorbed', 20);
      await eventually(() => ha1.peek(sendKey), (r) => (r?.count ?? 0) >= 5, 10_000, 'five sent', 20);

      const { before } = await ha1.op<{ before: (OffloadReport | null)[]; closedAt: number }>('close', { keys: [sendKey, absorbKey, armedKey] });
      assert.deepEqual(before.map((r) => r?.ended), [0, 0, 0], 'all three rules were running when close() was called');
      for (const k of [sendKey, absorbKey, armedKey]) {
        assert.equal(await ha1.peek(k), null, `peek(${k}) after close()`);
        assert.equal(await ha1.stop(k), null, `stop(${k}) after close()`);
      }
      assert.deepEqual(await ha1.stats(), { received: 0, absorbed: 0, forwarded: 0, sent: 0, sendErrors: 0, queueDrops: 0, rtPriority: 0, rtError: null });
      await ha1.op('close'); // twice: harmless
      const sentBeforeClose = before[0]!.count;
      const drained = readPcap(await cap.stop(500));
      const sentOnWire = vrrpOnWire(drained).filter((d) => d.src === node.ip);
      assert.ok(sentOnWire.length === sentBeforeClose || sentOnWire.length === sentBeforeClose + 1, `${sentOnWire.length} adverts on the wire; ${sentBeforeClose} counted just before close()`);
      assert.deepEqual(sentOnWire.map((d) => d.id), Array.from({ length: sentOnWire.length }, (_, i) => 10 + i));

      // after close: the thread is gone — nothing sent, nothing delivered, no callback
      const after = await startCapture(lab, { name: 'after-close' });
      await ha2.inject([
        { dst: MCAST, bytes: Buffer.from(master.next(200)[0]!.datagram) },
        { dst: MCAST, bytes: Buffer.from(master.next(100)[0]!.datagram) },
        { dst: MCAST, bytes: Buffer.from(encoder(peer, [MCAST], { vrid: OTHER_VRID }).next(200)[0]!.datagram) },
      ]);
      const later = readPcap(await after.stop(600));
      assert.equal(vrrpOnWire(later).filter((d) => d.src === peer).length, 3, 'the peer\'s datagrams were on the wire');
      assert.deepEqual(vrrpOnWire(later).filter((d) => d.src === node.ip), [], 'no advert from the closed offload');
      assert.deepEqual(garpsOnWire(later, VIP, node.mac), []);
      assert.equal(ha1.datagrams.length, 0, 'nothing delivered to onDatagram');
      assert.deepEqual(ha1.ended, [], 'no ended callback');
      assert.ok(!(await addressesOf(lab, 'ha1')).includes(`${VIP}/32`), 'the armed plan never ran');

      const exit = await ha1.exit();
      assert.deepEqual(exit, { code: 0, signal: null }, `the child ended cleanly; stderr: ${ha1.stderr}`);
      assert.equal(ha1.stderr, '');
      assert.equal((await ha2.exit()).code, 0);
    });
  });

  test('send rule whose sendto fails (eth0 down): the rule ends (3) with the error, its callback runs, the wire has what was counted', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const node = lab.node('ha1');
      const ha1 = await Child.start(lab, 'ha1');
      await ha1.open();
      const cap = await startCapture(lab, { name: 'send-error' });
      const key = await ha1.key();
      await ha1.send(key, encoder(node.ip, [MCAST]).template(150), 100, 0, 20);
      await eventually(() => ha1.peek(key), (r) => (r?.count ?? 0) >= 3, 10_000, 'three sent', 20);
      await lab.run('ha1', ['ip', 'link', 'set', 'eth0', 'down']);
      await ha1.waitEnded(key);
      const report = await ha1.stop(key);
      assert.ok(report);
      assert.equal(report.ended, 3);
      assert.equal(typeof report.error, 'string');
      assert.match(report.error!, /unreachable|down/i);
      assert.deepEqual(ha1.ended, [key]);
      const stats = await ha1.stats();
      assert.equal(stats.sendErrors, 1, 'one failed sendto, then no retry');
      assert.equal(stats.sent, report.count);
      // the failed datagram took its IP id (as a failed AdvertEncoder.next() + send does)
      assert.equal(report.nextIpId, 100 + report.count + 1);
      await lab.run('ha1', ['ip', 'link', 'set', 'eth0', 'up']);
      const wire = vrrpOnWire(readPcap(await cap.stop(500))).filter((d) => d.src === node.ip);
      assert.deepEqual(wire.map((d) => d.id), Array.from({ length: report.count }, (_, i) => 100 + i), 'every counted advert, and only those, on the wire');
      assert.equal((await ha1.stats()).sent, report.count, 'the ended rule sends nothing once the link is back');
      assert.equal((await ha1.exit()).code, 0);
    });
  });
  test('a lapsed lease (the event loop stuck) ends every rule (4): no more adverts, no takeover; a new rule renews it', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const node = lab.node('ha1');
      const ha1 = await Child.start(lab, 'ha1');
      const { ifindex } = await ha1.open();
      const sending = await ha1.key();
      const absorbing = await ha1.key();
      await ha1.lease(400);
      await ha1.send(sending, encoder(node.ip, [MCAST]).template(150), 1, 0, 20);
      // A takeover armed far away: the lease must end it without carrying it out.
      const ours = ourAdvert(lab);
      const plan: Plan = {
        adverts: ours.datagrams,
        dsts: ours.dsts,
        ipId: 500,
        netlink: [addressRequest(0, 'add', { index: ifindex, family: 4, address: '203.0.113.77', prefixLen: 32 })],
        frames: [],
        ifindex,
      };
      await ha1.absorb(absorbing, encoder(lab.node('ha2').ip, [MCAST]).template(200).datagrams[0]!, 30_000, 30_000, plan);
      await ha1.waitEnded(sending);
      await ha1.waitEnded(absorbing);
      const sent = await ha1.stop(sending);
      const absorbed = await ha1.stop(absorbing);
      assert.equal(sent?.ended, 4, 'the send rule ended with the lease');
      assert.ok((sent?.count ?? 0) >= 1, 'it had sent before the lease lapsed');
      assert.equal(absorbed?.ended, 4, 'the absorb rule ended with the lease');
      assert.equal(absorbed?.tookOver, false, 'no takeover on a lapsed lease');
      assert.equal(absorbed?.firedAgoMs, -1);
      assert.ok(!(await addressesOf(lab, 'ha1')).includes('203.0.113.77'), 'the VIP was not added');
      const after = (await ha1.stats()).sent;
      assert.equal(after, sent!.count, 'nothing sent after the lapse');
      // JS is alive again: a new rule renews the lease and runs.
      const again = await ha1.key();
      await ha1.send(again, encoder(node.ip, [MCAST]).template(150), 1, 0, 20);
      await eventually(() => ha1.peek(again), (r) => (r?.count ?? 0) >= 3, 10_000, 'the new rule sends', 20);
      assert.equal((await ha1.peek(again))?.ended, 0);
      await ha1.stop(again);
      assert.equal((await ha1.exit()).code, 0);
    });
  });
}

// VrrpSocket (src/vrrp/transport.ts) against raw-socket's two traps, on the host's loopback (root):
// an 'error' event without an argument, and the native socket closed behind our back (which raw-socket
// would silently re-create unconfigured). What raw-socket does is pinned in raw-socket-internals.test.ts;
// here the events are injected exactly as its native code emits them (`wrap.emit('error')`), and a
// failing reopen is simulated by making raw-socket's createSocket throw (test-side, no hook in src/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { REOPEN_RETRY_MS, UNKNOWN_RAW_SOCKET_ERROR, VrrpSocket } from '../../src/vrrp/transport.js';
import { requireRoot } from '../netns/harness.js';

const require = createRequire(import.meta.url);
const rawModule = require('raw-socket') as { createSocket: (o: object) => unknown };

interface Inner {
  wrap: { emit(ev: string, ...args: unknown[]): boolean; getOption(level: number, option: number, buf: Buffer, len: number): number };
}
const inner = (vs: VrrpSocket): Inner | null => (vs as unknown as { sock: Inner | null }).sock;

const LO_INDEX = Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'));

/** A VRRP-protocol datagram 127.0.0.1 → 127.0.0.1 with our TOS/TTL and a marker in the payload. */
function datagram(marker: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x45;
  b[1] = 0xc0;
  b.writeUInt16BE(b.length, 2);
  b[8] = 255;
  b[9] = 112;
  b.set([127, 0, 0, 1], 12);
  b.set([127, 0, 0, 1], 16);
  b.writeUInt32BE(marker, 36);
  return b;
}

/** Waits for pred(); raw-socket's poll handle alone does not keep node:test's loop alive, a timer does. */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function options(sock: Inner): { hdrincl: number; device: string } {
  const i = Buffer.alloc(4);
  sock.wrap.getOption(0, 3, i, 4);
  const d = Buffer.alloc(16);
  const n = sock.wrap.getOption(1, 25, d, 16);
  return { hdrincl: i.readInt32LE(0), device: d.toString('latin1', 0, n).replace(/\0+$/, '') };
}

test('an error without an argument is counted, never thrown; the closed socket is replaced by a configured one that sends our header', async (t) => {
  if (!requireRoot(t)) return;
  const vs = VrrpSocket.open('lo', LO_INDEX);
  const got: Buffer[] = [];
  vs.onDatagram((d) => got.push(Buffer.from(d)));
  const troubles: (string | null)[] = [];
  vs.onTrouble((x) => troubles.push(x));
  try {
    const before = inner(vs)!;
    assert.doesNotThrow(() => before.wrap.emit('error')); // as raw.cc HandleIOEvent does on a poll error
    assert.equal(vs.stats.socketErrors, 1);
    assert.equal(vs.stats.lastError, UNKNOWN_RAW_SOCKET_ERROR);
    assert.equal(vs.stats.reopened, 1, 'raw-socket closed its native socket; ours was replaced at once');
    assert.equal(vs.trouble(), null);
    assert.deepEqual(troubles, [], 'a successful reopen is no trouble');
    const after = inner(vs)!;
    assert.notEqual(after, before);
    assert.deepEqual(options(after), { hdrincl: 1, device: 'lo' });

    const marker = 0x5eed0000 + (process.pid & 0xffff);
    assert.equal(vs.send(datagram(marker), '127.0.0.1'), true);
    await until(() => got.some((d) => d.length >= 40 && d.readUInt32BE(36) === marker), 5_000, 'our datagram back from lo');
    const mine = got.find((d) => d.readUInt32BE(36) === marker)!;
    assert.equal(mine[1], 0xc0, 'TOS as we wrote it: the header is ours (IP_HDRINCL)');
    assert.equal(mine[8], 255, 'TTL as we wrote it');
  } finally {
    vs.close();
  }
});

test('a socket that cannot be reopened: trouble, listeners told, sends refused; the retry clears it', async (t) => {
  if (!requireRoot(t)) return;
  const vs = VrrpSocket.open('lo', LO_INDEX);
  const troubles: (string | null)[] = [];
  vs.onTrouble((x) => troubles.push(x));
  const createSocket = rawModule.createSocket;
  try {
    rawModule.createSocket = () => {
      throw new Error('injected: socket() failed');
    };
    inner(vs)!.wrap.emit('error');
    assert.match(vs.trouble() ?? '', /closed the VRRP socket on lo after an error \(unknown raw-socket error\); cannot reopen it: cannot open the VRRP raw socket: injected/);
    assert.deepEqual(troubles, [vs.trouble()]);
    assert.equal(inner(vs), null);
    assert.equal(vs.send(datagram(1), '127.0.0.1'), false, 'never sent through an unconfigured socket');
    assert.equal(vs.stats.refused, 1);
    assert.equal(vs.stats.lastError, vs.trouble());

    rawModule.createSocket = createSocket;
    await until(() => vs.trouble() === null, 5 * REOPEN_RETRY_MS, 'the retry reopens the socket');
    assert.deepEqual(troubles.at(-1), null, 'listeners hear that the trouble is over');
    assert.equal(vs.stats.reopened, 1);
    assert.deepEqual(options(inner(vs)!), { hdrincl: 1, device: 'lo' });
    assert.equal(vs.send(datagram(2), '127.0.0.1'), true);
  } finally {
    rawModule.createSocket = createSocket;
    vs.close();
  }
});

test('a storm of errors: a few immediate reopens, then trouble and one retry per period', async (t) => {
  if (!requireRoot(t)) return;
  const vs = VrrpSocket.open('lo', LO_INDEX);
  try {
    for (let n = 0; n < 5; n++) inner(vs)!.wrap.emit('error');
    assert.equal(vs.stats.reopened, 5);
    assert.equal(vs.trouble(), null);
    inner(vs)!.wrap.emit('error');
    assert.match(vs.trouble() ?? '', /keeps failing \(5 reopens in 10 s\)/);
    assert.equal(vs.send(datagram(3), '127.0.0.1'), false);
    await until(() => vs.trouble() === null, 5 * REOPEN_RETRY_MS, 'the retry reopens the socket');
    assert.equal(vs.stats.reopened, 6);
    assert.equal(vs.stats.socketErrors, 6);
    assert.equal(vs.send(datagram(4), '127.0.0.1'), true);
  } finally {
    vs.close();
  }
});

test('close() is final: no reopen, no trouble, sends refused quietly', (t) => {
  if (!requireRoot(t)) return;
  const vs = VrrpSocket.open('lo', LO_INDEX);
  vs.close();
  assert.equal(vs.stats.reopened, 0);
  assert.equal(vs.trouble(), null);
  assert.equal(vs.send(datagram(5), '127.0.0.1'), false);
  assert.equal(vs.stats.refused, 0, 'a closed socket is not a trouble');
});

test('a burst of datagrams is read in one readiness event (our recvReady listener drains the socket), none lost', async (t) => {
  if (!requireRoot(t)) return;
  const vs = VrrpSocket.open('lo', LO_INDEX);
  const got: number[] = [];
  vs.onDatagram((d) => {
    if (d.length >= 40) got.push(d.readUInt32BE(36));
  });
  try {
    const wrap = inner(vs)!.wrap as unknown as { listenerCount(ev: string): number; listeners(ev: string): { name: string }[] };
    assert.equal(wrap.listenerCount('recvReady'), 1, "raw-socket's one-datagram listener was replaced by ours");
    const base = 0x5e000000 + ((process.pid & 0xfff) << 8);
    for (let i = 0; i < 20; i++) assert.equal(vs.send(datagram(base + i), '127.0.0.1'), true);
    await until(() => got.filter((m) => (m & ~0xff) === base).length === 20, 5_000, 'all 20 datagrams back');
    assert.deepEqual(got.filter((m) => (m & ~0xff) === base), Array.from({ length: 20 }, (_, i) => base + i), 'in order, each once');
  } finally {
    vs.close();
  }
});

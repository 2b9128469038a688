// Pins the raw-socket 1.8.1 internals src/vrrp/transport.ts relies on. If one of these fails, raw-socket
// changed under us: re-read node_modules/raw-socket/index.js and src/raw.cc, adapt VrrpSocket (its
// synchronous send through `wrap.send` while `requests` is empty, its 'close' guard against the silent
// re-creation of the native socket, its handling of an 'error' without an argument), then this file.
// Real raw sockets (root): protocol 253 (RFC 3692 experimentation) on the host's loopback, and the
// native poll-error path for real inside a lab namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, sweepStaleLabs } from '../../src/lab/lab.js';
import { requireRoot } from '../netns/harness.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const CHANGED = 'raw-socket changed: src/vrrp/transport.ts relies on this internal (see the top of test/unit/raw-socket-internals.test.ts)';

const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const PROTO = 253;

interface Wrap {
  send(buf: Buffer, offset: number, length: number, address: string, done: (bytes: number) => void): void;
  getOption(level: number, option: number, buf: Buffer, len: number): number;
  close(): void;
  emit(ev: string, ...args: unknown[]): boolean;
}
interface Sock {
  wrap: Wrap;
  requests: unknown[];
  on(ev: string, cb: (...args: unknown[]) => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, before: null, after: (err: Error | null, bytes: number) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): void;
}
const raw = require('raw-socket') as { createSocket(o: object): Sock };

/** An IPv4 datagram 127.0.0.1 → 127.0.0.1, protocol PROTO, `len` bytes. */
function datagram(len = 28): Buffer {
  const b = Buffer.alloc(len);
  b[0] = 0x45;
  b.writeUInt16BE(Math.min(len, 0xffff), 2);
  b[8] = 64;
  b[9] = PROTO;
  b.set([127, 0, 0, 1], 12);
  b.set([127, 0, 0, 1], 16);
  return b;
}

function hdrincl(s: Sock): number {
  const b = Buffer.alloc(4);
  s.wrap.getOption(IPPROTO_IP, IP_HDRINCL, b, 4);
  return b.readInt32LE(0);
}

function boundDevice(s: Sock): string {
  const b = Buffer.alloc(16);
  const n = s.wrap.getOption(SOL_SOCKET, SO_BINDTODEVICE, b, 16);
  return b.toString('latin1', 0, n).replace(/\0+$/, '');
}

function configured(): Sock {
  const s = raw.createSocket({ protocol: PROTO });
  s.setOption(IPPROTO_IP, IP_HDRINCL, 1);
  s.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from('lo\0'), 3);
  return s;
}

test('raw-socket is exactly 1.8.1 (package.json pins it; the installed copy is it)', () => {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['raw-socket'], '1.8.1', `package.json must pin raw-socket to exactly 1.8.1 — ${CHANGED}`);
  const installed = JSON.parse(readFileSync(require.resolve('raw-socket/package.json'), 'utf8')) as { version: string };
  assert.equal(installed.version, '1.8.1', `installed raw-socket is ${installed.version} — ${CHANGED}`);
});

test('Socket holds its native handle in `wrap` and its send queue in `requests` (an empty array)', (t) => {
  if (!requireRoot(t)) return;
  const s = configured();
  try {
    assert.ok(Array.isArray(s.requests), `Socket.requests is not an array — ${CHANGED}`);
    assert.equal(s.requests.length, 0, `a new Socket has queued sends — ${CHANGED}`);
    assert.equal(typeof s.wrap?.send, 'function', `Socket.wrap.send is gone — ${CHANGED}`);
  } finally {
    s.close();
  }
});

test('wrap.send(buf, offset, length, address, cb) sends at once: cb(bytes) runs before it returns; failures throw', (t) => {
  if (!requireRoot(t)) return;
  const s = configured();
  try {
    const d = datagram();
    let bytes: number | null = null;
    const ret = s.wrap.send(d, 0, d.length, '127.0.0.1', (n) => (bytes = n));
    assert.equal(bytes, d.length, `wrap.send did not call back synchronously with the bytes sent — ${CHANGED}`);
    assert.equal(ret, s.wrap, 'wrap.send returns the handle');
    const tooBig = datagram(70_000); // > 0xffff: the kernel refuses it (EMSGSIZE)
    let called = false;
    assert.throws(() => s.wrap.send(tooBig, 0, tooBig.length, '127.0.0.1', () => (called = true)), /too long/i, `wrap.send no longer throws on a failed sendto — ${CHANGED}`);
    assert.equal(called, false);
    assert.equal(s.requests.length, 0, 'the direct path never touches the queue');
  } finally {
    s.close();
  }
});

test('Socket.send queues in `requests` and sends on a later loop turn', async (t) => {
  if (!requireRoot(t)) return;
  const s = configured();
  try {
    const d = datagram();
    const done = new Promise<[Error | null, number]>((resolve) => s.send(d, 0, d.length, '127.0.0.1', null, (err, n) => resolve([err, n])));
    assert.equal(s.requests.length, 1, `Socket.send did not queue into requests — ${CHANGED}`);
    // Under node:test raw-socket's poll handle alone does not keep the loop alive: a timer does.
    const keepAlive = setInterval(() => {}, 50);
    const [err, n] = await done.finally(() => clearInterval(keepAlive));
    assert.equal(err, null);
    assert.equal(n, d.length);
    assert.equal(s.requests.length, 0, 'the queue drains');
  } finally {
    s.close();
  }
});

test("close() emits 'close' synchronously, and the next wrap.send silently re-creates an UNCONFIGURED socket", (t) => {
  if (!requireRoot(t)) return;
  const s = configured();
  assert.equal(hdrincl(s), 1);
  assert.equal(boundDevice(s), 'lo');
  let closedDuringClose = false;
  let inClose = true;
  s.on('close', () => (closedDuringClose = inClose));
  s.close();
  inClose = false;
  assert.equal(closedDuringClose, true, `'close' is no longer emitted synchronously from close(): VrrpSocket's guard has a window — ${CHANGED}`);
  assert.throws(() => hdrincl(s), /bad file descriptor/i, 'the native socket is closed');
  const d = datagram();
  let bytes: number | null = null;
  s.wrap.send(d, 0, d.length, '127.0.0.1', (n) => (bytes = n));
  try {
    assert.equal(bytes, d.length, `wrap.send after close no longer re-creates a socket — ${CHANGED} (the re-creation guard may be simplified)`);
    assert.equal(hdrincl(s), 0, 'the re-created socket has no IP_HDRINCL');
    assert.equal(boundDevice(s), '', 'the re-created socket is bound to no device');
  } finally {
    s.wrap.close();
  }
});

test("index.js re-emits the native 'error' argument as is (none → undefined) and then closes the socket", (t) => {
  if (!requireRoot(t)) return;
  const s = configured();
  const seen: string[] = [];
  s.on('error', (...args: unknown[]) => seen.push(`error(${args.map(String).join(',')})`));
  s.on('close', () => seen.push('close'));
  s.wrap.emit('error'); // what src/raw.cc HandleIOEvent emits on a poll error (see the next test)
  assert.deepEqual(seen, ['error(undefined)', 'close'], `Socket.onError changed — ${CHANGED}`);
  assert.throws(() => hdrincl(s), /bad file descriptor/i, 'onError closed the native socket');
});

test('the native poll-error path, for real: error without argument, close, and VrrpSocket reopens a configured socket', async (t) => {
  if (!requireRoot(t)) return;
  sweepStaleLabs();
  const lab = await Lab.create([{ name: 'ha1', octet: 1 }]);
  try {
    const fixture = join(here, 'fixtures', 'raw-pollerr.js');
    const r = await lab.exec('ha1', [process.execPath, fixture, 'eth0'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, `fixture failed: ${r.stderr}`);
    const rep = JSON.parse(r.stdout.trim()) as {
      sendError: string;
      nativeErrorArgs: number | null;
      emitted: { event: string; args: number; arg0: string }[];
      vrrpSocket: {
        sendOk: boolean;
        stats: Record<string, number | string | null>;
        trouble: string | null;
        replaced: boolean;
        options: { hdrincl: number; device: string } | null;
        sendAfter: boolean;
      };
    };
    assert.match(rep.sendError, /too long/i, 'the oversized send failed at once');
    assert.equal(rep.nativeErrorArgs, 0, `raw.cc HandleIOEvent now emits 'error' with an argument — ${CHANGED} (good news: the message can be used)`);
    assert.deepEqual(
      rep.emitted.map((e) => `${e.event}:${e.arg0}`),
      ['error:undefined', 'close:'],
      `raw-socket's poll-error path changed — ${CHANGED}`,
    );
    const v = rep.vrrpSocket;
    assert.equal(v.sendOk, false, 'the oversized send is reported as failed');
    assert.equal(v.stats.socketErrors, 1, 'the argument-less error is counted');
    assert.equal(v.stats.lastError, 'unknown raw-socket error');
    assert.equal(v.stats.reopened, 1, 'the closed native socket was replaced');
    assert.equal(v.trouble, null);
    assert.equal(v.replaced, true);
    assert.deepEqual(v.options, { hdrincl: 1, device: 'eth0' }, 'the replacement is configured (IP_HDRINCL, SO_BINDTODEVICE)');
    assert.equal(v.sendAfter, true, 'and sends');
  } finally {
    await lab.destroy();
  }
});

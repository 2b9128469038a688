// Receive- and send-path micro-benchmark for 200 VRRPv3 multicast instances on one interface (VRIDs
// 1..200, one VIP each), as in issue #5's measurement. Not a test: it prints, asserts nothing.
//
//   receive, old:   every datagram to every instance, each running the old checkDatagram
//                   (test/support/reference-receive.ts, a verbatim copy of the code before the demux)
//   receive, demux: ReceiveDemux (one header read) → the one instance → checkAdvert (compiled view)
//   send, old:      Instance.sendAdvert before the encoder (encodeAdvert + buildIpv4Header + concat)
//   send, encoder:  AdvertEncoder.next (pre-encoded; id + checksums written in place)
// Each prints operations per second and heap bytes allocated per operation (heapUsed growth over a
// window with no garbage collection in it; "n/a" when one happened anyway).
//
// Run after a build: `node dist/bench/receive.js [--seconds S]`.
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ReceiveDemux, type DemuxTarget, type DatagramHeader } from '../src/vrrp/demux.js';
import { checkAdvert, compileView, type CompiledView, type InstanceView } from '../src/vrrp/validate.js';
import { encodeAdvert, type VrrpAdvert } from '../src/vrrp/packet.js';
import { buildIpv4Header } from '../src/vrrp/ipv4.js';
import { AdvertEncoder } from '../src/vrrp/advert-encoder.js';
import { referenceCheckDatagram } from '../test/support/reference-receive.js';

const N = 200;
const MCAST = '224.0.0.18';
const PEER = '198.51.100.2';
const US = '198.51.100.1';
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });

const views: InstanceView[] = Array.from({ length: N }, (_, i) => ({
  version: 3,
  vrid: i + 1,
  advertIntervalCs: 100,
  authType: 0,
  authData: Buffer.alloc(0),
  vips: [`198.51.100.${100 + (i % 100)}/24`],
  unicast: null,
  localAddresses: [US],
}));
const advertOf = (v: InstanceView, priority: number): VrrpAdvert => ({
  version: 3, vrid: v.vrid, priority, addresses: [v.vips[0]!.split('/')[0]!], advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0),
});
// The master's steady stream: one advert per VRID in turn.
const stream = views.map((v) => {
  const vrrp = encodeAdvert(advertOf(v, 150), { src: PEER, dst: MCAST });
  return Buffer.concat([buildIpv4Header({ src: PEER, dst: MCAST, id: v.vrid, payloadLength: vrrp.length }), vrrp]);
});

/** Runs `op` for about SECONDS; returns ops/s. */
function rate(op: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) op(i); // warm up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < SECONDS * 1000) {
    for (let k = 0; k < 100; k++) op(n++);
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

/** Heap bytes allocated per op over `count` ops, or null when a GC ran in the window. */
async function bytesPerOp(op: (i: number) => void, count: number): Promise<number | null> {
  gc();
  await new Promise((r) => setTimeout(r, 100)); // let the observer see the forced GC
  const before = gcs;
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) op(i);
  const h1 = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 100));
  return gcs === before ? (h1 - h0) / count : null;
}

let accepted = 0;
const oldLoop = (i: number) => {
  const d = stream[i % N]!;
  for (const v of views) if (referenceCheckDatagram(v, d).ok) accepted++;
};

class Target implements DemuxTarget {
  constructor(private readonly view: CompiledView) {}
  receive(h: Readonly<DatagramHeader>, d: Buffer): void {
    if (checkAdvert(this.view, h, d).ok) accepted++;
  }
}
const demux = new ReceiveDemux();
for (const v of views) demux.add({ version: 3, vrid: v.vrid, unicastPeers: null }, new Target(compileView(v)));
const demuxed = (i: number) => {
  demux.dispatch(stream[i % N]!);
};

let ipId = 1;
const oldSend = (i: number) => {
  const v = views[i % N]!;
  const vrrp = encodeAdvert(advertOf(v, 150), { src: US, dst: MCAST }, 'rfc');
  const ip = buildIpv4Header({ src: US, dst: MCAST, id: ipId, payloadLength: vrrp.length });
  ipId = ipId >= 0xffff ? 1 : ipId + 1;
  if (Buffer.concat([ip, vrrp]).length === 0) accepted++;
};
const encoders = views.map(
  (v) => new AdvertEncoder({ ...advertOf(v, 150), src: US, destinations: [MCAST] }),
);
const encoded = (i: number) => {
  if (encoders[i % N]!.next(150)[0]!.datagram.length === 0) accepted++;
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtBytes = (b: number | null) => (b === null ? 'n/a (GC ran)' : `${Math.max(0, Math.round(b))} B`);

const rows: [string, string, number, number | null][] = [];
for (const [name, unit, op, allocCount] of [
  ['receive: old loop (200 × checkDatagram)', 'datagrams/s', oldLoop, 3],
  ['receive: demux + checkAdvert', 'datagrams/s', demuxed, 20_000],
  ['send: encodeAdvert + buildIpv4Header + concat', 'adverts/s', oldSend, 1_000],
  ['send: AdvertEncoder.next', 'adverts/s', encoded, 20_000],
] as const) {
  const r = rate(op);
  rows.push([name, unit, r, await bytesPerOp(op, allocCount)]);
}
console.log(`200 VRRPv3 multicast instances on one interface; ${SECONDS} s per measurement; node ${process.version}`);
for (const [name, unit, r, b] of rows) console.log(`${name.padEnd(48)} ${fmt(r).padStart(12)} ${unit.padEnd(12)} heap/op ${fmtBytes(b)}`);
console.log(`receive speed-up: ${(rows[1]![2] / rows[0]![2]).toFixed(0)}×; send speed-up: ${(rows[3]![2] / rows[2]![2]).toFixed(1)}×`);
console.log(`at 200 adverts/s (N = 200 at 1 s), receive CPU: old ${((200 / rows[0]![2]) * 100).toFixed(2)} % of a core, demux ${((200 / rows[1]![2]) * 100).toFixed(4)} %`);
if (accepted < 0) console.log(accepted); // keeps the work observable

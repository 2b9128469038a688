// Address-path benchmark: one VIP added and removed, in-process over rtnetlink (addAddressSync,
// removeAddressesSync, getLinkSync) against spawning iproute2 `ip` for the same operation, which is
// what the agent did before. Not a test: it measures and prints, and asserts nothing about timing.
//
// Builds a one-node namespace lab and runs the measuring part inside the node's namespace (netlink
// sockets belong to the namespace of the process that opens them). Prints the median and p90 per
// operation (µs) and the ip/netlink ratio.
//
// Run as root after a build: `node dist/bench/netlink.js [--runs N] [--json]`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/lab.js';
import { getLinkSync, netBackend } from '../src/net/link.js';
import { addAddressSync, removeAddressesSync } from '../src/net/address.js';

const VIP = '198.51.100.100/24';

interface Row {
  op: string;
  netlinkUs: { min: number; median: number; p90: number };
  ipUs: { min: number; median: number; p90: number };
  ratio: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function stats(samples: number[]): { min: number; median: number; p90: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0) * 10) / 10;
  return { min: at(0), median: at(0.5), p90: at(0.9) };
}

function timeUs(fn: () => unknown): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1_000;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** Inside the lab node: add/remove/read N times each way. */
function measure(runs: number): Row[] {
  if (netBackend().kind !== 'netlink') throw new Error(`netlink backend unavailable: ${netBackend().reason}`);
  const nl = { add: [] as number[], remove: [] as number[], read: [] as number[] };
  const viaIp = { add: [] as number[], remove: [] as number[], read: [] as number[] };
  // Not interleaved: the first call after a spawn pays for the spawn's cache and scheduler churn.
  for (let i = 0; i < runs; i++) {
    nl.add.push(timeUs(() => addAddressSync('eth0', VIP)));
    nl.read.push(timeUs(() => getLinkSync('eth0')));
    nl.remove.push(timeUs(() => removeAddressesSync('eth0', [VIP])));
  }
  for (let i = 0; i < runs; i++) {
    viaIp.add.push(timeUs(() => ip('addr', 'add', VIP, 'dev', 'eth0')));
    viaIp.read.push(timeUs(() => ip('-j', 'addr', 'show', 'dev', 'eth0')));
    viaIp.remove.push(timeUs(() => ip('addr', 'del', VIP, 'dev', 'eth0')));
  }
  return (['add', 'remove', 'read'] as const).map((op) => {
    const a = stats(nl[op]);
    const b = stats(viaIp[op]);
    return { op, netlinkUs: a, ipUs: b, ratio: Math.round((b.median / Math.max(a.median, 0.1)) * 10) / 10 };
  });
}

async function main(): Promise<void> {
  const runs = arg('--runs', 200);
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(measure(runs)));
    return;
  }
  const lab = await Lab.create([{ name: 'ha1', octet: 1 }]);
  try {
    const out = await lab.run('ha1', [process.execPath, fileURLToPath(import.meta.url), '--child', '--runs', String(runs)], { timeoutMs: 120_000 });
    const rows = JSON.parse(out) as Row[];
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify(rows, null, 1));
      return;
    }
    console.log(`VIP ${VIP} on eth0, ${runs} runs each (µs, min / median / p90); netlink = in-process, ip = spawn of iproute2`);
    const cell = (s: Row['ipUs']) => `${s.min} / ${s.median} / ${s.p90}`.padEnd(28);
    console.log(`op        ${'netlink'.padEnd(28)} ${'ip'.padEnd(28)} ip/netlink (medians)`);
    for (const r of rows) console.log(`${r.op.padEnd(9)} ${cell(r.netlinkUs)} ${cell(r.ipUs)} ${r.ratio}×`);
    console.log('(remove = read the interface + delete every copy; the ip column deletes one known entry.)');
  } finally {
    await lab.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Alibaba HaVip failover benchmark (issue #7): our agent with `provider: alibaba` (default timing)
// against "Alibaba Cloud" in the netns lab (test/netns/alibaba-cloud.ts: the VPC API and ECS metadata
// emulators; the HaVip's MasterInstanceId follows the gratuitous ARPs seen on the segment). Not a
// test: it measures and prints.
//
// Two nodes (unicast VRRPv2, 1 s), ha1 master; kill -9 of ha1 (and its cable pulled). Per run:
//   - transition → first GARP: the new master's first advert on the wire → its first gratuitous ARP
//     for the HaVip address (both from one tcpdump capture on the lab bridge, pcap timestamps);
//   - kill → MasterInstanceId is the new master (the cloud's view, polled every 20 ms);
//   - VPC API calls per failover: every request the new master made in the 10 s after the kill
//     (the confirmation reads; no Associate/Unassociate);
// Then, over --steady seconds before the first kill, the steady VPC calls per hour of the master and
// of the backup (default reconcile 60 s).
//
// Run as root after a build: `node dist/bench/alibaba.js [--runs N] [--steady S] [--json]` (needs tcpdump, tshark).
import type { Lab } from '../src/lab/lab.js';
import { agentConfig, sleep, startAgent, unicastBetween, withLab, type Watched } from '../test/netns/harness.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from '../test/netns/capture.js';
import { ALIBABA_AGENT_KEY, AlibabaCloud } from '../test/netns/alibaba-cloud.js';
import { fromNode, steadyCallsPerHour } from './cloud-calls.js';
import { fmt, pad, stats } from './stats.js';

const HAVIP = '198.51.100.100';
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];

interface Sample {
  garpMs: number | null;
  masterMs: number | null;
  calls: number;
  associateCalls: number;
}

function parseArgs(argv: string[]): { runs: number; steadyS: number; json: boolean } {
  const o = { runs: 5, steadyS: 120, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Math.max(1, Number(argv[++i]) || o.runs);
    else if (argv[i] === '--steady') o.steadyS = Math.max(0, Number(argv[++i]) || 0);
    else if (argv[i] === '--json') o.json = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node dist/bench/alibaba.js [--runs N] [--steady S] [--json]   (root; tcpdump, tshark)');
      process.exit(0);
    }
  }
  return o;
}

function start(lab: Lab, cloud: AlibabaCloud, node: string, peer: string, priority: number): Watched {
  const cfg = agentConfig({ version: 2, vrid: 51, advertInterval: 1, priority, vips: [`${HAVIP}/24`], unicast: unicastBetween(lab, node, [peer]) });
  (cfg.instances['VI_1'] as Record<string, unknown>).provider = { type: 'alibaba', haVipId: cloud.ids.haVipId, endpoint: cloud.endpoint, protocol: 'http', metadataEndpoint: cloud.metadataUrl[node] };
  return startAgent(lab, node, { ...cfg, log: { level: 'info' } });
}

async function waitMaster(cloud: AlibabaCloud, node: string, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await cloud.masterNode()) === node) return Date.now();
    await sleep(20);
  }
  return null;
}

async function runOnce(steadyS: number, steady: Map<string, number>): Promise<Sample> {
  return withLab(NODES, async (lab) => {
    const cloud = await AlibabaCloud.start(lab, 'cloud', {
      region: 'cn-hangzhou',
      vpcCidr: '198.51.100.0/24',
      vSwitchCidr: '198.51.100.0/24',
      keys: [ALIBABA_AGENT_KEY],
      haVip: { ipAddress: HAVIP },
      instances: (['ha1', 'ha2'] as const).map((n) => ({ name: n, mac: lab.node(n).mac, privateIp: lab.node(n).ip, associated: true })),
    });
    try {
      const cap = await startCapture(lab);
      const master = start(lab, cloud, 'ha1', 'ha2', 200);
      const backup = start(lab, cloud, 'ha2', 'ha1', 100);
      await master.waitState('VI_1', 'MASTER', 30_000);
      await backup.waitState('VI_1', 'BACKUP', 30_000);
      if ((await waitMaster(cloud, 'ha1', 30_000)) === null) throw new Error('the HaVip never named ha1');

      if (steadyS > 0 && !steady.has('master')) {
        await sleep(5_000); // past the start-up reads
        const perHour = await steadyCallsPerHour(cloud, lab, steadyS);
        steady.set('master', perHour.master);
        steady.set('backup', perHour.backup);
      }

      const mark = (await cloud.calls()).length;
      const killAt = Date.now();
      await master.kill9();
      await lab.setLink('ha1', false);
      await backup.waitState('VI_1', 'MASTER', 30_000);
      const masterAt = await waitMaster(cloud, 'ha2', 30_000);
      await sleep(Math.max(0, killAt + 10_000 - Date.now()));
      const calls = (await cloud.calls(mark)).filter(fromNode(lab, 'ha2'));
      const pcap = await cap.stop(200);
      const advert = firstAdvert(await decodeVrrp(pcap), { src: lab.node('ha2').ip, after: killAt, minPriority: 1 });
      const garp = advert ? firstGarp(await decodeArp(pcap), HAVIP, lab.node('ha2').mac, advert.time - 50) : undefined;
      return {
        garpMs: advert && garp ? garp.time - advert.time : null,
        masterMs: masterAt === null ? null : masterAt - killAt,
        calls: calls.length,
        associateCalls: calls.filter((c) => c.action === 'AssociateHaVip' || c.action === 'UnassociateHaVip').length,
      };
    } finally {
      await cloud.close();
    }
  });
}

async function main(): Promise<void> {
  const { runs, steadyS, json } = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench/alibaba: needs root (network namespaces); run as root');
    process.exit(1);
  }
  Object.assign(process.env, {
    ALIBABA_CLOUD_ACCESS_KEY_ID: ALIBABA_AGENT_KEY.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ALIBABA_AGENT_KEY.accessKeySecret,
    ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
    ALIBABA_CLOUD_CLI_PROFILE_DISABLED: 'true',
  });
  const samples: Sample[] = [];
  const steady = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`run ${i + 1}/${runs}… `);
    try {
      const s = await runOnce(steadyS, steady);
      samples.push(s);
      process.stderr.write(`first GARP ${s.garpMs?.toFixed(3) ?? '?'} ms after the first advert, MasterInstanceId after ${s.masterMs ?? '?'} ms, ${s.calls} call(s)\n`);
    } catch (e) {
      process.stderr.write(`failed: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  if (json) {
    console.log(JSON.stringify({ runs, steadyS, samples, steadyPerHour: steady.size ? Object.fromEntries(steady) : null }, null, 2));
    return;
  }
  const col = [48, 28];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, col[i] ?? 12)).join(' '));
  console.log(`\nAlibaba HaVip failover, kill -9 of the master, median (min–max) over ${samples.length} run(s)\n`);
  row('transition → first GARP, ms', fmt(stats(samples.map((s) => s.garpMs)), 3));
  row('kill → MasterInstanceId is the new master, ms', fmt(stats(samples.map((s) => s.masterMs))));
  row('VPC API calls per failover (new master)', fmt(stats(samples.map((s) => s.calls))));
  row('Associate/Unassociate per failover', fmt(stats(samples.map((s) => s.associateCalls))));
  if (steady.size > 0) console.log(`\nSteady VPC calls per hour (default reconcile 60 s, measured over ${steadyS} s): master ${steady.get('master')!.toFixed(0)}, backup ${steady.get('backup')!.toFixed(0)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

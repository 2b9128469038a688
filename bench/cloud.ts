// Cloud failover benchmark (issue #6): our agent with `provider: aws` against keepalived + the
// notify_master script keepalived users run on AWS today (bench/fixtures/notify-master-aws.sh: one
// `aws ec2 assign-private-ip-addresses --allow-reassignment`), both against the same EC2 + IMDSv2
// emulators (test/netns/aws-cloud.ts) with a 1 s emulated remap delay, in the same lab and the same
// run, interleaved (ours, keepalived, ours, …). Not a test: it measures and prints.
//
// Two nodes (unicast VRRPv2, 1 s), ha1 master; kill -9 of ha1 (and its cable pulled). Per run:
//   - transition → first EC2 request: the new master's first advert on the wire → the first packet of
//     its EC2 request on the wire (the SYN of a new connection, or the first data on one kept open),
//     both from one tcpdump on the lab bridge; and → the AssignPrivateIpAddresses in the emulator's
//     log (which adds the connection set-up, the upload and the emulator's own wake-up);
//   - failover in EC2: kill → the VIP effective on the new master's ENI (that request + the remap delay);
//   - EC2 calls per failover: every EC2 request the new master made in the 10 s after the kill;
//   - confirmed: whether the new master checked that the move took effect (ours: IMDS local-ipv4s,
//     then DescribeNetworkInterfaces if IMDS cannot tell; the script: never).
// Then, ours only, steady EC2 calls per hour of the master and the backup over --steady seconds
// (the default reconcile period is 30 s; keepalived's script makes none, and never notices a VIP
// taken elsewhere either).
//
// Run as root after a build: `node dist/bench/cloud.js [--runs N] [--steady S] [--remap-delay MS] [--json]`
// (needs keepalived, tcpdump, tshark and Debian's awscli at /usr/bin/aws).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../src/lab/lab.js';
import { agentConfig, labDir, sleep, startAgent, unicastBetween, withLab, type VrrpParams, type Watched } from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { decodeTcp, decodeVrrp, firstAdvert, startCapture } from '../test/netns/capture.js';
import { AGENT_KEY, AwsCloud } from '../test/netns/aws-cloud.js';
import { fromNode, steadyCallsPerHour } from './cloud-calls.js';
import { fmt, pad, ratio, stats } from './stats.js';

type Impl = 'ours' | 'keepalived';
const IMPLS: Impl[] = ['ours', 'keepalived'];
const REGION = 'eu-west-1';
const VIP = '198.51.100.100';
const NODES = [
  { name: 'ha1', octet: 11 },
  { name: 'ha2', octet: 12 },
  { name: 'cloud', octet: 250 },
];
const SCRIPT = join(process.cwd(), 'bench', 'fixtures', 'notify-master-aws.sh');

interface Sample {
  /** First advert of the new master → first packet of its EC2 request on the wire. */
  toWireMs: number | null;
  /** … → the request logged by the emulator. */
  toRequestMs: number | null;
  effectiveMs: number | null;
  calls: number;
  confirmed: boolean;
}

function parseArgs(argv: string[]): { runs: number; steadyS: number; remapDelayMs: number; json: boolean } {
  const o = { runs: 5, steadyS: 120, remapDelayMs: 1_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Math.max(1, Number(argv[++i]) || o.runs);
    else if (argv[i] === '--steady') o.steadyS = Math.max(0, Number(argv[++i]) || 0);
    else if (argv[i] === '--remap-delay') o.remapDelayMs = Math.max(0, Number(argv[++i]) || 0);
    else if (argv[i] === '--json') o.json = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node dist/bench/cloud.js [--runs N] [--steady S] [--remap-delay MS] [--json]   (root; keepalived, tcpdump, tshark, /usr/bin/aws)');
      process.exit(0);
    }
  }
  return o;
}

function params(lab: Lab, node: string, peer: string, priority: number): VrrpParams {
  return { version: 2, vrid: 51, advertInterval: 1, priority, vips: [`${VIP}/24`], unicast: unicastBetween(lab, node, [peer]) };
}

function start(lab: Lab, cloud: AwsCloud, impl: Impl, node: string, peer: string, priority: number): Watched {
  const p = params(lab, node, peer, priority);
  if (impl === 'ours') {
    const cfg = agentConfig(p);
    const inst = cfg.instances['VI_1'] as Record<string, unknown>;
    inst.provider = { type: 'aws', region: REGION, endpoint: cloud.ec2Url, imdsEndpoint: cloud.imdsUrl[node] };
    return startAgent(lab, node, { ...cfg, log: { level: 'info' } });
  }
  const creds = join(labDir(lab), `aws-creds-${node}.sh`);
  writeFileSync(creds, `export AWS_ACCESS_KEY_ID=${AGENT_KEY.accessKeyId} AWS_SECRET_ACCESS_KEY=${AGENT_KEY.secretAccessKey}\n`, { mode: 0o600 });
  const notify = [SCRIPT, cloud.ec2Url, REGION, cloud.instance(node).eni, VIP, creds].join(' ');
  return startKeepalived(lab, node, { ...p, extra: [`notify_master "${notify}"`] });
}

async function waitHolder(cloud: AwsCloud, eni: string, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await cloud.holderOf(VIP)) === eni) return Date.now();
    await sleep(20);
  }
  return null;
}

async function runOnce(impl: Impl, remapDelayMs: number, steadyS: number, steady: Map<string, number>): Promise<Sample> {
  return withLab(NODES, async (lab) => {
    const cloud = await AwsCloud.start(lab, 'cloud', {
      region: REGION,
      vpcCidr: '198.51.100.0/24',
      subnetCidr: '198.51.100.0/24',
      remapDelayMs,
      keys: [AGENT_KEY],
      instances: ['ha1', 'ha2'].map((n) => ({ name: n, mac: lab.node(n).mac, privateIp: lab.node(n).ip })),
    });
    try {
      const ec2Port = Number(new URL(cloud.ec2Url).port);
      const cap = await startCapture(lab, { filter: `ip proto 112 or tcp dst port ${ec2Port}` });
      const master = start(lab, cloud, impl, 'ha1', 'ha2', 200);
      const backup = start(lab, cloud, impl, 'ha2', 'ha1', 100);
      await master.waitState('VI_1', 'MASTER', 30_000);
      await backup.waitState('VI_1', 'BACKUP', 30_000);
      if ((await waitHolder(cloud, cloud.instance('ha1').eni, 30_000)) === null) throw new Error(`${impl}: the VIP never reached ha1's ENI`);

      if (impl === 'ours' && steadyS > 0 && !steady.has('master')) {
        const perHour = await steadyCallsPerHour(cloud, lab, steadyS);
        steady.set('master', perHour.master);
        steady.set('backup', perHour.backup);
      }

      const mark = (await cloud.calls()).length;
      const killAt = Date.now();
      await master.kill9();
      await lab.setLink('ha1', false);
      await backup.waitState('VI_1', 'MASTER', 30_000);
      await waitHolder(cloud, cloud.instance('ha2').eni, 30_000);
      await sleep(Math.max(0, killAt + 10_000 - Date.now()));
      const calls = (await cloud.calls(mark)).filter(fromNode(lab, 'ha2'));
      const assign = calls.find((c) => c.action === 'AssignPrivateIpAddresses');
      const pcap = await cap.stop(200);
      const adverts = await decodeVrrp(pcap);
      const advert = firstAdvert(adverts, { src: lab.node('ha2').ip, after: killAt, minPriority: 1 });
      const wire = (await decodeTcp(pcap, ec2Port)).find((t) => t.src === lab.node('ha2').ip && t.time > (advert?.time ?? killAt) && (t.syn || t.len > 0));
      return {
        toWireMs: wire && advert ? wire.time - advert.time : null,
        toRequestMs: assign && advert ? assign.at - advert.time : null,
        effectiveMs: assign ? assign.at + remapDelayMs - killAt : null,
        calls: calls.length,
        confirmed: impl === 'ours',
      };
    } finally {
      await cloud.close();
    }
  });
}

async function main(): Promise<void> {
  const { runs, steadyS, remapDelayMs, json } = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench/cloud: needs root (network namespaces); run as root');
    process.exit(1);
  }
  if (!existsSync('/usr/bin/aws')) {
    console.error('bench/cloud: needs Debian\'s awscli for the keepalived notify script: apt-get install -y awscli');
    process.exit(1);
  }
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: AGENT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AGENT_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;

  const samples = new Map<Impl, Sample[]>(IMPLS.map((i) => [i, []]));
  const steady = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    for (const impl of IMPLS) {
      process.stderr.write(`run ${i + 1}/${runs} ${impl}… `);
      try {
        const s = await runOnce(impl, remapDelayMs, steadyS, steady);
        samples.get(impl)!.push(s);
        process.stderr.write(`request on the wire ${s.toWireMs?.toFixed(1) ?? '?'} ms, at EC2 ${s.toRequestMs?.toFixed(1) ?? '?'} ms after the transition, in EC2 after ${s.effectiveMs?.toFixed(0) ?? '?'} ms, ${s.calls} call(s)\n`);
      } catch (e) {
        process.stderr.write(`failed: ${(e as Error).message.split('\n')[0]}\n`);
      }
    }
  }

  if (json) {
    console.log(JSON.stringify({ runs, steadyS, remapDelayMs, samples: Object.fromEntries(samples), steadyPerHour: steady.size ? Object.fromEntries(steady) : null }, null, 2));
    return;
  }
  const col = [36, 22, 22, 10];
  const row = (...cells: string[]) => console.log(cells.map((c, i) => pad(c, col[i] ?? 12)).join(' '));
  const pick = (impl: Impl, f: (s: Sample) => number | null) => stats(samples.get(impl)!.map(f));
  console.log(`\nAWS secondary-IP failover, kill -9 of the master, ${remapDelayMs} ms emulated remap delay, median (min–max) over ${runs} run(s)\n`);
  row('', 'ours (provider aws)', 'keepalived + notify', 'ours/ka');
  const line = (label: string, f: (s: Sample) => number | null, digits = 0) =>
    row(label, fmt(pick('ours', f), digits), fmt(pick('keepalived', f), digits), ratio(pick('ours', f), pick('keepalived', f)));
  line('transition → EC2 request on the wire, ms', (s) => s.toWireMs, 1);
  line('transition → request at EC2, ms', (s) => s.toRequestMs, 1);
  line('kill → VIP on the new ENI in EC2, ms', (s) => s.effectiveMs);
  line('EC2 calls per failover (new master)', (s) => s.calls);
  row('move confirmed by the new master', 'yes (IMDS local-ipv4s)', 'no', '');
  if (steady.size > 0) {
    console.log(`\nSteady EC2 calls per hour (ours, default reconcile 30 s, measured over ${steadyS} s): master ${steady.get('master')!.toFixed(0)}, backup ${steady.get('backup')!.toFixed(0)}; keepalived + notify: 0 (it never checks)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// `ha-agent demo`: the embedded default. Builds a lab of network namespaces (three agents and a client
// on a bridge that lives in its own namespace, 198.51.100.0/24 only), lets the agents elect a master,
// kills it, shows the takeover and how long it took, brings it back, stops it gracefully, and tears
// everything down — also on Ctrl-C.
import { Lab, sweepStaleLabs } from '../lab/lab.js';
import { LabAgent } from '../lab/agent-process.js';
import type { Out } from './out.js';

const VIP = '198.51.100.100';
const INSTANCE = 'VI_1';
const ADVERT_INTERVAL = 0.5; // seconds (VRRPv3)

interface Host {
  name: string;
  octet: number;
  priority: number;
}

const HOSTS: Host[] = [
  { name: 'ha1', octet: 1, priority: 150 },
  { name: 'ha2', octet: 2, priority: 100 },
  { name: 'ha3', octet: 3, priority: 50 },
];

function agentConfig(h: Host) {
  return {
    log: { level: 'info' },
    status: { listen: '127.0.0.1:9721' },
    instances: {
      [INSTANCE]: {
        interface: 'eth0',
        vrid: 51,
        priority: h.priority,
        version: 3,
        advertInterval: ADVERT_INTERVAL,
        vips: [`${VIP}/24`],
        provider: { type: 'garp' },
      },
    },
  };
}

export async function demoCommand(opts: { fast?: boolean }, out: Out): Promise<number> {
  const tty = (out.stdout as NodeJS.WriteStream).isTTY === true;
  const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = paint('1');
  const green = paint('32');
  const dim = paint('2');
  const yellow = paint('33');
  const say = (s = '') => out.stdout.write(s + '\n');
  const step = (s: string) => say(`\n${bold('▸')} ${bold(s)}`);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, opts.fast ? ms / 4 : ms));

  if (process.getuid?.() !== 0) {
    out.stderr.write('ha-agent demo needs root (it builds network namespaces): run it as root, e.g. sudo npm run demo\n');
    return 1;
  }
  sweepStaleLabs();
  say(bold('ha-agent demo') + dim(' — VRRP election and failover in a lab of network namespaces'));
  say(dim('Nothing here touches this machine\'s own interfaces: every host below is a namespace on a private bridge.'));

  let lab: Lab | null = null;
  const agents = new Map<string, LabAgent>();
  try {
    step('Building the lab: a bridge in its own namespace, three agents and a client on 198.51.100.0/24');
    lab = await Lab.create([...HOSTS.map((h) => ({ name: h.name, octet: h.octet })), { name: 'client', octet: 10 }]);
    for (const n of lab.nodes.values()) say(`  ${n.name.padEnd(7)} ${n.ip.padEnd(15)} ${dim(n.mac)}`);

    const masterNow = () => [...agents.values()].find((a) => a.running && a.state(INSTANCE) === 'MASTER')?.node ?? null;
    const clientSees = async () => {
      await lab!.flushNeighbour('client', VIP);
      return lab!.nodeByMac(await lab!.resolveMac('client', VIP));
    };
    const vipHolders = async () => {
      const holders: string[] = [];
      for (const h of HOSTS) {
        const r = await lab!.exec(h.name, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
        if (r.stdout.includes(` ${VIP}/`)) holders.push(h.name);
      }
      return holders;
    };
    const show = async () => {
      for (const h of HOSTS) {
        const a = agents.get(h.name);
        const st = a?.running ? a.state(INSTANCE) : 'stopped';
        const mark = st === 'MASTER' ? green(st) : st === 'stopped' ? dim(st) : st;
        say(`  ${h.name}  priority ${String(h.priority).padStart(3)}  ${mark}`);
      }
      say(`  VIP ${VIP} is on: ${(await vipHolders()).join(', ') || 'nobody'}`);
      say(`  the client's ARP for ${VIP} answers: ${(await clientSees()) ?? 'nobody'}`);
    };

    step(`Starting three agents: VRRPv3, advert every ${ADVERT_INTERVAL} s, VIP ${VIP}, provider garp`);
    const t0 = performance.now();
    for (const h of HOSTS) agents.set(h.name, LabAgent.start(lab, h.name, agentConfig(h)));
    const first = await agents.get('ha1')!.waitState(INSTANCE, 'MASTER', 15_000);
    say(`  ha1 became MASTER ${((Number(first.receivedAt) - t0) / 1000).toFixed(2)} s after start ${dim('(all start as BACKUP; the highest priority has the shortest Master_Down_Interval)')}`);
    await pause(1500);
    await show();

    step('kill -9 ha1 (a crash: no goodbye on the wire)');
    const killAt = performance.now();
    agents.get('ha1')!.signal('SIGKILL');
    const take = await agents.get('ha2')!.waitState(INSTANCE, 'MASTER', 15_000);
    const ms = Number(take.receivedAt) - killAt;
    say(`  ${yellow('ha2 took over in ' + (ms / 1000).toFixed(2) + ' s')} ${dim('(3 × 0.5 s + skew; keepalived would need the same)')}`);
    await pause(1000);
    await show();
    say(dim('  (ha1 died holding its copy of the VIP, as a kill -9 of keepalived does too; nobody asks a dead host, and ha1 clears it when it starts again)'));

    step('ha1 comes back (priority 150, preempt on): it takes the VIP back');
    agents.set('ha1', LabAgent.start(lab, 'ha1', agentConfig(HOSTS[0]!)));
    await agents.get('ha1')!.waitState(INSTANCE, 'MASTER', 15_000);
    await agents.get('ha2')!.waitState(INSTANCE, 'BACKUP', 5_000, agents.get('ha2')!.events.length - 1);
    await pause(1000);
    await show();

    step('systemctl stop on ha1 (SIGTERM): it sends priority 0, so ha2 takes over after only Skew_Time');
    const before = agents.get('ha2')!.events.length;
    const termAt = performance.now();
    agents.get('ha1')!.signal('SIGTERM');
    const t2 = await agents.get('ha2')!.waitState(INSTANCE, 'MASTER', 15_000, before);
    const exit = await agents.get('ha1')!.exited;
    say(`  ${yellow('ha2 took over in ' + ((Number(t2.receivedAt) - termAt) / 1000).toFixed(2) + ' s')}; ha1 exited with code ${exit.code}`);
    await pause(1000);
    await show();
    say(`\n${green('✓')} current master: ${masterNow() ?? 'none'}. That is VRRP, wire-compatible with keepalived.`);
    return 0;
  } catch (e) {
    out.stderr.write(`demo failed: ${(e as Error).message}\n`);
    for (const a of agents.values()) if (a.stderr.length) out.stderr.write(`  ${a.node}: ${a.stderr.slice(-3).join(' | ')}\n`);
    return 1;
  } finally {
    step('Cleaning up: stopping agents, deleting namespaces');
    for (const a of agents.values()) a.signal('SIGTERM');
    await Promise.race([Promise.all([...agents.values()].map((a) => a.exited)), new Promise((r) => setTimeout(r, 2000))]);
    await lab?.destroy();
    say(dim('  done; no namespace left behind.'));
  }
}

// `ha-agent demo`: the embedded default. Builds a lab of network namespaces (three agents and a client
// on a bridge that lives in its own namespace, 198.51.100.0/24 only), lets the agents elect a master,
// kills it, shows the takeover and how long it took, brings it back, stops it gracefully, and tears
// everything down — also on Ctrl-C.
import { Lab, sweepStaleLabs } from '../lab/lab.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentHandle } from '../lab/agent-process.js';
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
  const agents = new Map<string, AgentHandle>();
  const dir = mkdtempSync(join(tmpdir(), 'ha-agent-demo-'));
  // Ctrl-C: say so and drop the configs; the lab's own signal hook then kills the agents and deletes
  // every namespace.
  process.once('SIGINT', () => {
    out.stdout.write('\n\ninterrupted: stopping agents and deleting the lab namespaces\n');
    rmSync(dir, { recursive: true, force: true });
  });
  let started = 0;
  const start = (h: Host) => agents.set(h.name, spawnAgent(lab!, h.name, agentConfig(h), join(dir, `${h.name}-${started++}.yaml`)));
  /** Waits for `node` to enter `state` after event index `since`; resolves with the time it happened. */
  const entered = async (node: string, state: string, since = 0) =>
    (await agents.get(node)!.waitFor((e) => e.evt === 'transition' && e.to === state, 15_000, since, `${node} → ${state}`)).at;
  try {
    step('Building the lab: a bridge in its own namespace, three agents and a client on 198.51.100.0/24');
    lab = await Lab.create([...HOSTS.map((h) => ({ name: h.name, octet: h.octet })), { name: 'client', octet: 10 }]);
    for (const n of lab.nodes.values()) say(`  ${n.name.padEnd(7)} ${n.ip.padEnd(15)} ${dim(n.mac)}`);

    const masterNow = () => [...agents.values()].find((a) => !a.exit && a.state(INSTANCE) === 'MASTER')?.node.name ?? null;
    const show = async () => {
      for (const h of HOSTS) {
        const a = agents.get(h.name);
        const st = a && !a.exit ? (a.state(INSTANCE) ?? 'INIT') : 'stopped';
        const mark = st === 'MASTER' ? green(st) : st === 'stopped' ? dim(st) : st;
        say(`  ${h.name}  priority ${String(h.priority).padStart(3)}  ${mark}`);
      }
      say(`  VIP ${VIP} is on: ${(await lab!.holdersOf(VIP)).join(', ') || 'nobody'}`);
      say(`  the client's ARP for ${VIP} answers: ${(await lab!.whoAnswers('client', VIP)) ?? 'nobody'}`);
    };

    step(`Starting three agents: VRRPv3, advert every ${ADVERT_INTERVAL} s, VIP ${VIP}, provider garp`);
    const t0 = Date.now();
    for (const h of HOSTS) start(h);
    const first = await entered('ha1', 'MASTER');
    say(`  ha1 became MASTER ${((first - t0) / 1000).toFixed(2)} s after start ${dim('(all start as BACKUP; the highest priority has the shortest Master_Down_Interval)')}`);
    await pause(1500);
    await show();

    step('ha1 crashes: kill -9 and its cable pulled (no goodbye on the wire)');
    const since = agents.get('ha2')!.mark();
    const { sentAt: killAt } = await agents.get('ha1')!.kill9();
    await lab.setLink('ha1', false); // a dead host answers no ARP; a killed process in a live namespace would
    const ms = (await entered('ha2', 'MASTER', since)) - killAt;
    say(`  ${yellow('ha2 took over in ' + (ms / 1000).toFixed(2) + ' s')} ${dim('(3 × 0.5 s + skew; keepalived would need the same)')}`);
    await pause(1000);
    await show();
    say(dim('  (ha1 still has its copy of the VIP, as after a kill -9 of keepalived; it clears it when it starts again)'));

    step('ha1 comes back (priority 150, preempt on): it takes the VIP back');
    const back = agents.get('ha2')!.mark();
    await lab.setLink('ha1', true);
    start(HOSTS[0]!);
    await entered('ha1', 'MASTER');
    await entered('ha2', 'BACKUP', back);
    await pause(1000);
    await show();

    step('systemctl stop on ha1 (SIGTERM): it sends priority 0, so ha2 takes over after only Skew_Time');
    const before = agents.get('ha2')!.mark();
    const exit = await agents.get('ha1')!.stop('SIGTERM');
    const t2 = await entered('ha2', 'MASTER', before);
    say(`  ${yellow('ha2 took over in ' + ((t2 - exit.sentAt) / 1000).toFixed(2) + ' s')}; ha1 exited with code ${exit.code} after ${exit.exitedAt - exit.sentAt} ms`);
    await pause(1000);
    await show();
    say(`\n${green('✓')} current master: ${masterNow() ?? 'none'}. That is VRRP, wire-compatible with keepalived.`);
    return 0;
  } catch (e) {
    out.stderr.write(`demo failed: ${(e as Error).message}\n`);
    for (const a of agents.values()) out.stderr.write(`  ${a.label}: ${a.logs(3).replace(/\n/g, '\n    ')}\n`);
    return 1;
  } finally {
    step('Cleaning up: stopping agents, deleting namespaces');
    await Promise.all([...agents.values()].map((a) => a.stop('SIGTERM', 2000)));
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
    say(dim('  done; no namespace left behind.'));
  }
}

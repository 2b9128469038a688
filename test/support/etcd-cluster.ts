// A real etcd cluster (Debian's etcd-server, 3.4) of three members in three lab namespaces, for the
// etcd election suites and bench/etcd.ts. The package's own systemd service is never used: each member
// is `etcd` started here (lab.spawn, so the lab kills it), with its data dir in the lab's temp dir and
// fast raft timers (heartbeat 50 ms, election 500 ms: etcd's minimum lease TTL becomes 1 s).
//
// Contract: startEtcdCluster(lab, names) → members, each with kill9() and restart(); waitHealthy()
// resolves when every running member reports healthy; endpoints() gives the client URLs;
// partition(lab, node) / heal(lab, node) drop (nftables, inside that node's namespace only) every packet
// between the node and the etcd members' client port.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';

export const ETCD_BIN = '/usr/bin/etcd';

export interface EtcdMember {
  name: string;
  ip: string;
  url: string;
  proc: ChildProcess | null;
  kill9(): Promise<void>;
  restart(): void;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints(): string[];
  /** Resolves once every running member answers /health with true (from `from`'s namespace). */
  waitHealthy(from: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
  });
}

export function startEtcdCluster(lab: Lab, names: string[], dir: string): EtcdCluster {
  const token = `ha-${lab.id}`;
  const initial = names.map((n) => `${n}=http://${lab.node(n).ip}:2380`).join(',');
  const logs = new Map<string, string[]>();
  const members: EtcdMember[] = names.map((name) => {
    const ip = lab.node(name).ip;
    const dataDir = join(dir, `etcd-${name}`);
    mkdirSync(dataDir, { recursive: true });
    const argv = [
      ETCD_BIN,
      '--name', name,
      '--data-dir', dataDir,
      '--listen-client-urls', `http://${ip}:2379`,
      '--advertise-client-urls', `http://${ip}:2379`,
      '--listen-peer-urls', `http://${ip}:2380`,
      '--initial-advertise-peer-urls', `http://${ip}:2380`,
      '--initial-cluster', initial,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const m: EtcdMember = {
      name,
      ip,
      url: `http://${ip}:2379`,
      proc: null,
      async kill9() {
        const p = m.proc;
        if (!p) return;
        m.proc = null;
        p.kill('SIGKILL');
        await exited(p);
      },
      restart() {
        if (m.proc) return;
        const p = lab.spawn(name, argv, { env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } });
        const lines: string[] = logs.get(name) ?? [];
        logs.set(name, lines);
        p.stderr?.on('data', (b: Buffer) => {
          lines.push(b.toString());
          if (lines.length > 50) lines.shift();
        });
        p.stdout?.resume();
        m.proc = p;
      },
    };
    m.restart();
    return m;
  });
  return {
    members,
    endpoints: () => members.map((m) => m.url),
    async waitHealthy(from, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = members.filter((m) => m.proc);
        const answers = await Promise.all(running.map((m) => lab.exec(from, ['curl', '-s', '-m', '1', `${m.url}/health`]).then((r) => r.stdout)));
        if (answers.every((a) => a.includes('"health":"true"'))) return;
        if (Date.now() > deadline)
          throw new Error(`etcd not healthy within ${timeoutMs} ms: ${JSON.stringify(answers)}\n${[...logs].map(([n, l]) => `--- ${n}\n${l.join('')}`).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.all(members.map((m) => m.kill9()));
    },
  };
}

/** Drops every packet between `node` and the etcd members' client port, inside `node`'s namespace. */
export async function partition(lab: Lab, node: string, cluster: EtcdCluster): Promise<void> {
  const ips = cluster.members.map((m) => m.ip).join(', ');
  const script = [
    'table inet ha_etcd_cut {',
    '  chain cut_out { type filter hook output priority 0; policy accept;',
    `    ip daddr { ${ips} } tcp dport 2379 drop`,
    '  }',
    '  chain cut_in { type filter hook input priority 0; policy accept;',
    `    ip saddr { ${ips} } tcp sport 2379 drop`,
    '  }',
    '}',
  ].join('\n') + '\n';
  await lab.run(node, ['nft', '-f', '-'], { input: script });
}

export async function heal(lab: Lab, node: string): Promise<void> {
  await lab.exec(node, ['nft', 'delete', 'table', 'inet', 'ha_etcd_cut']);
}

// Checks cost benchmark (issue #8, "Numbers for your closing note"): the CPU of 10 health checks
// every 100 ms, (1) our in-process http checks, (2) the same probe as exec checks
// (`curl -sf -o /dev/null URL`, one fork+exec per run), (3) keepalived 2.2.7's vrrp_script running
// that same curl — each against a tiny node:http server in the lab node, one VRRP instance, alone.
// CPU = utime+stime of the daemon's process tree (children it reaped included) over the window, as %
// of one core; the HTTP server's own CPU is not counted; the server counts the probes it served, so
// the CPU per probe is comparable even when a daemon runs fewer probes than asked (keepalived 2.2.7
// runs a vrrp_script at most once a second; exec runs that outlast the interval are skipped, as in
// keepalived). Not a test: it measures and prints.
//
// Then the failover: ours master (priority 150, exec check `test -e MARKER` every 100 ms, fall 3,
// weight -100) and keepalived backup (100), unicast VRRPv3 at 0.1 s; the marker is removed, and the
// time from our log line of the fall-th failure to keepalived's "Entering MASTER STATE" is printed
// (both lines timestamped as this process reads them), --failovers times.
//
// Run as root after a build: `node dist/bench/checks.js [--seconds 10] [--failovers 5]`.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rmSync, writeFileSync } from 'node:fs';
import { agentConfig, labDir, onLabCleanup, settle, sleep, startAgent, unicastBetween, withLab, type Watched } from '../test/netns/harness.js';
import { startKeepalived } from '../test/netns/keepalived.js';
import { cpuPercent, treeCpu } from './proc-cpu.js';

const N = 10;
const INTERVAL_S = 0.1;
const PORT = 18080;
const URL = `http://127.0.0.1:${PORT}/healthz`;
const CURL = ['/usr/bin/curl', '-sf', '-o', '/dev/null', URL];
const args = process.argv.slice(2);
const SECONDS = Number(args[args.indexOf('--seconds') + 1] ?? 10) || 10;
const PARAMS = { version: 3 as const, vrid: 71, advertInterval: 1, priority: 150, vips: ['198.51.100.100/24'] };

type Variant = 'ours in-process http' | 'ours exec (curl)' | 'keepalived vrrp_script (curl)';

async function measure(variant: Variant): Promise<{ cpu: number; runs: number | null }> {
  return withLab([{ name: 'ha1', octet: 1 }], async (lab) => {
    const server: ChildProcess = lab.spawn('ha1', [process.execPath, '-e', `let n=0;require('node:http').createServer((q,s)=>{n++;s.end('ok')}).listen(${PORT},'127.0.0.1');process.on('SIGUSR2',()=>require('node:fs').writeFileSync(process.argv[1],String(n)))`, `${labDir(lab)}/hits`]);
    onLabCleanup(lab, () => void server.kill('SIGKILL'));
    await sleep(500);
    let daemon: Watched;
    if (variant === 'keepalived vrrp_script (curl)') {
      const globalExtra: string[] = [];
      const extra = ['track_script {'];
      for (let i = 0; i < N; i++) {
        globalExtra.push(`vrrp_script chk_${i} {`, `  script "${CURL.join(' ')}"`, `  interval ${INTERVAL_S}`, '  timeout 1', '  weight -1', '}');
        extra.push(`  chk_${i}`);
      }
      extra.push('}');
      daemon = startKeepalived(lab, 'ha1', { ...PARAMS, globalExtra, extra });
    } else {
      const checks: Record<string, unknown> = {};
      for (let i = 0; i < N; i++) {
        checks[`chk_${i}`] =
          variant === 'ours in-process http'
            ? { type: 'http', url: URL, expectStatus: 200, interval: INTERVAL_S, timeout: 1, weight: -1 }
            : { type: 'exec', command: CURL, interval: INTERVAL_S, timeout: 1, weight: -1 };
      }
      const cfg = agentConfig(PARAMS);
      daemon = startAgent(lab, 'ha1', { ...cfg, log: { level: 'info' }, checks, instances: { VI_1: { ...cfg.instances['VI_1'], track: { checks: Object.keys(checks) } } } });
    }
    await daemon.waitState('VI_1', 'MASTER', 20_000);
    await sleep(3_000);
    const pid = (daemon as unknown as { proc: ChildProcess }).proc.pid!;
    const hits = async (): Promise<number> => {
      server.kill('SIGUSR2');
      await sleep(100);
      return Number(readFileSync(`${labDir(lab)}/hits`, 'utf8'));
    };
    const h0 = await hits();
    const before = treeCpu(pid).tree;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const after = treeCpu(pid).tree;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuPercent(before, after, seconds);
    return { cpu, runs: (await hits()) - h0 };
  });
}

for (const v of ['ours in-process http', 'ours exec (curl)', 'keepalived vrrp_script (curl)'] as Variant[]) {
  const r = await measure(v);
  const perRun = r.runs ? ((r.cpu / 100) * SECONDS * 1000) / r.runs : NaN;
  console.log(`${v.padEnd(32)} ${r.cpu.toFixed(1).padStart(6)} % of one core, ${String(r.runs).padStart(5)} probes served in ${SECONDS} s (${perRun.toFixed(2)} ms CPU per probe; ${N} checks every ${INTERVAL_S * 1000} ms)`);
}

const FAILOVERS = Number(args[args.indexOf('--failovers') + 1] ?? 5) || 5;
const gaps: number[] = [];
await withLab([{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }], async (lab) => {
  const marker = `${labDir(lab)}/svc`;
  writeFileSync(marker, '');
  const p = (self: string, peer: string, priority: number) => ({ ...PARAMS, advertInterval: 0.1, priority, unicast: unicastBetween(lab, self, [peer]) });
  const cfg = agentConfig(p('ha1', 'ha2', 150));
  const ours = startAgent(lab, 'ha1', { ...cfg, checks: { svc: { type: 'exec', command: ['/usr/bin/test', '-e', marker], interval: 0.1, timeout: 1, weight: -100, fall: 3 } }, instances: { VI_1: { ...cfg.instances['VI_1'], track: { checks: ['svc'] } } } });
  await ours.waitState('VI_1', 'MASTER', 20_000);
  const ka = startKeepalived(lab, 'ha2', p('ha2', 'ha1', 100));
  for (let i = 0; i < FAILOVERS; i++) {
    await settle([[ours, 'MASTER'], [ka, 'BACKUP']], 1_000, 20_000);
    const mo = ours.mark();
    const mk = ka.mark();
    rmSync(marker);
    const failed = await ours.waitFor((e) => e['evt'] === 'check' && e['status'] === 'failed', 20_000, mo, 'the check failing');
    const master = await ka.waitFor((e) => e['evt'] === 'transition' && e['to'] === 'MASTER', 20_000, mk, 'keepalived MASTER');
    gaps.push(master.at - failed.at);
    writeFileSync(marker, '');
    await ours.waitState('VI_1', 'MASTER', 20_000);
  }
});
gaps.sort((a, b) => a - b);
console.log(`fall-th failure → keepalived MASTER (VIP added): ${gaps.map((g) => `${g} ms`).join(', ')} (median ${gaps[Math.floor(gaps.length / 2)]} ms; advert interval 100 ms, Master_Down ≈ 3 × 100 ms + skew)`);

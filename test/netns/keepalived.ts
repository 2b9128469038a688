// Runs Debian's keepalived (2.2.x) inside a lab node, as the reference peer for interop tests and the
// failover benchmark. Generates a keepalived.conf from the same VrrpParams our agent gets (instance
// VI_1, `state BACKUP`, interface eth0), starts `keepalived -n -l -D -G -P …` with pid files of its
// own in the lab's temp dir, and turns console lines such as `(VI_1) Entering MASTER STATE` into the
// harness's transition events, so tests wait on keepalived exactly as they wait on our agent. With -D
// it also logs what led a BACKUP to take over (keepalivedTakeover()).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabNode } from '../../src/lab/lab.js';
import { adoptProcess, labDir, Watched, type LogEvent, type VrrpParams } from './harness.js';

export interface KeepalivedOptions extends VrrpParams {
  /** Extra lines inside `vrrp_instance VI_1 { … }`. */
  extra?: string[];
  /** Extra top-level lines before the instance (e.g. a `vrrp_script NAME { … }` block). */
  globalExtra?: string[];
  /** Extra lines inside `global_defs { … }` (e.g. `vrrp_rt_priority 1`). */
  globalDefs?: string[];
}

/** keepalived.conf text for one instance VI_1 on eth0. */
export function keepalivedConf(routerId: string, o: KeepalivedOptions): string {
  const garp = o.garp ?? { repeat: 5, delay: 5 };
  const lines: string[] = [
    'global_defs {',
    `  router_id ${routerId}`,
    ...(o.globalDefs ?? []).map((l) => `  ${l}`),
    '}',
    ...(o.globalExtra ?? []),
    'vrrp_instance VI_1 {',
    '  state BACKUP',
    '  interface eth0',
    `  version ${o.version}`,
    `  virtual_router_id ${o.vrid}`,
    `  priority ${o.priority}`,
    `  advert_int ${o.advertInterval}`,
    `  garp_master_delay ${garp.delay}`,
    `  garp_master_repeat ${garp.repeat}`,
  ];
  if (o.preempt === false) lines.push('  nopreempt');
  if (o.preemptDelay) lines.push(`  preempt_delay ${o.preemptDelay}`);
  if (o.unicast) {
    lines.push(`  unicast_src_ip ${o.unicast.source}`, '  unicast_peer {', ...o.unicast.peers.map((p) => `    ${p}`), '  }');
  }
  if (o.auth) {
    if (o.version !== 2) throw new Error('keepalived: authentication is VRRPv2 only');
    lines.push('  authentication {', '    auth_type PASS', `    auth_pass ${o.auth.password}`, '  }');
  }
  lines.push('  virtual_ipaddress {', ...o.vips.map((v) => `    ${v} dev eth0`), '  }');
  for (const x of o.extra ?? []) lines.push(`  ${x}`);
  lines.push('}', '');
  return lines.join('\n');
}

let kaSeq = 0;

const STATE_LINE = /\((\S+)\) Entering (MASTER|BACKUP|FAULT|INIT) STATE/;
/**
 * keepalived 2.2.7 with -D (LOG_DETAIL), vrrp.c vrrp_state_backup: a BACKUP accepted a priority-0
 * advert and cut its Master_Down_Timer to Skew_Time (RFC 5798 §6.4.2). Logged for every such advert.
 */
const PRIORITY_ZERO_LINE = /\((\S+)\) Backup received priority 0 advertisement/;
/** keepalived 2.2.7 with -D, vrrp_scheduler.c vrrp_dispatcher_read_timeout: a BACKUP's Master_Down_Timer
 *  fired (whether it ran the full Master_Down_Interval or only Skew_Time after a priority-0 advert). */
const ADVERT_TIMEOUT_LINE = /\((\S+)\) Receive advertisement timeout/;

function parseKeepalivedLine(line: string, stream: 'stdout' | 'stderr', at: number): LogEvent {
  const m = STATE_LINE.exec(line);
  if (m) return { at, line, stream, evt: 'transition', instance: m[1], to: m[2] };
  const p0 = PRIORITY_ZERO_LINE.exec(line);
  if (p0) return { at, line, stream, evt: 'priority-0-received', instance: p0[1] };
  const timeout = ADVERT_TIMEOUT_LINE.exec(line);
  if (timeout) return { at, line, stream, evt: 'advert-timeout', instance: timeout[1] };
  if (/Stopped Keepalived/.test(line)) return { at, line, stream, evt: 'stopped' };
  if (/Startup complete/.test(line)) return { at, line, stream, evt: 'ready' };
  return { at, line, stream };
}

/**
 * keepalived 2.2.7's log lines for a received advert it rejected (vrrp.c vrrp_check_packet): bad
 * length, TTL, version, auth, interval, type, address count or set, IP length, checksum, mode, peer.
 */
export const KEEPALIVED_REJECTS =
  /vrrp packet too (short|long)|invalid TTL|wrong version|received a -?\d+ auth|invalid passwd|advertisement interval mismatch|Invalid packet type|unexpected ip number count|ip_tot_len mismatch|checksum to old version|icast packet but received|expected \d+ VIPs but received|Invalid VRRPv[23] checksum|not a unicast peer/i;

/**
 * What keepalived logged on its way to its first MASTER state after event index `since` (see mark()):
 * whether a priority-0 advert came first, and whether its Master_Down_Timer fired. null: no takeover.
 */
export function keepalivedTakeover(h: Watched, since: number): { priorityZero: boolean; timerFired: boolean } | null {
  const events = h.events.slice(since);
  const master = events.findIndex((e) => e.evt === 'transition' && e.to === 'MASTER');
  if (master < 0) return null;
  const before = events.slice(0, master);
  return {
    priorityZero: before.some((e) => e.evt === 'priority-0-received'),
    timerFired: before.some((e) => e.evt === 'advert-timeout'),
  };
}

/** The lines in which keepalived rejected a received advert (empty when it accepted everything). */
export function keepalivedRejects(h: Watched): string[] {
  return h.events.filter((e) => KEEPALIVED_REJECTS.test(e.line)).map((e) => e.line);
}

/**
 * A running keepalived: the parent (our child process, thanks to -n) and its VRRP child, whose pid
 * it writes to the vrrp pid file.
 */
export class KeepalivedHandle extends Watched {
  constructor(
    readonly lab: Lab,
    readonly node: LabNode,
    readonly confPath: string,
    readonly vrrpPidFile: string,
    proc: import('node:child_process').ChildProcess,
  ) {
    super(`keepalived@${node.name}`, proc, parseKeepalivedLine);
  }

  /** keepalived's lines do not say which state it leaves: fill in `from` as our agent logs it. */
  protected override push(e: LogEvent): void {
    if (e.evt === 'transition' && typeof e.instance === 'string') e.from = this.state(e.instance) ?? 'INIT';
    super.push(e);
  }

  /** The VRRP child's pid, once it has written its pid file. */
  vrrpPid(): number | undefined {
    if (existsSync(this.vrrpPidFile)) {
      const pid = Number(readFileSync(this.vrrpPidFile, 'utf8').trim());
      if (pid > 0) return pid;
    }
    const parent = this.proc.pid;
    if (!parent) return undefined;
    try {
      const kids = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return kids.length ? Number(kids[0]) : undefined;
    } catch {
      return undefined;
    }
  }

  override pids(): number[] {
    const out = this.proc.pid ? [this.proc.pid] : [];
    const v = this.vrrpPid();
    if (v && v !== this.proc.pid && existsSync(`/proc/${v}`)) out.push(v);
    return out;
  }

  /**
   * SIGTERM goes to the parent, which stops its VRRP child cleanly (priority-0 advert, VIPs removed).
   * SIGKILL must hit the VRRP child itself, or it would notice its parent's death and shut down
   * cleanly: freeze the parent, kill the child, then kill the parent.
   */
  protected override signal(signal: NodeJS.Signals): void {
    if (this.exit) return;
    const parent = this.proc.pid;
    if (signal !== 'SIGKILL' || !parent) return super.signal(signal);
    const child = this.vrrpPid();
    tryKill(parent, 'SIGSTOP');
    if (child && child !== parent) tryKill(child, 'SIGKILL');
    tryKill(parent, 'SIGKILL');
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * Starts keepalived in `nodeName`'s namespace. Wait with `waitState('VI_1', 'BACKUP')` (every instance
 * starts as BACKUP) or 'MASTER'.
 */
export function startKeepalived(lab: Lab, nodeName: string, o: KeepalivedOptions): KeepalivedHandle {
  const node = lab.node(nodeName);
  const dir = labDir(lab);
  const tag = `ka-${node.name}-${(kaSeq++).toString()}`;
  const conf = join(dir, `${tag}.conf`);
  writeFileSync(conf, keepalivedConf(node.name, o));
  const pid = join(dir, `${tag}.pid`);
  const vrrpPid = join(dir, `${tag}.vrrp.pid`);
  const chkPid = join(dir, `${tag}.chk.pid`);
  const bfdPid = join(dir, `${tag}.bfd.pid`);
  // -n no fork, -l log to console, -D detailed, -G no syslog, -P VRRP only, -R no respawn.
  const argv = ['keepalived', '-n', '-l', '-D', '-G', '-P', '-R', '-f', conf, '-p', pid, '-r', vrrpPid, '-c', chkPid, '-b', bfdPid];
  const proc = lab.spawn(node.name, argv);
  const h = new KeepalivedHandle(lab, node, conf, vrrpPid, proc);
  adoptProcess(lab, h);
  return h;
}

// Watches a segment for ARP the way the Alibaba VPC does to pick a HaVip's master (spec §3.6, §3.7):
// the netns cloud feeds what it sees here into VpcState.announce(mac, ip).
//
// Contract:
// - parseTcpdumpArp(line) reads one line of `tcpdump -l -n -e` output for an ARP frame and returns
//   { op, senderMac, senderIp, targetIp? } (MACs lower-case), or undefined for anything else.
//   Request: `<src> > <dst>, ethertype ARP (0x0806), length N: Request who-has <tpa> [(<tha>)] tell
//   <spa>, length 28` → senderMac = the Ethernet source (arping and keepalived send sha = source).
//   Reply: `… Reply <spa> is-at <sha>, length 28` → senderMac = sha; tcpdump does not print the
//   target address of a reply, so targetIp is undefined.
// - isGratuitous(arp): a request whose sender IP equals its target IP (`arping -U`, keepalived's
//   GARP), or any reply (`arping -A` is a reply announcing the sender's own address).
// - watchArp(ifname, onArp) spawns `tcpdump -l -n -e -i <ifname> arp` (argv, no shell) in the
//   caller's namespace and calls onArp for every parsed ARP line; ready resolves once tcpdump reports
//   that it is listening (rejects if it exits first); stop() kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SeenArp {
  op: 'request' | 'reply';
  senderMac: string;
  senderIp: string;
  targetIp?: string;
}

const MAC = '[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}';
const IP = '\\d{1,3}(?:\\.\\d{1,3}){3}';
const REQUEST = new RegExp(`^\\S+\\s+(${MAC}) > ${MAC}, ethertype ARP \\(0x0806\\), length \\d+: Request who-has (${IP})(?: \\(${MAC}\\))? tell (${IP})`);
const REPLY = new RegExp(`^\\S+\\s+${MAC} > ${MAC}, ethertype ARP \\(0x0806\\), length \\d+: Reply (${IP}) is-at (${MAC})`);

export function parseTcpdumpArp(line: string): SeenArp | undefined {
  const q = REQUEST.exec(line);
  if (q) return { op: 'request', senderMac: q[1]!.toLowerCase(), targetIp: q[2]!, senderIp: q[3]! };
  const r = REPLY.exec(line);
  if (r) return { op: 'reply', senderIp: r[1]!, senderMac: r[2]!.toLowerCase() };
  return undefined;
}

export function isGratuitous(a: SeenArp): boolean {
  return a.op === 'reply' || a.senderIp === a.targetIp;
}

export interface ArpWatch {
  ready: Promise<void>;
  stop(): void;
  readonly proc: ChildProcess;
}

export function watchArp(ifname: string, onArp: (a: SeenArp, line: string) => void, tcpdump = 'tcpdump'): ArpWatch {
  const proc = spawn(tcpdump, ['-l', '-n', '-e', '-i', ifname, 'arp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/listening on/.test(stderr)) resolve();
    });
    proc.once('error', reject);
    proc.once('exit', (code, sig) => reject(new Error(`tcpdump exited (${code ?? sig}): ${stderr.trim()}`)));
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const a = parseTcpdumpArp(line);
    if (a) onArp(a, line);
  });
  return {
    ready,
    proc,
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    },
  };
}

// Start-up check of the two Linux capabilities `ha-agent run` needs, so that a missing one is one clear
// line naming it and how to grant it — not a stack trace, and not an agent that wins an election and
// then cannot take the VIP.
//
// Contract: capabilityProblem(config, procStatus) is pure. CAP_NET_RAW is always needed (the VRRP raw
// socket, GARP frames): without it the answer is fatal (nothing can work; run.ts exits 1). CAP_NET_ADMIN
// is needed unless every instance is aws mode elastic-ip without routes (nothing then touches the
// interface's addresses or routes); without it the answer is a warning: the agent runs, and an instance
// that wins an election and cannot add its VIPs goes to FAULT (priority 0, a peer takes over) with the
// same fix in its reason. It reads CapEff (the effective set, what the kernel checks) from
// /proc/self/status text; unreadable → null (no opinion: the socket's own error still names it).
// Returns null when nothing is missing.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { missingCapabilities } from '../../providers/garp/preflight.js';

/** How to grant both, in each place the agent runs. */
export const GRANT_HOW =
  'grant it: systemd unit AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW (deploy/systemd/ha-agent.service), container --cap-add NET_RAW --cap-add NET_ADMIN, setpriv --inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin, or run as root';

const WHY: Record<string, string> = {
  CAP_NET_RAW: 'the VRRP raw socket and gratuitous ARP',
  CAP_NET_ADMIN: 'adding the VIPs and routes to the interface',
};

/** Whether some instance changes the interface's addresses or routes (needs CAP_NET_ADMIN). */
function needsNetAdmin(config: Config): boolean {
  return Object.values(config.instances).some(
    (i) => !(i.provider.type === 'aws' && i.provider.mode === 'elastic-ip') || (i.routes?.length ?? 0) > 0,
  );
}

export function capabilityProblem(config: Config, procStatus: string | null): { fatal: boolean; line: string } | null {
  if (procStatus === null) return null;
  const missing = missingCapabilities(procStatus)?.filter((c) => c === 'CAP_NET_RAW' || needsNetAdmin(config));
  if (!missing || missing.length === 0) return null;
  const what = missing.map((c) => `${c} (${WHY[c]})`).join(' and ');
  const fatal = missing.includes('CAP_NET_RAW');
  const then = fatal ? '' : '; running on: an instance that wins an election goes to FAULT when it cannot add its VIPs';
  return { fatal, line: `missing capability ${what} — ${GRANT_HOW}${then}` };
}

/** /proc/self/status, or null when it cannot be read. */
export function readProcStatus(): string | null {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
}

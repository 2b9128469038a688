// Read-only checks for the garp provider (`ha-agent provider test garp`): privileges, iproute2, the
// interface, a source address, a way to send GARPs, and whether another host already answers for each
// VIP. Never moves a VIP, never throws; every check stands on its own.
import { readFile } from 'node:fs/promises';
import type { PreflightCheck, ProviderContext } from '../../src/provider/types.js';
import { execFile } from '../../src/exec.js';
import { linkLocal6 } from '../../src/vrrp/ipv6-port.js';
import { getLink, netBackend, primaryIPv4, INSTALL_IPROUTE2, NetError, type LinkInfo } from '../../src/net/link.js';
import { parseCidr } from '../../src/net/address.js';
import { ARPING_MAX_CONCURRENT } from '../../src/net/announcer.js';
import { interfaceIndex, openPacketSocket, packetSocketAvailable } from '../../src/net/packet-socket.js';

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const GRANT_CAPS = 'run as root or grant CAP_NET_RAW,CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN; container: --cap-add NET_RAW --cap-add NET_ADMIN)';
const PROBE_TIMEOUT_MS = 4_000;

export interface GarpPreflightOptions {
  /** The text of /proc/self/status (for tests). */
  procStatus?: () => Promise<string>;
}

/** Which of CAP_NET_ADMIN / CAP_NET_RAW the CapEff line of /proc/PID/status lacks. */
export function missingCapabilities(procStatus: string): string[] | null {
  const m = /^CapEff:\s*([0-9a-f]+)\s*$/im.exec(procStatus);
  if (!m?.[1]) return null;
  const eff = BigInt('0x' + m[1]);
  const has = (bit: number) => ((eff >> BigInt(bit)) & 1n) === 1n;
  const missing: string[] = [];
  if (!has(CAP_NET_ADMIN)) missing.push('CAP_NET_ADMIN');
  if (!has(CAP_NET_RAW)) missing.push('CAP_NET_RAW');
  return missing;
}

async function guarded(check: string, fn: () => Promise<Omit<PreflightCheck, 'check'>>): Promise<PreflightCheck> {
  try {
    return { check, ...(await fn()) };
  } catch (e) {
    const err = e as Error;
    return err instanceof NetError
      ? { check, ok: false, detail: err.detail, fix: err.fix }
      : { check, ok: false, detail: err.message, fix: 'see the message; this check could not run' };
  }
}

async function arpingInstalled(): Promise<boolean> {
  try {
    const r = await execFile(['arping', '-V'], { timeoutMs: 3_000 });
    return r.code === 0 || /iputils|arping/i.test(r.stdout + r.stderr);
  } catch {
    return false;
  }
}

/** One ARP probe in DAD form (sender 0.0.0.0, so no cache anywhere learns anything): who answers for `ip`? */
async function whoAnswers(ifname: string, ip: string): Promise<string | null> {
  const r = await execFile(['arping', '-D', '-c', '1', '-w', '1', '-I', ifname, ip], { timeoutMs: PROBE_TIMEOUT_MS });
  if (r.code === 0) return null;
  const mac = /\[([0-9a-f:]{17})\]/i.exec(r.stdout)?.[1];
  if (!mac && !/reply/i.test(r.stdout)) throw new Error(`arping -D failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`);
  return mac?.toLowerCase() ?? 'an unknown MAC';
}

export async function* garpPreflight(ctx: ProviderContext, opts: GarpPreflightOptions = {}): AsyncGenerator<PreflightCheck> {
  const ifname = ctx.interface;
  const instanceKey = `instances.${ctx.instanceName}`;

  yield await guarded('privileges', async () => {
    const status = await (opts.procStatus ?? (() => readFile('/proc/self/status', 'utf8')))();
    const missing = missingCapabilities(status);
    if (missing === null) return { ok: false, detail: 'cannot read CapEff from /proc/self/status', fix: GRANT_CAPS };
    if (missing.length) return { ok: false, detail: `missing ${missing.join(' and ')} (needed to add addresses and send ARP)`, fix: GRANT_CAPS };
    return { ok: true, detail: 'CAP_NET_ADMIN and CAP_NET_RAW are effective' };
  });

  yield await guarded('address backend', async () => {
    const backend = netBackend();
    if (backend.kind === 'netlink') return { ok: true, detail: 'rtnetlink, in-process (the ip command is not needed)' };
    const r = await execFile(['ip', '-V'], { timeoutMs: 3_000 }).catch(() => null);
    if (!r || r.code !== 0) return { ok: false, detail: 'the ip command (iproute2) is not installed', fix: INSTALL_IPROUTE2 };
    return { ok: true, detail: `netlink unavailable (${backend.reason}); using ${r.stdout.trim() || 'the ip command'}` };
  });

  let link: LinkInfo | null = null;
  yield await guarded(`interface ${ifname}`, async () => {
    link = await getLink(ifname, { instanceName: ctx.instanceName });
    if (!link.up) {
      const why = link.flags.includes('UP') ? 'has no carrier (NO-CARRIER)' : 'is down';
      return { ok: false, detail: `${ifname} exists but ${why}`, fix: `bring it up (ip link set ${ifname} up) and check the cable or peer` };
    }
    return { ok: true, detail: `${ifname} is up (index ${link.index}, MAC ${link.mac}, MTU ${link.mtu})` };
  });
  const found = link as LinkInfo | null;

  const v6 = (ctx.vips[0] ?? '').includes(':');
  yield await guarded(v6 ? 'IPv6 link-local source address' : 'IPv4 source address', async () => {
    if (!found) return { ok: false, detail: `cannot tell: interface ${ifname} is missing`, fix: `fix ${instanceKey}.interface first` };
    if (v6) {
      const ll = linkLocal6(found);
      if (!ll) return { ok: false, detail: `${ifname} has no link-local IPv6 address (VRRPv3 IPv6 adverts are sent from it)`, fix: `enable IPv6 on it (sysctl net.ipv6.conf.${ifname}.disable_ipv6=0), or set ${instanceKey}.unicast.source` };
      return { ok: true, detail: `${ll} on ${ifname}` };
    }
    const primary = primaryIPv4(found, ctx.vips);
    if (!primary) return { ok: false, detail: `${ifname} has no IPv4 address of its own (VRRP adverts are sent from it)`, fix: `add one (ip addr add ADDR/LEN dev ${ifname}), or set ${instanceKey}.unicast.source` };
    return { ok: true, detail: `${primary} on ${ifname}` };
  });

  const addon = packetSocketAvailable();
  const forcedArping = process.env.HA_AGENT_GARP_SENDER === 'arping';
  const haveArping = await arpingInstalled();
  yield await guarded('GARP sender', async () => {
    if (addon.ok && !forcedArping) {
      if (!found) return { ok: true, detail: 'native AF_PACKET addon loaded (socket not tried: interface missing)' };
      const index = interfaceIndex(ifname) || found.index;
      try {
        openPacketSocket(index).close();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPERM' || code === 'EACCES') return { ok: false, detail: `native addon loaded, but opening an AF_PACKET socket failed: ${(e as Error).message}`, fix: 'run as root or grant CAP_NET_RAW' };
        throw e;
      }
      return { ok: true, detail: `native AF_PACKET addon (opened and closed a socket on ${ifname})` };
    }
    const why = forcedArping ? 'HA_AGENT_GARP_SENDER=arping' : `native addon unavailable: ${addon.error}`;
    if (haveArping) return { ok: true, detail: `arping (iputils), one process per GARP, at most ${ARPING_MAX_CONCURRENT} at a time (~${ARPING_MAX_CONCURRENT} GARPs/s) — ${why}` };
    return { ok: false, detail: `no way to send gratuitous ARP: ${why}, and arping is not installed`, fix: 'apt-get install iputils-arping (or rebuild the addon: npm install with a C compiler present)' };
  });

  const probes = ctx.vips.map((vip) =>
    guarded(`VIP ${vip}`, async () => {
      let c;
      try {
        c = parseCidr(vip);
      } catch {
        return { ok: false, detail: `${vip} is not an address or address/prefix`, fix: `correct ${instanceKey}.vips (e.g. 198.51.100.100/24)` };
      }
      if (found?.addresses.some((a) => a.address === c.address)) return { ok: true, detail: `already on ${ifname}: this node holds it` };
      if (c.family === 6) return { ok: true, detail: 'IPv6: not probed' };
      if (!found?.up) return { ok: true, detail: 'not probed (interface missing or down)' };
      if (!haveArping) return { ok: true, detail: 'not probed (install iputils-arping to check whether another host answers for it)' };
      const mac = await whoAnswers(ifname, c.address);
      if (!mac) return { ok: true, detail: `no other host answers ARP for ${c.address}` };
      return {
        ok: false,
        detail: `${c.address} is already answered by ${mac} on ${ifname}`,
        fix: `if that host is your current VRRP master this is expected; otherwise remove the address there (ip addr del ${c.cidr} dev IF) or choose another VIP in ${instanceKey}.vips`,
      };
    }),
  );
  for (const p of probes) yield await p;
}

// The guest side of an aws VIP: putting addresses on the instance's interface and reading what is
// there. EC2 does not configure the guest (spec §1.5), so the secondary-ip and route-table modes add
// the VIPs themselves, over netlink as the garp provider does; reads use the agent's live link view
// when there is one (no syscall), else ask the kernel. The elastic-ip mode needs none of it (EC2 NATs
// the public address to a private one the ENI already has).
import type { ProviderContext } from '../../src/provider/types.js';
import { addAddress, removeAddresses } from '../../src/net/address.js';
import { getLink } from '../../src/net/link.js';
import { packetSocketAvailable } from '../../src/net/packet-socket.js';

/** Putting the VIPs on the interface and reading what is there. */
export interface LocalAddresses {
  add(cidr: string, signal: AbortSignal): Promise<void>;
  remove(addresses: readonly string[], signal: AbortSignal): Promise<void>;
  /** Addresses on the interface now; null when the interface is gone. */
  present(signal: AbortSignal): Promise<ReadonlySet<string> | null>;
}

/** The instance's interface, over netlink (the agent's view for reads when there is one). */
export function interfaceAddresses(ctx: ProviderContext): LocalAddresses {
  // The address add looks the interface index up through the AF_PACKET addon: load it now, not in
  // the middle of the first failover (a dlopen there cost ~10 ms before the first EC2 request).
  packetSocketAvailable();
  const opts = (signal: AbortSignal) => ({ instanceName: ctx.instanceName, signal });
  return {
    add: async (cidr, signal) => void (await addAddress(ctx.interface, cidr, opts(signal))),
    remove: async (addresses, signal) => void (await removeAddresses(ctx.interface, addresses, opts(signal))),
    present: async (signal) => {
      const link = ctx.links ? ctx.links.link(ctx.interface) : await getLink(ctx.interface, { signal }).catch(() => null);
      return link ? new Set(link.addresses.map((a) => a.address)) : null;
    },
  };
}

/**
 * A failover's first EC2 request goes before the guest side: `request` is started by the caller, gets
 * one turn of the event loop to reach the wire (the SDK's work up to the socket is promise
 * continuations, all run before a setImmediate), and only then do the VIPs go on the interface (a
 * netlink round trip each, ~1.3 ms that used to delay the request). Then both are awaited; a failed
 * request is the error that counts (the local add is repeated by the retry's acquire anyway).
 */
export async function requestFirst<T>(request: Promise<T>, addLocal: () => Promise<void>): Promise<T> {
  const settled = request.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  let localError: unknown = null;
  try {
    await addLocal();
  } catch (e) {
    localError = e;
  }
  const r = await settled;
  if (!r.ok) throw r.error;
  if (localError !== null) throw localError;
  return r.value;
}

/** Every VIP on the interface, one after the other. */
export async function addAll(local: LocalAddresses, cidrs: readonly { cidr: string }[], signal: AbortSignal): Promise<void> {
  for (const c of cidrs) await local.add(c.cidr, signal);
}

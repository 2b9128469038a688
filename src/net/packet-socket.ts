// Loads the native AF_PACKET addon (native/packet_socket.c, built by `npm install` into
// build/Release/packet_socket.node) and wraps it as a send-only socket on one interface.
// If the addon is missing or does not load, packetSocketAvailable() says why; callers fall back.
import { loadAddon, type LoadedAddon } from './native-addon.js';

interface PacketSocketBinding {
  open(ifindex: number): number;
  send(fd: number, ifindex: number, frame: Buffer): number;
  close(fd: number): void;
  nametoindex(name: string): number;
}

export interface PacketSocket {
  readonly ifindex: number;
  /** Sends one whole Ethernet frame. Throws an Error with .code (EPERM, ENETDOWN, EAGAIN…) on failure. */
  send(frame: Buffer): void;
  close(): void;
}

function load(): LoadedAddon<PacketSocketBinding> {
  return loadAddon<PacketSocketBinding>('packet_socket');
}

/** Whether the addon loaded; `error` says why not. */
export function packetSocketAvailable(): { ok: boolean; error: string | null } {
  const l = load();
  return { ok: l.binding !== null, error: l.error };
}

function binding(): PacketSocketBinding {
  const l = load();
  if (!l.binding) throw new Error(`AF_PACKET addon unavailable: ${l.error}`);
  return l.binding;
}

/** The interface's index in this process's network namespace, or 0 if there is none. */
export function interfaceIndex(ifname: string): number {
  return binding().nametoindex(ifname);
}

/** Opens a send-only AF_PACKET socket on interface `ifindex`. Needs CAP_NET_RAW. */
export function openPacketSocket(ifindex: number): PacketSocket {
  const b = binding();
  let fd: number | null = b.open(ifindex);
  return {
    ifindex,
    send(frame: Buffer): void {
      if (fd === null) throw new Error('packet socket is closed');
      b.send(fd, ifindex, frame);
    },
    close(): void {
      if (fd === null) return;
      const f = fd;
      fd = null;
      b.close(f);
    },
  };
}

// Loads the native AF_PACKET addon (native/packet_socket.c, built by `npm install` into
// build/Release/packet_socket.node) and wraps it as a send-only socket on one interface.
// If the addon is missing or does not load, packetSocketAvailable() says why; callers fall back.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

const ADDON = join('build', 'Release', 'packet_socket.node');

let loaded: { binding: PacketSocketBinding | null; error: string | null } | null = null;

/**
 * The repository root holds build/: this file runs as src/net/packet-socket.ts (tsx) or as
 * dist/src/net/packet-socket.js, so walk up from here until build/Release/packet_socket.node exists.
 */
function findAddon(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

function load(): { binding: PacketSocketBinding | null; error: string | null } {
  if (loaded) return loaded;
  const path = findAddon();
  if (!path) {
    loaded = { binding: null, error: `${ADDON} not found (was \`npm install\` run with a C compiler present?)` };
    return loaded;
  }
  try {
    const require = createRequire(import.meta.url);
    loaded = { binding: require(path) as PacketSocketBinding, error: null };
  } catch (e) {
    loaded = { binding: null, error: `cannot load ${path}: ${(e as Error).message}` };
  }
  return loaded;
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

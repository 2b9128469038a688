// Locates the read-only shared/ folder (spec, golden vectors, pcaps). It sits next to the repository
// root (../shared), so walk up from the working directory, which works both from the sources (tsx)
// and from the compiled dist/ tree. HA_SHARED_DIR overrides the search.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function findSharedDir(): string {
  const override = process.env.HA_SHARED_DIR;
  if (override) return resolve(override);
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared');
    if (existsSync(join(candidate, 'vectors'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`shared/ not found above ${process.cwd()} (expected ../shared next to the repo root; or set HA_SHARED_DIR)`);
}

let cached: string | undefined;

/** Absolute path of a file under shared/, e.g. sharedPath('vectors', 'keepalived-2.2.7.json'). */
export function sharedPath(...parts: string[]): string {
  cached ??= findSharedDir();
  return join(cached, ...parts);
}

/** One golden packet from shared/vectors/keepalived-2.2.7.json (the fields the tests use). */
export interface KeepalivedVector {
  name: string;
  description: string;
  source_pcap: string;
  frame_number: number;
  eth_src: string;
  eth_dst: string;
  frame_len: number;
  ip_src: string | null;
  ip_dst: string | null;
  ttl: number | null;
  ip_protocol: number | null;
  ip_tos?: number;
  ip_id?: number;
  ip_df?: boolean;
  vrrp_hex: string | null; // null for the GARP frames
  frame_hex: string;
  checksum_check?: Record<string, boolean>;
  tshark_fields: Record<string, string>;
}

export function loadKeepalivedVectors(): KeepalivedVector[] {
  return JSON.parse(readFileSync(sharedPath('vectors', 'keepalived-2.2.7.json'), 'utf8')) as KeepalivedVector[];
}

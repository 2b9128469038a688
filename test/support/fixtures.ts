// Test fixtures that ship with the repository: test/fixtures/ holds the keepalived 2.2.7 golden vectors
// (keepalived-2.2.7.json) and the captures they were cut from (pcap/), copied from the team's shared/
// folder so that a plain `git clone` runs every suite. The repository root is found by walking up from
// this file to the package.json named "ha-agent", so it works from the sources (test/support/, tsx) and
// from the compiled tree (dist/test/support/), whatever the working directory. HA_FIXTURES_DIR overrides.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function isRepoRoot(dir: string): boolean {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) return false;
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'ha-agent';
  } catch {
    return false;
  }
}

let root: string | undefined;

/** The repository root (the directory of ha-agent's package.json), found above this file. */
export function repoRoot(): string {
  if (root) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (isRepoRoot(dir)) return (root = dir);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`ha-agent's package.json not found above ${start}`);
}

/** Absolute path of a file under test/fixtures/, e.g. fixturePath('pcap', 'v3-mcast.term.p-ha1.pcap'). */
export function fixturePath(...parts: string[]): string {
  const override = process.env.HA_FIXTURES_DIR;
  return join(override ? resolve(override) : join(repoRoot(), 'test', 'fixtures'), ...parts);
}

/** One golden packet from test/fixtures/keepalived-2.2.7.json (the fields the tests use). */
export interface KeepalivedVector {
  name: string;
  description: string;
  source_pcap: string; // relative to test/fixtures/, e.g. "pcap/v3-mcast.term.p-ha2.pcap"
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
  /** GARP frames only: the ARP fields tshark decoded. */
  arp?: { op: number; sha: string; spa: string; tha: string; tpa: string };
  /** GARP frames only: when keepalived sent each GARP, relative to its first advert as master. */
  garp_times_rel_first_advert_ms?: number[];
}

export function loadKeepalivedVectors(): KeepalivedVector[] {
  return JSON.parse(readFileSync(fixturePath('keepalived-2.2.7.json'), 'utf8')) as KeepalivedVector[];
}

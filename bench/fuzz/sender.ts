// Driver for the fuzzer's frame sender (fuzz-send.c): compiles it with `cc -O2` into a directory (the
// lab's temp dir), writes frames in its file format, and runs it inside a lab node. Thin: no logic
// beyond argv and the one JSON line it prints.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { repoRoot } from '../../test/support/fixtures.js';

/** What fuzz-send printed. */
export interface SendResult {
  sent: number;
  errors: number;
  seconds: number;
}

/** Compiles bench/fuzz/fuzz-send.c into `dir`; returns the binary's path (throws with cc's output). */
export function compileSender(dir: string): string {
  const bin = join(dir, 'fuzz-send');
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(repoRoot(), 'bench', 'fuzz', 'fuzz-send.c')], { stdio: ['ignore', 'pipe', 'pipe'] });
  return bin;
}

/** Writes frames as fuzz-send reads them: [u16 LE length][bytes] each. */
export function writeFrames(file: string, frames: readonly Buffer[]): void {
  const out = Buffer.alloc(frames.reduce((s, f) => s + 2 + f.length, 0));
  let at = 0;
  for (const f of frames) {
    if (f.length > 0xffff) throw new RangeError(`frame of ${f.length} bytes`);
    out.writeUInt16LE(f.length, at);
    f.copy(out, at + 2);
    at += 2 + f.length;
  }
  writeFileSync(file, out);
}

/** Runs fuzz-send in `node` on its interface: every frame once (seconds unset) or round and round. */
export async function runSender(lab: Lab, node: string, bin: string, file: string, pps: number, seconds?: number): Promise<SendResult> {
  const argv = [bin, lab.node(node).ifname, file, String(pps), ...(seconds ? [String(seconds)] : [])];
  const timeoutMs = seconds ? 60_000 + seconds * 2000 : 900_000;
  const out = await lab.run(node, argv, { timeoutMs });
  return JSON.parse(out.trim().split('\n').at(-1)!) as SendResult;
}

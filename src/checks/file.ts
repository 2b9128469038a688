// The file check (keepalived's vrrp_track_file / track_file): reads the first 127 bytes of the file
// (no fork) and reports the integer in it, parsed as keepalived's strtol(…, 0) does (priority.ts
// parseFileValue). A missing or unreadable file reads as 0, as in keepalived; a number out of the
// int32 range keeps the last value (the outcome carries no value), as keepalived ignores that read.
import { open } from 'node:fs/promises';
import type { Probe } from './probe.js';
import { errText, since } from './probe.js';
import { parseFileValue } from './priority.js';
import type { RunOutcome } from './step.js';

export function fileProbe(path: string): Probe {
  return {
    run: async () => {
      const t0 = performance.now();
      let text: string;
      try {
        const fh = await open(path, 'r');
        try {
          const buf = Buffer.alloc(127);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          text = buf.subarray(0, bytesRead).toString('latin1');
        } finally {
          await fh.close();
        }
      } catch (e) {
        return { ok: true, value: 0, detail: `cannot read ${path} (${errText(e)}): reads as 0`, durationMs: since(t0) };
      }
      const value = parseFileValue(text);
      if (value === null) return { ok: false, detail: `${path} holds a number out of range: ignored`, durationMs: since(t0) };
      return { ok: true, value, detail: `reads ${value}`, durationMs: since(t0) };
    },
  };
}

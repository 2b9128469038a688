// The in-process http check: one GET per run on node:http / node:https (no fork), a fresh
// connection each time (no keep-alive: a dead server must not hide behind a pooled socket), the body
// drained and discarded. Success: the status code is `expectStatus`. The run is aborted (socket
// destroyed) when the scheduler cancels it at its timeout.
import http from 'node:http';
import https from 'node:https';
import type { Probe } from './probe.js';
import { errText, since } from './probe.js';
import type { RunOutcome } from './step.js';

export interface HttpSpec {
  url: string;
  expectStatus: number;
}

export function httpProbe(spec: HttpSpec): Probe {
  const mod = new URL(spec.url).protocol === 'https:' ? https : http;
  return {
    run: (signal) =>
      new Promise<RunOutcome>((resolve) => {
        const t0 = performance.now();
        let done = false;
        const finish = (ok: boolean, detail: string) => {
          if (done) return;
          done = true;
          resolve({ ok, detail, durationMs: since(t0) });
        };
        try {
          const req = mod.get(spec.url, { agent: false, signal, headers: { 'user-agent': 'ha-agent-check', connection: 'close' } }, (res) => {
            const code = res.statusCode ?? 0;
            res.on('error', () => {});
            res.resume();
            finish(code === spec.expectStatus, `HTTP ${code}${code === spec.expectStatus ? '' : ` (expected ${spec.expectStatus})`}`);
          });
          req.on('error', (e) => finish(false, signal.aborted ? 'aborted' : errText(e)));
        } catch (e) {
          finish(false, errText(e));
        }
      }),
  };
}

// The in-process tcp check: one connect per run (net.connect, no fork); success when the connection
// is established, then it is closed at once. Aborting the run destroys the socket.
import net from 'node:net';
import type { Probe } from './probe.js';
import { errText, since } from './probe.js';
import type { RunOutcome } from './step.js';

export interface TcpSpec {
  host: string;
  port: number;
}

export function tcpProbe(spec: TcpSpec): Probe {
  return {
    run: (signal) =>
      new Promise<RunOutcome>((resolve) => {
        const t0 = performance.now();
        let done = false;
        const sock = net.connect({ host: spec.host, port: spec.port });
        const finish = (ok: boolean, detail: string) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          sock.destroy();
          resolve({ ok, detail, durationMs: since(t0) });
        };
        const onAbort = () => finish(false, 'aborted');
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        sock.once('connect', () => finish(true, `connected to ${spec.host}:${spec.port}`));
        sock.once('error', (e) => finish(false, errText(e)));
      }),
  };
}

// V8 settings for the long-running agent (`ha-agent run`), set from inside the process: users, the
// systemd unit and the benchmark all start it as `node dist/src/cli.js run` (or `ha-agent run`), with
// no node flags, so a flag on the command line would not reach most of them.
//
// V8 reads the flag below when it decides whether to optimise a function, not only when the isolate
// is created, so setting it at run time takes effect (test/unit/v8-tuning.test.ts checks it on this
// node). It must be set before the agent's modules load: resolving ~100 module URLs is what makes V8
// optimise its first functions (path normalisation, argument validators).
//
// --max-opt=1 (Ignition + Sparkplug, never TurboFan): the agent runs a handful of short callbacks
//   per advert interval, nothing TurboFan would pay back; but once it has optimised anything, the
//   ~3.5 MB of its compiler code in the node binary are paged in and stay resident, plus its zone
//   memory and optimised code. Measured (bench/cost.ts, N = 1 at 0.1 s): master RSS -3.6 MiB, CPU
//   unchanged within noise (1.0 % either way).
// --semi-space-growth-factor=1 (young generation kept at its initial semi-spaces): with the VRRP
//   offload (vrrp/offload.ts) the event loop hardly runs in steady state, so the semi-spaces start-up
//   grew (200 instances: ~16 MiB) were never shrunk by a later GC. Measured (bench/cost.ts, N = 200):
//   master RSS 71.4 → 58.9 MiB; N = 1 unchanged. (Before the offload it was left out because its
//   extra scavenges landed in the JS takeover path; the takeover's advert, VIPs and first GARP now
//   leave from the offload's thread, GARP lag 0.2–0.35 ms either way.)
import { setFlagsFromString } from 'node:v8';

export const AGENT_V8_FLAGS = ['--max-opt=1', '--semi-space-growth-factor=1'] as const;

let applied = false;

/** Applies AGENT_V8_FLAGS to this process (once). Call before loading the agent's modules. */
export function tuneV8ForAgent(): void {
  if (applied) return;
  applied = true;
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}

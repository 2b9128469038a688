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
// Not set: --semi-space-growth-factor=1 (young generation kept at 1 MiB semi-spaces). It saved 1.9 MiB
//   on a backup but nothing on the master, and the scavenges it adds land in the takeover: GARP lag
//   3.0–4.5 ms instead of 2.5–3.4 (bench/cost.ts, three runs each).
import { setFlagsFromString } from 'node:v8';

export const AGENT_V8_FLAGS = ['--max-opt=1'] as const;

let applied = false;

/** Applies AGENT_V8_FLAGS to this process (once). Call before loading the agent's modules. */
export function tuneV8ForAgent(): void {
  if (applied) return;
  applied = true;
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}

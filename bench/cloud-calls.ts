// What the cloud benchmarks (cloud.ts, alibaba.ts) count in an emulated cloud's call log: the calls a
// lab node made, and the steady calls per hour of the master and the backup over a quiet window.
import type { Lab } from '../src/lab/lab.js';
import { sleep } from '../test/netns/harness.js';

/** An emulated cloud's call log (test/netns/aws-cloud.ts, alibaba-cloud.ts): each call with its caller. */
export interface CallLog {
  calls(since?: number): Promise<{ from: string | null }[]>;
}

/** The calls made from `node`'s lab address. */
export const fromNode = (lab: Lab, node: string) => (c: { from: string | null }) => c.from?.replace(/^::ffff:/, '') === lab.node(node).ip;

/** Calls per hour of `master` and `backup` over `seconds` from now. */
export async function steadyCallsPerHour(cloud: CallLog, lab: Lab, seconds: number, nodes = { master: 'ha1', backup: 'ha2' }): Promise<{ master: number; backup: number }> {
  const mark = (await cloud.calls()).length;
  process.stderr.write(`(steady ${seconds} s) `);
  await sleep(seconds * 1000);
  const calls = await cloud.calls(mark);
  const perHour = (node: string) => (calls.filter(fromNode(lab, node)).length * 3600) / seconds;
  return { master: perHour(nodes.master), backup: perHour(nodes.backup) };
}

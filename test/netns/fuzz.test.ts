// A short packet fuzz run (bench/fuzz/packets.ts) against a running agent: ~10⁴ seeded, mutated
// keepalived adverts and broken IP datagrams from another lab node. The agent must stay up, make no
// transition, count every datagram the kernel hands it under exactly the drop reason (or acceptance)
// the model predicts, and still accept a valid advert afterwards. The seed is printed; FUZZ_SEED
// replays a run.
import assert from 'node:assert/strict';
import test from 'node:test';
import { requireRoot } from './harness.js';
import { runPackets } from '../../bench/fuzz/packets.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);

test('packet fuzz: 10⁴ mutated packets, no crash, no transition, every drop counted by reason', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  console.log(`packet fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const r = await runPackets({ cases: 10_000, seed: SEED, pps: 10_000, log: (l) => console.log(l) });
  assert.equal(r.sender.errors, 0, 'every frame left');
  assert.equal(r.sender.sent, r.frames);
  assert.ok(r.alive, 'the agent is still running');
  assert.equal(r.socketOverflow, 0, 'paced: the agent\'s receive socket never overflowed');
  assert.equal(r.transitions, 0, 'no transition');
  assert.deepEqual(r.mismatches, [], `agent counts = model: predicted ${JSON.stringify(r.predicted)}, measured ${JSON.stringify(r.measured)}`);
  assert.equal(r.agentMeasured + r.kernelPredicted, r.cases, 'every case is counted by the agent or predicted dropped by the kernel');
  const reasons = Object.keys(r.measured).filter((k) => k !== 'accepted');
  assert.ok(reasons.length >= 8, `drops under many reasons: ${reasons.join(', ')}`);
  for (const k of reasons) assert.ok(r.measured[k]! > 0);
  assert.ok((r.measured.accepted ?? 0) > 0, 'some valid adverts were accepted (and did not move the target)');
  for (const [inst, n] of Object.entries(r.validAfter)) assert.equal(n, 1, `${inst} accepts a valid advert after the fuzz`);
});

// The nftables faults of the chaos suite (bench/chaos/nft.ts) for real, in a lab (needs root): a
// loss rule drops some but not all VRRP packets, a partition drops VRRP both ways (the backup takes
// over, and each node's counters show every VRRP packet it received dropped), and heal() restores
// VRRP (the backup goes back to BACKUP). Our agents at VRRPv3 0.1 s are the traffic. No durations
// are asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentConfig, eventually, requireRoot, settle, startAgent, withLab, type VrrpParams } from './harness.js';
import { applyFault, faultCounters, heal } from '../../bench/chaos/nft.js';

const FAST: Omit<VrrpParams, 'priority'> = { version: 3, vrid: 51, advertInterval: 0.1, vips: ['198.51.100.100/24'] };
const NODES = [
  { name: 'a', octet: 1 },
  { name: 'b', octet: 2 },
];
const OPTS = { timeout: 90_000 };

test('a loss rule drops some but not all VRRP packets on the node it is on', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    // b must be a VRRP listener (a member of 224.0.0.18) for a's adverts to reach its input at all.
    startAgent(lab, 'a', agentConfig({ ...FAST, priority: 150 }));
    startAgent(lab, 'b', agentConfig({ ...FAST, priority: 100 }));
    await applyFault(lab, 'b', { kind: 'loss', percent: 50 });
    const c = await eventually(() => faultCounters(lab, 'b'), (x) => x.seen >= 60, 30_000, 'b has seen 60 adverts');
    assert.ok(c.dropped > 0, `some dropped: ${JSON.stringify(c)}`);
    assert.ok(c.dropped < c.seen, `not all dropped: ${JSON.stringify(c)}`);
    assert.deepEqual(await faultCounters(lab, 'a'), { seen: 0, dropped: 0 }, 'nothing installed on a');
    await heal(lab, 'b');
  });
});

test('a partition drops VRRP both ways, and heal restores it', OPTS, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const a = startAgent(lab, 'a', agentConfig({ ...FAST, priority: 150 }));
    const b = startAgent(lab, 'b', agentConfig({ ...FAST, priority: 100 }));
    await settle([
      [a, 'MASTER'],
      [b, 'BACKUP'],
    ], 1000);
    await Promise.all(['a', 'b'].map((n) => applyFault(lab, n, { kind: 'partition' })));
    await b.waitState('VI_1', 'MASTER', 10_000); // b no longer hears a
    // Both now advertise; each drops every VRRP packet it receives (so a never hears b either).
    for (const n of ['a', 'b']) {
      const c = await eventually(() => faultCounters(lab, n), (x) => x.seen >= 5, 10_000, `${n} has seen 5 adverts`);
      assert.equal(c.dropped, c.seen, `${n}: every VRRP packet dropped (${JSON.stringify(c)})`);
    }
    assert.equal(a.state(), 'MASTER');
    await Promise.all(['a', 'b'].map((n) => heal(lab, n)));
    await b.waitState('VI_1', 'BACKUP', 10_000); // b hears a again
    assert.deepEqual(await faultCounters(lab, 'b'), { seen: 0, dropped: 0 }, 'the chaos table is gone');
    await settle([
      [a, 'MASTER'],
      [b, 'BACKUP'],
    ], 1000);
  });
});

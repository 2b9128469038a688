// The Agent changes at run time: instances added, removed and replaced while it runs, next to an
// agent started from the CLI. The Agent runs in-process inside ha1's namespace (fixtures/agent-child.ts),
// driven over stdin; ha2 is a normal `ha-agent run`. Assertions are on states, reasons and VIP holders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { parseJsonLine } from '../../src/lab/agent-process.js';
import { adoptProcess, agentConfig, requireRoot, settle, startAgent, Watched, waitVipHolders, withLab, type VrrpParams } from './harness.js';

const VIP1 = '198.51.100.100/24';
const VIP2 = '198.51.100.101/24';
const V3: Omit<VrrpParams, 'priority' | 'vrid' | 'vips'> = { version: 3, advertInterval: 0.1 };
const nodes = [{ name: 'ha1', octet: 1 }, { name: 'ha2', octet: 2 }];

function instance(vrid: number, priority: number, vip: string) {
  return agentConfig({ ...V3, vrid, priority, vips: [vip] }).instances['VI_1'];
}

/** The in-process Agent in `node`'s namespace, with a request/answer channel. */
class AgentChild extends Watched {
  private next = 1;
  constructor(lab: Lab, node: string, config: object) {
    const fixture = join(process.cwd(), 'dist', 'test', 'netns', 'fixtures', 'agent-child.js');
    const proc = lab.spawn(node, [process.execPath, fixture, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    super(`agent-child@${node}`, proc, parseJsonLine);
  }
  async ready(): Promise<void> {
    await this.waitFor((e) => e.reply === 0, 15_000, 0, 'the in-process agent to start');
  }
  async ask(cmd: string, name?: string, inst?: unknown): Promise<{ ok: boolean; value?: unknown; error?: string }> {
    const id = this.next++;
    const since = this.mark();
    this.proc.stdin!.write(JSON.stringify({ id, cmd, name, instance: inst }) + '\n');
    const e = await this.waitFor((x) => x.reply === id, 15_000, since, `answer to ${cmd}`);
    return e as unknown as { ok: boolean; value?: unknown; error?: string };
  }
}

test('instances are added, removed and replaced while the agent runs; the others carry on', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(nodes, async (lab) => {
    // ha2: VI_1 (VRID 51) and VI_2 (VRID 52) at priority 100. ha1 starts with VI_1 only, at 150.
    const both = agentConfig({ ...V3, vrid: 51, priority: 100, vips: [VIP1] });
    both.instances['VI_2'] = instance(52, 100, VIP2)!;
    const ha2 = startAgent(lab, 'ha2', both);
    const ha1 = new AgentChild(lab, 'ha1', { log: { level: 'debug' }, status: { listen: 'off' }, instances: { VI_1: instance(51, 150, VIP1) } });
    adoptProcess(lab, ha1);
    await ha1.ready();
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 1_000);
    await settle([[ha2, 'MASTER']], 1_000, 20_000, 'VI_2');
    await waitVipHolders(lab, VIP1, ['ha1']);
    await waitVipHolders(lab, VIP2, ['ha2']);

    // Add VI_2 at 150 on ha1: it preempts ha2 for VRID 52; VI_1 is not disturbed.
    const mark1 = ha1.mark();
    const added = await ha1.ask('add', 'VI_2', instance(52, 150, VIP2));
    assert.equal(added.ok, true, added.error);
    await ha1.waitState('VI_2', 'MASTER', 10_000);
    await ha2.waitState('VI_2', 'BACKUP', 10_000);
    await waitVipHolders(lab, VIP2, ['ha1']);
    assert.equal(ha1.events.slice(mark1).filter((e) => e.evt === 'transition' && e.instance === 'VI_1').length, 0, 'VI_1 kept running');

    // Replace VI_2 by a lower-priority definition: ha2 takes VRID 52 back (preempt), VI_1 untouched.
    const r = await ha1.ask('replace', 'VI_2', instance(52, 50, VIP2));
    assert.equal(r.ok, true, r.error);
    await ha2.waitState('VI_2', 'MASTER', 10_000);
    await ha1.waitState('VI_2', 'BACKUP', 10_000);
    await waitVipHolders(lab, VIP2, ['ha2']);

    // Remove VI_1: priority 0 goes out, ha2 takes over on the priority-0 advert, not on silence.
    const mark2 = ha2.mark();
    assert.equal((await ha1.ask('remove', 'VI_1')).ok, true);
    const took = await ha2.waitFor((e) => e.evt === 'transition' && e.instance === 'VI_1' && e.to === 'MASTER', 10_000, mark2, 'ha2 VI_1 MASTER');
    assert.equal(took.reason, 'master-sent-priority-0');
    await waitVipHolders(lab, VIP1, ['ha2']);

    // Errors leave the running instances alone.
    const dup = await ha1.ask('add', 'VI_2', instance(53, 150, '198.51.100.102/24'));
    assert.equal(dup.ok, false);
    assert.match(dup.error ?? '', /already runs/);
    const missing = await ha1.ask('add', 'VI_9', { ...instance(54, 150, '198.51.100.103/24'), interface: 'nosuch0' });
    assert.equal(missing.ok, false);
    assert.match(missing.error ?? '', /interface nosuch0 not found/);
    const st = (await ha1.ask('status')).value as { instances: Record<string, { state: string }> };
    assert.deepEqual(Object.keys(st.instances), ['VI_2']);
    assert.equal(st.instances['VI_2']!.state, 'BACKUP');

    assert.equal((await ha1.ask('stop')).ok, true);
  });
});

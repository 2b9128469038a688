// /metrics, /events, `ha-agent events` and `ha-agent status --watch` on a real agent in a lab namespace,
// next to Debian's keepalived: our agent (priority 100) masters alone, keepalived (150) joins and takes
// over, then stops (priority 0) and ours takes over again. The scrapes before and after are parsed as
// Prometheus text (test/support/prom-text.ts): transitions by reason and the failover histogram move
// with the failovers; the event stream carries them as JSON lines; the watch redraws its table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watched, type LogEvent } from '../../src/lab/watched.js';
import type { Lab } from '../../src/lab/lab.js';
import { adoptProcess, agentCli, agentConfig, requireRoot, startAgent, waitVipOn, withLab, type VrrpParams } from './harness.js';
import { startKeepalived } from './keepalived.js';
import { parsePrometheusText, sampleValue, type Family } from '../support/prom-text.js';

const VIP = '198.51.100.100/24';
const params = (priority: number): VrrpParams => ({ version: 3, vrid: 61, priority, advertInterval: 0.1, vips: [VIP] });

async function scrape(lab: Lab, node: string): Promise<Map<string, Family>> {
  const js = 'fetch("http://127.0.0.1:9721/metrics").then(async (r) => { if (!r.ok) throw new Error("HTTP " + r.status); process.stdout.write(await r.text()); })';
  const r = await lab.exec(node, [process.execPath, '-e', js], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
  return parsePrometheusText(r.stdout);
}

/** A CLI command in the node's namespace, its output lines kept (and killed with the lab). */
function cli(lab: Lab, node: string, args: string[]): Watched {
  const w = new Watched(`ha-agent ${args[0]}@${node}`, lab.spawn(node, [process.execPath, agentCli(), ...args]), (line, stream, at): LogEvent => ({ at, line, stream }));
  adoptProcess(lab, w);
  return w;
}

const jsonLines = (w: Watched) =>
  w.events.filter((e) => e.stream === 'stdout').map((e) => JSON.parse(e.line) as Record<string, unknown>);

test('metrics, events and status --watch follow a real failover with keepalived', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(
    [
      { name: 'ha1', octet: 1 },
      { name: 'ha2', octet: 2 },
    ],
    async (lab) => {
      const ours = startAgent(lab, 'ha1', agentConfig(params(100)));
      await ours.waitState('VI_1', 'MASTER', 15_000);
      await waitVipOn(lab, VIP, 'ha1');
      await ours.waitFor((e) => e.msg === 'status server listening', 10_000, 0, 'the status server');

      const before = await scrape(lab, 'ha1');
      assert.equal(sampleValue(before, 'ha_agent_instance_state', { instance: 'VI_1', state: 'MASTER' }), 1);
      assert.equal(sampleValue(before, 'ha_agent_effective_priority', { instance: 'VI_1' }), 100);
      assert.equal(sampleValue(before, 'ha_agent_transitions_total', { instance: 'VI_1', to: 'MASTER', reason: 'master-down-timer' }), 1);
      assert.equal(sampleValue(before, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'held' }), 1);
      assert.ok((sampleValue(before, 'ha_agent_adverts_sent_total', { instance: 'VI_1' }) ?? 0) > 0, 'adverts sent');

      const events = cli(lab, 'ha1', ['events']);
      const watch = cli(lab, 'ha1', ['status', '--watch']);
      await watch.waitFor((e) => /^--- frame 1$/.test(e.line), 10_000, 0, 'the first frame');
      // Both are subscribed once the agent counts two /events clients.
      for (let i = 0; ; i++) {
        if (sampleValue(await scrape(lab, 'ha1'), 'ha_agent_event_clients') === 2) break;
        assert.ok(i < 50, 'two /events clients');
        await new Promise((r) => setTimeout(r, 100));
      }

      // keepalived with a higher priority takes over; then it stops (priority 0) and ours takes over again.
      const ka = startKeepalived(lab, 'ha2', params(150));
      await ours.waitState('VI_1', 'BACKUP', 15_000);
      await waitVipOn(lab, VIP, 'ha2');
      await events.waitFor((e) => /"type":"provider".*"op":"release"/.test(e.line), 10_000, 0, 'the release event');
      await ka.stop('SIGTERM');
      await ours.waitState('VI_1', 'MASTER', 15_000);
      await waitVipOn(lab, VIP, 'ha1');
      await events.waitFor((e) => /"type":"provider".*"op":"acquire"/.test(e.line), 10_000, 0, 'the acquire event');
      await watch.waitFor((e) => /VI_1\s+MASTER\s.*BACKUP→MASTER \(master-sent-priority-0\)/.test(e.line), 10_000, 0, 'a frame with the takeover');

      const after = await scrape(lab, 'ha1');
      const tr = (to: string, reason: string) => sampleValue(after, 'ha_agent_transitions_total', { instance: 'VI_1', to, reason });
      assert.equal(tr('BACKUP', 'higher-priority-advert'), 1);
      assert.equal(tr('MASTER', 'master-sent-priority-0'), 1);
      assert.equal(tr('MASTER', 'master-down-timer'), 1);
      assert.equal(sampleValue(after, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'held' }), 2, 'one more takeover confirmed');
      assert.equal(sampleValue(after, 'ha_agent_failover_duration_seconds_count', { provider: 'garp', goal: 'released' }), 1);
      assert.ok((sampleValue(after, 'ha_agent_failover_duration_seconds_sum', { provider: 'garp', goal: 'held' }) ?? 0) > 0);
      assert.equal(sampleValue(after, 'ha_agent_became_master_total', { instance: 'VI_1' }), 2);
      assert.ok((sampleValue(after, 'ha_agent_provider_operations_total', { instance: 'VI_1', provider: 'garp', op: 'release', outcome: 'ok' }) ?? 0) >= 1);
      assert.ok((sampleValue(after, 'ha_agent_provider_operation_duration_seconds_count', { provider: 'garp', op: 'acquire', outcome: 'ok' }) ?? 0) >= 2);
      assert.ok((sampleValue(after, 'ha_agent_adverts_received_total', { instance: 'VI_1' }) ?? 0) > 0, "keepalived's adverts were received");
      assert.equal(sampleValue(after, 'ha_agent_provider_ownership', { instance: 'VI_1', ownership: 'held' }), 1);
      assert.ok(after.get('ha_agent_packets_dropped_total'), 'drops by reason');
      assert.ok((sampleValue(after, 'ha_agent_timer_wakeups_total') ?? 0) > 0);
      for (const f of ['ha_agent_build_info', 'ha_agent_event_loop_delay_max_seconds', 'nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_open_fds']) {
        assert.ok(after.has(f), f);
      }

      const lines = jsonLines(events);
      const transitions = lines.filter((l) => l.type === 'transition').map((l) => `${String(l.from)}→${String(l.to)} ${String(l.reason)}`);
      assert.deepEqual(transitions, ['MASTER→BACKUP higher-priority-advert', 'BACKUP→MASTER master-sent-priority-0']);
      for (const l of lines) assert.equal(typeof l.id, 'string');
      assert.ok(lines.some((l) => l.type === 'provider' && l.op === 'release' && l.outcome === 'ok' && l.instance === 'VI_1'));
      const frames = watch.events.filter((e) => /^--- frame \d+$/.test(e.line)).length;
      assert.ok(frames >= 3, `${frames} frames`);
      assert.ok(watch.events.some((e) => /VI_1\s+BACKUP\s.*MASTER→BACKUP \(higher-priority-advert\)/.test(e.line)), 'a frame with the hand-over to keepalived');
    },
  );
});

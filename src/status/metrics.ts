// GET /metrics: Prometheus text exposition (format 0.0.4) through prom-client, on a private Registry.
//
// Cost: nothing on the VRRP path. Everything the agent already counts (status JSON: states,
// priorities, adverts, drops, faults, provider and check counters, notify runs) is read at scrape time
// in collect() callbacks, from ONE status snapshot per scrape. Only rare events are observed as they
// happen: transitions (counter by reason), provider calls (counter and latency histogram), and the
// failover duration (a transition until the provider confirmed the VIPs held / released). The event
// loop's delay is how late the agent's own scheduler timer fired (src/scheduler.ts), measured on the
// wake-ups the agent has anyway, plus one setImmediate probe at scrape time: no monitoring timer.
//
// Names (all ha_agent_* unless noted). Unchanged from the hand-written exposition: instance_state,
// priority, effective_priority, adverts_sent_total, advert_send_errors_total, adverts_received_total,
// packets_dropped_total, interface_dropped_total, fault, became_master_total, notify_runs_total,
// provider_ownership, provider_vip_held, provider_fault, provider_busy, provider_failures_total,
// provider_drift_total, uptime_seconds. Changed: `ha_agent_info{version}` is now
// `ha_agent_build_info{version,node}`; `transitions_total` gained `to` and `reason` labels (sum by
// instance for the old series). New: provider_operations_total, provider_operation_duration_seconds,
// failover_duration_seconds, check_status, check_runs_total, check_last_duration_seconds,
// event_loop_delay_max_seconds, event_loop_delay_seconds_total, timer_wakeups_total,
// nodejs_eventloop_lag_seconds, events_*; and prom-client's process_* / nodejs_* (prom.ts).
import { AGENT_VERSION } from '../version.js';
import type { Ownership } from '../provider/types.js';
import { agentEvents, type EventBus } from '../events/bus.js';
import { sseStats, type SseStats } from '../events/sse.js';
import { Counter, Gauge, Histogram, Registry, registerProcessMetrics } from './prom.js';
import { VRRP_STATES, type ElectionFactsJson, type InstanceStatusJson, type StatusJson } from './types.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const OWNERSHIPS: readonly Ownership[] = ['held', 'not-held', 'elsewhere', 'unknown'];

/** Provider call latency (s): local netlink work is ms, cloud APIs seconds, with retries up to a minute. */
const PROVIDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Failover: transition → VIPs confirmed (garp: ms; clouds: seconds to a minute or two). */
const FAILOVER_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];

/** Where the event loop's delay is read from: the agent's scheduler (src/scheduler.ts). */
export interface LatenessSource {
  wakeups: number;
  lateTotalMs: number;
  lateMaxMs: number;
}

export interface MetricsOptions {
  getStatus: () => StatusJson;
  scheduler?: LatenessSource;
  bus?: EventBus;
  sse?: SseStats;
}

export type ProviderOp = 'acquire' | 'release' | 'verify';
/** ok, or the error's class, or aborted (the runner gave up on it). */
export type ProviderOutcome = 'ok' | 'retryable' | 'permanent' | 'aborted';

/** "fault: interface eth0 is down" → "fault"; "higher-priority-advert" as is. Bounded label values. */
export function reasonLabel(reason: string): string {
  const m = /^[a-z][a-z0-9-]*/i.exec(reason.trim());
  return m ? m[0].toLowerCase().slice(0, 40) : 'other';
}

type Labels = Record<string, string>;
type Put = (labels: Labels, value: number) => void;

export class AgentMetrics {
  readonly registry: Registry = new Registry();
  readonly contentType = METRICS_CONTENT_TYPE;
  private snap: StatusJson | null = null;
  private readonly getStatus: () => StatusJson;
  private readonly transitions: Counter<'instance' | 'to' | 'reason'>;
  private readonly providerOps: Counter<'instance' | 'provider' | 'op' | 'outcome'>;
  private readonly providerLatency: Histogram<'provider' | 'op' | 'outcome'>;
  private readonly failover: Histogram<'provider' | 'goal'>;
  /** Per instance: the transition whose provider confirmation is awaited, and when (performance.now()). */
  private readonly pending = new Map<string, { goal: 'held' | 'released'; at: number }>();

  constructor(o: MetricsOptions) {
    this.getStatus = o.getStatus;
    const registers = [this.registry];
    const bus = o.bus ?? agentEvents;
    const sse = o.sse ?? sseStats;
    const status = () => (this.snap ??= this.getStatus());
    // Collect-time series: `fill` puts every sample of this scrape (the metric is emptied first).
    const gauge = (name: string, help: string, labelNames: string[], fill: (put: Put) => void) =>
      new Gauge({
        name, help, labelNames, registers,
        collect(this: Gauge) {
          this.reset();
          fill((l, v) => this.set(l, v));
        },
      });
    const counter = (name: string, help: string, labelNames: string[], fill: (put: Put) => void) =>
      new Counter({
        name, help, labelNames, registers,
        collect(this: Counter) {
          this.reset();
          fill((l, v) => this.inc(l, v));
        },
      });
    const perInstance = (fn: (instance: string, i: InstanceStatusJson, put: Put) => void) => (put: Put) => {
      const s = status();
      for (const name of Object.keys(s.instances).sort()) fn(name, s.instances[name]!, put);
    };
    const one = (f: (i: InstanceStatusJson) => number) => perInstance((instance, i, put) => put({ instance }, f(i)));
    const checks = (fn: (check: string, c: NonNullable<StatusJson['checks']>[string], put: Put) => void) => (put: Put) => {
      for (const [name, c] of Object.entries(status().checks ?? {})) fn(name, c, put);
    };

    // --- the agent ------------------------------------------------------------------------------
    gauge('ha_agent_build_info', 'ha-agent build: version, Node.js version. Always 1.', ['version', 'node'], (put) => put({ version: AGENT_VERSION, node: process.version }, 1));
    gauge('ha_agent_uptime_seconds', 'Seconds since the agent started.', [], (put) => put({}, status().uptimeSeconds));

    // --- instances ------------------------------------------------------------------------------
    gauge(
      'ha_agent_instance_state',
      'VRRP state of the instance: 1 for the current state, 0 for the others.',
      ['instance', 'state'],
      perInstance((instance, i, put) => VRRP_STATES.forEach((state) => put({ instance, state }, i.state === state ? 1 : 0))),
    );
    gauge('ha_agent_priority', 'Configured VRRP priority.', ['instance'], one((i) => i.priority));
    gauge('ha_agent_effective_priority', 'VRRP priority after tracking adjustments.', ['instance'], one((i) => i.effectivePriority));
    gauge(
      'ha_agent_fault',
      '1 for each fault source holding the instance in FAULT (link, unicast-source, socket, provider, check:NAME).',
      ['instance', 'source'],
      perInstance((instance, i, put) => Object.keys(i.faults ?? {}).sort().forEach((source) => put({ instance, source }, 1))),
    );
    counter('ha_agent_adverts_sent_total', 'VRRP advertisements sent.', ['instance'], one((i) => i.counters.advertsSent));
    counter('ha_agent_advert_send_errors_total', 'VRRP advertisements the socket failed to send.', ['instance'], one((i) => i.counters.advertSendErrors));
    counter('ha_agent_adverts_received_total', 'VRRP advertisements received and accepted.', ['instance'], one((i) => i.counters.advertsReceived));
    counter(
      'ha_agent_packets_dropped_total',
      'Received VRRP packets dropped, by reason.',
      ['instance', 'reason'],
      perInstance((instance, i, put) => Object.entries(i.counters.dropped).sort(([a], [b]) => a.localeCompare(b)).forEach(([reason, v]) => put({ instance, reason }, v))),
    );
    counter(
      'ha_agent_interface_dropped_total',
      'Received packets no instance on the interface serves (unknown VRID, malformed) or the offload thread could not queue for the event loop (offload-queue-full), by reason.',
      ['interface', 'reason'],
      (put) => {
        for (const [ifname, i] of Object.entries(status().interfaces ?? {}).sort(([a], [b]) => a.localeCompare(b)))
          for (const [reason, v] of Object.entries(i.dropped).sort(([a], [b]) => a.localeCompare(b))) put({ interface: ifname, reason }, v);
      },
    );
    counter('ha_agent_became_master_total', 'Transitions to MASTER.', ['instance'], one((i) => i.counters.becameMaster));
    this.transitions = new Counter({
      name: 'ha_agent_transitions_total',
      help: 'VRRP state transitions, by new state and reason (the first word of the logged reason).',
      labelNames: ['instance', 'to', 'reason'],
      registers,
    });
    counter(
      'ha_agent_notify_runs_total',
      'Notify hook runs, by outcome (ok, failed, timeout, spawn-error, dropped).',
      ['instance', 'outcome'],
      perInstance((instance, i, put) => {
        for (const [k, v] of Object.entries(i.notify?.counters ?? {}) as [string, number][]) put({ instance, outcome: k === 'spawnError' ? 'spawn-error' : k }, v);
      }),
    );

    // --- providers ------------------------------------------------------------------------------
    gauge(
      'ha_agent_provider_ownership',
      'VIP ownership as last known by the provider runner: 1 for the current value, 0 for the others.',
      ['instance', 'ownership'],
      perInstance((instance, i, put) => OWNERSHIPS.forEach((ownership) => put({ instance, ownership }, i.provider.ownership === ownership ? 1 : 0))),
    );
    gauge(
      'ha_agent_provider_vip_held',
      'Per VIP: 1 when the provider runner last knew it held here, 0 otherwise.',
      ['instance', 'vip'],
      perInstance((instance, i, put) => Object.entries(i.provider.vips ?? {}).forEach(([vip, o]) => put({ instance, vip }, o === 'held' ? 1 : 0))),
    );
    gauge('ha_agent_provider_fault', '1 while the provider has not managed to take the VIPs for its faultAfter time (reason in /status).', ['instance'], one((i) => (i.provider.fault ? 1 : 0)));
    gauge('ha_agent_provider_busy', '1 while a provider call (acquire, release, verify) is in flight.', ['instance'], one((i) => (i.provider.busy ? 1 : 0)));
    counter(
      'ha_agent_provider_failures_total',
      'Failed provider calls, by operation.',
      ['instance', 'op'],
      perInstance((instance, i, put) => {
        const c = i.provider.counters;
        put({ instance, op: 'acquire' }, c.acquireFail);
        put({ instance, op: 'release' }, c.releaseFail);
        put({ instance, op: 'verify' }, c.verifyFail);
      }),
    );
    counter('ha_agent_provider_drift_total', 'Reconcile found drift: verify() saw the VIP ownership differ from what the instance wants.', ['instance'], one((i) => i.provider.counters.drift));
    this.providerOps = new Counter({
      name: 'ha_agent_provider_operations_total',
      help: 'Provider calls, by operation (acquire, release, verify) and outcome (ok, retryable, permanent, aborted).',
      labelNames: ['instance', 'provider', 'op', 'outcome'],
      registers,
    });
    this.providerLatency = new Histogram({
      name: 'ha_agent_provider_operation_duration_seconds',
      help: 'Provider call latency (start to settled), by provider type, operation and outcome.',
      labelNames: ['provider', 'op', 'outcome'],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.failover = new Histogram({
      name: 'ha_agent_failover_duration_seconds',
      help: 'From a transition to the provider confirming the VIPs held (goal=held: became MASTER) or released (goal=released: left MASTER).',
      labelNames: ['provider', 'goal'],
      buckets: FAILOVER_BUCKETS,
      registers,
    });

    // --- checks ---------------------------------------------------------------------------------
    gauge(
      'ha_agent_check_status',
      'Health check status: 1 for the current one (init, ok, failed), 0 for the others.',
      ['check', 'status'],
      checks((check, c, put) => (['init', 'ok', 'failed'] as const).forEach((st) => put({ check, status: st }, c.status === st ? 1 : 0))),
    );
    counter(
      'ha_agent_check_runs_total',
      'Health check runs, by result (ok, failed, timed-out, skipped).',
      ['check', 'result'],
      checks((check, c, put) => {
        put({ check, result: 'ok' }, c.counters.ok);
        put({ check, result: 'failed' }, c.counters.failed);
        put({ check, result: 'timed-out' }, c.counters.timedOut);
        put({ check, result: 'skipped' }, c.counters.skipped);
      }),
    );
    gauge(
      'ha_agent_check_last_duration_seconds',
      'How long the last run of the health check took.',
      ['check'],
      checks((check, c, put) => c.last && put({ check }, c.last.durationMs / 1000)),
    );

    // --- event loop -----------------------------------------------------------------------------
    const sched = o.scheduler;
    if (sched) {
      gauge('ha_agent_event_loop_delay_max_seconds', "The latest the agent's timer fired past its deadline since the previous scrape (event-loop delay).", [], (put) => {
        put({}, sched.lateMaxMs / 1000);
        sched.lateMaxMs = 0;
      });
      counter('ha_agent_event_loop_delay_seconds_total', "Sum of how late the agent's timer fired past its deadlines (divide by timer_wakeups_total for the mean).", [], (put) => put({}, sched.lateTotalMs / 1000));
      counter('ha_agent_timer_wakeups_total', "Wake-ups of the agent's timer (adverts, timeouts, reconciles share them).", [], (put) => put({}, sched.wakeups));
    }
    new Gauge({
      name: 'nodejs_eventloop_lag_seconds',
      help: 'Event-loop lag measured at scrape time (a setImmediate probe).',
      registers,
      collect(this: Gauge) {
        const start = process.hrtime.bigint();
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            this.set(Number(process.hrtime.bigint() - start) / 1e9);
            resolve();
          }),
        );
      },
    });

    // --- process --------------------------------------------------------------------------------
    const cpu = (name: string, help: string, pick: (u: NodeJS.CpuUsage) => number) =>
      counter(name, help, [], (put) => put({}, pick(process.cpuUsage()) / 1e6));
    cpu('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (u) => u.user);
    cpu('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (u) => u.system);
    cpu('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => u.user + u.system);
    registerProcessMetrics(this.registry);

    // --- lease-based elections (election.type etcd): samples only for the instances that have one ---
    for (const f of ELECTION_FAMILIES) {
      const fill = perInstance((instance, i, put) => {
        if (i.election) put({ instance }, f.value(i.election));
      });
      if (f.type === 'gauge') gauge(f.name, f.help, ['instance'], fill);
      else counter(f.name, f.help, ['instance'], fill);
    }

    // --- events ---------------------------------------------------------------------------------
    gauge('ha_agent_event_clients', 'Clients following GET /events now.', [], (put) => put({}, sse.clients));
    counter('ha_agent_events_dropped_total', 'Events not sent to a slow /events client (its buffer was full).', [], (put) => put({}, sse.dropped));
    counter('ha_agent_events_published_total', 'Events published on the bus since the first /events client, by type.', ['type'], (put) => {
      for (const [type, v] of Object.entries(bus.published)) put({ type }, v);
    });
  }

  /** The exposition text; one status snapshot serves every collector of this scrape. */
  async render(): Promise<string> {
    this.snap = null;
    try {
      return await this.registry.metrics();
    } finally {
      this.snap = null;
    }
  }

  // --- rare events, observed as they happen ---------------------------------------------------------

  /** An instance changed state (Instance's onTransition), `agoMs` before this call. */
  transition(instance: string, from: string, to: string, reason: string, agoMs = 0): void {
    this.transitions.inc({ instance, to, reason: reasonLabel(reason) });
    const at = performance.now() - agoMs;
    if (to === 'MASTER') this.pending.set(instance, { goal: 'held', at });
    else if (from === 'MASTER') this.pending.set(instance, { goal: 'released', at });
  }

  /** A provider call settled (the runner's onCall). */
  providerCall(instance: string, provider: string, op: ProviderOp, outcome: ProviderOutcome, ms: number): void {
    this.providerOps.inc({ instance, provider, op, outcome });
    this.providerLatency.observe({ provider, op, outcome }, ms / 1000);
    const p = this.pending.get(instance);
    if (!p || outcome !== 'ok') return;
    if ((p.goal === 'held' && op === 'acquire') || (p.goal === 'released' && op === 'release')) {
      this.pending.delete(instance);
      this.failover.observe({ provider, goal: p.goal }, (performance.now() - p.at) / 1000);
    }
  }

  /** The instance is gone (removed by a reload): its event-driven series go too. */
  async forget(instance: string): Promise<void> {
    this.pending.delete(instance);
    for (const m of [this.transitions, this.providerOps] as Counter[]) {
      for (const v of (await m.get()).values) if (v.labels.instance === instance) m.remove(v.labels as Record<string, string>);
    }
  }
}

/** The exposition of one status snapshot alone (no event-driven series, no scheduler): for tests and tools. */
export function renderMetrics(s: StatusJson): Promise<string> {
  return new AgentMetrics({ getStatus: () => s }).render();
}

const ELECTION_FAMILIES: { name: string; type: 'gauge' | 'counter'; help: string; value: (e: ElectionFactsJson) => number }[] = [
  { name: 'ha_agent_election_store_reachable', type: 'gauge', help: '1 while the election store (etcd) answers.', value: (e) => (e.storeReachable ? 1 : 0) },
  { name: 'ha_agent_election_lease_ttl_left_seconds', type: 'gauge', help: 'Time left on our lease as known locally (0 without one).', value: (e) => (e.leaseTtlLeftMs ?? 0) / 1000 },
  { name: 'ha_agent_election_holding_without_lease', type: 'gauge', help: '1 while MASTER is kept only by onStoreLost: hold (no live lease).', value: (e) => (e.holdingWithoutLease ? 1 : 0) },
  { name: 'ha_agent_election_leases_lost_total', type: 'counter', help: 'Leases found expired by the store.', value: (e) => e.counters.leasesLost },
  { name: 'ha_agent_election_leader_changes_total', type: 'counter', help: 'Leader changes seen in the election.', value: (e) => e.counters.leaderChanges },
  { name: 'ha_agent_election_requests_total', type: 'counter', help: 'Requests sent to the election store (keep-alives included).', value: (e) => e.counters.requests },
  { name: 'ha_agent_election_request_errors_total', type: 'counter', help: 'Requests to the election store that failed.', value: (e) => e.counters.requestErrors },
];

// Renders the status as Prometheus text exposition (format 0.0.4) for GET /metrics. Pure function.
import type { Ownership } from '../provider/types.js';
import { VRRP_STATES, type ElectionFactsJson, type InstanceStatusJson, type StatusJson } from './types.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const OWNERSHIPS: readonly Ownership[] = ['held', 'not-held', 'elsewhere', 'unknown'];

type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number };

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: (name: string, inst: InstanceStatusJson) => Sample[];
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function line(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  const l = pairs.length ? `{${pairs.join(',')}}` : '';
  return `${name}${l} ${formatValue(value)}`;
}

const one = (instance: string, value: number): Sample[] => [{ labels: { instance }, value }];

const FAMILIES: Family[] = [
  {
    name: 'ha_agent_instance_state',
    type: 'gauge',
    help: 'VRRP state of the instance: 1 for the current state, 0 for the others.',
    samples: (instance, i) => VRRP_STATES.map((state) => ({ labels: { instance, state }, value: i.state === state ? 1 : 0 })),
  },
  { name: 'ha_agent_priority', type: 'gauge', help: 'Configured VRRP priority.', samples: (n, i) => one(n, i.priority) },
  {
    name: 'ha_agent_effective_priority',
    type: 'gauge',
    help: 'VRRP priority after tracking adjustments.',
    samples: (n, i) => one(n, i.effectivePriority),
  },
  {
    name: 'ha_agent_adverts_sent_total',
    type: 'counter',
    help: 'VRRP advertisements sent.',
    samples: (n, i) => one(n, i.counters.advertsSent),
  },
  {
    name: 'ha_agent_advert_send_errors_total',
    type: 'counter',
    help: 'VRRP advertisements the socket failed to send.',
    samples: (n, i) => one(n, i.counters.advertSendErrors),
  },
  {
    name: 'ha_agent_adverts_received_total',
    type: 'counter',
    help: 'VRRP advertisements received and accepted.',
    samples: (n, i) => one(n, i.counters.advertsReceived),
  },
  {
    name: 'ha_agent_packets_dropped_total',
    type: 'counter',
    help: 'Received VRRP packets dropped, by reason.',
    samples: (instance, i) =>
      Object.entries(i.counters.dropped)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([reason, value]) => ({ labels: { instance, reason }, value })),
  },
  {
    name: 'ha_agent_transitions_total',
    type: 'counter',
    help: 'VRRP state transitions.',
    samples: (n, i) => one(n, i.counters.transitions),
  },
  {
    name: 'ha_agent_became_master_total',
    type: 'counter',
    help: 'Transitions to MASTER.',
    samples: (n, i) => one(n, i.counters.becameMaster),
  },
  {
    name: 'ha_agent_notify_runs_total',
    type: 'counter',
    help: 'Notify hook runs, by outcome (ok, failed, timeout, spawn-error, dropped).',
    samples: (instance, i) =>
      i.notify
        ? (Object.entries(i.notify.counters) as [string, number][]).map(([k, value]) => ({ labels: { instance, outcome: k === 'spawnError' ? 'spawn-error' : k }, value }))
        : [],
  },
  {
    name: 'ha_agent_provider_ownership',
    type: 'gauge',
    help: 'VIP ownership as last known by the provider runner: 1 for the current value, 0 for the others.',
    samples: (instance, i) =>
      OWNERSHIPS.map((ownership) => ({ labels: { instance, ownership }, value: i.provider.ownership === ownership ? 1 : 0 })),
  },
  {
    name: 'ha_agent_provider_vip_held',
    type: 'gauge',
    help: 'Per VIP: 1 when the provider runner last knew it held here, 0 otherwise.',
    samples: (instance, i) => Object.entries(i.provider.vips ?? {}).map(([vip, o]) => ({ labels: { instance, vip }, value: o === 'held' ? 1 : 0 })),
  },
  {
    name: 'ha_agent_provider_fault',
    type: 'gauge',
    help: '1 while the provider has not managed to take the VIPs for its faultAfter time (reason in /status).',
    samples: (n, i) => one(n, i.provider.fault ? 1 : 0),
  },
  {
    name: 'ha_agent_provider_busy',
    type: 'gauge',
    help: '1 while a provider call (acquire, release, verify) is in flight.',
    samples: (n, i) => one(n, i.provider.busy ? 1 : 0),
  },
  {
    name: 'ha_agent_provider_failures_total',
    type: 'counter',
    help: 'Failed provider calls, by operation.',
    samples: (instance, i) => [
      { labels: { instance, op: 'acquire' }, value: i.provider.counters.acquireFail },
      { labels: { instance, op: 'release' }, value: i.provider.counters.releaseFail },
      { labels: { instance, op: 'verify' }, value: i.provider.counters.verifyFail },
    ],
  },
  {
    name: 'ha_agent_provider_drift_total',
    type: 'counter',
    help: 'Times verify() found the VIP ownership different from what the instance wants.',
    samples: (n, i) => one(n, i.provider.counters.drift),
  },
];

export function renderMetrics(s: StatusJson): string {
  const out: string[] = [
    '# HELP ha_agent_info ha-agent build information.',
    '# TYPE ha_agent_info gauge',
    line('ha_agent_info', { version: s.version }, 1),
    '# HELP ha_agent_uptime_seconds Seconds since the agent started.',
    '# TYPE ha_agent_uptime_seconds gauge',
    line('ha_agent_uptime_seconds', {}, s.uptimeSeconds),
  ];
  out.push(
    '# HELP ha_agent_fault 1 for each fault source holding the instance in FAULT (link, unicast-source, socket, provider, check:NAME).',
    '# TYPE ha_agent_fault gauge',
  );
  for (const name of Object.keys(s.instances).sort()) {
    for (const source of Object.keys(s.instances[name]!.faults ?? {}).sort()) out.push(line('ha_agent_fault', { instance: name, source }, 1));
  }
  out.push(
    '# HELP ha_agent_interface_dropped_total Received packets no instance on the interface serves (unknown VRID, malformed), by reason.',
    '# TYPE ha_agent_interface_dropped_total counter',
  );
  for (const [ifname, i] of Object.entries(s.interfaces ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [reason, value] of Object.entries(i.dropped).sort(([a], [b]) => a.localeCompare(b))) out.push(line('ha_agent_interface_dropped_total', { interface: ifname, reason }, value));
  }
  const names = Object.keys(s.instances).sort();
  for (const f of FAMILIES) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const name of names) {
      for (const sample of f.samples(name, s.instances[name]!)) out.push(line(f.name, sample.labels, sample.value));
    }
  }
  // Lease-based elections (election.type etcd): only when some instance has one.
  const leased = names.filter((n) => s.instances[n]!.election);
  if (leased.length > 0) {
    for (const f of ELECTION_FAMILIES) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const name of leased) out.push(line(f.name, { instance: name }, f.value(s.instances[name]!.election!)));
    }
  }
  return out.join('\n') + '\n';
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

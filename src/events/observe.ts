// What the agent tells /metrics (status/metrics.ts) and /events (events/bus.ts) as it happens: an
// instance's transitions, its provider calls, and the health checks' status changes. The agent gets one
// Telemetry and wires its callbacks into each instance (InstanceDeps.onTransition, the runner's onCall)
// and into the check scheduler; metrics may be null (status server off): events still go out.
//
// Cost: these are the rare events (transitions, provider calls, check status changes). An event
// payload is built only while the bus is active (someone subscribed); a provider verify that went
// fine is metrics only (reconciles are routine), every other provider outcome is an event too.
import type { AgentMetrics, ProviderOp, ProviderOutcome } from '../status/metrics.js';
import type { CheckScheduler } from '../checks/driver.js';
import { agentEvents, type EventBus } from './bus.js';

export interface InstanceTelemetry {
  /** `agoMs`: how long ago it happened (a deferred report, Instance.onTransition); the failover histogram starts there. */
  transition(from: string, to: string, reason: string, priority: number, agoMs?: number): void;
  providerCall(op: ProviderOp, outcome: ProviderOutcome, ms: number, error?: string): void;
}

export class Telemetry {
  constructor(
    readonly metrics: AgentMetrics | null,
    private readonly bus: EventBus = agentEvents,
  ) {}

  instance(instance: string, provider: string): InstanceTelemetry {
    const { metrics, bus } = this;
    return {
      transition(from, to, reason, priority, agoMs = 0) {
        metrics?.transition(instance, from, to, reason, agoMs);
        if (bus.active) bus.publish('transition', { instance, from, to, reason, priority });
      },
      providerCall(op, outcome, ms, error) {
        metrics?.providerCall(instance, provider, op, outcome, ms);
        if (bus.active && (op !== 'verify' || outcome !== 'ok'))
          bus.publish('provider', { instance, provider, op, outcome, ms: Math.round(ms * 10) / 10, ...(error ? { error } : {}) });
      },
    };
  }

  /** Publishes every status change of every check (`check` events). */
  watchChecks(checks: CheckScheduler): void {
    const bus = this.bus;
    for (const name of checks.names) {
      checks.subscribe(name, (c) => {
        if (bus.active) bus.publish('check', { check: c.name, status: c.status, reason: c.reason, value: c.value });
      });
    }
  }

  forget(instance: string): Promise<void> {
    return this.metrics?.forget(instance) ?? Promise.resolve();
  }
}

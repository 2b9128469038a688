// The agent's in-process event bus: transitions, provider outcomes, check results and config reloads,
// for GET /events (events/sse.ts) and whoever else subscribes.
//
// Contract:
// - publish(type, data) hands the event to every subscriber synchronously, in order; a subscriber that
//   throws is counted and skipped, never seen by the publisher. `data` may be a function, called only
//   when someone will see the event.
// - Zero cost when nobody listens: until the first subscribe(), publish() is one branch and `active`
//   is false (publishers building a payload check it first). From then on the bus keeps the last
//   HISTORY events, so a client that reconnects with Last-Event-ID gets what it missed (since()).
// - Event ids are "<epoch>-<seq>": epoch is this bus's creation time (ms, base 36), so an id from an
//   agent that has restarted since is recognised as foreign (since() then replays all it has).
// - Subscribers must not block: the SSE writer bounds its own buffer (drop + count, events/sse.ts).
import { isoTime } from '../iso-time.js';

/** `config-reload` is published by the reload path: { ok, added, removed, changed, error? }. */
export type AgentEventType = 'transition' | 'provider' | 'check' | 'config-reload';

export const AGENT_EVENT_TYPES: readonly AgentEventType[] = ['transition', 'provider', 'check', 'config-reload'];

export interface AgentEvent {
  id: string;
  type: AgentEventType;
  /** ISO time of publication. */
  time: string;
  data: Record<string, unknown>;
}

export type EventListener = (e: AgentEvent) => void;

/** Events kept for Last-Event-ID replay once someone has subscribed. */
export const HISTORY = 256;

export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private history: AgentEvent[] | null = null;
  private seq = 0;
  private readonly epoch = Date.now().toString(36);
  /** Events published while someone listened (or history was kept), by type. */
  readonly published: Record<AgentEventType, number> = { transition: 0, provider: 0, check: 0, 'config-reload': 0 };
  /** Subscriber calls that threw. */
  listenerErrors = 0;

  /** True once anyone has subscribed: only then is a payload worth building. */
  get active(): boolean {
    return this.history !== null;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  publish(type: AgentEventType, data: Record<string, unknown> | (() => Record<string, unknown>)): void {
    if (this.history === null) return;
    const e: AgentEvent = { id: `${this.epoch}-${++this.seq}`, type, time: isoTime(Date.now()), data: typeof data === 'function' ? data() : data };
    this.published[type]++;
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        this.listenerErrors++;
      }
    }
  }

  /** Calls `fn` on every event from now on; returns the unsubscribe. */
  subscribe(fn: EventListener): () => void {
    this.history ??= [];
    this.listeners.add(fn);
    return () => this.unsubscribe(fn);
  }

  unsubscribe(fn: EventListener): void {
    this.listeners.delete(fn);
  }

  /**
   * The kept events after `lastId` (oldest first). An id of another epoch (the agent restarted) or
   * older than what is kept: everything kept, with `gap` true when some may be missing.
   */
  since(lastId: string): { events: AgentEvent[]; gap: boolean } {
    const h = this.history ?? [];
    const m = /^([0-9a-z]+)-(\d+)$/.exec(lastId.trim());
    if (!m || m[1] !== this.epoch) return { events: [...h], gap: true };
    const seq = Number(m[2]);
    const first = h.length ? Number(h[0]!.id.slice(this.epoch.length + 1)) : this.seq + 1;
    return { events: h.filter((e) => Number(e.id.slice(this.epoch.length + 1)) > seq), gap: seq < first - 1 };
  }
}

/** The process's bus: the agent publishes here, /events reads here. */
export const agentEvents = new EventBus();

/** publish() on the process's bus (the reload path: publish('config-reload', { ok: true, ... })). */
export function publish(type: AgentEventType, data: Record<string, unknown> | (() => Record<string, unknown>)): void {
  agentEvents.publish(type, data);
}

export function subscribe(fn: EventListener): () => void {
  return agentEvents.subscribe(fn);
}

export function unsubscribe(fn: EventListener): void {
  agentEvents.unsubscribe(fn);
}

// One sync group at run time: watches its members (every transition of a member calls changed()),
// applies rules.ts (the pull into FAULT as fault source `sync:NAME` on the others) and fires the
// group's notify and FIFO line when the group's state changes. Evaluation is deferred to a microtask
// (a member's transition is reported from inside its election's step; pulling the others from there
// would re-enter elections mid-step) and coalesced: one evaluation per burst of transitions.
import type { Logger } from 'pino';
import type { Instance } from '../instance.js';
import type { Notifier } from '../notify/notifier.js';
import { groupState, syncFaults, type GroupState, type MemberView } from './rules.js';

export const SYNC_SOURCE_PREFIX = 'sync:';

export interface SyncGroupStatus {
  state: GroupState | null;
  instances: string[];
}

export class SyncGroup {
  private state: GroupState | null = null;
  private queued = false;
  private closed = false;

  constructor(
    readonly name: string,
    readonly instanceNames: readonly string[],
    private readonly lookup: (name: string) => Instance | undefined,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {}

  /** A member changed state (or joined, or left): re-evaluate soon. */
  changed(): void {
    if (this.queued || this.closed) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      if (!this.closed) this.evaluate();
    });
  }

  status(): SyncGroupStatus {
    return { state: this.state, instances: [...this.instanceNames] };
  }

  get notify(): Notifier {
    return this.notifier;
  }

  close(): void {
    this.closed = true;
  }

  private evaluate(): void {
    const members = this.instanceNames.map((n) => this.lookup(n)).filter((i): i is Instance => i !== undefined);
    const source = `${SYNC_SOURCE_PREFIX}${this.name}` as const;
    const views: MemberView[] = members.map((i) => {
      const own = Object.entries(i.status().faults).filter(([k]) => !k.startsWith(SYNC_SOURCE_PREFIX));
      return { name: i.name, state: i.state, ownFault: own.length === 0 ? null : own.map(([, v]) => v).join('; ') };
    });
    const pulls = syncFaults(this.name, views);
    for (const i of members) i.setFault(source, pulls.get(i.name) ?? null);
    const next = groupState(members.map((i) => i.state));
    if (next === null || next === this.state) return;
    this.log.info({ evt: 'sync-group', group: this.name, from: this.state, to: next }, `sync group ${this.name}: ${this.state ?? 'INIT'} → ${next}`);
    this.state = next;
    this.notifier.state(next, 0);
  }
}

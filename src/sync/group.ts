// One sync group at run time: watches its members (every transition of a member calls changed()),
// applies rules.ts (the pull into FAULT as fault source `sync:NAME` on the others; the pulls to
// BACKUP and MASTER and the hold through the elections' sync methods) and fires the
// group's notify and FIFO line when the group's state changes. Evaluation is deferred to a microtask
// (a member's transition is reported from inside its election's step; pulling the others from there
// would re-enter elections mid-step) and coalesced: one evaluation per burst of transitions.
import type { Logger } from 'pino';
import type { Instance } from '../instance.js';
import type { Notifier } from '../notify/notifier.js';
import { groupState, syncFaults, syncHolds, syncPulls, type GroupState, type MemberView, type Move } from './rules.js';

export const SYNC_SOURCE_PREFIX = 'sync:';

export interface SyncGroupStatus {
  state: GroupState | null;
  instances: string[];
}

export class SyncGroup {
  private state: GroupState | null = null;
  private queued = false;
  private moves: Move[] = [];
  private closed = false;

  constructor(
    readonly name: string,
    readonly instanceNames: readonly string[],
    private readonly lookup: (name: string) => Instance | undefined,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {}

  /** A member changed state (or joined, left, or wants MASTER): re-evaluate soon. */
  changed(move?: Move): void {
    if (this.closed) return;
    if (move) this.moves.push(move);
    if (this.queued) return;
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
    // keepalived vrrp_sync_master / vrrp_sync_backup, for each member's move in order.
    for (const move of this.moves.splice(0)) {
      const now = members.map((i) => ({ name: i.name, state: i.state, ownFault: null }));
      for (const p of syncPulls(move, now)) {
        this.log.info({ evt: 'sync-group', group: this.name, pull: p.name, to: p.to, because: move.name }, `sync group ${this.name}: ${move.name} is ${move.to}, pulling ${p.name} to ${p.to}`);
        members.find((i) => i.name === p.name)?.election.syncPull?.(p.to, `sync group ${this.name}: ${move.name} is ${move.to}`);
      }
    }
    const holds = syncHolds(members.map((i) => ({ name: i.name, state: i.state, ownFault: null, wantsMaster: i.election.wantsMaster?.() ?? false })));
    for (const i of members) i.election.syncHold?.(holds.get(i.name) ?? false);
    const next = groupState(members.map((i) => i.state));
    if (next === null || next === this.state) return;
    this.log.info({ evt: 'sync-group', group: this.name, from: this.state, to: next }, `sync group ${this.name}: ${this.state ?? 'INIT'} → ${next}`);
    this.state = next;
    this.notifier.state(next, 0);
  }
}

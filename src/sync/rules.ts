// keepalived's vrrp_sync_group rules (vrrp_sync.c), pure. Members move together:
// - one member in FAULT by its own fault sources pulls every other member into FAULT (vrrp_sync_fault);
//   they leave it when no member has an own fault left. The pull is a fault source `sync:GROUP` on
//   the others, so a pulled member's own reason and the group's stay apart.
// - the group's state: FAULT when any member is in FAULT, MASTER when every member is MASTER, BACKUP
//   when any member is BACKUP (and none in FAULT); null while members are still starting (INIT).
//   A change of the group's state fires the group's notify (GROUP name STATE 0).
// - a member that became MASTER pulls the members in BACKUP to MASTER (vrrp_sync_master); a member
//   that left MASTER for BACKUP pulls the members in MASTER to BACKUP (vrrp_sync_backup).
// - a member may take over by its own Master_Down_Timer only when every other member is MASTER or
//   wants to be (vrrp_sync_can_goto_master): otherwise it is held, and waits wanting MASTER.
export type MemberState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';
export type GroupState = 'MASTER' | 'BACKUP' | 'FAULT';

export interface MemberView {
  name: string;
  state: MemberState;
  /** The member's own fault reasons (without the group's pull), joined; null when none. */
  ownFault: string | null;
}

/** Per member: the reason of the group's pull into FAULT, or null (no pull). */
export function syncFaults(group: string, members: readonly MemberView[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const m of members) {
    const others = members.filter((o) => o.name !== m.name && o.ownFault !== null);
    out.set(m.name, others.length === 0 ? null : `sync group ${group}: ${others.map((o) => `${o.name} is in FAULT (${o.ownFault})`).join('; ')}`);
  }
  return out;
}

export interface Move {
  name: string;
  from: MemberState;
  to: MemberState;
}

/** Who to pull where for one member's transition (members: current states). */
export function syncPulls(move: Move, members: readonly MemberView[]): { name: string; to: 'BACKUP' | 'MASTER' }[] {
  const now = members.find((m) => m.name === move.name);
  if (!now || now.state !== move.to) return []; // stale: it moved on since
  if (move.to === 'MASTER') return members.filter((m) => m.name !== move.name && m.state === 'BACKUP').map((m) => ({ name: m.name, to: 'MASTER' as const }));
  if (move.from === 'MASTER' && move.to === 'BACKUP') return members.filter((m) => m.name !== move.name && m.state === 'MASTER').map((m) => ({ name: m.name, to: 'BACKUP' as const }));
  return [];
}

/** Per member: held back from taking over by its own timer (some other member neither MASTER nor wanting it). */
export function syncHolds(members: readonly (MemberView & { wantsMaster: boolean })[]): Map<string, boolean> {
  return new Map(members.map((m) => [m.name, members.some((o) => o.name !== m.name && o.state !== 'MASTER' && !o.wantsMaster)]));
}

export function groupState(states: readonly MemberState[]): GroupState | null {
  if (states.length === 0) return null;
  if (states.includes('FAULT')) return 'FAULT';
  if (states.every((s) => s === 'MASTER')) return 'MASTER';
  if (states.includes('BACKUP')) return 'BACKUP';
  return null;
}

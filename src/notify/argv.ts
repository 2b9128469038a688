// What a notify hook runs, as argv arrays, exactly as keepalived 2.2 builds them (vrrp_notify.c):
// on a state change, first the state's own script (notify_master / _backup / _fault / _stop, run with
// its configured argv only), then the generic `notify` script with four arguments appended:
//   INSTANCE|GROUP  name  MASTER|BACKUP|FAULT|STOP  priority
// (priority is the instance's effective priority; keepalived passes 0 for a group). Pure.
//
// Environment of every hook (documented in README.md and config.example.yaml): the agent's own
// environment, plus HA_AGENT_TYPE (INSTANCE|GROUP), HA_AGENT_NAME, HA_AGENT_STATE, HA_AGENT_PRIORITY
// (the same four values), so a script that only reads its configured argv still knows the event.
import type { NotifyConfig, NotifyHook } from '../config/hooks-schema.js';

export type NotifyKind = 'INSTANCE' | 'GROUP';
export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export interface NotifyEvent {
  kind: NotifyKind;
  name: string;
  state: NotifyState;
  /** Effective priority for an instance; 0 for a group (as keepalived). */
  priority: number;
}

export interface NotifyCommand {
  /** Which hook this is: the state's own, or `any`. */
  hook: NotifyHook | 'any';
  argv: string[];
}

const HOOK_OF: Record<NotifyState, NotifyHook> = { MASTER: 'master', BACKUP: 'backup', FAULT: 'fault', STOP: 'stop' };

/** The state names keepalived notifies (INIT is never notified). */
export function notifyState(state: string): NotifyState | null {
  return state === 'MASTER' || state === 'BACKUP' || state === 'FAULT' || state === 'STOP' ? state : null;
}

/** The commands to run for `ev`, in keepalived's order: the state's own hook, then `any`. */
export function notifyCommands(cfg: Partial<NotifyConfig> | undefined, ev: NotifyEvent): NotifyCommand[] {
  if (!cfg) return [];
  const out: NotifyCommand[] = [];
  const hook = HOOK_OF[ev.state];
  const own = cfg[hook];
  if (own) out.push({ hook, argv: [...own] });
  if (cfg.any) out.push({ hook: 'any', argv: [...cfg.any, ev.kind, ev.name, ev.state, String(ev.priority)] });
  return out;
}

/** The hook's environment: the agent's, plus the event as HA_AGENT_* variables. */
export function notifyEnv(base: NodeJS.ProcessEnv, ev: NotifyEvent): NodeJS.ProcessEnv {
  return {
    ...base,
    HA_AGENT_TYPE: ev.kind,
    HA_AGENT_NAME: ev.name,
    HA_AGENT_STATE: ev.state,
    HA_AGENT_PRIORITY: String(ev.priority),
  };
}

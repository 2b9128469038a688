// One instance's (or one sync group's) notify: turns its state changes into keepalived's FIFO line
// (written at once) and its hook commands (queued, run one at a time by runner.ts). Contract:
// - state(s, priority): MASTER / BACKUP / FAULT notify; anything else (INIT) is ignored, as keepalived.
// - stop(priority, deadlineMs): STOP (the FIFO line, notify.stop, then notify.any … STOP), and waits
//   until every queued hook ran, at most deadlineMs (then what runs is killed, the rest dropped).
// Never blocks: everything that runs a process is asynchronous.
import type { Logger } from 'pino';
import type { NotifyConfig } from '../config/hooks-schema.js';
import { NOTIFY_TIMEOUT_DEFAULT } from '../config/hooks-schema.js';
import type { Clock } from '../provider/runner/clock.js';
import { notifyCommands, notifyEnv, notifyState, type NotifyEvent, type NotifyKind, type NotifyState } from './argv.js';
import type { NotifyFifo } from './fifo.js';
import { NotifyRunner, type NotifyStatus, type Spawner } from './runner.js';

export interface NotifierDeps {
  clock: Clock;
  log: Logger;
  fifo: NotifyFifo | null;
  /** The base environment of the hooks (default process.env). */
  env?: NodeJS.ProcessEnv;
  spawner?: Spawner;
}

export class Notifier {
  private readonly runner: NotifyRunner;
  private stopped = false;

  constructor(
    readonly kind: NotifyKind,
    readonly name: string,
    private readonly cfg: NotifyConfig | undefined,
    private readonly deps: NotifierDeps,
  ) {
    this.runner = new NotifyRunner(`${kind === 'GROUP' ? 'group ' : ''}${name}`, deps.clock, deps.log, deps.spawner);
  }

  /** A state change (from the instance's transition, or the group's). */
  state(state: string, priority: number): void {
    const s = notifyState(state);
    if (s === null || s === 'STOP' || this.stopped) return;
    this.fire(s, priority);
  }

  /** notify STOP, then wait for the queue within the deadline. */
  stop(priority: number, deadlineMs: number): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.fire('STOP', priority);
    }
    return this.runner.drain(deadlineMs);
  }

  status(): NotifyStatus {
    return this.runner.status();
  }

  close(): void {
    this.runner.close();
  }

  private fire(state: NotifyState, priority: number): void {
    const ev: NotifyEvent = { kind: this.kind, name: this.name, state, priority: this.kind === 'GROUP' ? 0 : priority };
    this.deps.fifo?.write(ev);
    const timeoutMs = (this.cfg?.timeout ?? NOTIFY_TIMEOUT_DEFAULT) * 1000;
    const env = notifyEnv(this.deps.env ?? process.env, ev);
    for (const c of notifyCommands(this.cfg, ev)) this.runner.run({ hook: c.hook, argv: c.argv, env, timeoutMs });
  }
}

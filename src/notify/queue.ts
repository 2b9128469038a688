// The notify queue's policy, as a pure function: step(state, event, now) → { state, effects }. One queue
// per instance (and per sync group): jobs run in the order they were queued, ONE AT A TIME (keepalived
// fires them concurrently, so "backup" may finish after "master"). No processes or timers here: the
// driver (./runner.ts) spawns, kills and arms the one timer the effects ask for.
//
// The rules:
// - enqueue: appended; started at once when nothing runs.
// - A job runs until its process exits, or until its deadline (startedAt + timeoutMs): then its whole
//   process group is killed (SIGKILL) and it counts as timed out. If even that exit is not seen within
//   KILL_GRACE_MS (a process stuck in the kernel), the queue moves on without it (abandoned).
// - A job that cannot be spawned (ENOENT, EACCES) ends at once as 'spawn-error'.
// - Every finished job yields one 'done' effect (for the log and the counters), then the next starts.
// - 'cutoff' (shutdown deadline): the running job is killed and every queued one dropped ('dropped').

export interface NotifyJob {
  /** Label for logs and status: "master", "any"… */
  hook: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export type Outcome = 'ok' | 'failed' | 'timeout' | 'spawn-error' | 'dropped';

export interface JobResult {
  outcome: Outcome;
  code: number | null;
  signal: string | null;
  /** First line of stderr (or the spawn error), '' when none. */
  stderr: string;
  durationMs: number;
}

interface Running {
  id: number;
  job: NotifyJob;
  startedAt: number;
  deadline: number;
  killedAt: number | null;
}

export interface QueueState {
  pending: NotifyJob[];
  running: Running | null;
  nextId: number;
}

export type QueueEvent =
  | { type: 'enqueue'; job: NotifyJob }
  | { type: 'exit'; id: number; code: number | null; signal: string | null; stderr: string }
  | { type: 'spawn-error'; id: number; error: string }
  | { type: 'timer' }
  | { type: 'cutoff' };

export type QueueEffect =
  | { type: 'spawn'; id: number; job: NotifyJob }
  | { type: 'kill'; id: number }
  | { type: 'arm'; at: number | null }
  | { type: 'done'; id: number; job: NotifyJob; result: JobResult };

/** After a SIGKILL, how long to wait for the exit before moving on. */
export const KILL_GRACE_MS = 1_000;

export const initialQueue = (): QueueState => ({ pending: [], running: null, nextId: 1 });

export function step(s: QueueState, ev: QueueEvent, now: number): { state: QueueState; effects: QueueEffect[] } {
  const effects: QueueEffect[] = [];
  let st: QueueState = { ...s, pending: [...s.pending] };
  const finish = (r: Running, result: Omit<JobResult, 'durationMs'>) => {
    effects.push({ type: 'done', id: r.id, job: r.job, result: { ...result, durationMs: now - r.startedAt } });
    st.running = null;
  };
  switch (ev.type) {
    case 'enqueue':
      st.pending.push(ev.job);
      break;
    case 'exit': {
      const r = st.running;
      if (!r || r.id !== ev.id) return { state: s, effects: [] }; // an abandoned job exiting late
      const outcome = r.killedAt !== null ? 'timeout' : ev.code === 0 ? 'ok' : 'failed';
      finish(r, { outcome, code: ev.code, signal: ev.signal, stderr: ev.stderr });
      break;
    }
    case 'spawn-error': {
      const r = st.running;
      if (!r || r.id !== ev.id) return { state: s, effects: [] };
      finish(r, { outcome: 'spawn-error', code: null, signal: null, stderr: ev.error });
      break;
    }
    case 'timer': {
      const r = st.running;
      if (!r) break;
      if (r.killedAt === null && now >= r.deadline) {
        st.running = { ...r, killedAt: now };
        effects.push({ type: 'kill', id: r.id });
      } else if (r.killedAt !== null && now >= r.killedAt + KILL_GRACE_MS) {
        finish(r, { outcome: 'timeout', code: null, signal: 'SIGKILL', stderr: 'did not exit after SIGKILL (abandoned)' });
      }
      break;
    }
    case 'cutoff': {
      const r = st.running;
      if (r && r.killedAt === null) {
        st.running = { ...r, killedAt: now };
        effects.push({ type: 'kill', id: r.id });
      }
      for (const job of st.pending) effects.push({ type: 'done', id: 0, job, result: { outcome: 'dropped', code: null, signal: null, stderr: '', durationMs: 0 } });
      st.pending = [];
      break;
    }
  }
  if (st.running === null && st.pending.length > 0 && ev.type !== 'cutoff') {
    const job = st.pending.shift()!;
    const id = st.nextId;
    st = { ...st, nextId: id + 1, running: { id, job, startedAt: now, deadline: now + job.timeoutMs, killedAt: null } };
    effects.push({ type: 'spawn', id, job });
  }
  const r = st.running;
  effects.push({ type: 'arm', at: r === null ? null : r.killedAt === null ? r.deadline : r.killedAt + KILL_GRACE_MS });
  return { state: st, effects };
}

/** Nothing running and nothing queued. */
export const idle = (s: QueueState): boolean => s.running === null && s.pending.length === 0;

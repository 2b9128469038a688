// Fault injection per API action, shared by the EC2 and the Alibaba VPC emulators. A fault is armed
// for `times` matching requests (default: for ever), for one `action` or for all. take(action) is
// called once per request: it uses one count of every matching 'latency' fault (their `ms`, default
// 1000, add up) and of the first matching fault of any other kind, which the emulator then answers
// with. Faults whose count is used up are dropped.
export interface ActionFault {
  action?: string;
  times?: number;
  kind: string;
  /** latency: delay in ms (default 1000). */
  ms?: number;
}

export type ArmedActionFault<F extends ActionFault> = F & { id: number; remaining: number };

export class ActionFaults<F extends ActionFault> {
  private seq = 0;
  private active: ArmedActionFault<F>[] = [];

  add(f: F): number {
    const id = ++this.seq;
    this.active.push({ ...f, id, remaining: f.times ?? Infinity });
    return id;
  }

  remove(id: number): void {
    this.active = this.active.filter((f) => f.id !== id);
  }

  clear(): void {
    this.active = [];
  }

  list(): ArmedActionFault<F>[] {
    return this.active.map((f) => ({ ...f }));
  }

  /** See the header. */
  take(action: string): { latencyMs: number; fault?: ArmedActionFault<F> } {
    let latencyMs = 0;
    let fault: ArmedActionFault<F> | undefined;
    for (const f of this.active) {
      if (f.action !== undefined && f.action !== action) continue;
      if (f.kind === 'latency') {
        latencyMs += f.ms ?? 1000;
        f.remaining -= 1;
      } else if (!fault) {
        fault = f;
        f.remaining -= 1;
      }
    }
    this.active = this.active.filter((f) => f.remaining > 0);
    return fault ? { latencyMs, fault } : { latencyMs };
  }
}

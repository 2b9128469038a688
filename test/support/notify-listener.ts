// A stand-in for systemd's end of NOTIFY_SOCKET in tests: a unix datagram socket bound by a tiny
// python3 process (Node cannot bind one), with SO_PASSCRED on as systemd has it, printing every
// datagram as a JSON line {"pid": sender pid from SCM_CREDENTIALS, "uid", "fields": {KEY: value}}.
// `address` is a path or "@name" (abstract namespace). The listener runs inside a lab namespace when
// spawned through lab.spawn (abstract names are per network namespace; paths are not).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Debian's python3 (what CI installs); a PATH lookup only when it is absent (its shims can be slow). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const SCRIPT = `
import json, os, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({"listening": addr}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = uid = None
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack('iii', cdata[:12])
    fields = dict(l.split('=', 1) for l in data.decode().split('\\n') if '=' in l)
    print(json.dumps({"pid": pid, "uid": uid, "fields": fields}), flush=True)
`;

export interface NotifyMessage {
  pid: number | null;
  uid: number | null;
  fields: Record<string, string>;
  /** Arrival order (0, 1, …) among every line the test saw, agent log lines included, when counted by the caller. */
  seq: number;
}

export class NotifyListener {
  readonly messages: NotifyMessage[] = [];
  private waiters: (() => void)[] = [];
  private seq = 0;

  private constructor(
    readonly address: string,
    readonly proc: ChildProcess,
    /** Called with each message as it arrives (tests interleave it with the agent's log). */
    private readonly onMessage?: (m: NotifyMessage) => void,
  ) {}

  /** Starts python3 listening on `address`; `spawner` runs argv (lab.spawn for a namespace). */
  static async start(address: string, opts: { spawner?: (argv: string[]) => ChildProcess; onMessage?: (m: NotifyMessage) => void } = {}): Promise<NotifyListener> {
    const argv = [PYTHON, '-u', '-c', SCRIPT, address];
    const proc = opts.spawner ? opts.spawner(argv) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const l = new NotifyListener(address, proc, opts.onMessage);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      proc.once('exit', (code) => reject(new Error(`notify listener exited ${code}: ${stderr}`)));
      rl.on('line', (line) => {
        const obj = JSON.parse(line) as { listening?: string; pid?: number; uid?: number; fields?: Record<string, string> };
        if (obj.listening) return resolve();
        const m: NotifyMessage = { pid: obj.pid ?? null, uid: obj.uid ?? null, fields: obj.fields ?? {}, seq: l.seq++ };
        l.messages.push(m);
        l.onMessage?.(m);
        for (const w of l.waiters.splice(0)) w();
      });
    });
    return l;
  }

  /** Resolves with the first message (from index `from`) matching `pred`; rejects after timeoutMs. */
  waitFor(pred: (m: NotifyMessage) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<NotifyMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.slice(from).find(pred);
        if (m) {
          clearTimeout(timer);
          resolve(m);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => reject(new Error(`notify listener: no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.fields))}`)), timeoutMs);
      if (check()) return;
      const again = () => {
        if (!check()) this.waiters.push(again);
      };
      this.waiters.push(again);
    });
  }

  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

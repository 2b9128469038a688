// `ha-agent reload [--pid-file FILE] [--wait] [--url URL]`: sends SIGHUP to the agent named by the pid
// file `ha-agent run` writes (default /run/ha-agent.pid), which reloads its config without a flap
// (src/reload/reloader.ts). systemd does the same with ExecReload=/bin/kill -HUP $MAINPID.
// --wait: reads the agent's /status before and after, and reports the outcome of this reload
// (generation, errors) — exit 0 applied, 1 refused / partly applied / no answer within 15 s.
// Exit codes: 0 signalled (or applied, with --wait), 1 no agent to signal or the reload failed.
import { readPidFile } from '../reload/pid-file.js';
import type { ConfigStatusJson, StatusJson } from '../status/types.js';
import type { Out } from './out.js';

const WAIT_MS = 15_000;
const POLL_MS = 100;

export async function reloadCommand(opts: { pidFile: string; wait: boolean; url: string }, out: Out): Promise<number> {
  const found = readPidFile(opts.pidFile);
  if (!found.ok) {
    out.stderr.write(`ha-agent reload: ${found.error}\n`);
    return 1;
  }
  const base = opts.url.replace(/\/+$/, '');
  const before = opts.wait ? await configStatus(base) : null;
  if (opts.wait && !before) {
    out.stderr.write(`ha-agent reload: no status at ${base}/status to wait on (is status.listen this address?); not signalled\n`);
    return 1;
  }
  try {
    process.kill(found.pid, 'SIGHUP');
  } catch (e) {
    out.stderr.write(`ha-agent reload: cannot signal pid ${found.pid}: ${(e as Error).message}\n`);
    return 1;
  }
  if (!before) {
    out.stdout.write(`sent SIGHUP to ha-agent (pid ${found.pid}); the outcome is in its log and in \`ha-agent status\`\n`);
    return 0;
  }
  const seen = before.reloads.applied + before.reloads.rejected;
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const now = await configStatus(base);
    if (!now || now.reloads.applied + now.reloads.rejected === seen || !now.lastReload) continue;
    const r = now.lastReload;
    if (r.outcome === 'applied') {
      out.stdout.write(`reloaded: generation ${now.generation} (loaded ${now.loadedAt}) in ${r.durationMs} ms\n`);
      return 0;
    }
    out.stderr.write(r.outcome === 'rejected' ? `reload refused; generation ${now.generation} keeps running unchanged:\n` : `reload partly applied (generation ${now.generation}):\n`);
    for (const e of r.errors) out.stderr.write(`  ${e}\n`);
    return 1;
  }
  out.stderr.write(`ha-agent reload: signalled pid ${found.pid}, but no outcome at ${base}/status within ${WAIT_MS / 1000} s\n`);
  return 1;
}

async function configStatus(base: string): Promise<ConfigStatusJson | null> {
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    return ((await res.json()) as StatusJson).config ?? null;
  } catch {
    return null;
  }
}

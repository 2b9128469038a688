// From configuration to running checks: builds each configured check's spec (step.ts) and probe
// (exec / http / tcp / file / process), plus one file check per distinct `track.files` path of the
// instances (named "file:PATH", read every second, as keepalived's track_file reads on change), and
// refuses at start-up what keepalived's script security refuses (security.ts). The result is one
// CheckScheduler shared by every instance.
import type { Logger } from 'pino';
import type { CheckConfig, Config } from '../config/schema.js';
import type { Clock } from '../provider/runner/clock.js';
import { CheckScheduler, type CheckDefinition } from './driver.js';
import { execProbe } from './exec.js';
import { fileProbe } from './file.js';
import { httpProbe } from './http.js';
import { processProbe } from './process.js';
import { execProblem, resolveUser } from './security.js';
import { tcpProbe } from './tcp.js';

export { CheckScheduler } from './driver.js';
export { InstanceTracker } from './tracker.js';

/** The check name a `track.files` entry is served by. */
export const trackFileCheckName = (path: string): string => `file:${path}`;

/** A check could not be set up (script security, unknown user, missing program): the message has the fix. */
export class CheckSetupError extends Error {
  override name = 'CheckSetupError';
}

/** The definition of one configured check; throws CheckSetupError. */
export function checkDefinition(name: string, c: CheckConfig, runningUid = process.getuid?.() ?? 0): CheckDefinition {
  const where = `checks.${name}`;
  if (c.type === 'file') {
    return { type: 'file', spec: { name, intervalMs: c.interval * 1000, timeoutMs: c.interval * 1000, rise: 1, fall: 1, initFail: false, valued: true }, probe: fileProbe(c.path) };
  }
  const spec = { name, intervalMs: c.interval * 1000, timeoutMs: (c.timeout ?? c.interval) * 1000, rise: c.rise, fall: c.fall, initFail: c.initFail };
  switch (c.type) {
    case 'exec': {
      let runAs: { uid: number; gid: number } | undefined;
      try {
        runAs = c.user !== undefined ? resolveUser(c.user) : undefined;
      } catch (e) {
        throw new CheckSetupError(`${where}.user: ${(e as Error).message}`);
      }
      const problem = execProblem(c.command, c.shell, runAs?.uid ?? runningUid);
      if (problem) throw new CheckSetupError(`${where}.command: ${problem}`);
      return { type: 'exec', spec, probe: execProbe({ command: c.command, shell: c.shell, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) }) };
    }
    case 'http':
      return { type: 'http', spec, probe: httpProbe({ url: c.url, expectStatus: c.expectStatus }) };
    case 'tcp': {
      const i = c.address.lastIndexOf(':');
      const host = c.address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
      return { type: 'tcp', spec, probe: tcpProbe({ host, port: Number(c.address.slice(i + 1)) }) };
    }
    case 'process':
      return { type: 'process', spec, probe: processProbe(c.name) };
  }
}

/** Every check the configuration needs: the `checks:` section and the instances' track.files. */
export function checkDefinitions(config: Pick<Config, 'checks' | 'instances'>): CheckDefinition[] {
  const defs = Object.entries(config.checks ?? {}).map(([name, c]) => checkDefinition(name, c));
  const files = new Set<string>();
  for (const inst of Object.values(config.instances)) for (const f of inst.track?.files ?? []) files.add(f.path);
  for (const path of files) defs.push(checkDefinition(trackFileCheckName(path), { type: 'file', path, interval: 1, weight: 1 }));
  return defs;
}

export function createCheckScheduler(config: Pick<Config, 'checks' | 'instances'>, clock: Clock, log: Logger): CheckScheduler {
  return new CheckScheduler(checkDefinitions(config), clock, log);
}

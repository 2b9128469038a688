// Hitless configuration reload (SIGHUP, `ha-agent reload`): loads the file again with the same loader
// as `run`, and either refuses it or applies the difference (config/diff.ts) through the Agent.
// Contract:
// - An invalid file changes nothing: every error is logged (evt "reload-rejected", path, message,
//   fix), the old config keeps running, `config.reloads.rejected` counts it.
// - A valid one is applied instance by instance, in this order: removed (priority 0 if MASTER, VIPs
//   released), replaced (identity changed: priority-0 handover, then the new one starts), restarted
//   (no priority 0, kept VIPs stay up), changed in place (priority, vips), added. Unchanged instances
//   are not touched at all: state, VIPs, timers, offloaded adverts and provider ownership go on.
//   An instance that cannot be applied is logged and counted (`config.reloads.failedInstances`) and
//   the others are still applied (outcome "partial"); the next reload diffs against what runs.
// - Global keys are never applied live (config/diff.ts): each change is logged with its note.
// - generation +1 and loadedAt = now for every valid file (also one that changes nothing).
// - One reload at a time: requests during one coalesce into one more reload after it.
// - hooks.begin() before loading, hooks.end(result) after (systemd RELOADING=1 / READY=1).
import type { Logger } from 'pino';
import type { Config, InstanceConfig } from '../config/schema.js';
import type { ParseResult } from '../config/load.js';
import { formatIssue } from '../config/issue.js';
import { deepEqual, diffConfig, effectiveConfig, type ChangeKind, type ConfigDiff } from '../config/diff.js';
import type { ConfigStatusJson } from '../status/types.js';
import { isoTime } from '../iso-time.js';

/** What the reloader needs of the Agent (src/agent.ts). */
export interface ReloadTarget {
  readonly configStatus: ConfigStatusJson;
  instanceNames(): string[];
  add(name: string, cfg: InstanceConfig): Promise<void>;
  remove(name: string): Promise<void>;
  replace(name: string, cfg: InstanceConfig): Promise<void>;
  restart(name: string, cfg: InstanceConfig): Promise<void>;
  reconfigure(name: string, cfg: InstanceConfig): Promise<void>;
}

export interface ReloadResult {
  outcome: 'applied' | 'partial' | 'rejected';
  /** The generation running afterwards. */
  generation: number;
  added: string[];
  removed: string[];
  changed: { name: string; kind: ChangeKind; keys: string[] }[];
  unchanged: string[];
  /** Global keys that changed and need a restart of the agent. */
  needsRestart: string[];
  /** "path: message — fix: …" for a rejected file; "instance: message" for an instance not applied. */
  errors: string[];
  durationMs: number;
}

/** systemd's RELOADING=1 / READY=1 around a reload (the lead wires sd_notify here). */
export interface ReloadHooks {
  begin(): void;
  end(result: ReloadResult): void;
}

export interface ReloaderOptions {
  file: string;
  log: Logger;
  /** Loads and validates the file (default: the loader `run` uses). */
  load: (file: string) => Promise<ParseResult>;
  hooks?: ReloadHooks;
}

export class Reloader {
  private running: Config;
  private busy: Promise<ReloadResult> | null = null;
  private again = false;
  /** How long the last load + validation took (the rest of durationMs is applying it). */
  private loadMs = 0;

  constructor(
    private readonly target: ReloadTarget,
    initial: Config,
    private readonly opts: ReloaderOptions,
  ) {
    this.running = initial;
  }

  /** The config that runs now (global keys as at start-up, instances as last applied). */
  get config(): Config {
    return this.running;
  }

  /** SIGHUP: reload now, or once more after the reload in progress. Never rejects. */
  request(): Promise<ReloadResult> {
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    const run = async (): Promise<ReloadResult> => {
      let r: ReloadResult;
      do {
        this.again = false;
        r = await this.reloadOnce();
      } while (this.again);
      this.busy = null;
      return r;
    };
    return (this.busy = run());
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const { log, hooks } = this.opts;
    const t0 = performance.now();
    const st = this.target.configStatus;
    safely(log, () => hooks?.begin());
    log.info({ evt: 'reload-start', file: this.opts.file, generation: st.generation }, `reloading ${this.opts.file}`);
    let parsed: ParseResult;
    try {
      parsed = await this.opts.load(this.opts.file);
    } catch (e) {
      parsed = { ok: false, errors: [{ path: '(file)', message: `could not be loaded: ${(e as Error).message}`, fix: 'check the file and reload again' }], warnings: [] };
    }
    this.loadMs = Math.round(performance.now() - t0);
    for (const w of parsed.warnings) log.warn({ evt: 'config-warning', path: w.path, fix: w.fix }, w.message);
    let result: ReloadResult;
    if (!parsed.ok) {
      for (const e of parsed.errors) log.error({ evt: 'reload-rejected', path: e.path, fix: e.fix }, formatIssue(e));
      st.reloads.rejected++;
      result = { outcome: 'rejected', generation: st.generation, added: [], removed: [], changed: [], unchanged: Object.keys(this.running.instances), needsRestart: [], errors: parsed.errors.map(formatIssue), durationMs: 0 };
      result.durationMs = Math.round(performance.now() - t0);
      log.error({ evt: 'reload', outcome: 'rejected', generation: st.generation, errors: parsed.errors.length, durationMs: result.durationMs }, `reload refused: ${this.opts.file} has ${parsed.errors.length} error(s); generation ${st.generation} keeps running unchanged`);
    } else {
      result = await this.apply(parsed.config, t0);
    }
    st.lastReload = { at: isoTime(Date.now()), outcome: result.outcome, durationMs: result.durationMs, errors: result.errors };
    safely(log, () => hooks?.end(result));
    return result;
  }

  private async apply(next: Config, t0: number): Promise<ReloadResult> {
    const { log } = this.opts;
    const diff = diffConfig(this.running, next);
    for (const g of diff.global) log.warn({ evt: 'reload-needs-restart', key: g.key }, g.note);
    const errors: string[] = [];
    const failed = new Set<string>();
    const attempt = async (name: string, what: string, work: () => Promise<void>) => {
      try {
        await work();
      } catch (e) {
        failed.add(name);
        errors.push(`${name}: ${(e as Error).message}`);
        log.error({ evt: 'reload-instance-failed', instance: name, action: what, err: (e as Error).message }, `reload: could not ${what} ${name}: ${(e as Error).message}`);
      }
    };
    // Checks are not reloaded (config/diff.ts): an instance that would track a check the running
    // agent does not have in that form keeps its old definition (or is not added) until a restart.
    const stale = staleChecks(this.running, next);
    const blocked = (name: string): boolean => {
      const names = trackedChecks(next.instances[name]!).filter((c) => stale.has(c));
      if (names.length === 0) return false;
      failed.add(name);
      const msg = `instances.${name}.track.checks: check ${names.join(', ')} is new or changed, and checks change only at a restart — fix: restart the agent (systemctl restart ha-agent) to apply it`;
      errors.push(msg);
      log.error({ evt: 'reload-instance-failed', instance: name, action: 'apply' }, `reload: ${msg}`);
      return true;
    };
    diff.changed = diff.changed.filter((c) => !blocked(c.name));
    diff.added = diff.added.filter((n) => !blocked(n));
    const byKind = (k: ChangeKind) => diff.changed.filter((c) => c.kind === k);
    for (const name of diff.removed) await attempt(name, 'remove', () => this.target.remove(name));
    for (const c of byKind('replace')) await attempt(c.name, 'replace', () => this.target.replace(c.name, next.instances[c.name]!));
    for (const c of byKind('restart')) await attempt(c.name, 'restart', () => this.target.restart(c.name, next.instances[c.name]!));
    for (const c of byKind('in-place')) await attempt(c.name, 'change in place', () => this.target.reconfigure(c.name, next.instances[c.name]!));
    for (const name of diff.added) await attempt(name, 'add', () => this.target.add(name, next.instances[name]!));

    this.running = this.settle(effectiveConfig(this.running, next), failed);
    const st = this.target.configStatus;
    st.generation++;
    st.loadedAt = isoTime(Date.now());
    st.reloads.applied++;
    st.reloads.failedInstances += failed.size;
    const result = summary(diff, st.generation, errors, Math.round(performance.now() - t0));
    log[errors.length ? 'error' : 'info'](
      { evt: 'reload', outcome: result.outcome, generation: result.generation, added: result.added, removed: result.removed, changed: result.changed.map((c) => `${c.name} (${c.kind}: ${c.keys.join(', ')})`), unchanged: result.unchanged, needsRestart: result.needsRestart, errors: errors.length, durationMs: result.durationMs, loadMs: this.loadMs },
      `reload ${result.outcome}: generation ${result.generation}, ${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed, ${diff.unchanged.length} unchanged in ${result.durationMs} ms`,
    );
    return result;
  }

  /** What runs after a reload where `failed` instances could not be applied: a failed one that still runs keeps its old definition; one that no longer runs is left out (the next reload adds it again). */
  private settle(cfg: Config, failed: Set<string>): Config {
    if (failed.size === 0) return cfg;
    const runs = new Set(this.target.instanceNames());
    const instances: Config['instances'] = {};
    for (const name of runs) {
      const def = failed.has(name) ? this.running.instances[name] : cfg.instances[name];
      if (def) instances[name] = def;
    }
    return { ...cfg, instances };
  }
}

/** Names of checks whose definition differs between the running config and the new one (or that only the new one has). */
function staleChecks(running: Config, next: Config): Set<string> {
  const out = new Set<string>();
  for (const [name, def] of Object.entries(next.checks ?? {})) if (!deepEqual(def, running.checks?.[name])) out.add(name);
  return out;
}

function trackedChecks(cfg: InstanceConfig): string[] {
  return (cfg.track?.checks ?? []).map((c) => (typeof c === 'string' ? c : c.check));
}

function summary(d: ConfigDiff, generation: number, errors: string[], durationMs: number): ReloadResult {
  return {
    outcome: errors.length ? 'partial' : 'applied',
    generation,
    added: d.added,
    removed: d.removed,
    changed: d.changed,
    unchanged: d.unchanged,
    needsRestart: d.global.map((g) => g.key),
    errors,
    durationMs,
  };
}

/** A hook that throws must not stop the reload. */
function safely(log: Logger, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'reload hook failed');
  }
}

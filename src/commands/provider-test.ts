// `ha-agent provider test <type> --config FILE [--instance NAME] [--json] [--simulate-iam]`: the
// provider's read-only preflight checks. Never moves a VIP.
//   text (default): per instance a header, then one line per check, ✓ or ✗, a failed one followed
//                   by its `fix:`; a last line with the count.
//   --json:         one JSON document on stdout: { ok, failed, instances: [{ name, type, interface,
//                   vips, checks: [{ check, ok, detail, fix? }] }] }.
// Exit code 1 on any ✗ (or a config that does not load, or no matching instance), else 0, in both.
// --simulate-iam is passed to the provider (aws: asks IAM about actions EC2 has no DryRun for).
// Instances with election.type etcd get an election section too (election/etcd-preflight.ts).
import { loadConfigFile, formatIssue } from '../config/load.js';
import { createLogger } from '../log.js';
import { createProvider } from '../provider/registry.js';
import type { PreflightCheck } from '../provider/types.js';
import type { Out } from './out.js';

export interface ProviderTestOptions {
  config: string;
  instance?: string;
  json?: boolean;
  simulateIam?: boolean;
}

interface InstanceReport {
  name: string;
  type: string;
  interface: string;
  vips: string[];
  checks: PreflightCheck[];
}

export async function providerTestCommand(type: string, opts: ProviderTestOptions, out: Out): Promise<number> {
  const parsed = await loadConfigFile(opts.config);
  if (!parsed.ok) {
    for (const e of parsed.errors) out.stderr.write(formatIssue(e) + '\n');
    return 1;
  }
  const log = createLogger('silent');
  const chosen = Object.entries(parsed.config.instances).filter(
    ([name, inst]) => inst.provider.type === type && (!opts.instance || name === opts.instance),
  );
  if (chosen.length === 0) {
    const what = opts.instance ? `instance ${opts.instance} with provider ${type}` : `instance with provider type ${type}`;
    out.stderr.write(`no ${what} in ${opts.config} — fix: set provider: { type: ${type} } on an instance, or pick another --instance\n`);
    return 1;
  }
  const text = (s: string) => {
    if (!opts.json) out.stdout.write(s);
  };
  const reports: InstanceReport[] = [];
  let failed = 0;
  for (const [name, inst] of chosen) {
    const report: InstanceReport = { name, type, interface: inst.interface, vips: [...inst.vips], checks: [] };
    reports.push(report);
    text(`${name} (${type} on ${inst.interface}, VIPs ${inst.vips.join(', ')})\n`);
    const record = (c: PreflightCheck) => {
      report.checks.push(c);
      text(`  ${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}\n`);
      if (!c.ok) {
        failed++;
        if (c.fix) text(`      fix: ${c.fix}\n`);
      }
    };
    let provider;
    try {
      provider = (await createProvider(name, inst, log)).provider;
      for await (const c of provider.preflight(opts.simulateIam ? { simulateIam: true } : {})) record(c);
    } catch (e) {
      record({ check: 'preflight', ok: false, detail: (e as Error).message });
    } finally {
      provider?.close?.();
    }
    if (inst.election?.type === 'etcd') {
      // The election section (issue #12): endpoints, TLS, permissions on the key prefix, clock skew.
      const { etcdPreflight } = await import('../election/etcd-preflight.js');
      for await (const c of etcdPreflight(name, inst.election)) record(c);
    }
  }
  if (opts.json) out.stdout.write(JSON.stringify({ ok: failed === 0, failed, instances: reports }, null, 2) + '\n');
  else out.stdout.write(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

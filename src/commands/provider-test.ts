// `ha-agent provider test <type> --config FILE [--instance NAME]`: the provider's read-only
// preflight checks, one line each (✓ / ✗ with a fix). Never moves a VIP.
import { loadConfigFile, formatIssue } from '../config/load.js';
import { createLogger } from '../log.js';
import { createProvider, providerContext } from '../provider/registry.js';
import type { Out } from './out.js';

export async function providerTestCommand(type: string, opts: { config: string; instance?: string }, out: Out): Promise<number> {
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
  let failed = 0;
  for (const [name, inst] of chosen) {
    out.stdout.write(`${name} (${type} on ${inst.interface}, VIPs ${inst.vips.join(', ')})\n`);
    const provider = createProvider(providerContext(name, inst, log), inst);
    try {
      for await (const c of provider.preflight()) {
        out.stdout.write(`  ${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}\n`);
        if (!c.ok) {
          failed++;
          if (c.fix) out.stdout.write(`      fix: ${c.fix}\n`);
        }
      }
    } catch (e) {
      failed++;
      out.stdout.write(`  ✗ preflight: ${(e as Error).message}\n`);
    } finally {
      provider.close?.();
    }
  }
  out.stdout.write(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

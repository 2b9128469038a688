// Maps `provider.type` from the config to its module, loaded lazily with import(): a `garp` user
// never loads a cloud SDK. The only place in src/ that names a concrete provider: adding a backend
// is one entry here, one schema in config/schema.ts and one folder under providers/.
import type { InstanceConfig, ProviderConfig, ProviderTimingConfig } from '../config/schema.js';
import type { Logger } from 'pino';
import type { LinkView, ProviderContext, ProviderModule, ProviderTiming, VipProvider } from './types.js';

type Loader = () => Promise<{ default: ProviderModule }>;

const LOADERS: Readonly<Record<string, Loader>> = {
  garp: () => import('../../providers/garp/index.js') as Promise<{ default: ProviderModule }>,
  aws: () => import('../../providers/aws/index.js') as unknown as Promise<{ default: ProviderModule }>,
  alibaba: () => import('../../providers/alibaba/index.js') as unknown as Promise<{ default: ProviderModule }>,
};

const loaded = new Map<string, Promise<ProviderModule>>();

/** The module of a provider type (cached). Rejects with a clear message for a type this build lacks. */
export function loadProviderModule(type: string): Promise<ProviderModule> {
  let p = loaded.get(type);
  if (!p) {
    const loader = LOADERS[type];
    p = loader ? loader().then((m) => m.default) : Promise.reject(new Error(`provider type ${type} is not available in this version`));
    loaded.set(type, p);
  }
  return p;
}

/** The module's timing defaults with the instance's `provider.timing` overrides (seconds) applied. */
export function resolveTiming(defaults: ProviderTiming, overrides: ProviderTimingConfig | undefined): ProviderTiming {
  const o = overrides ?? {};
  const ms = (s: number | undefined, d: number) => (s === undefined ? d : Math.round(s * 1000));
  return {
    operationTimeoutMs: ms(o.operationTimeout, defaults.operationTimeoutMs),
    confirmTimeoutMs: ms(o.confirmTimeout, defaults.confirmTimeoutMs),
    reconcileMs: ms(o.reconcile, defaults.reconcileMs),
    backoffBaseMs: ms(o.backoffBase, defaults.backoffBaseMs),
    backoffMaxMs: ms(o.backoffMax, defaults.backoffMaxMs),
    faultAfterMs: ms(o.faultAfter, defaults.faultAfterMs),
  };
}

/** Everything a provider of one instance is made from. */
export function providerContext(module: ProviderModule, name: string, inst: InstanceConfig, log: Logger, links?: LinkView): ProviderContext {
  const provider: ProviderConfig = inst.provider;
  return {
    ...(links ? { links } : {}),
    instanceName: name,
    interface: inst.interface,
    vips: inst.vips,
    // A lease-based election sends no adverts: no VRRP line in the preflight (undefined = not applicable).
    ...(inst.election?.type === 'etcd' ? {} : { unicast: inst.unicast ? { ...(inst.unicast.source ? { source: inst.unicast.source } : {}), peers: [...inst.unicast.peers] } : null }),
    garp: inst.garp,
    timing: resolveTiming(module.timing, provider.timing),
    log,
  };
}

/** Loads the instance's provider type and creates its provider. */
export async function createProvider(
  name: string,
  inst: InstanceConfig,
  log: Logger,
  links?: LinkView,
): Promise<{ module: ProviderModule; ctx: ProviderContext; provider: VipProvider }> {
  const module = await loadProviderModule(inst.provider.type);
  const ctx = providerContext(module, name, inst, log, links);
  return { module, ctx, provider: module.create(ctx, inst.provider) };
}

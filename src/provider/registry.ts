// Maps `provider.type` from the config to its module. The only place in src/ that imports a
// concrete provider: adding a backend is one entry here and one folder under providers/.
import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/schema.js';
import type { ProviderContext, ProviderModule, VipProvider } from './types.js';
import garpModule from '../../providers/garp/index.js';

export function providerModule(type: string): ProviderModule {
  switch (type) {
    case 'garp':
      return garpModule as ProviderModule;
    default:
      throw new Error(`provider type ${String(type)} is not available in this version`);
  }
}

/** What the provider of instance `name` is given (timing: the module's defaults). */
export function providerContext(name: string, inst: InstanceConfig, log: Logger): ProviderContext {
  return { instanceName: name, interface: inst.interface, vips: inst.vips, garp: inst.garp, timing: providerModule(inst.provider.type).timing, log };
}

export function createProvider(ctx: ProviderContext, inst: InstanceConfig): VipProvider {
  return providerModule(inst.provider.type).create(ctx, inst.provider);
}

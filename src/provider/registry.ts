// Maps `provider.type` from the config to its factory. The only place in src/ that imports a
// concrete provider: adding a backend is one entry here and one folder under providers/.
import type { InstanceConfig } from '../config/schema.js';
import type { ProviderContext, VipProvider } from './types.js';
import { createGarpProvider } from '../../providers/garp/index.js';

export function createProvider(ctx: ProviderContext, inst: InstanceConfig): VipProvider {
  const type = inst.provider.type;
  switch (type) {
    case 'garp':
      return createGarpProvider(ctx, inst.garp);
    default:
      throw new Error(`provider type ${String(type)} is not available in this version`);
  }
}

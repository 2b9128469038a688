// Finds and loads the project's optional native addons (binding.gyp targets, built by `npm install`
// into build/Release/<name>.node). A missing or broken addon is not an error here: loadAddon() says
// why, once per name, and the caller falls back (arping for packet_socket, `ip` for netlink).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadedAddon<T> {
  binding: T | null;
  /** Why binding is null. */
  error: string | null;
}

const cache = new Map<string, LoadedAddon<unknown>>();

/**
 * The repository root holds build/: this file runs as src/net/native-addon.ts (tsx) or as
 * dist/src/net/native-addon.js, so walk up from here until build/Release/<file> exists.
 */
function findAddon(file: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Loads build/Release/<name>.node once; later calls return the same answer. */
export function loadAddon<T>(name: string): LoadedAddon<T> {
  const known = cache.get(name);
  if (known) return known as LoadedAddon<T>;
  const file = join('build', 'Release', `${name}.node`);
  const path = findAddon(file);
  let loaded: LoadedAddon<unknown>;
  if (!path) loaded = { binding: null, error: `${file} not found (was \`npm install\` run with a C compiler present?)` };
  else {
    try {
      loaded = { binding: createRequire(import.meta.url)(path) as unknown, error: null };
    } catch (e) {
      loaded = { binding: null, error: `cannot load ${path}: ${(e as Error).message}` };
    }
  }
  cache.set(name, loaded);
  return loaded as LoadedAddon<T>;
}

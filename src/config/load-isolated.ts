// loadConfigFile() run in a short-lived child process (load-worker.ts): same result, but zod and
// yaml are loaded (and freed, with the process) there instead of in the agent's own memory. Falls
// back to an in-process load if the child cannot run or says nothing sensible.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParseResult } from './load.js';

/** The child has this long; a config is a few KiB, this only bounds a wedged child. */
const CHILD_TIMEOUT_MS = 30_000;

export function loadConfigIsolated(file: string): Promise<ParseResult> {
  const entry = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', import.meta.url));
  const inProcess = async (): Promise<ParseResult> => (await import('./load.js')).loadConfigFile(file);
  if (import.meta.url.endsWith('.ts')) return inProcess(); // running from sources (tsx): no compiled child
  return new Promise<ParseResult>((resolve) => {
    let out = '';
    let child;
    try {
      child = spawn(process.execPath, [entry, file], { stdio: ['ignore', 'pipe', 'inherit'], timeout: CHILD_TIMEOUT_MS });
    } catch {
      void inProcess().then(resolve);
      return;
    }
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', () => void inProcess().then(resolve));
    child.once('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(out) as ParseResult);
      } catch {
        void inProcess().then(resolve);
      }
    });
  });
}

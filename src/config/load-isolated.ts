// loadConfigFile() run in a short-lived worker thread: same result, but zod and yaml are loaded (and
// freed) there instead of in the agent's own heap. Falls back to an in-process load if the worker fails.
import { Worker } from 'node:worker_threads';
import type { ParseResult } from './load.js';

export function loadConfigIsolated(file: string): Promise<ParseResult> {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', import.meta.url);
  return new Promise<ParseResult>((resolve) => {
    let settled = false;
    const fallback = async () => {
      if (settled) return;
      settled = true;
      const { loadConfigFile } = await import('./load.js');
      resolve(await loadConfigFile(file));
    };
    let worker: Worker;
    try {
      worker = new Worker(entry, { workerData: { file } });
    } catch {
      void fallback();
      return;
    }
    worker.once('message', (r: ParseResult) => {
      settled = true;
      resolve(r);
      void worker.terminate();
    });
    worker.once('error', () => void fallback());
    worker.once('exit', () => void fallback());
  });
}

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
    let settled = false;
    const settle = (r: ParseResult | null) => {
      if (settled) return;
      settled = true;
      if (r) resolve(r);
      else void inProcess().then(resolve);
    };
    let out = '';
    let child;
    try {
      child = spawn(process.execPath, [entry, file], { stdio: ['ignore', 'pipe', 'inherit'], timeout: CHILD_TIMEOUT_MS });
    } catch {
      return settle(null);
    }
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', () => settle(null)); // 'close' may follow: settle() runs the fallback once
    child.once('close', (code) => {
      let parsed: ParseResult | null = null;
      try {
        if (code === 0) parsed = JSON.parse(out) as ParseResult;
      } catch {
        /* nothing sensible on stdout: load in-process */
      }
      settle(parsed);
    });
  });
}

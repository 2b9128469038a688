// `ha-agent import-keepalived FILE [--out FILE] [--provider aws|alibaba|garp]`: keepalived.conf (and
// everything it includes) → ha-agent's YAML config, on stdout or into --out.
// stderr: one line per keyword not carried over, "FILE:LINE: KEYWORD: what to do instead"; notes
// ("note: …") for what was carried over but behaves slightly differently; then a summary.
// Exit codes: 0 everything carried over and the result passes check-config; 1 something was not
// carried over or the result does not pass check-config (the YAML is still written), or the input is
// malformed / unreadable (then "FILE:LINE: error: …" and nothing is written); 2 usage (commander).
// Never prints a stack trace.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { findProgram } from '../checks/security.js';
import { formatIssue, parseConfig } from '../config/load.js';
import { mapKeepalived, type Finding, type ProviderChoice } from '../import/keepalived-map.js';
import { KeepalivedSyntaxError, parseKeepalivedFile } from '../import/keepalived-parser.js';
import type { Out } from './out.js';

export interface ImportOptions {
  out?: string;
  provider?: string;
}

const PROVIDERS: readonly ProviderChoice[] = ['garp', 'aws', 'alibaba'];

/** A notify script's text, when it is a small readable text file (to look for the AWS CLI in it). */
function readScript(path: string): string | undefined {
  try {
    if (statSync(path).size > 256 * 1024) return undefined;
    const text = readFileSync(path, 'utf8');
    return text.includes('\u0000') ? undefined : text;
  } catch {
    return undefined;
  }
}

function where(f: Finding): string {
  return f.at.line > 0 ? `${f.at.file}:${f.at.line}` : f.at.file;
}

export async function importKeepalivedCommand(file: string, o: ImportOptions, out: Out): Promise<number> {
  if (o.provider !== undefined && !PROVIDERS.includes(o.provider as ProviderChoice)) {
    out.stderr.write(`ha-agent import-keepalived: --provider must be one of ${PROVIDERS.join(', ')} (got "${o.provider}")\n`);
    return 2;
  }
  let result;
  try {
    const parsed = parseKeepalivedFile(file);
    result = mapKeepalived(parsed, {
      ...(o.provider ? { provider: o.provider as ProviderChoice } : {}),
      readScript,
      findProgram: (name) => findProgram(name),
      header: [` ha-agent config imported from ${basename(file)} by \`ha-agent import-keepalived\`.`, ' Each comment names the keepalived line a setting came from. This file describes ONE node.'],
    });
  } catch (e) {
    if (e instanceof KeepalivedSyntaxError) {
      out.stderr.write(`${e.message.replace(/^([^ ]+?): /, '$1: error: ')}\nnothing written: fix ${e.at.file} (keepalived would refuse or misread it too) and import again\n`);
      return 1;
    }
    out.stderr.write(`${file}: error: could not import: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }

  const unmapped = result.findings.filter((f) => f.kind === 'unmapped');
  const notes = result.findings.filter((f) => f.kind === 'note');
  for (const f of unmapped) out.stderr.write(`${where(f)}: ${f.keyword}: ${f.text}\n`);
  for (const f of notes) out.stderr.write(`${where(f)}: note: ${f.keyword}: ${f.text}\n`);

  const check = parseConfig(result.yaml);
  if (!check.ok) for (const e of check.errors) out.stderr.write(`${o.out ?? 'output'}: check-config error: ${formatIssue(e)}\n`);
  for (const w of check.warnings) out.stderr.write(`${o.out ?? 'output'}: check-config warning: ${formatIssue(w)}\n`);

  if (o.out) {
    try {
      writeFileSync(o.out, result.yaml, { mode: 0o600 });
    } catch (e) {
      out.stderr.write(`${o.out}: error: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 1;
    }
  } else out.stdout.write(result.yaml);

  const verdict = check.ok ? 'passes check-config' : `does NOT pass check-config (${check.errors.length} error(s) above)`;
  out.stderr.write(`imported ${result.instances.length} instance(s) (${result.instances.join(', ')})${o.out ? ` into ${o.out}` : ''}; ${unmapped.length} keyword(s) not carried over, ${notes.length} note(s); the result ${verdict}\n`);
  return unmapped.length === 0 && check.ok ? 0 : 1;
}

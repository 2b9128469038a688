// `ha-agent check-config --config FILE`: validates the file and says so.
// Valid: "config OK: N instance(s) (names)" and any warnings on stdout, exit code 0.
// Invalid: every error (and warning) on stderr as "FILE:line:col: error: path: problem — fix: …", exit code 1.
// Never prints a stack trace.
import { formatIssue, issuePosition, loadConfigFile, type ConfigIssue } from '../config/load.js';

interface Out {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** "config.yaml:12:5: error: instances.VI_1.vrid: …" (without line:col when the position is unknown). */
function line(file: string, kind: 'error' | 'warning', issue: ConfigIssue): string {
  const pos = issuePosition(issue);
  const where = pos ? `${file}:${pos.line}:${pos.column}` : file;
  return `${where}: ${kind}: ${formatIssue(issue)}\n`;
}

export async function checkConfigCommand(file: string, out: Out): Promise<number> {
  try {
    const result = await loadConfigFile(file);
    if (result.ok) {
      const names = Object.keys(result.config.instances);
      out.stdout.write(`config OK: ${names.length} instance(s) (${names.join(', ')})\n`);
      for (const w of result.warnings) out.stdout.write(line(file, 'warning', w));
      return 0;
    }
    for (const e of result.errors) out.stderr.write(line(file, 'error', e));
    for (const w of result.warnings) out.stderr.write(line(file, 'warning', w));
    const n = result.errors.length;
    out.stderr.write(`config INVALID: ${n} error(s) in ${file}\n`);
    return 1;
  } catch (err) {
    out.stderr.write(`${file}: error: could not check the config: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

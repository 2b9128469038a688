// Recognises the usual way a keepalived config on AWS moves the VIP: a notify_master that runs the
// AWS CLI's `aws ec2 assign-private-ip-addresses` (inline, or inside the script it names). The aws
// provider (mode secondary-ip) does the same call itself, confirmed through IMDS. Contract:
// findAwsMove(argv, readScript) → what was found (with the ENI id and region when they are literal
// in the command) or undefined; readScript is only asked for argv[0] and may return undefined. Also
// spots `aws ec2 replace-route` and `aws ec2 associate-address` (the route-table and elastic-ip
// modes) so the importer can point at them, without acting on them.

export interface AwsMove {
  /** The aws CLI sub-command found. */
  call: 'assign-private-ip-addresses' | 'replace-route' | 'associate-address';
  /** Where: inline in the notify command, or in the script file it runs. */
  where: 'inline' | 'script';
  networkInterfaceId?: string;
  region?: string;
}

const CALL_RE = /\baws\b(?:\s+--?[a-z-]+(?:[ =]\S+)?)*\s+ec2\s+(assign-private-ip-addresses|replace-route|associate-address)\b/;
const ENI_RE = /--network-interface-id[ =]['"]?(eni-[0-9a-f]{8,17})\b/;
const REGION_RE = /--region[ =]['"]?([a-z]{2}(?:-[a-z]+)+-\d{1,2})\b/;

function fromText(text: string, where: AwsMove['where']): AwsMove | undefined {
  // Join shell line continuations so options on the next line are seen.
  const flat = text.replace(/\\\r?\n/g, ' ');
  for (const line of flat.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    const m = CALL_RE.exec(line);
    if (!m) continue;
    const found: AwsMove = { call: m[1] as AwsMove['call'], where };
    const eni = ENI_RE.exec(line);
    if (eni) found.networkInterfaceId = eni[1];
    const region = REGION_RE.exec(line) ?? REGION_RE.exec(flat);
    if (region) found.region = region[1];
    return found;
  }
  return undefined;
}

/** The AWS CLI move in a notify command (argv) or in the script it runs; undefined when none. */
export function findAwsMove(argv: string[], readScript: (path: string) => string | undefined): AwsMove | undefined {
  const inline = fromText(argv.join(' '), 'inline');
  if (inline) return inline;
  const prog = argv[0];
  if (!prog || !prog.startsWith('/')) return undefined;
  const text = readScript(prog);
  return text === undefined ? undefined : fromText(text, 'script');
}

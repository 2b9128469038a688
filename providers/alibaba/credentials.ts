// Where the alibaba provider's VPC client gets its keys: @alicloud/credentials' default chain, in its
// order (spec §3.8) — environment keys, OIDC (RRSA), the aliyun CLI profile, the INI profile — then
// the instance's ECS RAM role read through OUR metadata client (metadata.ts: hardened mode, the
// configured endpoint; the SDK's own provider hard-codes the platform address and is never used),
// and last ALIBABA_CLOUD_CREDENTIALS_URI.
//
// A link whose settings are absent is skipped without a request (an env or file check). The SDK's
// OIDC, profile and URI providers read process.env themselves, as they always do. The keys are
// cached until 3 minutes before they expire (RAM-role keys carry an Expiration; static keys never
// expire), so each VPC request does not fetch them again. `source` says which link answered (for
// `ha-agent provider test alibaba`; it also travels as x-acs-credentials-provider). The keys are
// never logged or returned anywhere else.
//
// asCredential(chain): the chain as the `credential` of an @alicloud/openapi-core Config (a custom
// provider object, spec §3.8).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
// A CommonJS module: its default import is module.exports (the Credential class is `.default`).
import AliCredentials from '@alicloud/credentials';
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';
import type { EcsMetadata } from './metadata.js';

export interface SourcedCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  /** Which link answered: "environment", "ecs ram role HaAgentRole", … */
  source: string;
  expiration?: Date;
}

export interface CredentialChain {
  (): Promise<SourcedCredentials>;
  /** Forget the cached keys (a request was refused with InvalidAccessKeyId / expired token). */
  invalidate(): void;
}

interface SdkProvider {
  getCredentials(): Promise<{ accessKeyId: string; accessKeySecret: string; securityToken?: string }>;
}

interface Link {
  applies(env: NodeJS.ProcessEnv): boolean;
  source(env: NodeJS.ProcessEnv): string;
  get(): Promise<Omit<SourcedCredentials, 'source'>>;
}

const REFRESH_MARGIN_MS = 3 * 60_000;

const on = (v: string | undefined) => (v ?? '').toLowerCase() === 'true';

function fromSdk(build: () => SdkProvider): () => Promise<Omit<SourcedCredentials, 'source'>> {
  let provider: SdkProvider | null = null;
  return async () => {
    provider ??= build();
    const c = await provider.getCredentials();
    return { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, ...(c.securityToken ? { securityToken: c.securityToken } : {}) };
  };
}

/** The chain for one metadata client (the VPC clients share it). `env` decides which links apply. */
export function credentialChain(md: EcsMetadata, env: NodeJS.ProcessEnv = process.env): CredentialChain {
  const home = env.HOME ?? homedir();
  const links: Link[] = [
    {
      applies: (e) => !!e.ALIBABA_CLOUD_ACCESS_KEY_ID && !!e.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
      source: () => 'environment',
      // Read from `env` (the SDK's own env provider would read process.env): ALIBABA_CLOUD_SECURITY_TOKEN makes them STS keys.
      get: async () => ({
        accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID!,
        accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET!,
        ...(env.ALIBABA_CLOUD_SECURITY_TOKEN ? { securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN } : {}),
      }),
    },
    {
      applies: (e) => !!e.ALIBABA_CLOUD_ROLE_ARN && !!e.ALIBABA_CLOUD_OIDC_PROVIDER_ARN && !!e.ALIBABA_CLOUD_OIDC_TOKEN_FILE,
      source: (e) => `oidc role ${e.ALIBABA_CLOUD_ROLE_ARN}`,
      get: fromSdk(() => AliCredentials.OIDCRoleArnCredentialsProvider.builder().build() as unknown as SdkProvider),
    },
    {
      applies: (e) => !on(e.ALIBABA_CLOUD_CLI_PROFILE_DISABLED) && existsSync(join(home, '.aliyun', 'config.json')),
      source: (e) => `aliyun cli profile ${e.ALIBABA_CLOUD_PROFILE ?? '(current)'}`,
      get: fromSdk(() => AliCredentials.CLIProfileCredentialsProvider.builder().build() as unknown as SdkProvider),
    },
    {
      applies: (e) => existsSync(e.ALIBABA_CLOUD_CREDENTIALS_FILE ?? join(home, '.alibabacloud', 'credentials')),
      source: (e) => `profile ${e.ALIBABA_CLOUD_PROFILE ?? 'default'}`,
      get: fromSdk(() => AliCredentials.ProfileCredentialsProvider.builder().build() as unknown as SdkProvider),
    },
  ];
  const uri: Link = {
    applies: (e) => !!e.ALIBABA_CLOUD_CREDENTIALS_URI,
    source: (e) => `credentials uri ${e.ALIBABA_CLOUD_CREDENTIALS_URI}`,
    get: fromSdk(() => AliCredentials.URICredentialsProvider.builder().withCredentialsURI(env.ALIBABA_CLOUD_CREDENTIALS_URI!).build() as unknown as SdkProvider),
  };

  let cached: { creds: SourcedCredentials; until: number } | null = null;
  let pending: Promise<SourcedCredentials> | null = null;

  const resolve = async (): Promise<SourcedCredentials> => {
    for (const link of links) if (link.applies(env)) return { ...(await wrapped(link, env)), source: link.source(env) };
    try {
      return await ecsRamRole(md, env.ALIBABA_CLOUD_ECS_METADATA);
    } catch (e) {
      // No role (or no metadata): the credentials URI is the chain's last word, as in the SDK.
      if (uri.applies(env)) return { ...(await wrapped(uri, env)), source: uri.source(env) };
      throw e;
    }
  };

  const chain = (async () => {
    const c = cached;
    if (c && Date.now() < c.until) return c.creds;
    pending ??= resolve()
      .then((creds) => {
        const exp = creds.expiration?.getTime();
        cached = { creds, until: exp === undefined ? Infinity : exp - REFRESH_MARGIN_MS };
        return creds;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  }) as CredentialChain;
  chain.invalidate = () => {
    cached = null;
  };
  return chain;
}

async function wrapped(link: Link, env: NodeJS.ProcessEnv): Promise<Omit<SourcedCredentials, 'source'>> {
  try {
    return await link.get();
  } catch (e) {
    throw retryable(`credentials from ${link.source(env)}: ${(e as Error).message}`, {
      fix: `check ${link.source(env)} (the agent uses the first source present: environment keys, OIDC, aliyun CLI profile, credentials file, the ECS RAM role, ALIBABA_CLOUD_CREDENTIALS_URI)`,
      code: 'CredentialsUnavailable',
      cause: e,
    });
  }
}

/**
 * The instance's RAM role from metadata (`ram/security-credentials/[<role>]`), spec §3.8: the role
 * name from ALIBABA_CLOUD_ECS_METADATA or the listing; the document must say Code "Success".
 */
export async function ecsRamRole(md: EcsMetadata, roleName?: string): Promise<SourcedCredentials> {
  const fix = 'attach a RAM role to the ECS instance (with vpc:DescribeHaVips), or set ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET for the agent';
  let role = roleName;
  if (!role) {
    try {
      role = (await md.get('ram/security-credentials/')).split('\n')[0]!.trim();
    } catch (e) {
      if (e instanceof ProviderError && e.code === 'Metadata404') throw permanent('no credentials: no environment keys, no profile, and the instance has no RAM role', fix, { code: 'NoCredentials', cause: e });
      throw e;
    }
  }
  if (!role) throw permanent('no credentials: no environment keys, no profile, and the instance has no RAM role', fix, { code: 'NoCredentials' });
  const body = await md.get(`ram/security-credentials/${role}`);
  let doc: { Code?: string; AccessKeyId?: string; AccessKeySecret?: string; SecurityToken?: string; Expiration?: string };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch (e) {
    throw retryable(`ECS RAM role ${role}: metadata answered something that is not JSON`, { code: 'BadRoleCredentials', cause: e });
  }
  if (doc.Code !== 'Success' || !doc.AccessKeyId || !doc.AccessKeySecret || !doc.SecurityToken)
    throw retryable(`ECS RAM role ${role}: metadata says ${doc.Code ?? 'nothing'}`, { fix: 'check the RAM role attached to the instance in the ECS console', code: 'BadRoleCredentials' });
  const expiration = doc.Expiration ? new Date(doc.Expiration) : undefined;
  return {
    accessKeyId: doc.AccessKeyId,
    accessKeySecret: doc.AccessKeySecret,
    securityToken: doc.SecurityToken,
    source: `ecs ram role ${role}`,
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}

/** The chain as an openapi-core `credential` (a custom provider; x-acs-credentials-provider names the source). */
export type Credential = InstanceType<typeof AliCredentials.default>;

export function asCredential(chain: CredentialChain): Credential {
  return new AliCredentials.default(null, {
    getProviderName: () => 'ha_agent',
    getCredentials: async () => {
      const c = await chain();
      return { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken ?? '', providerName: `ha_agent/${c.source.replace(/\s+/g, '_')}` };
    },
  });
}

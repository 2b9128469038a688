// Where the aws provider's EC2 client gets its credentials: the SDK's default chain, in its order —
// environment keys, web identity (EKS), container credentials (ECS), the shared config/credentials
// files (profiles, SSO, credential_process, assume-role) — and last the instance role, read through
// OUR IMDSv2 client (imds.ts). The SDK's own instance-role provider cannot be pointed at
// `provider.imdsEndpoint` and would fetch a token per read; ours shares the cached token and the
// endpoint every other metadata read uses (spec §2.2).
//
// A source whose settings are absent is skipped without a request (no profile files → no INI
// parse; no container variables → no HTTP). The credentials carry their expiration; the SDK client
// memoizes them and asks again shortly before they expire, so a rotated instance-role key is picked
// up without a restart. `source` says which link answered (for `ha-agent provider test aws`); the
// keys themselves are never logged or returned anywhere else.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { fromIni } from '@aws-sdk/credential-provider-ini';
import { fromTokenFile } from '@aws-sdk/credential-provider-web-identity';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { permanent, retryable } from '../../src/provider/errors.js';
import type { Imds } from './imds.js';

export interface SourcedCredentials extends AwsCredentialIdentity {
  /** Which link of the chain answered: "environment", "profile default", "instance role web-ha", … */
  source: string;
}

export interface CredentialChain extends AwsCredentialIdentityProvider {
  (): Promise<SourcedCredentials>;
}

interface Link {
  /** Present in this environment (cheap: env and file checks only). */
  applies(env: NodeJS.ProcessEnv): boolean;
  source(env: NodeJS.ProcessEnv): string;
  get(): Promise<AwsCredentialIdentity>;
}

/**
 * The chain for one IMDS client (one per metadata endpoint; the EC2 clients share it). `env` decides
 * which links apply (tests pass their own); the SDK's profile, web-identity and container links
 * read process.env themselves, as they always do.
 */
export function credentialChain(imds: Imds, env: NodeJS.ProcessEnv = process.env): CredentialChain {
  const links: Link[] = [
    { applies: (e) => !!e.AWS_ACCESS_KEY_ID && !!e.AWS_SECRET_ACCESS_KEY, source: () => 'environment', get: async () => fromEnvironment(env) },
    { applies: (e) => !!e.AWS_WEB_IDENTITY_TOKEN_FILE && !!e.AWS_ROLE_ARN, source: (e) => `web identity ${e.AWS_ROLE_ARN}`, get: () => fromTokenFile()() },
    {
      applies: (e) => !!e.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || !!e.AWS_CONTAINER_CREDENTIALS_FULL_URI,
      source: () => 'container credentials',
      get: () => fromHttp({})(),
    },
    { applies: (e) => !!e.AWS_PROFILE || profileFilesExist(e), source: (e) => `profile ${e.AWS_PROFILE ?? 'default'}`, get: () => fromIni({ ignoreCache: true })() },
  ];
  return async () => {
    for (const link of links) {
      if (!link.applies(env)) continue;
      return { ...(await link.get()), source: link.source(env) };
    }
    return instanceRole(imds);
  };
}

/** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION (the SDK's fromEnv). */
function fromEnvironment(env: NodeJS.ProcessEnv): AwsCredentialIdentity {
  const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}

function profileFilesExist(env: NodeJS.ProcessEnv): boolean {
  const home = env.HOME ?? homedir();
  return [env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'), env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config')].some((f) => existsSync(f));
}

/** IMDS `iam/security-credentials/<role>` (spec §2.1): the instance profile's temporary keys. */
export async function instanceRole(imds: Imds): Promise<SourcedCredentials> {
  const fix = 'give the instance an IAM role (instance profile) with the actions the aws provider needs, or set AWS_ACCESS_KEY_ID / AWS_PROFILE';
  let role: string;
  try {
    role = (await imds.get('iam/security-credentials/')).split('\n')[0]!.trim();
  } catch (e) {
    if ((e as { code?: string }).code === 'IMDS404') throw permanent('no credentials: no environment keys, no profile, and the instance has no IAM role', fix, { code: 'NoCredentials', cause: e });
    throw e;
  }
  if (!role) throw permanent('no credentials: no environment keys, no profile, and the instance has no IAM role', fix, { code: 'NoCredentials' });
  const body = await imds.get(`iam/security-credentials/${role}`);
  let doc: { Code?: string; AccessKeyId?: string; SecretAccessKey?: string; Token?: string; Expiration?: string };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch (e) {
    throw retryable(`instance role ${role}: IMDS answered something that is not JSON`, { code: 'BadRoleCredentials', cause: e });
  }
  if (doc.Code !== 'Success' || !doc.AccessKeyId || !doc.SecretAccessKey)
    throw retryable(`instance role ${role}: IMDS says ${doc.Code ?? 'nothing'}`, { fix: 'check the instance profile in the EC2 console (IAM role attached?)', code: 'BadRoleCredentials' });
  const expiration = doc.Expiration ? new Date(doc.Expiration) : undefined;
  return {
    accessKeyId: doc.AccessKeyId,
    secretAccessKey: doc.SecretAccessKey,
    ...(doc.Token ? { sessionToken: doc.Token } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
    source: `instance role ${role}`,
  };
}

// What an Alibaba VPC API failure means for the runner: a ProviderError with a class and a fix.
// @alicloud/openapi-core throws ThrottlingError when the code contains "Throttling" (any status),
// ClientError for 4xx and ServerError for 5xx, with `code`, `statusCode` and `data` (spec §3.5).
//
//   retryable: any code containing "Throttling"; 5xx (ServiceUnavailable, InternalError…); network
//              errors and timeouts; the concurrent-operation codes (TaskConflict, OperationConflict…).
//              isTransient() says which of these the VPC client retries itself, with backoff.
//   permanent: Forbidden.RAM / NoPermission (which RAM action to grant), InvalidHaVipId.NotFound (the
//              id or the region is wrong), IncorrectHaVipStatus (the HaVip is not usable now), the
//              key and signature errors, no credentials, and any other 4xx — each with its fix.
// Also the provider's own findings: notAssociated() (this instance is not among the HaVip's
// instances) and notConfirmed() (the VPC did not make us master within the confirm timeout).
// Messages carry the API's code and message (ids, never keys).
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';

interface SdkErrorShape {
  code?: unknown;
  name?: unknown;
  statusCode?: unknown;
  message?: unknown;
  data?: { Code?: unknown; Message?: unknown } | null;
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'ReadTimeout', 'ConnectTimeout', 'RequestTimeout']);
const CONFLICT = new Set(['TaskConflict', 'OperationConflict', 'OperationFailed.DistibuteLock', 'InvalidVip.Status']);
const PERMISSION = new Set(['Forbidden.RAM', 'NoPermission', 'Forbidden.HaVip', 'Forbidden', 'Forbidden.NoPermission']);
const KEYS = new Set(['InvalidAccessKeyId.NotFound', 'InvalidAccessKeyId', 'InvalidAccessKeyId.Inactive', 'InvalidSecurityToken.Expired', 'InvalidSecurityToken.Malformed', 'InvalidSecurityToken.MismatchWithAccessKey']);
const SIGNATURE = new Set(['SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidTimeStamp.Expired', 'SignatureNonceUsed']);

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v !== 'undefined' ? v : null);

/** The API's error code (or a Node error code, or the Error's name). */
export function alibabaErrorCode(err: unknown): string | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as SdkErrorShape;
  return text(e.code) ?? text(e.data?.Code) ?? text((err as { cause?: { code?: unknown } }).cause?.code) ?? text(e.name);
}

function statusOf(err: unknown): number | null {
  const s = (err as SdkErrorShape | null)?.statusCode;
  return typeof s === 'number' ? s : null;
}

/** Throttling, 5xx, network trouble, a concurrent operation: worth an immediate retry with backoff. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ProviderError) return err.errorClass === 'retryable' && err.code !== 'NotConfirmed';
  const code = alibabaErrorCode(err) ?? '';
  const status = statusOf(err);
  return code.includes('Throttling') || (status !== null && status >= 500) || NETWORK.has(code) || CONFLICT.has(code) || /ServiceUnavailable|InternalError|socket hang up|timeout/i.test(code);
}

/**
 * Anything a VPC API call threw, as a ProviderError. `action` is the API action ("DescribeHaVips"),
 * `what` what we were doing (for the message).
 */
export function alibabaError(err: unknown, action: string, what: string, ids: { haVipId?: string; regionId?: string } = {}): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err && typeof err === 'object' ? err : {}) as SdkErrorShape;
  const code = alibabaErrorCode(err) ?? 'Error';
  const status = statusOf(err);
  const said = text(e.data?.Message) ?? text(e.message) ?? String(err);
  const message = `${what}: ${code}${status ? ` (HTTP ${status})` : ''}: ${said}`;
  const opts = { code, cause: err };

  if (code.includes('Throttling'))
    return retryable(message, { ...opts, fix: 'the VPC API is throttling this account: the agent backs off; if it persists, raise provider.timing.reconcile' });
  if (isTransient(err)) {
    if (CONFLICT.has(code)) return retryable(message, { ...opts, fix: 'another operation on the HaVip is in progress: the agent retries' });
    return retryable(message, { ...opts, fix: 'the VPC API did not answer properly: the agent retries with backoff; check provider.endpoint if it persists' });
  }
  if (PERMISSION.has(code))
    return permanent(message, `grant vpc:${action} on the HaVip to this instance's RAM role (or the configured AccessKey): e.g. attach AliyunVPCReadOnlyAccess for DescribeHaVips, or a policy with "Action": ["vpc:${action}"]`, opts);
  if (code === 'InvalidHaVipId.NotFound')
    return permanent(
      message,
      `the HaVip ${ids.haVipId ?? ''} does not exist in region ${ids.regionId ?? '(unknown)'}: check provider.haVipId and provider.regionId (aliyun vpc DescribeHaVips --RegionId ${ids.regionId ?? 'REGION'})`,
      opts,
    );
  if (code === 'IncorrectHaVipStatus')
    return permanent(message, 'the HaVip is not Available or InUse (being created, deleted or changed): wait until the VPC console shows it Available or InUse', opts);
  if (code === 'IncorrectInstanceStatus') return permanent(message, 'the ECS instance must be Running or Stopped to be associated with the HaVip', opts);
  if (code.startsWith('CountLimitExceed')) return permanent(message, 'the HaVip (or the instance) has as many associations as allowed: unassociate an unused instance first', opts);
  if (code === 'InvalidCredentials' || code === 'NoCredentials')
    return permanent(message, 'no Alibaba Cloud credentials: attach a RAM role to the instance, or set ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET for the agent', opts);
  if (KEYS.has(code)) return permanent(message, 'the AccessKey (or the RAM role\'s STS token) was refused: check the key id, that it is enabled, and the instance\'s RAM role', opts);
  if (SIGNATURE.has(code)) return permanent(message, 'the request signature was refused: check the AccessKey secret, and that the system clock is right (chrony)', opts);
  if (status !== null && status >= 400 && status < 500) return permanent(message, `the VPC API refused ${action}: see the message; \`ha-agent provider test alibaba\` checks the setup`, opts);
  return retryable(message, opts);
}

/** This instance is not among the HaVip's associated instances: the VPC ignores its ARP. */
export function notAssociated(instanceId: string, haVipId: string, associated: readonly string[], regionId: string): ProviderError {
  return permanent(
    `${instanceId} is not associated with ${haVipId} (associated: ${associated.join(', ') || 'none'}): the VPC ignores its ARP, so it cannot hold the HaVip`,
    `associate it once: aliyun vpc AssociateHaVip --RegionId ${regionId} --HaVipId ${haVipId} --InstanceId ${instanceId} (or set provider.associate: at-start)`,
    { code: 'NotAssociated' },
  );
}

/** The VPC still names another master (or none) after the confirm timeout. */
export function notConfirmed(instanceId: string, haVipId: string, master: string, afterMs: number, reads: number): ProviderError {
  return retryable(`${haVipId}: MasterInstanceId is ${master || 'empty'}, not ${instanceId}, ${Math.round(afterMs / 100) / 10} s after the gratuitous ARPs (${reads} reads)`, {
    fix: 'the VPC has not learnt the new master from ARP yet: the agent re-announces and reads again; check that VRRP is unicast, the VIP is on the right interface, and nothing else announces the HaVip address',
    code: 'NotConfirmed',
  });
}

// What an AWS SDK failure means for the runner: a ProviderError with a class and a fix.
//
//   retryable: throttling (RequestLimitExceeded, Throttling…), 5xx (InternalError, Unavailable…),
//              timeouts and network errors (EC2 or IMDS unreachable for a while), aborts.
//   permanent: everything a retry cannot fix by itself, said with the fix a user needs — which IAM
//              action is missing (UnauthorizedOperation), which id is wrong (…NotFound), why a VIP
//              cannot move (InvalidParameterValue), that the clock or the keys are wrong (AuthFailure,
//              SignatureDoesNotMatch, RequestExpired), that no credentials were found.
// The runner retries permanent errors too (a permission can be granted while we run), but logs them
// at error with the fix and shows them in /status. Messages never carry credentials: only the SDK's
// error code and message (which name ids and addresses, not keys) and what we were doing.
import { permanent, ProviderError, retryable } from '../../src/provider/errors.js';

/** The fields of an SDK v3 service error (or any other Error) this file reads. */
interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Error codes EC2 uses for "slow down" (the SDK retries them too, with throttling backoff). */
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException', 'SlowDown']);

/** Server-side and transient codes. */
const TRANSIENT = new Set(['InternalError', 'InternalFailure', 'Unavailable', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'IDPCommunicationError']);

/** Network-level failures (Node's error codes on the SDK's http handler). */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** The service's error code (EC2 sets name and Code to it), or a Node error code, or the Error's name. */
export function awsErrorCode(err: unknown): string | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as SdkErrorShape;
  return text(e.Code) ?? text(e.code) ?? text(e.name);
}

/**
 * Turns anything an AWS SDK call threw into a ProviderError. `action` is the EC2 action (or IMDS
 * path) that failed, as IAM names it without the prefix (e.g. "AssignPrivateIpAddresses"); `what`
 * says what we were doing, for the message.
 */
export function awsError(err: unknown, action: string, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err && typeof err === 'object' ? err : {}) as SdkErrorShape;
  const code = awsErrorCode(err) ?? 'Error';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : null;
  const said = text(e.message) ?? String(err);
  const message = `${what}: ${code}${status ? ` (HTTP ${status})` : ''}: ${said}`;
  const opts = { code, cause: err };

  if (code === 'AbortError' || code === 'RunnerAbort') return retryable(`${what}: aborted`, opts);
  if (THROTTLING.has(code)) return retryable(message, { ...opts, fix: 'EC2 is throttling this account: the agent backs off; if it persists, raise the reconcile period or ask AWS for a higher API rate' });
  if (TRANSIENT.has(code) || NETWORK.has(code) || (status !== null && status >= 500) || e.$fault === 'server')
    return retryable(message, { ...opts, fix: 'EC2 (or the instance metadata service) did not answer properly: the agent retries with backoff' });

  switch (code) {
    case 'UnauthorizedOperation':
    case 'AccessDenied':
    case 'AccessDeniedException':
      return permanent(message, `allow ec2:${action} for this instance's role (or the configured credentials) in IAM`, opts);
    case 'AuthFailure':
    case 'InvalidClientTokenId':
    case 'UnrecognizedClientException':
      return permanent(message, 'the credentials were refused: check the access key (or the instance role), and that the system clock is right (chrony)', opts);
    case 'SignatureDoesNotMatch':
      return permanent(message, 'the request signature was refused: check the secret access key, and that the system clock is right (chrony)', opts);
    case 'RequestExpired':
      return permanent(message, 'the system clock is off by more than 5 minutes: fix time synchronisation (chrony, or the Amazon Time Sync Service at 169.254.169.123)', opts);
    case 'CredentialsProviderError':
      return retryable(message, {
        ...opts,
        fix: 'no AWS credentials found: attach an instance role (IMDSv2 must be reachable), or set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE for the agent',
      });
    case 'InvalidNetworkInterfaceID.NotFound':
    case 'InvalidNetworkInterfaceID.Malformed':
      return permanent(message, 'the ENI id is wrong: leave provider.networkInterfaceId out to discover it from the interface\'s MAC, or give the ENI attached to this instance', opts);
    case 'InvalidRouteTableID.NotFound':
    case 'InvalidRouteTableID.Malformed':
      return permanent(message, 'a route table id in provider.routeTableIds does not exist in this region: correct it', opts);
    case 'InvalidAllocationID.NotFound':
    case 'InvalidAllocationID.Malformed':
      return permanent(message, 'provider.allocationId is not an Elastic IP allocation of this account and region: correct it', opts);
    case 'InvalidInstanceID.NotFound':
    case 'InvalidInstanceID.Malformed':
      return permanent(message, 'the instance id is wrong: leave provider.instanceId out to read it from IMDSv2', opts);
    case 'PrivateIpAddressLimitExceeded':
      return permanent(message, 'the ENI has as many secondary addresses as its instance type allows: free one, use fewer VIPs on this ENI, or a larger instance type', opts);
    case 'Resource.AlreadyAssociated':
      return permanent(message, 'the Elastic IP is associated elsewhere and reassociation was refused: the agent asks with AllowReassociation; check provider.allocationId', opts);
    case 'InvalidParameterValue':
    case 'InvalidParameterCombination':
    case 'InvalidParameter':
      return permanent(message, invalidParameterFix(said), opts);
    case 'OptInRequired':
    case 'Blocked':
    case 'UnsupportedOperation':
      return permanent(message, 'the account or region cannot do this operation: check the region and the account\'s EC2 access', opts);
    default:
      if (e.$fault === 'client' || (status !== null && status >= 400 && status < 500))
        return permanent(message, `EC2 refused ${action}: see the message; \`ha-agent provider test aws\` checks the setup`, opts);
      return retryable(message, opts);
  }
}

/** The fix for EC2's catch-all InvalidParameterValue, from its message. */
function invalidParameterFix(message: string): string {
  if (/move is not allowed/i.test(message)) return 'the VIP is held by another ENI and may not move: the agent asks with AllowReassignment, so this comes from a policy or an older API; check the VIP is a secondary address, not an ENI\'s primary one';
  if (/reserved address range/i.test(message)) return 'the VIP is one of the subnet\'s 5 reserved addresses (the first four and the last): pick another';
  if (/not fall within the subnet|subnet's address range/i.test(message)) return 'the VIP must lie inside the ENI\'s subnet CIDR (secondary-ip mode); use route-table mode for an address outside the VPC';
  if (/is not assigned to network interface/i.test(message)) return 'provider.privateIpAddress is not one of the ENI\'s private addresses: leave it out (the ENI\'s primary address is used) or give one the ENI has';
  if (/belong to different networks/i.test(message)) return 'the route table and the ENI are in different VPCs: list in provider.routeTableIds only route tables of this instance\'s VPC';
  if (/no route defined/i.test(message)) return 'the route table has no route for the VIP yet: create it once (aws ec2 create-route --destination-cidr-block VIP/32 …); the agent then replaces it';
  return 'EC2 refused a parameter: see the message; `ha-agent provider test aws` checks the setup';
}

// `provider test aws --simulate-iam`: asks IAM whether the credentials in use may call the EC2
// actions the agent needs, for the actions no DryRun can probe (AssignPrivateIpAddresses,
// UnassignPrivateIpAddresses). Two reads, nothing moves:
//   STS GetCallerIdentity          → who we are (an assumed-role session ARN becomes its role's ARN:
//                                    arn:aws:sts::ACCT:assumed-role/ROLE/SESSION → arn:aws:iam::ACCT:role/ROLE)
//   IAM SimulatePrincipalPolicy    → per action: allowed / implicitDeny / explicitDeny
// The caller needs iam:SimulatePrincipalPolicy on that principal (and nothing for STS). Each is one
// HTTP request (maxAttempts 1); failures are thrown as they come (the caller classes them).
// Endpoints: the given ones, else the SDK's own resolution (AWS_ENDPOINT_URL_STS / _IAM, else AWS's).
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentityProvider } from '@aws-sdk/types';

export interface IamSimulationOptions {
  /** STS is regional: the instance's region. */
  region: string;
  credentials: AwsCredentialIdentityProvider;
  stsEndpoint?: string;
  iamEndpoint?: string;
  timeoutMs: number;
}

export type IamDecision = 'allowed' | 'implicitDeny' | 'explicitDeny';

export interface IamSimulation {
  /** The principal simulated (an IAM user or role ARN). */
  principalArn: string;
  /** Full action name ("ec2:AssignPrivateIpAddresses") → IAM's decision. */
  decisions: Map<string, IamDecision>;
}

/** The IAM principal behind a caller ARN (an assumed-role session → its role; a user stays a user). */
export function principalOf(callerArn: string): string {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/** Who we are, then IAM's decision for each action. Throws the SDK's error when either call fails. */
export async function simulateIam(actions: readonly string[], opts: IamSimulationOptions): Promise<IamSimulation> {
  const common = {
    credentials: opts.credentials,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: opts.timeoutMs, requestTimeout: opts.timeoutMs },
  };
  const sts = new STSClient({ ...common, region: opts.region, ...(opts.stsEndpoint ? { endpoint: opts.stsEndpoint } : {}) });
  const iam = new IAMClient({ ...common, region: 'us-east-1', ...(opts.iamEndpoint ? { endpoint: opts.iamEndpoint } : {}) });
  try {
    const me = await sts.send(new GetCallerIdentityCommand({}));
    if (!me.Arn) throw new Error('STS GetCallerIdentity answered without an ARN');
    const principalArn = principalOf(me.Arn);
    const decisions = new Map<string, IamDecision>();
    let marker: string | undefined;
    do {
      const page = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: principalArn, ActionNames: [...actions], ...(marker ? { Marker: marker } : {}) }));
      for (const r of page.EvaluationResults ?? []) if (r.EvalActionName && r.EvalDecision) decisions.set(r.EvalActionName, r.EvalDecision as IamDecision);
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return { principalArn, decisions };
  } finally {
    sts.destroy();
    iam.destroy();
  }
}

// The IAM and STS Query API emulator, for `provider test aws --simulate-iam` (spec
// wire-and-cloud-apis.md §1.2 for SigV4; the IAM / STS Query API, version 2010-05-08 / 2011-06-15).
//
// Contract: startIamEmulator(opts) listens on opts.host (default 127.0.0.1), port opts.port (default
// 0), and answers `POST /` form bodies for two actions:
//   STS GetCallerIdentity        (SigV4 service "sts", any region) → the caller's ARN, UserId, Account
//   IAM SimulatePrincipalPolicy  (SigV4 service "iam", region us-east-1) → per ActionNames.member.N an
//                                EvalDecision: "allowed" when the principal's policy lists the action
//                                (or "<service>:*", or has no list: everything), "explicitDeny" when
//                                its deny list names it, else "implicitDeny".
// A principal is an access key with the ARN STS reports for it (an IAM user, or an assumed-role
// session arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, whose IAM principal is arn:aws:iam::ACCT:
// role/ROLE). Policies belong to IAM principals. The caller of SimulatePrincipalPolicy needs
// iam:SimulatePrincipalPolicy in its own principal's policy (403 AccessDenied otherwise); an unknown
// PolicySourceArn is 404 NoSuchEntity; an unknown key 403 InvalidClientTokenId. Errors use the Query
// envelope <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
// Every request is recorded in `calls` (action, key, status). Nothing here is reachable beyond the
// host given (a loopback or lab address).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { verifySigV4, type SigV4Credential } from './sigv4.js';
import { listParam } from './ec2-server.js';
import { t } from './ec2-xml.js';

export interface IamPrincipalKey extends SigV4Credential {
  /** What STS GetCallerIdentity answers for this key (user ARN or assumed-role session ARN). */
  callerArn: string;
}

export interface IamPolicy {
  /** Allowed actions ("ec2:AssignPrivateIpAddresses", "ec2:*"); undefined: everything. */
  allow?: string[];
  /** Explicitly denied actions (win over allow). */
  deny?: string[];
}

export interface IamCall {
  service: 'iam' | 'sts' | '?';
  action: string;
  accessKeyId?: string;
  status?: number;
  code?: string;
}

export interface IamEmulatorOptions {
  host?: string;
  port?: number;
  keys: IamPrincipalKey[];
  /** IAM principal ARN → its policy (absent: everything allowed). */
  policies?: Record<string, IamPolicy>;
  clock?: () => number;
}

export interface IamEmulator {
  url: string;
  calls: IamCall[];
  /** Replaces the policy of an IAM principal (user or role ARN). */
  setPolicy(principalArn: string, policy: IamPolicy | undefined): void;
  addKey(k: IamPrincipalKey): void;
  close(): Promise<void>;
}

const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The IAM principal behind a caller ARN (an assumed-role session → its role). */
export function iamPrincipalOf(callerArn: string): string {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/** IAM action patterns: case-insensitive, `*` and `?` as wildcards ("ec2:Describe*", "*"). */
function matches(pattern: string, action: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(action);
}

export function decide(policy: IamPolicy | undefined, action: string): 'allowed' | 'implicitDeny' | 'explicitDeny' {
  if (policy?.deny?.some((p) => matches(p, action))) return 'explicitDeny';
  if (!policy?.allow || policy.allow.some((p) => matches(p, action))) return 'allowed';
  return 'implicitDeny';
}

class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startIamEmulator(opts: IamEmulatorOptions): Promise<IamEmulator> {
  const clock = opts.clock ?? Date.now;
  const keys = new Map(opts.keys.map((k) => [k.accessKeyId, { ...k }]));
  const policies = new Map(Object.entries(opts.policies ?? {}));
  const calls: IamCall[] = [];

  const answer = (res: ServerResponse, call: IamCall, status: number, body: string, code?: string) => {
    call.status = status;
    if (code) call.code = code;
    res.writeHead(status, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), 'x-amzn-RequestId': randomUUID(), Date: new Date(clock()).toUTCString() });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? '' : url.slice(qi + 1);
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    const action = params['Action'] ?? '';
    const service = action === 'GetCallerIdentity' ? 'sts' : action === 'SimulatePrincipalPolicy' ? 'iam' : '?';
    const call: IamCall = { service, action };
    calls.push(call);
    const requestId = randomUUID();
    const xmlns = service === 'sts' ? STS_XMLNS : IAM_XMLNS;
    const error = (e: QueryError) =>
      answer(
        res,
        call,
        e.status,
        `<ErrorResponse xmlns="${xmlns}"><Error><Type>Sender</Type>${t('Code', e.code)}${t('Message', e.message)}</Error>${t('RequestId', requestId)}</ErrorResponse>`,
        e.code,
      );
    try {
      if (service === '?') throw new QueryError(400, 'InvalidAction', `Could not find operation ${action}`);
      const auth = verifySigV4(
        { method: req.method ?? 'POST', path, query, headers: req.headers, body },
        { lookup: (id) => keys.get(id), now: clock, service, ...(service === 'iam' ? { region: 'us-east-1' } : {}) },
      );
      if (auth.accessKeyId !== undefined) call.accessKeyId = auth.accessKeyId;
      if (!auth.ok) throw new QueryError(403, auth.code === 'AuthFailure' ? 'InvalidClientTokenId' : auth.code, auth.message);
      const caller = keys.get(auth.accessKeyId)!;
      if (service === 'sts') {
        const account = /::(\d{12}):/.exec(caller.callerArn)?.[1] ?? '123456789012';
        const result = t('Arn', caller.callerArn) + t('UserId', caller.accessKeyId) + t('Account', account);
        return answer(
          res,
          call,
          200,
          `<GetCallerIdentityResponse xmlns="${STS_XMLNS}"><GetCallerIdentityResult>${result}</GetCallerIdentityResult><ResponseMetadata>${t('RequestId', requestId)}</ResponseMetadata></GetCallerIdentityResponse>`,
        );
      }
      const me = iamPrincipalOf(caller.callerArn);
      if (decide(policies.get(me), 'iam:SimulatePrincipalPolicy') !== 'allowed')
        throw new QueryError(403, 'AccessDenied', `User: ${caller.callerArn} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: ${params['PolicySourceArn'] ?? ''}`);
      const source = params['PolicySourceArn'];
      if (!source) throw new QueryError(400, 'ValidationError', "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null");
      const known = [...keys.values()].some((k) => iamPrincipalOf(k.callerArn) === source) || policies.has(source);
      if (!known) throw new QueryError(404, 'NoSuchEntity', `The principal ${source} cannot be found.`);
      const actions = listParam(params, 'ActionNames.member');
      if (actions.length === 0) throw new QueryError(400, 'ValidationError', "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null");
      const members = actions
        .map(
          (a) =>
            `<member>${t('EvalActionName', a)}${t('EvalResourceName', '*')}${t('EvalDecision', decide(policies.get(source), a))}<MatchedStatements/><MissingContextValues/></member>`,
        )
        .join('');
      return answer(
        res,
        call,
        200,
        `<SimulatePrincipalPolicyResponse xmlns="${IAM_XMLNS}"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>${members}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata>${t('RequestId', requestId)}</ResponseMetadata></SimulatePrincipalPolicyResponse>`,
      );
    } catch (e) {
      if (e instanceof QueryError) return error(e);
      return error(new QueryError(500, 'ServiceFailure', String(e)));
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    calls,
    setPolicy(arn, policy) {
      if (policy === undefined) policies.delete(arn);
      else policies.set(arn, policy);
    },
    addKey(k) {
      keys.set(k.accessKeyId, { ...k });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

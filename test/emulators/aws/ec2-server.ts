// The EC2 Query API emulator's HTTP server (spec wire-and-cloud-apis.md §1, §6).
//
// Contract: startEc2Emulator(opts) listens on opts.host (default 127.0.0.1) and opts.port (default 0:
// the OS picks) and answers `POST /` form bodies (Action, Version, Name.N lists, Filter.N.Name /
// Filter.N.Value.M) as EC2 API 2016-11-15 would, for the operations in HANDLERS, on top of an Ec2State.
// Order per request: record in `calls` → SigV4 (sigv4.ts; the emulator's own clock, opts.clock, for
// RequestExpired and the Date header so the SDK can correct its skew) → injected faults → unknown
// action (400 InvalidAction) → per-key permissions (403 UnauthorizedOperation, DryRun or not) →
// DryRun (412 DryRunOperation; not on Assign/Unassign, which have no DryRun) → the operation.
// Every response carries x-amzn-RequestId, Content-Type text/xml;charset=UTF-8, Date and Server.
// Faults: faults.add({ action?, times?, kind, ms?, status? }); times (default: unlimited) counts the
// requests it affects, then it removes itself. `hang` answers only when the emulator closes.
import { ActionFaults, type ArmedActionFault } from '../action-faults.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { verifySigV4, type SigV4Credential } from './sigv4.js';
import { Ec2Error } from './ec2-errors.js';
import type { Ec2State, NetworkInterface } from './ec2-state.js';
import {
  CONTENT_TYPE,
  describeAddressesBody,
  describeInstancesBody,
  describeNetworkInterfacesBody,
  describeRouteTablesBody,
  describeSecurityGroupsBody,
  describeSubnetsBody,
  errorXml,
  set,
  successXml,
  t,
} from './ec2-xml.js';
import { describeInstanceTypes } from './ec2-instance-types.js';

export interface Ec2Credential extends SigV4Credential {
  /** Actions this key may call (default: all). */
  allowedActions?: string[];
}

export interface Ec2Call {
  action: string;
  params: Record<string, string>;
  /** Emulator clock (ms) when the request arrived. */
  at: number;
  requestId: string;
  accessKeyId?: string;
  /** The client's address (which node of a lab called). */
  from?: string;
  /** Filled in when the answer is sent (undefined while pending or hung). */
  status?: number;
  code?: string;
}

export type FaultKind = 'throttle' | 'throttling400' | 'error5xx' | 'latency' | 'hang' | 'authFailure' | 'unauthorized';

export interface FaultSpec {
  /** Only requests for this action (default: every action). */
  action?: string;
  /** How many requests it affects before it removes itself (default: unlimited). */
  times?: number;
  kind: FaultKind;
  /** latency: delay in ms before the request is handled (default 1000). */
  ms?: number;
  /** error5xx: 500 → InternalError (default), 503 → Unavailable. */
  status?: 500 | 503;
}

export type ActiveFault = ArmedActionFault<FaultSpec>;
/** Faults per action (../action-faults.ts). */
export type Faults = ActionFaults<FaultSpec>;

export interface Ec2EmulatorOptions {
  state: Ec2State;
  host?: string;
  port?: number;
  credentials: Ec2Credential[];
  /** Region the credential scope must name (default: state.region). */
  region?: string;
  /** Emulator clock in ms for RequestExpired and the Date header (default Date.now). */
  clock?: () => number;
}

export interface Ec2Emulator {
  url: string;
  host: string;
  port: number;
  calls: Ec2Call[];
  faults: Faults;
  /** Replaces a key's allowed actions (undefined: all). */
  setAllowedActions(accessKeyId: string, actions: string[] | undefined): void;
  /** Accepts another key from now on (e.g. an instance role's rotated temporary credentials). */
  addCredential(c: Ec2Credential): void;
  /** Stops accepting a key: its requests get 401 AuthFailure (an expired or revoked key). */
  revokeCredential(accessKeyId: string): void;
  close(): Promise<void>;
}

/** Operations that accept DryRun (spec §0.3: Assign/Unassign do not). */
const NO_DRY_RUN = new Set(['AssignPrivateIpAddresses', 'UnassignPrivateIpAddresses']);

// ---------------------------------------------------------------- parameters

type Params = Record<string, string>;

/** Values of Name.1, Name.2, … in index order. */
export function listParam(params: Params, name: string): string[] {
  const re = new RegExp(`^${name.replace(/\./g, '\\.')}\\.(\\d+)$`);
  return Object.keys(params)
    .map((k) => [k, re.exec(k)] as const)
    .filter(([, m]) => m !== null)
    .sort((a, b) => Number(a[1]![1]) - Number(b[1]![1]))
    .map(([k]) => params[k]!);
}

export interface Filter {
  name: string;
  values: string[];
}

export function filtersParam(params: Params): Filter[] {
  const out: Filter[] = [];
  const idx = new Set<number>();
  for (const k of Object.keys(params)) {
    const m = /^Filter\.(\d+)\.Name$/.exec(k);
    if (m) idx.add(Number(m[1]));
  }
  for (const i of [...idx].sort((a, b) => a - b)) {
    out.push({ name: params[`Filter.${i}.Name`]!, values: listParam(params, `Filter.${i}.Value`) });
  }
  return out;
}

function globMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(value);
}

/** Filters AND together; values of one filter OR together. Unknown filter name → InvalidParameterValue. */
function applyFilters<T>(items: T[], filters: Filter[], fields: Record<string, (item: T) => Array<string | undefined>>): T[] {
  for (const f of filters) {
    if (!(f.name in fields)) throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${f.name}' is invalid`);
  }
  return items.filter((item) =>
    filters.every((f) => {
      const have = fields[f.name]!(item).filter((v): v is string => v !== undefined);
      return f.values.some((p) => have.some((v) => globMatch(p, v)));
    }),
  );
}

function required(params: Params, name: string): string {
  const v = params[name];
  if (v === undefined || v === '') throw new Ec2Error(400, 'MissingParameter', `The request must contain the parameter ${name}`);
  return v;
}

const bool = (v: string | undefined): boolean => v === 'true';
const opt = (params: Params, name: string): string | undefined => (params[name] === '' ? undefined : params[name]);

/** Picks items by id (unknown id → NotFound), or all when no id is given. */
function byIds<T>(all: Map<string, T>, ids: string[], notFound: (id: string) => Ec2Error): T[] {
  if (ids.length === 0) return [...all.values()];
  return ids.map((id) => {
    const v = all.get(id);
    if (v === undefined) throw notFound(id);
    return v;
  });
}

function paginate<T>(items: T[], params: Params): { page: T[]; nextToken?: string } {
  const max = params['MaxResults'] === undefined ? undefined : Number(params['MaxResults']);
  const start = params['NextToken'] === undefined ? 0 : Number(params['NextToken']);
  if (!Number.isInteger(start) || start < 0) throw new Ec2Error(400, 'InvalidParameterValue', 'The token is invalid.');
  if (max === undefined) return { page: items.slice(start) };
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, nextToken: String(start + max) } : { page };
}

// ---------------------------------------------------------------- operations

type Handler = (state: Ec2State, p: Params) => string;

const eniFields: Record<string, (e: NetworkInterface) => Array<string | undefined>> = {
  'attachment.instance-id': (e) => [e.instanceId],
  'attachment.device-index': (e) => [e.deviceIndex === undefined ? undefined : String(e.deviceIndex)],
  'attachment.attachment-id': (e) => [e.attachmentId],
  'addresses.private-ip-address': (e) => [e.primaryIp, ...e.secondaryIps],
  'private-ip-address': (e) => [e.primaryIp, ...e.secondaryIps],
  'network-interface-id': (e) => [e.networkInterfaceId],
  'subnet-id': (e) => [e.subnetId],
  'vpc-id': (e) => [e.vpcId],
  'mac-address': (e) => [e.macAddress],
  'availability-zone': (e) => [e.availabilityZone],
  'group-id': (e) => e.securityGroupIds,
  'status': (e) => [e.instanceId === undefined ? 'available' : 'in-use'],
  'source-dest-check': (e) => [String(e.sourceDestCheck)],
  'description': (e) => [e.description],
};

export const HANDLERS: Record<string, Handler> = {
  AssignPrivateIpAddresses(state, p) {
    const eniId = required(p, 'NetworkInterfaceId');
    const countStr = opt(p, 'SecondaryPrivateIpAddressCount');
    const assigned = state.assignPrivateIpAddresses({
      networkInterfaceId: eniId,
      privateIpAddresses: listParam(p, 'PrivateIpAddress'),
      ...(countStr !== undefined ? { secondaryCount: Number(countStr) } : {}),
      allowReassignment: bool(p['AllowReassignment']),
    });
    return (
      t('networkInterfaceId', eniId) +
      set('assignedPrivateIpAddressesSet', assigned.map((ip) => t('privateIpAddress', ip))) +
      set('assignedIpv4PrefixSet', []) +
      t('return', true)
    );
  },
  UnassignPrivateIpAddresses(state, p) {
    state.unassignPrivateIpAddresses({
      networkInterfaceId: required(p, 'NetworkInterfaceId'),
      privateIpAddresses: listParam(p, 'PrivateIpAddress'),
    });
    return t('return', true);
  },
  ModifyNetworkInterfaceAttribute(state, p) {
    const o: Parameters<Ec2State['modifyNetworkInterfaceAttribute']>[0] = { networkInterfaceId: required(p, 'NetworkInterfaceId') };
    const sdc = p['SourceDestCheck.Value'];
    if (sdc !== undefined) o.sourceDestCheck = bool(sdc);
    const desc = p['Description.Value'];
    if (desc !== undefined) o.description = desc;
    const groups = listParam(p, 'SecurityGroupId');
    if (groups.length > 0) o.groupIds = groups;
    state.modifyNetworkInterfaceAttribute(o);
    return t('return', true);
  },
  DescribeNetworkInterfaces(state, p) {
    state.settle();
    const picked = byIds(state.enis, listParam(p, 'NetworkInterfaceId'), (id) => new Ec2Error(400, 'InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`));
    const { page, nextToken } = paginate(applyFilters(picked, filtersParam(p), eniFields), p);
    return describeNetworkInterfacesBody(state, page, nextToken);
  },
  DescribeSubnets(state, p) {
    state.settle();
    const picked = byIds(state.subnets, listParam(p, 'SubnetId'), (id) => new Ec2Error(400, 'InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`));
    const out = applyFilters(picked, filtersParam(p), {
      'subnet-id': (s) => [s.subnetId],
      'vpc-id': (s) => [s.vpcId],
      'availability-zone': (s) => [s.availabilityZone],
      'cidr-block': (s) => [s.cidr],
      cidrBlock: (s) => [s.cidr],
      cidr: (s) => [s.cidr],
      state: () => ['available'],
    });
    return describeSubnetsBody(state, out);
  },
  ReplaceRoute(state, p) {
    const o: Parameters<Ec2State['replaceRoute']>[0] = {
      routeTableId: required(p, 'RouteTableId'),
      destinationCidrBlock: required(p, 'DestinationCidrBlock'),
    };
    const eni = opt(p, 'NetworkInterfaceId');
    const inst = opt(p, 'InstanceId');
    const gw = opt(p, 'GatewayId');
    if (eni !== undefined) o.networkInterfaceId = eni;
    if (inst !== undefined) o.instanceId = inst;
    if (gw !== undefined) o.gatewayId = gw;
    state.replaceRoute(o);
    return t('return', true);
  },
  DescribeRouteTables(state, p) {
    state.settle();
    const picked = byIds(state.routeTables, listParam(p, 'RouteTableId'), (id) => new Ec2Error(400, 'InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`));
    const out = applyFilters(picked, filtersParam(p), {
      'route-table-id': (r) => [r.routeTableId],
      'vpc-id': (r) => [r.vpcId],
      'association.subnet-id': (r) => r.associations.map((a) => a.subnetId),
      'association.main': (r) => [String(r.associations.some((a) => a.main))],
      'association.route-table-association-id': (r) => r.associations.map((a) => a.routeTableAssociationId),
      'route.destination-cidr-block': (r) => r.routes.map((x) => x.destinationCidrBlock),
      'route.network-interface-id': (r) => r.routes.map((x) => x.networkInterfaceId),
      'route.instance-id': (r) => r.routes.map((x) => x.instanceId),
      'route.gateway-id': (r) => r.routes.map((x) => x.gatewayId),
      'route.state': (r) => r.routes.map((x) => x.state),
    });
    const { page, nextToken } = paginate(out, p);
    return describeRouteTablesBody(state, page) + t('nextToken', nextToken);
  },
  AssociateAddress(state, p) {
    const o: Parameters<Ec2State['associateAddress']>[0] = { allowReassociation: bool(p['AllowReassociation']) };
    for (const [param, key] of [
      ['AllocationId', 'allocationId'],
      ['PublicIp', 'publicIp'],
      ['NetworkInterfaceId', 'networkInterfaceId'],
      ['InstanceId', 'instanceId'],
      ['PrivateIpAddress', 'privateIpAddress'],
    ] as const) {
      const v = opt(p, param);
      if (v !== undefined) o[key] = v;
    }
    return t('return', true) + t('associationId', state.associateAddress(o));
  },
  DescribeAddresses(state, p) {
    state.settle();
    const allocIds = listParam(p, 'AllocationId');
    const publicIps = listParam(p, 'PublicIp');
    let picked = byIds(state.addresses, allocIds, (id) => new Ec2Error(400, 'InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`));
    if (publicIps.length > 0) {
      for (const ip of publicIps) {
        if (!picked.some((a) => a.publicIp === ip)) throw new Ec2Error(400, 'InvalidAddress.NotFound', `Address '${ip}' not found.`);
      }
      picked = picked.filter((a) => publicIps.includes(a.publicIp));
    }
    const out = applyFilters(picked, filtersParam(p), {
      'allocation-id': (a) => [a.allocationId],
      'public-ip': (a) => [a.publicIp],
      'association-id': (a) => [a.associationId],
      'network-interface-id': (a) => [a.networkInterfaceId],
      'private-ip-address': (a) => [a.privateIpAddress],
      'instance-id': (a) => [a.networkInterfaceId === undefined ? undefined : state.instanceOfEni(a.networkInterfaceId)],
      domain: () => ['vpc'],
    });
    return describeAddressesBody(state, out);
  },
  DescribeSecurityGroups(state, p) {
    const ids = listParam(p, 'GroupId');
    const names = listParam(p, 'GroupName');
    let picked = byIds(state.securityGroups, ids, (id) => new Ec2Error(400, 'InvalidGroup.NotFound', `The security group '${id}' does not exist`));
    if (names.length > 0) {
      for (const n of names) {
        if (!picked.some((g) => g.groupName === n)) throw new Ec2Error(400, 'InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC`);
      }
      picked = picked.filter((g) => names.includes(g.groupName));
    }
    const out = applyFilters(picked, filtersParam(p), {
      'group-id': (g) => [g.groupId],
      'group-name': (g) => [g.groupName],
      'vpc-id': (g) => [g.vpcId],
      'ip-permission.protocol': (g) => g.ingress.map((r) => r.ipProtocol),
      'ip-permission.group-id': (g) => g.ingress.flatMap((r) => r.sourceGroupIds ?? []),
    });
    return describeSecurityGroupsBody(state, out);
  },
  DescribeInstances(state, p) {
    state.settle();
    const picked = byIds(state.instances, listParam(p, 'InstanceId'), (id) => new Ec2Error(400, 'InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`));
    const out = applyFilters(picked, filtersParam(p), {
      'instance-id': (i) => [i.instanceId],
      'instance-state-name': (i) => [i.state],
      'subnet-id': (i) => [i.subnetId],
      'vpc-id': (i) => [state.subnets.get(i.subnetId)?.vpcId],
      'network-interface.network-interface-id': (i) => state.attachedEnis(i.instanceId).map((e) => e.networkInterfaceId),
      'private-ip-address': (i) => [state.attachedEnis(i.instanceId)[0]?.primaryIp],
    });
    return describeInstancesBody(state, out);
  },
  DescribeInstanceTypes(_state, p) {
    return describeInstanceTypes(listParam(p, 'InstanceType'));
  },
};

// ---------------------------------------------------------------- server

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startEc2Emulator(opts: Ec2EmulatorOptions): Promise<Ec2Emulator> {
  const { state } = opts;
  const clock = opts.clock ?? Date.now;
  const region = opts.region ?? state.region;
  const creds = new Map<string, Ec2Credential>(opts.credentials.map((c) => [c.accessKeyId, { ...c }]));
  const calls: Ec2Call[] = [];
  const faults = new ActionFaults<FaultSpec>();
  const takeFaults = (action: string) => faults.take(action);

  const send = (res: ServerResponse, call: Ec2Call, status: number, body: string, code?: string): void => {
    call.status = status;
    if (code !== undefined) call.code = code;
    if (res.destroyed || res.writableEnded) return;
    res.sendDate = false;
    res.writeHead(status, {
      'Content-Type': CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(body),
      'x-amzn-RequestId': call.requestId,
      Date: new Date(clock()).toUTCString(),
      Server: 'AmazonEC2',
    });
    res.end(body);
  };
  const sendError = (res: ServerResponse, call: Ec2Call, status: number, code: string, message: string): void =>
    send(res, call, status, errorXml(code, message, call.requestId), code);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? '' : url.slice(qi + 1);
    const params: Params = {};
    for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    const action = params['Action'] ?? '';
    const call: Ec2Call = { action, params, at: clock(), requestId: randomUUID(), ...(req.socket.remoteAddress ? { from: req.socket.remoteAddress } : {}) };
    calls.push(call);

    if (req.method !== 'POST' && req.method !== 'GET') {
      return sendError(res, call, 405, 'InvalidHttpRequest', `The HTTP method ${req.method ?? ''} is not valid for this web service.`);
    }
    const auth = verifySigV4(
      { method: req.method, path, query, headers: req.headers, body },
      { lookup: (id) => creds.get(id), now: clock, region, service: 'ec2' },
    );
    if (auth.accessKeyId !== undefined) call.accessKeyId = auth.accessKeyId;
    if (!auth.ok) return sendError(res, call, auth.status, auth.code, auth.message);

    const { latencyMs, fault } = takeFaults(action);
    if (latencyMs > 0) await delay(latencyMs);
    if (fault) {
      switch (fault.kind) {
        case 'throttle':
          return sendError(res, call, 503, 'RequestLimitExceeded', 'Request limit exceeded.');
        case 'throttling400':
          return sendError(res, call, 400, 'Throttling', 'Rate exceeded');
        case 'error5xx':
          return fault.status === 503
            ? sendError(res, call, 503, 'Unavailable', 'The server is overloaded and can\'t handle the request.')
            : sendError(res, call, 500, 'InternalError', 'An internal error has occurred');
        case 'authFailure':
          return sendError(res, call, 401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
        case 'unauthorized':
          return sendError(res, call, 403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
        case 'hang':
          return; // answered never; close() tears the connection down
        case 'latency':
          break;
      }
    }

    const handler = Object.prototype.hasOwnProperty.call(HANDLERS, action) ? HANDLERS[action] : undefined;
    if (!handler) return sendError(res, call, 400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    const allowed = creds.get(auth.accessKeyId)?.allowedActions;
    const permitted = allowed === undefined || allowed.includes(action);
    if (params['DryRun'] !== undefined) {
      if (NO_DRY_RUN.has(action)) return sendError(res, call, 400, 'UnknownParameter', 'The parameter DryRun is not recognized');
      if (bool(params['DryRun'])) {
        return permitted
          ? sendError(res, call, 412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.')
          : sendError(res, call, 403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
      }
    }
    if (!permitted) return sendError(res, call, 403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
    try {
      send(res, call, 200, successXml(action, call.requestId, handler(state, params)));
    } catch (e) {
      if (e instanceof Ec2Error) return sendError(res, call, e.status, e.code, e.message);
      return sendError(res, call, 500, 'InternalError', `An internal error has occurred (${String(e)})`);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': CONTENT_TYPE });
        res.end(errorXml('InternalError', String(e), randomUUID()));
      }
    });
  });
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
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    calls,
    faults,
    setAllowedActions(accessKeyId, actions) {
      const c = creds.get(accessKeyId);
      if (!c) throw new Error(`unknown access key ${accessKeyId}`);
      if (actions === undefined) delete c.allowedActions;
      else c.allowedActions = [...actions];
    },
    addCredential(c) {
      creds.set(c.accessKeyId, { ...c });
    },
    revokeCredential(accessKeyId) {
      creds.delete(accessKeyId);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

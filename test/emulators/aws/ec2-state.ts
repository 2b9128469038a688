// In-memory EC2 model behind the EC2 Query emulator (spec wire-and-cloud-apis.md §1.4, §1.5).
//
// Contract:
// - Resources: VPCs (CIDRs), subnets (CIDR, AZ, VPC; the first four and the last address are reserved),
//   instances, ENIs (id, MAC, subnet, attachment + device index, primary IP, secondary IPs, per-ENI
//   secondary-IP limit, sourceDestCheck, security groups), route tables with routes, Elastic IPs and
//   security groups (ingress rules with protocol numbers as strings: "112", "-1", "6", ...).
// - Operations throw Ec2Error(status, code, message) with the §1.4 codes; a multi-address request is
//   all-or-nothing.
// - AllowReassignment moves a SECONDARY address from another ENI in the same subnet, never a primary;
//   without it the error is InvalidParameterValue "[ip] assigned, but move is not allowed."
//   (code configurable: moveNotAllowedCode). An Elastic IP on a moved address follows it.
// - Asynchronous remap: a move is recorded as pending and becomes visible (describe*, imdsView) once
//   now() >= request time + remapDelayMs. Validation uses the control-plane view (pending moves
//   included), reads show the visible view. A fresh (unheld) address is visible at once.
//   now() is injectable (a fake clock); the default, Date.now, is the real-time mode.
// - imdsView(instanceId) is the shape the IMDS emulator reads; keep it stable.
import { Ec2Error } from './ec2-errors.js';
import { cidrContains, intToIp, ipToInt, parseCidr, type Cidr } from '../ipv4.js';
import type { ImdsInstanceView, ImdsInterface } from './imds.js';

export { Ec2Error };
export { cidrContains, intToIp, ipToInt, parseCidr, type Cidr };

// ---------------------------------------------------------------- addresses

/** The five addresses AWS reserves in a subnet: network, +1 router, +2 DNS, +3 future, broadcast. */
export function reservedAddresses(cidr: string): string[] {
  const c = parseCidr(cidr);
  if (!c) return [];
  return [c.base, c.base + 1, c.base + 2, c.base + 3, c.base + c.size - 1].map(intToIp);
}

// ---------------------------------------------------------------- model

export interface IngressRule {
  /** Protocol number as a string ("112" VRRP, "6" tcp, "17" udp, "-1" all); names "tcp"/"udp"/"icmp" accepted. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  sourceGroupIds?: string[];
  cidrs?: string[];
}

export interface Vpc {
  vpcId: string;
  cidrs: string[];
}

export interface Subnet {
  subnetId: string;
  vpcId: string;
  cidr: string;
  availabilityZone: string;
}

export interface SecurityGroup {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: IngressRule[];
}

export interface Instance {
  instanceId: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  instanceType: string;
  imageId: string;
  subnetId: string;
  launchTime: string;
}

export interface NetworkInterface {
  networkInterfaceId: string;
  macAddress: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  description: string;
  instanceId?: string;
  deviceIndex?: number;
  attachmentId?: string;
  primaryIp: string;
  /** Visible secondary addresses, in assignment order. */
  secondaryIps: string[];
  secondaryIpLimit: number;
  sourceDestCheck: boolean;
  securityGroupIds: string[];
}

export interface Route {
  destinationCidrBlock: string;
  gatewayId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
  state: 'active' | 'blackhole';
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTableAssociation {
  routeTableAssociationId: string;
  subnetId?: string;
  main: boolean;
}

export interface RouteTable {
  routeTableId: string;
  vpcId: string;
  routes: Route[];
  associations: RouteTableAssociation[];
}

export interface ElasticIp {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  networkInterfaceId?: string;
  privateIpAddress?: string;
}

export interface PendingMove {
  ip: string;
  subnetId: string;
  from: string;
  to: string;
  /** now() value at which the move becomes visible. */
  at: number;
}

/** What the IMDS emulator (./imds.ts) serves for one instance: imdsView() answers in its shape. */
export type ImdsView = ImdsInstanceView;

export interface Ec2StateOptions {
  region?: string;
  accountId?: string;
  /** Clock in ms (default Date.now: real-time mode). */
  now?: () => number;
  /** Delay before a moved address shows up on its new ENI (default 0: at once). */
  remapDelayMs?: number;
  /** Error code for "assigned, but move is not allowed" (default InvalidParameterValue, spec §0.4). */
  moveNotAllowedCode?: string;
  /** Default per-ENI secondary-address limit (default 9, e.g. a c5.large's 10 addresses per ENI). */
  defaultSecondaryIpLimit?: number;
}

const notFound = (code: string, kind: string, id: string): Ec2Error =>
  new Ec2Error(400, code, `The ${kind} ID '${id}' does not exist`);

export class Ec2State {
  readonly region: string;
  readonly accountId: string;
  now: () => number;
  remapDelayMs: number;
  moveNotAllowedCode: string;
  defaultSecondaryIpLimit: number;

  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  readonly instances = new Map<string, Instance>();
  readonly enis = new Map<string, NetworkInterface>();
  readonly routeTables = new Map<string, RouteTable>();
  readonly addresses = new Map<string, ElasticIp>();
  /** Pending moves, keyed by subnetId + '/' + ip. */
  private readonly pending = new Map<string, PendingMove>();
  private seq = 0;

  constructor(opts: Ec2StateOptions = {}) {
    this.region = opts.region ?? 'us-east-1';
    this.accountId = opts.accountId ?? '123456789012';
    this.now = opts.now ?? Date.now;
    this.remapDelayMs = opts.remapDelayMs ?? 0;
    this.moveNotAllowedCode = opts.moveNotAllowedCode ?? 'InvalidParameterValue';
    this.defaultSecondaryIpLimit = opts.defaultSecondaryIpLimit ?? 9;
  }

  private newId(prefix: string): string {
    this.seq += 1;
    return `${prefix}-${this.seq.toString(16).padStart(17, '0')}`;
  }

  private newMac(): string {
    this.seq += 1;
    const n = this.seq;
    return ['0a', '00', '00', ((n >>> 16) & 255), ((n >>> 8) & 255), n & 255]
      .map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0')))
      .join(':');
  }

  // ------------------------------------------------------------ building

  addVpc(o: { vpcId?: string; cidrs: string[] }): Vpc {
    for (const c of o.cidrs) if (!parseCidr(c)) throw new Error(`bad VPC CIDR ${c}`);
    const vpc: Vpc = { vpcId: o.vpcId ?? this.newId('vpc'), cidrs: [...o.cidrs] };
    this.vpcs.set(vpc.vpcId, vpc);
    return vpc;
  }

  addSubnet(o: { subnetId?: string; vpcId: string; cidr: string; availabilityZone?: string }): Subnet {
    const vpc = this.vpcs.get(o.vpcId);
    if (!vpc) throw new Error(`unknown VPC ${o.vpcId}`);
    const c = parseCidr(o.cidr);
    if (!c) throw new Error(`bad subnet CIDR ${o.cidr}`);
    if (!vpc.cidrs.some((v) => cidrContains(v, intToIp(c.base)) && cidrContains(v, intToIp(c.base + c.size - 1)))) {
      throw new Error(`subnet ${o.cidr} is outside VPC ${vpc.vpcId}`);
    }
    const subnet: Subnet = {
      subnetId: o.subnetId ?? this.newId('subnet'),
      vpcId: o.vpcId,
      cidr: o.cidr,
      availabilityZone: o.availabilityZone ?? `${this.region}a`,
    };
    this.subnets.set(subnet.subnetId, subnet);
    return subnet;
  }

  addSecurityGroup(o: { groupId?: string; groupName: string; vpcId: string; description?: string; ingress?: IngressRule[] }): SecurityGroup {
    const sg: SecurityGroup = {
      groupId: o.groupId ?? this.newId('sg'),
      groupName: o.groupName,
      description: o.description ?? o.groupName,
      vpcId: o.vpcId,
      ingress: (o.ingress ?? []).map((r) => ({ ...r })),
    };
    this.securityGroups.set(sg.groupId, sg);
    return sg;
  }

  /** An ENI, optionally attached to an instance at a device index. */
  addNetworkInterface(o: {
    networkInterfaceId?: string;
    subnetId: string;
    privateIp: string;
    macAddress?: string;
    instanceId?: string;
    deviceIndex?: number;
    secondaryIps?: string[];
    secondaryIpLimit?: number;
    sourceDestCheck?: boolean;
    securityGroupIds?: string[];
    description?: string;
  }): NetworkInterface {
    const subnet = this.subnets.get(o.subnetId);
    if (!subnet) throw new Error(`unknown subnet ${o.subnetId}`);
    for (const ip of [o.privateIp, ...(o.secondaryIps ?? [])]) {
      this.checkAddressInSubnet(subnet, ip);
      if (this.holderOf(subnet.subnetId, ip)) throw new Error(`${ip} is already in use in ${subnet.subnetId}`);
    }
    if (o.instanceId !== undefined && !this.instances.has(o.instanceId)) throw new Error(`unknown instance ${o.instanceId}`);
    const eni: NetworkInterface = {
      networkInterfaceId: o.networkInterfaceId ?? this.newId('eni'),
      macAddress: o.macAddress ?? this.newMac(),
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      description: o.description ?? '',
      primaryIp: o.privateIp,
      secondaryIps: [...(o.secondaryIps ?? [])],
      secondaryIpLimit: o.secondaryIpLimit ?? this.defaultSecondaryIpLimit,
      sourceDestCheck: o.sourceDestCheck ?? true,
      securityGroupIds: [...(o.securityGroupIds ?? [])],
    };
    if (o.instanceId !== undefined) {
      eni.instanceId = o.instanceId;
      eni.deviceIndex = o.deviceIndex ?? this.attachedEnis(o.instanceId).length;
      eni.attachmentId = this.newId('eni-attach');
    }
    this.enis.set(eni.networkInterfaceId, eni);
    return eni;
  }

  /** An instance with its primary ENI (device index 0). */
  addInstance(o: {
    instanceId?: string;
    subnetId: string;
    privateIp: string;
    secondaryIps?: string[];
    secondaryIpLimit?: number;
    networkInterfaceId?: string;
    macAddress?: string;
    securityGroupIds?: string[];
    sourceDestCheck?: boolean;
    state?: Instance['state'];
    instanceType?: string;
  }): { instance: Instance; eni: NetworkInterface } {
    if (!this.subnets.has(o.subnetId)) throw new Error(`unknown subnet ${o.subnetId}`);
    const instance: Instance = {
      instanceId: o.instanceId ?? this.newId('i'),
      state: o.state ?? 'running',
      instanceType: o.instanceType ?? 'c5.large',
      imageId: 'ami-0123456789abcdef0',
      subnetId: o.subnetId,
      launchTime: '2024-01-01T00:00:00.000Z',
    };
    this.instances.set(instance.instanceId, instance);
    const eni = this.addNetworkInterface({ ...o, instanceId: instance.instanceId, deviceIndex: 0 });
    return { instance, eni };
  }

  addRouteTable(o: {
    routeTableId?: string;
    vpcId: string;
    main?: boolean;
    subnetIds?: string[];
    routes?: Array<{ destinationCidrBlock: string; gatewayId?: string; networkInterfaceId?: string; instanceId?: string }>;
  }): RouteTable {
    const vpc = this.vpcs.get(o.vpcId);
    if (!vpc) throw new Error(`unknown VPC ${o.vpcId}`);
    const rtb: RouteTable = { routeTableId: o.routeTableId ?? this.newId('rtb'), vpcId: o.vpcId, routes: [], associations: [] };
    for (const c of vpc.cidrs) rtb.routes.push({ destinationCidrBlock: c, gatewayId: 'local', state: 'active', origin: 'CreateRouteTable' });
    for (const r of o.routes ?? []) {
      const route: Route = { destinationCidrBlock: r.destinationCidrBlock, state: 'active', origin: 'CreateRoute' };
      this.setRouteTarget(rtb, route, r);
      rtb.routes.push(route);
    }
    if (o.main) rtb.associations.push({ routeTableAssociationId: this.newId('rtbassoc'), main: true });
    for (const s of o.subnetIds ?? []) rtb.associations.push({ routeTableAssociationId: this.newId('rtbassoc'), subnetId: s, main: false });
    this.routeTables.set(rtb.routeTableId, rtb);
    return rtb;
  }

  addAddress(o: { allocationId?: string; publicIp: string; networkInterfaceId?: string; privateIpAddress?: string }): ElasticIp {
    const eip: ElasticIp = { allocationId: o.allocationId ?? this.newId('eipalloc'), publicIp: o.publicIp };
    this.addresses.set(eip.allocationId, eip);
    if (o.networkInterfaceId !== undefined) {
      const eni = this.enis.get(o.networkInterfaceId);
      if (!eni) throw new Error(`unknown ENI ${o.networkInterfaceId}`);
      eip.networkInterfaceId = eni.networkInterfaceId;
      eip.privateIpAddress = o.privateIpAddress ?? eni.primaryIp;
      eip.associationId = this.newId('eipassoc');
    }
    return eip;
  }

  // ------------------------------------------------------------ time

  /** Applies every pending move whose time has come (called by every read and operation). */
  settle(): void {
    const t = this.now();
    const due = [...this.pending.values()].filter((p) => p.at <= t).sort((a, b) => a.at - b.at);
    for (const p of due) {
      this.pending.delete(`${p.subnetId}/${p.ip}`);
      this.applyMove(p.subnetId, p.ip, p.to);
    }
  }

  /** Moves not yet visible. */
  pendingMoves(): PendingMove[] {
    this.settle();
    return [...this.pending.values()].map((p) => ({ ...p }));
  }

  private applyMove(subnetId: string, ip: string, to: string): void {
    const from = this.holderOf(subnetId, ip);
    const target = this.enis.get(to);
    if (!target) return;
    if (from && from.networkInterfaceId !== to) {
      from.secondaryIps = from.secondaryIps.filter((a) => a !== ip);
      for (const eip of this.addresses.values()) {
        if (eip.networkInterfaceId === from.networkInterfaceId && eip.privateIpAddress === ip) eip.networkInterfaceId = to;
      }
    }
    if (target.primaryIp !== ip && !target.secondaryIps.includes(ip)) target.secondaryIps.push(ip);
  }

  // ------------------------------------------------------------ lookups

  /** The ENI that visibly holds ip (primary or secondary) in a subnet. */
  private holderOf(subnetId: string, ip: string): NetworkInterface | undefined {
    for (const eni of this.enis.values()) {
      if (eni.subnetId === subnetId && (eni.primaryIp === ip || eni.secondaryIps.includes(ip))) return eni;
    }
    return undefined;
  }

  /** The ENI that holds ip once every pending move has landed (the control-plane view). */
  private ownerOf(subnetId: string, ip: string): NetworkInterface | undefined {
    const p = this.pending.get(`${subnetId}/${ip}`);
    if (p) return this.enis.get(p.to);
    return this.holderOf(subnetId, ip);
  }

  /** Secondary addresses of an ENI in the control-plane view. */
  private ownedSecondaries(eni: NetworkInterface): string[] {
    const out = eni.secondaryIps.filter((ip) => {
      const p = this.pending.get(`${eni.subnetId}/${ip}`);
      return !p || p.to === eni.networkInterfaceId;
    });
    for (const p of this.pending.values()) if (p.to === eni.networkInterfaceId && !out.includes(p.ip)) out.push(p.ip);
    return out;
  }

  attachedEnis(instanceId: string): NetworkInterface[] {
    return [...this.enis.values()]
      .filter((e) => e.instanceId === instanceId)
      .sort((a, b) => (a.deviceIndex ?? 0) - (b.deviceIndex ?? 0));
  }

  private checkAddressInSubnet(subnet: Subnet, ip: string): void {
    if (ipToInt(ip) === undefined) {
      throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${ip}' for privateIpAddress. Invalid IPv4 address format.`);
    }
    if (!cidrContains(subnet.cidr, ip)) {
      throw new Ec2Error(400, 'InvalidParameterValue', "Address does not fall within the subnet's address range");
    }
    if (reservedAddresses(subnet.cidr).includes(ip)) {
      throw new Ec2Error(400, 'InvalidParameterValue', "Address is in subnet's reserved address range");
    }
  }

  getEni(id: string): NetworkInterface {
    this.settle();
    const eni = this.enis.get(id);
    if (!eni) throw new Ec2Error(400, 'InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    return eni;
  }

  getInstance(id: string): Instance {
    const i = this.instances.get(id);
    if (!i) throw notFound('InvalidInstanceID.NotFound', 'instance', id);
    return i;
  }

  /** The instance an ENI is attached to, for ENI-targeted routes and addresses. */
  instanceOfEni(eniId: string): string | undefined {
    return this.enis.get(eniId)?.instanceId;
  }

  // ------------------------------------------------------------ operations

  /**
   * AssignPrivateIpAddresses. Returns the addresses assigned (the given ones, or the ones picked for
   * secondaryCount). All-or-nothing.
   */
  assignPrivateIpAddresses(o: {
    networkInterfaceId: string;
    privateIpAddresses?: string[];
    secondaryCount?: number;
    allowReassignment?: boolean;
  }): string[] {
    const eni = this.getEni(o.networkInterfaceId);
    const subnet = this.subnets.get(eni.subnetId)!;
    const ips = [...new Set(o.privateIpAddresses ?? [])];
    const count = o.secondaryCount ?? 0;
    if (ips.length > 0 && count > 0) {
      throw new Ec2Error(400, 'InvalidParameterCombination', 'Specify either privateIpAddresses or secondaryPrivateIpAddressCount, not both.');
    }
    if (ips.length === 0 && count <= 0) {
      throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter privateIpAddresses or secondaryPrivateIpAddressCount');
    }
    const owned = this.ownedSecondaries(eni);
    const fresh: string[] = [];
    const moves: Array<{ ip: string; from: NetworkInterface }> = [];
    const reclaims: string[] = []; // visibly here, pending away: cancel the pending move
    if (count > 0) {
      const c = parseCidr(subnet.cidr)!;
      const reserved = new Set(reservedAddresses(subnet.cidr));
      for (let n = c.base; n < c.base + c.size && fresh.length < count; n++) {
        const ip = intToIp(n);
        if (!reserved.has(ip) && !this.ownerOf(subnet.subnetId, ip) && !this.holderOf(subnet.subnetId, ip)) fresh.push(ip);
      }
      if (fresh.length < count) {
        throw new Ec2Error(400, 'InsufficientFreeAddressesInSubnet', `The specified subnet ${subnet.subnetId} has insufficient free addresses to satisfy the request.`);
      }
    }
    for (const ip of ips) {
      this.checkAddressInSubnet(subnet, ip);
      const owner = this.ownerOf(subnet.subnetId, ip);
      const holder = this.holderOf(subnet.subnetId, ip);
      if (owner?.networkInterfaceId === eni.networkInterfaceId) {
        if (owner.primaryIp === ip) {
          throw new Ec2Error(400, 'InvalidParameterValue', `Address ${ip} is the primary private IP address of ${eni.networkInterfaceId}.`);
        }
        continue; // already assigned here: nothing to do
      }
      if (owner) {
        if (!o.allowReassignment) throw new Ec2Error(400, this.moveNotAllowedCode, `[${ip}] assigned, but move is not allowed.`);
        if (owner.primaryIp === ip) {
          throw new Ec2Error(400, 'InvalidParameterValue', `[${ip}] is the primary private IP address of ${owner.networkInterfaceId} and cannot be moved.`);
        }
        if (holder?.networkInterfaceId === eni.networkInterfaceId) reclaims.push(ip);
        else moves.push({ ip, from: owner });
        continue;
      }
      fresh.push(ip);
    }
    const added = fresh.length + moves.length + reclaims.length;
    if (owned.length + added > eni.secondaryIpLimit) {
      throw new Ec2Error(400, 'PrivateIpAddressLimitExceeded', 'Number of private addresses will exceed limit.');
    }
    // Validated: commit.
    for (const ip of fresh) eni.secondaryIps.push(ip);
    for (const ip of reclaims) this.pending.delete(`${subnet.subnetId}/${ip}`);
    const at = this.now() + this.remapDelayMs;
    for (const { ip } of moves) {
      const key = `${subnet.subnetId}/${ip}`;
      if (this.remapDelayMs <= 0) {
        this.pending.delete(key);
        this.applyMove(subnet.subnetId, ip, eni.networkInterfaceId);
      } else {
        this.pending.set(key, { ip, subnetId: subnet.subnetId, from: this.holderOf(subnet.subnetId, ip)!.networkInterfaceId, to: eni.networkInterfaceId, at });
      }
    }
    return count > 0 ? fresh : ips;
  }

  /** UnassignPrivateIpAddresses: every address must be a secondary of this ENI (control-plane view). */
  unassignPrivateIpAddresses(o: { networkInterfaceId: string; privateIpAddresses: string[] }): void {
    const eni = this.getEni(o.networkInterfaceId);
    if (o.privateIpAddresses.length === 0) {
      throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter privateIpAddress');
    }
    const owned = new Set(this.ownedSecondaries(eni));
    for (const ip of o.privateIpAddresses) {
      if (!owned.has(ip)) {
        throw new Ec2Error(400, 'InvalidParameterValue', `Some of the specified addresses are not assigned to interface ${eni.networkInterfaceId}`);
      }
    }
    for (const ip of o.privateIpAddresses) {
      this.pending.delete(`${eni.subnetId}/${ip}`);
      const holder = this.holderOf(eni.subnetId, ip);
      if (holder) holder.secondaryIps = holder.secondaryIps.filter((a) => a !== ip);
      for (const eip of this.addresses.values()) {
        if (eip.privateIpAddress === ip && eip.networkInterfaceId !== undefined && this.enis.get(eip.networkInterfaceId)?.subnetId === eni.subnetId) {
          delete eip.networkInterfaceId;
          delete eip.privateIpAddress;
          delete eip.associationId;
        }
      }
    }
  }

  /** ModifyNetworkInterfaceAttribute, the parts the agent needs: sourceDestCheck, security groups. */
  modifyNetworkInterfaceAttribute(o: { networkInterfaceId: string; sourceDestCheck?: boolean; groupIds?: string[]; description?: string }): void {
    const eni = this.getEni(o.networkInterfaceId);
    const given = [o.sourceDestCheck, o.groupIds, o.description].filter((x) => x !== undefined).length;
    if (given !== 1) {
      throw new Ec2Error(400, given === 0 ? 'MissingParameter' : 'InvalidParameterCombination', 'Exactly one attribute must be specified.');
    }
    for (const g of o.groupIds ?? []) {
      const sg = this.securityGroups.get(g);
      if (!sg) throw new Ec2Error(400, 'InvalidGroup.NotFound', `The security group '${g}' does not exist`);
      if (sg.vpcId !== eni.vpcId) throw new Ec2Error(400, 'InvalidParameterValue', `Security group ${g} and network interface ${eni.networkInterfaceId} belong to different networks.`);
    }
    if (o.sourceDestCheck !== undefined) eni.sourceDestCheck = o.sourceDestCheck;
    if (o.groupIds !== undefined) eni.securityGroupIds = [...o.groupIds];
    if (o.description !== undefined) eni.description = o.description;
  }

  private setRouteTarget(
    rtb: RouteTable,
    route: Route,
    t: { gatewayId?: string; networkInterfaceId?: string; instanceId?: string },
  ): void {
    delete route.gatewayId;
    delete route.instanceId;
    delete route.networkInterfaceId;
    route.state = 'active';
    if (t.networkInterfaceId !== undefined) {
      const eni = this.getEni(t.networkInterfaceId);
      if (eni.vpcId !== rtb.vpcId) {
        throw new Ec2Error(400, 'InvalidParameterValue', `Route table ${rtb.routeTableId} and network interface ${eni.networkInterfaceId} belong to different networks`);
      }
      route.networkInterfaceId = eni.networkInterfaceId;
      if (eni.instanceId !== undefined) route.instanceId = eni.instanceId;
      else route.state = 'blackhole';
    } else if (t.instanceId !== undefined) {
      this.getInstance(t.instanceId);
      const eni = this.attachedEnis(t.instanceId)[0];
      if (!eni) throw new Ec2Error(400, 'InvalidInstanceID', `There are no network interfaces on instance ${t.instanceId}`);
      if (eni.vpcId !== rtb.vpcId) {
        throw new Ec2Error(400, 'InvalidParameterValue', `Route table ${rtb.routeTableId} and instance ${t.instanceId} belong to different networks`);
      }
      route.instanceId = t.instanceId;
      route.networkInterfaceId = eni.networkInterfaceId;
    } else if (t.gatewayId !== undefined) {
      route.gatewayId = t.gatewayId;
    }
  }

  replaceRoute(o: { routeTableId: string; destinationCidrBlock: string; networkInterfaceId?: string; instanceId?: string; gatewayId?: string }): void {
    this.settle();
    const rtb = this.routeTables.get(o.routeTableId);
    if (!rtb) throw notFound('InvalidRouteTableID.NotFound', 'routeTable', o.routeTableId);
    const targets = [o.networkInterfaceId, o.instanceId, o.gatewayId].filter((x) => x !== undefined).length;
    if (targets !== 1) {
      throw new Ec2Error(400, targets === 0 ? 'MissingParameter' : 'InvalidParameterCombination', 'The request must contain exactly one of gatewayId, instanceId or networkInterfaceId');
    }
    const dest = parseCidr(o.destinationCidrBlock);
    if (!dest) throw new Ec2Error(400, 'InvalidParameterValue', `Value (${o.destinationCidrBlock}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`);
    const norm = (s: string): string => {
      const c = parseCidr(s);
      return c ? `${intToIp(c.base)}/${c.prefix}` : s;
    };
    const route = rtb.routes.find((r) => norm(r.destinationCidrBlock) === norm(o.destinationCidrBlock));
    if (!route) {
      throw new Ec2Error(400, 'InvalidParameterValue', `There is no route defined for '${o.destinationCidrBlock}' in the route table. Use CreateRoute instead.`);
    }
    if (route.gatewayId === 'local') {
      throw new Ec2Error(400, 'InvalidParameterValue', `Cannot replace the local route for '${o.destinationCidrBlock}'.`);
    }
    const copy = { ...route };
    this.setRouteTarget(rtb, copy, o);
    Object.assign(route, copy);
    for (const k of ['gatewayId', 'instanceId', 'networkInterfaceId'] as const) if (copy[k] === undefined) delete route[k];
  }

  /** AssociateAddress. Returns the association id. */
  associateAddress(o: {
    allocationId?: string;
    publicIp?: string;
    networkInterfaceId?: string;
    instanceId?: string;
    privateIpAddress?: string;
    allowReassociation?: boolean;
  }): string {
    this.settle();
    let eip: ElasticIp | undefined;
    if (o.allocationId !== undefined) {
      eip = this.addresses.get(o.allocationId);
      if (!eip) throw new Ec2Error(400, 'InvalidAllocationID.NotFound', `The allocation ID '${o.allocationId}' does not exist`);
    } else if (o.publicIp !== undefined) {
      eip = [...this.addresses.values()].find((a) => a.publicIp === o.publicIp);
      if (!eip) throw new Ec2Error(400, 'InvalidAddress.NotFound', `Address '${o.publicIp}' not found.`);
    } else {
      throw new Ec2Error(400, 'MissingParameter', 'Either public IP or allocation id must be specified');
    }
    let eni: NetworkInterface;
    if (o.networkInterfaceId !== undefined) eni = this.getEni(o.networkInterfaceId);
    else if (o.instanceId !== undefined) {
      this.getInstance(o.instanceId);
      const first = this.attachedEnis(o.instanceId)[0];
      if (!first) throw new Ec2Error(400, 'InvalidInstanceID', `There are no network interfaces on instance ${o.instanceId}`);
      eni = first;
    } else {
      throw new Ec2Error(400, 'MissingParameter', 'Either instance ID or network interface ID must be specified');
    }
    const privateIp = o.privateIpAddress ?? eni.primaryIp;
    if (privateIp !== eni.primaryIp && !this.ownedSecondaries(eni).includes(privateIp)) {
      throw new Ec2Error(400, 'InvalidParameterValue', `The specified private IP address ${privateIp} is not assigned to network interface ${eni.networkInterfaceId}`);
    }
    if (eip.networkInterfaceId === eni.networkInterfaceId && eip.privateIpAddress === privateIp) return eip.associationId!;
    if (eip.associationId !== undefined && !o.allowReassociation) {
      throw new Ec2Error(400, 'Resource.AlreadyAssociated', `resource ${eip.allocationId} is already associated with associate-id ${eip.associationId}`);
    }
    const other = [...this.addresses.values()].find((a) => a !== eip && a.networkInterfaceId === eni.networkInterfaceId && a.privateIpAddress === privateIp);
    if (other) {
      if (!o.allowReassociation) {
        throw new Ec2Error(400, 'Resource.AlreadyAssociated', `The private IP address ${privateIp} is already associated with the Elastic IP ${other.publicIp}`);
      }
      delete other.networkInterfaceId;
      delete other.privateIpAddress;
      delete other.associationId;
    }
    eip.networkInterfaceId = eni.networkInterfaceId;
    eip.privateIpAddress = privateIp;
    eip.associationId = this.newId('eipassoc');
    return eip.associationId;
  }

  // ------------------------------------------------------------ views

  /** IMDS view of one instance; interfaces() is computed at each call (pending moves settled). */
  imdsView(instanceId: string): ImdsView {
    const instance = this.getInstance(instanceId);
    const subnet = this.subnets.get(instance.subnetId)!;
    return {
      instanceId,
      region: this.region,
      availabilityZone: subnet.availabilityZone,
      interfaces: (): ImdsInterface[] => {
        this.settle();
        return this.attachedEnis(instanceId).map((eni) => {
          const s = this.subnets.get(eni.subnetId)!;
          return {
            mac: eni.macAddress,
            interfaceId: eni.networkInterfaceId,
            subnetId: s.subnetId,
            subnetCidr: s.cidr,
            vpcId: s.vpcId,
            vpcCidrs: [...(this.vpcs.get(s.vpcId)?.cidrs ?? [])],
            deviceNumber: eni.deviceIndex ?? 0,
            localIpv4s: [eni.primaryIp, ...eni.secondaryIps],
          };
        });
      },
    };
  }

  /** Protocol-level check for security-group rules: does any of groupIds admit `protocol` from a peer
   *  in sourceGroupIds (or at sourceIp)? protocol is an IP protocol number (112 for VRRP). */
  ingressAllows(groupIds: string[], protocol: number, source: { groupIds?: string[]; ip?: string }): boolean {
    const names: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };
    for (const gid of groupIds) {
      const sg = this.securityGroups.get(gid);
      for (const r of sg?.ingress ?? []) {
        const p = r.ipProtocol in names ? names[r.ipProtocol]! : Number(r.ipProtocol);
        if (p !== -1 && p !== protocol) continue;
        if (r.sourceGroupIds?.some((g) => source.groupIds?.includes(g))) return true;
        if (source.ip !== undefined && r.cidrs?.some((c) => cidrContains(c, source.ip!))) return true;
      }
    }
    return false;
  }
}

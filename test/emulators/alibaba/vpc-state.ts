// In-memory Alibaba Cloud VPC model behind the VPC emulator: HaVips and the ECS instances they float
// between (spec wire-and-cloud-apis.md §3.1, §3.4–3.7).
//
// Contract:
// - Resources: one region; VPCs (CIDR); vSwitches (CIDR, zone, VPC); ECS instances (MAC, primary IP,
//   vSwitch, status); HaVips (id `havip-…`, IpAddress, VSwitchId, VpcId, Status, AssociatedInstances,
//   MasterInstanceId, Name, Description, CreateTime). Ids are generated in the Alibaba shapes unless given.
// - Operations throw VpcError(status, code, message) with the §3.5 codes:
//   associateHaVip: HaVip unknown → 404 InvalidHaVipId.NotFound; instance unknown → 404
//   InvalidInstanceId.NotFound; HaVip not Available/InUse (e.g. an association or unassociation in
//   flight: concurrent tasks are refused) → 400 `busyCode` (default IncorrectHaVipStatus; TaskConflict
//   also real); instance not Running/Stopped → 400 IncorrectInstanceStatus; another vSwitch → 400
//   InvalidVSwitchId.NotSame [emulator choice]; already associated → 400 InvalidInstanceId.AlreadyAssociated
//   [emulator choice]; more than maxInstancesPerHaVip (default 10) → 400 CountLimitExceeded.HaVipOnECSInstance;
//   more than maxHaVipsPerInstance (default 5) → 400 CountLimitExceed.HaVipOnInstance.
//   unassociateHaVip: HaVip not InUse → 400 IncorrectHaVipStatus; instance not associated → 400
//   ResourceNotAssociated; instance is the master and force is false → 400 Forbidden.UnassociateMaster.
//   createHaVip: vSwitch unknown → 404 InvalidVSwitch.NotFound; address outside the vSwitch CIDR → 400
//   InvalidIPAddress.OutOfRange; one of the vSwitch's reserved addresses (the first and last three) →
//   400 InvalidIPAddress.NotAvailable; held by an instance or another HaVip → 400
//   InvalidIPAddress.AlreadyUsed; more than maxHaVips (default 50) → 400 QuotaExceeded.HaVip.
// - Asynchrony on the injectable clock now() (default Date.now): associate → Status Associating, then
//   after associateDelayMs the instance joins AssociatedInstances and Status is InUse; unassociate →
//   Unassociating, then after unassociateDelayMs the instance leaves (the master too, when forced:
//   MasterInstanceId becomes "") and Status is InUse, or Available when none is left; create →
//   Creating, then Available after createDelayMs. A delay of 0 applies at once. settle() applies every
//   task that is due; every read (haVip(), list(), the server's Describe) settles first.
// - announce(mac, ip?) is one gratuitous ARP seen in the vSwitch from that MAC, claiming `ip` (when
//   given, only the HaVip with that address is concerned; else every HaVip the instance is associated
//   with). If the MAC belongs to an instance in a concerned HaVip's AssociatedInstances, that instance
//   becomes MasterInstanceId after masterDelayMs (0: at once; a later announce replaces a pending one).
//   An unknown MAC or an unassociated instance is ignored, unless unassociatedArpTakesMaster is set
//   (the HaVip FAQ says such an instance may still take the address). Returns the HaVip ids concerned.
// - metadataView(instanceId) is the shape the ECS metadata emulator (metadata.ts) reads; keep it stable.
import type { MetadataInstanceView } from './metadata.js';
import { cidrContains, intToIp, ipToInt, parseCidr } from '../ipv4.js';

export class VpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- addresses

/** The addresses Alibaba reserves in a vSwitch: the first and the last three. */
export function reservedAddresses(cidr: string): string[] {
  const c = parseCidr(cidr);
  if (!c) return [];
  return [c.base, c.base + c.size - 3, c.base + c.size - 2, c.base + c.size - 1].map(intToIp);
}

// ---------------------------------------------------------------- model

export type InstanceStatus = 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped';
export type HaVipStatus = 'Creating' | 'Available' | 'InUse' | 'Associating' | 'Unassociating' | 'Deleting';

export interface Vpc {
  vpcId: string;
  cidr: string;
}

export interface VSwitch {
  vSwitchId: string;
  vpcId: string;
  cidr: string;
  zoneId: string;
}

export interface EcsInstance {
  instanceId: string;
  /** Lower-case, colon-separated. */
  mac: string;
  privateIp: string;
  vSwitchId: string;
  networkInterfaceId: string;
  status: InstanceStatus;
}

export interface HaVip {
  haVipId: string;
  ipAddress: string;
  vSwitchId: string;
  vpcId: string;
  regionId: string;
  status: HaVipStatus;
  /** Visible associations, in association order. */
  associatedInstances: string[];
  associatedInstanceType: 'EcsInstance';
  /** "" while no instance has claimed the address. */
  masterInstanceId: string;
  name: string;
  description: string;
  createTime: string;
  chargeType: string;
  resourceGroupId: string;
}

interface Task {
  kind: 'associate' | 'unassociate' | 'create';
  instanceId?: string;
  at: number;
}

export interface VpcStateOptions {
  regionId?: string;
  now?: () => number;
  associateDelayMs?: number;
  unassociateDelayMs?: number;
  createDelayMs?: number;
  /** Delay between a gratuitous ARP and MasterInstanceId following it. */
  masterDelayMs?: number;
  maxInstancesPerHaVip?: number;
  maxHaVipsPerInstance?: number;
  maxHaVips?: number;
  /** Code for an operation on a HaVip whose task is in flight (default IncorrectHaVipStatus). */
  busyCode?: 'IncorrectHaVipStatus' | 'TaskConflict' | 'OperationConflict';
  unassociatedArpTakesMaster?: boolean;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

export class VpcState {
  readonly regionId: string;
  now: () => number;
  associateDelayMs: number;
  unassociateDelayMs: number;
  createDelayMs: number;
  masterDelayMs: number;
  maxInstancesPerHaVip: number;
  maxHaVipsPerInstance: number;
  maxHaVips: number;
  busyCode: NonNullable<VpcStateOptions['busyCode']>;
  unassociatedArpTakesMaster: boolean;
  readonly vpcs = new Map<string, Vpc>();
  readonly vSwitches = new Map<string, VSwitch>();
  readonly instances = new Map<string, EcsInstance>();
  readonly haVips = new Map<string, HaVip>();
  private readonly tasks = new Map<string, Task>();
  private readonly pendingMaster = new Map<string, { instanceId: string; at: number }>();
  private seq = 0;

  constructor(opts: VpcStateOptions = {}) {
    this.regionId = opts.regionId ?? 'cn-hangzhou';
    this.now = opts.now ?? Date.now;
    this.associateDelayMs = opts.associateDelayMs ?? 0;
    this.unassociateDelayMs = opts.unassociateDelayMs ?? 0;
    this.createDelayMs = opts.createDelayMs ?? 0;
    this.masterDelayMs = opts.masterDelayMs ?? 0;
    this.maxInstancesPerHaVip = opts.maxInstancesPerHaVip ?? 10;
    this.maxHaVipsPerInstance = opts.maxHaVipsPerInstance ?? 5;
    this.maxHaVips = opts.maxHaVips ?? 50;
    this.busyCode = opts.busyCode ?? 'IncorrectHaVipStatus';
    this.unassociatedArpTakesMaster = opts.unassociatedArpTakesMaster ?? false;
  }

  /** An id in the Alibaba shape: prefix + "bp1" + 21 lower-case alphanumerics, unique in this state. */
  newId(prefix: string): string {
    const n = (++this.seq).toString(36).padStart(6, '0');
    let fill = '';
    for (let i = 0; fill.length < 15; i++) fill += ALNUM[(this.seq * 7 + i * 13) % ALNUM.length];
    return `${prefix}-bp1${fill}${n}`;
  }

  private time(): string {
    return new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  // ------------------------------------------------------------ setup (test side, no API errors)

  addVpc(o: { cidr: string; vpcId?: string }): Vpc {
    const v: Vpc = { vpcId: o.vpcId ?? this.newId('vpc'), cidr: o.cidr };
    this.vpcs.set(v.vpcId, v);
    return v;
  }

  addVSwitch(o: { vpcId: string; cidr: string; zoneId?: string; vSwitchId?: string }): VSwitch {
    const vpc = this.vpcs.get(o.vpcId);
    if (!vpc) throw new Error(`unknown VPC ${o.vpcId}`);
    const s: VSwitch = { vSwitchId: o.vSwitchId ?? this.newId('vsw'), vpcId: o.vpcId, cidr: o.cidr, zoneId: o.zoneId ?? `${this.regionId}-i` };
    this.vSwitches.set(s.vSwitchId, s);
    return s;
  }

  addInstance(o: { vSwitchId: string; mac: string; privateIp: string; instanceId?: string; status?: InstanceStatus }): EcsInstance {
    const sw = this.vSwitches.get(o.vSwitchId);
    if (!sw) throw new Error(`unknown vSwitch ${o.vSwitchId}`);
    if (!cidrContains(sw.cidr, o.privateIp)) throw new Error(`${o.privateIp} is outside ${sw.cidr}`);
    const i: EcsInstance = {
      instanceId: o.instanceId ?? this.newId('i'),
      mac: o.mac.toLowerCase(),
      privateIp: o.privateIp,
      vSwitchId: o.vSwitchId,
      networkInterfaceId: this.newId('eni'),
      status: o.status ?? 'Running',
    };
    this.instances.set(i.instanceId, i);
    return i;
  }

  /** A HaVip that already exists (Available, or InUse when `associated` is given). */
  addHaVip(o: { vSwitchId: string; ipAddress: string; haVipId?: string; name?: string; description?: string; associated?: string[]; masterInstanceId?: string }): HaVip {
    const sw = this.vSwitches.get(o.vSwitchId);
    if (!sw) throw new Error(`unknown vSwitch ${o.vSwitchId}`);
    for (const id of o.associated ?? []) if (!this.instances.has(id)) throw new Error(`unknown instance ${id}`);
    const associated = [...(o.associated ?? [])];
    const h: HaVip = {
      haVipId: o.haVipId ?? this.newId('havip'),
      ipAddress: o.ipAddress,
      vSwitchId: sw.vSwitchId,
      vpcId: sw.vpcId,
      regionId: this.regionId,
      status: associated.length > 0 ? 'InUse' : 'Available',
      associatedInstances: associated,
      associatedInstanceType: 'EcsInstance',
      masterInstanceId: o.masterInstanceId ?? '',
      name: o.name ?? '',
      description: o.description ?? '',
      createTime: this.time(),
      chargeType: 'PostPaid',
      resourceGroupId: 'rg-acfmexample00000',
    };
    this.haVips.set(h.haVipId, h);
    return h;
  }

  setInstanceStatus(instanceId: string, status: InstanceStatus): void {
    const i = this.instances.get(instanceId);
    if (!i) throw new Error(`unknown instance ${instanceId}`);
    i.status = status;
  }

  instanceByMac(mac: string): EcsInstance | undefined {
    const m = mac.toLowerCase();
    return [...this.instances.values()].find((i) => i.mac === m);
  }

  // ------------------------------------------------------------ time

  /** Applies every task and pending master change that is due. */
  settle(): void {
    const t = this.now();
    for (const [id, task] of [...this.tasks]) {
      if (task.at > t) continue;
      this.tasks.delete(id);
      this.finish(this.haVips.get(id)!, task);
    }
    for (const [id, p] of [...this.pendingMaster]) {
      if (p.at > t) continue;
      this.pendingMaster.delete(id);
      const h = this.haVips.get(id);
      if (h && (h.associatedInstances.includes(p.instanceId) || this.unassociatedArpTakesMaster)) h.masterInstanceId = p.instanceId;
    }
  }

  private finish(h: HaVip, task: Task): void {
    if (task.kind === 'create') h.status = 'Available';
    else if (task.kind === 'associate') {
      h.associatedInstances.push(task.instanceId!);
      h.status = 'InUse';
    } else {
      h.associatedInstances = h.associatedInstances.filter((i) => i !== task.instanceId);
      if (h.masterInstanceId === task.instanceId) h.masterInstanceId = '';
      h.status = h.associatedInstances.length > 0 ? 'InUse' : 'Available';
    }
  }

  private schedule(h: HaVip, task: Task): void {
    if (task.at <= this.now()) this.finish(h, task);
    else this.tasks.set(h.haVipId, task);
  }

  // ------------------------------------------------------------ reads

  haVip(haVipId: string): HaVip | undefined {
    this.settle();
    return this.haVips.get(haVipId);
  }

  list(): HaVip[] {
    this.settle();
    return [...this.haVips.values()];
  }

  private mustHaVip(haVipId: string): HaVip {
    const h = this.haVips.get(haVipId);
    if (!h) throw new VpcError(404, 'InvalidHaVipId.NotFound', 'The specified HaVip does not exist in the specified VPC.');
    return h;
  }

  // ------------------------------------------------------------ operations

  associateHaVip(o: { haVipId: string; instanceId: string; instanceType?: string }): void {
    this.settle();
    const h = this.mustHaVip(o.haVipId);
    if (o.instanceType !== undefined && o.instanceType !== 'EcsInstance') {
      throw new VpcError(400, 'InvalidParameter.InstanceType', `The emulator models EcsInstance associations only, not ${o.instanceType}.`);
    }
    const inst = this.instances.get(o.instanceId);
    if (!inst) throw new VpcError(404, 'InvalidInstanceId.NotFound', 'The specified instance does not exist.');
    if (this.tasks.has(h.haVipId) && this.busyCode !== 'IncorrectHaVipStatus') {
      throw new VpcError(400, this.busyCode, 'The HaVip has an operation in progress; concurrent operations are not supported.');
    }
    if (h.status !== 'Available' && h.status !== 'InUse') {
      throw new VpcError(400, 'IncorrectHaVipStatus', "HaVip can be operated by this action only when it's status is Available or InUse.");
    }
    if (inst.status !== 'Running' && inst.status !== 'Stopped') {
      throw new VpcError(400, 'IncorrectInstanceStatus', "ECS instance can be operated by this action only when it's status is Running or Stopped.");
    }
    if (inst.vSwitchId !== h.vSwitchId) {
      throw new VpcError(400, 'InvalidVSwitchId.NotSame', 'The HaVip and the ECS instance must be in the same vSwitch.');
    }
    if (h.associatedInstances.includes(inst.instanceId)) {
      throw new VpcError(400, 'InvalidInstanceId.AlreadyAssociated', 'The HaVip is already associated with the specified instance.');
    }
    if (h.associatedInstances.length >= this.maxInstancesPerHaVip) {
      throw new VpcError(400, 'CountLimitExceeded.HaVipOnECSInstance', `A HaVip can be associated with at most ${this.maxInstancesPerHaVip} ECS instances.`);
    }
    const onInstance = [...this.haVips.values()].filter((x) => x.associatedInstances.includes(inst.instanceId) || this.tasks.get(x.haVipId)?.instanceId === inst.instanceId).length;
    if (onInstance >= this.maxHaVipsPerInstance) {
      throw new VpcError(400, 'CountLimitExceed.HaVipOnInstance', `An ECS instance can be associated with at most ${this.maxHaVipsPerInstance} HaVips.`);
    }
    h.status = 'Associating';
    this.schedule(h, { kind: 'associate', instanceId: inst.instanceId, at: this.now() + this.associateDelayMs });
  }

  unassociateHaVip(o: { haVipId: string; instanceId: string; force?: boolean }): void {
    this.settle();
    const h = this.mustHaVip(o.haVipId);
    if (this.tasks.has(h.haVipId) && this.busyCode !== 'IncorrectHaVipStatus') {
      throw new VpcError(400, this.busyCode, 'The HaVip has an operation in progress; concurrent operations are not supported.');
    }
    if (h.status !== 'InUse') {
      throw new VpcError(400, 'IncorrectHaVipStatus', "HaVip can be operated by this action only when it's status is InUse.");
    }
    if (!h.associatedInstances.includes(o.instanceId)) {
      throw new VpcError(400, 'ResourceNotAssociated', 'The HaVip and ECS instance are not associated.');
    }
    if (h.masterInstanceId === o.instanceId && !o.force) {
      throw new VpcError(400, 'Forbidden.UnassociateMaster', 'Unassociating a master instance is not allowed unless the parameter Force is True.');
    }
    h.status = 'Unassociating';
    this.schedule(h, { kind: 'unassociate', instanceId: o.instanceId, at: this.now() + this.unassociateDelayMs });
  }

  createHaVip(o: { vSwitchId: string; ipAddress?: string; name?: string; description?: string }): HaVip {
    this.settle();
    const sw = this.vSwitches.get(o.vSwitchId);
    if (!sw) throw new VpcError(404, 'InvalidVSwitch.NotFound', 'The specified vSwitch does not exist.');
    if (this.haVips.size >= this.maxHaVips) throw new VpcError(400, 'QuotaExceeded.HaVip', `The number of HaVips exceeds the quota (${this.maxHaVips}).`);
    const used = new Set<string>([...[...this.instances.values()].map((i) => i.privateIp), ...[...this.haVips.values()].map((h) => h.ipAddress)]);
    const reserved = new Set(reservedAddresses(sw.cidr));
    let ip = o.ipAddress;
    if (ip !== undefined) {
      if (!cidrContains(sw.cidr, ip)) throw new VpcError(400, 'InvalidIPAddress.OutOfRange', 'The specified IP address is not in the CIDR block of the vSwitch.');
      if (reserved.has(ip)) throw new VpcError(400, 'InvalidIPAddress.NotAvailable', 'The specified IP address is reserved by the system.');
      if (used.has(ip)) throw new VpcError(400, 'InvalidIPAddress.AlreadyUsed', 'The specified IP address is already in use.');
    } else {
      const c = parseCidr(sw.cidr)!;
      for (let n = c.base; n < c.base + c.size && ip === undefined; n++) {
        const cand = intToIp(n);
        if (!reserved.has(cand) && !used.has(cand)) ip = cand;
      }
      if (ip === undefined) throw new VpcError(400, 'InvalidIPAddress.NotAvailable', 'No free address is left in the vSwitch.');
    }
    const h = this.addHaVip({ vSwitchId: sw.vSwitchId, ipAddress: ip, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.description !== undefined ? { description: o.description } : {}) });
    h.status = 'Creating';
    this.schedule(h, { kind: 'create', at: this.now() + this.createDelayMs });
    return h;
  }

  // ------------------------------------------------------------ ARP

  announce(mac: string, ip?: string): string[] {
    this.settle();
    const inst = this.instanceByMac(mac);
    if (!inst) return [];
    const concerned = [...this.haVips.values()].filter(
      (h) => (ip === undefined || h.ipAddress === ip) && (h.associatedInstances.includes(inst.instanceId) || (this.unassociatedArpTakesMaster && ip !== undefined && h.vSwitchId === inst.vSwitchId)),
    );
    for (const h of concerned) {
      if (this.masterDelayMs <= 0) {
        this.pendingMaster.delete(h.haVipId);
        h.masterInstanceId = inst.instanceId;
      } else {
        this.pendingMaster.set(h.haVipId, { instanceId: inst.instanceId, at: this.now() + this.masterDelayMs });
      }
    }
    return concerned.map((h) => h.haVipId);
  }

  // ------------------------------------------------------------ metadata

  metadataView(instanceId: string): MetadataInstanceView {
    const inst = this.instances.get(instanceId);
    if (!inst) throw new Error(`unknown instance ${instanceId}`);
    const sw = this.vSwitches.get(inst.vSwitchId)!;
    const vpc = this.vpcs.get(sw.vpcId)!;
    const c = parseCidr(sw.cidr)!;
    const netmask = intToIp(c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0);
    return {
      instanceId,
      regionId: this.regionId,
      zoneId: sw.zoneId,
      interfaces: () => [
        {
          mac: inst.mac,
          networkInterfaceId: inst.networkInterfaceId,
          primaryIpAddress: inst.privateIp,
          privateIpv4s: [inst.privateIp],
          vpcId: vpc.vpcId,
          vpcCidrBlock: vpc.cidr,
          vSwitchId: sw.vSwitchId,
          vSwitchCidrBlock: sw.cidr,
          netmask,
          gateway: intToIp(c.base + c.size - 3),
        },
      ],
    };
  }
}

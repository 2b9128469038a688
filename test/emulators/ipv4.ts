// The emulators' IPv4 arithmetic, on the agent's own helpers (src/net/ip.ts), in the emulators'
// convention: undefined (not null) when the text does not parse.
import { ipv4InRange, ipv4Range, parseIpv4Address, uint32ToIp, type Ipv4Range } from '../../src/net/ip.js';

export type Cidr = Ipv4Range;

export const ipToInt = (ip: string): number | undefined => parseIpv4Address(ip) ?? undefined;
export const intToIp = uint32ToIp;
export const parseCidr = (cidr: string): Cidr | undefined => ipv4Range(cidr) ?? undefined;
export const cidrContains = ipv4InRange;

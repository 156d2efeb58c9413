/**
 * IPv4 address management as Docker's default IPAM does it: networks get the first default pool that overlaps
 * nothing on the host or of another network; containers get the lowest free address (or the one they ask for).
 */
import { invalidArgument } from '../../errors.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4_RE.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

export function ipToInt(ip: string): number {
  if (!isIpv4(ip)) throw invalidArgument(`invalid IPv4 address: ${ip}`);
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses 'a.b.c.d/n'; `strict` refuses host bits (Docker: "invalid subnet" for 172.20.0.5/16 is accepted and masked). */
export function parseCidr(cidr: string): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) throw invalidArgument(`invalid CIDR address: ${cidr}`);
  const prefix = Number(m[2]);
  return { base: (ipToInt(m[1]!) & maskOf(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + cidrSize(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}

/** Docker's default local pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s. */
export function defaultPools(): string[] {
  const pools: string[] = [];
  for (let i = 17; i <= 31; i++) pools.push(`172.${i}.0.0/16`);
  for (let i = 0; i < 256; i += 16) pools.push(`192.168.${i}.0/20`);
  return pools;
}

/**
 * The first default pool that overlaps none of `taken` (host routes and existing networks). The default route
 * (a /0) is not counted: everything overlaps it.
 */
export function choosePool(taken: readonly string[], pools: readonly string[] = defaultPools()): string | undefined {
  const used = taken.map((t) => (t.includes('/') ? t : `${t}/32`)).filter((t) => !t.endsWith('/0')).map(parseCidr);
  return pools.find((p) => {
    const c = parseCidr(p);
    return !used.some((u) => cidrsOverlap(u, c));
  });
}

export interface SubnetConfig {
  subnet: string;
  gateway: string;
  /** Addresses for containers come from here when set (a CIDR inside the subnet). */
  ipRange?: string;
}

/** Checks a user's IPAM config the way Docker does and fills the gateway (first address) when absent. */
export function subnetConfig(input: { Subnet?: string; Gateway?: string; IPRange?: string }): SubnetConfig {
  if (!input.Subnet) throw invalidArgument('ipam config requires a Subnet when a Gateway or IPRange is given');
  if (input.Subnet.includes(':')) throw invalidArgument('IPv6 networks are not supported');
  const subnet = parseCidr(input.Subnet);
  if (subnet.prefix > 30) throw invalidArgument(`invalid subnet ${input.Subnet}: too small for a network`);
  let gateway: string;
  if (input.Gateway) {
    if (!isIpv4(input.Gateway)) throw invalidArgument(`invalid gateway address ${input.Gateway}`);
    if (!cidrContains(subnet, ipToInt(input.Gateway))) throw invalidArgument(`no matching subnet for gateway ${input.Gateway}`);
    gateway = input.Gateway;
  } else {
    gateway = intToIp(subnet.base + 1);
  }
  let ipRange: string | undefined;
  if (input.IPRange) {
    const r = parseCidr(input.IPRange);
    if (!cidrContains(subnet, r.base) || r.prefix < subnet.prefix) throw invalidArgument(`no matching subnet for range ${input.IPRange}`);
    ipRange = formatCidr(r);
  }
  return { subnet: formatCidr(subnet), gateway, ...(ipRange ? { ipRange } : {}) };
}

/**
 * The lowest free address for a container: inside the range (or the subnet), never the network, broadcast or
 * gateway address, never one in `used`. `requested` (--ip) must be free and inside the subnet.
 */
export function allocateAddress(cfg: SubnetConfig, used: ReadonlySet<string>, requested?: string): string {
  const subnet = parseCidr(cfg.subnet);
  const first = subnet.base + 1;
  const last = subnet.base + cidrSize(subnet) - 2;
  if (requested) {
    if (!isIpv4(requested)) throw invalidArgument(`invalid IPv4 address: ${requested}`);
    const n = ipToInt(requested);
    if (!cidrContains(subnet, n)) throw invalidArgument(`no configured subnet or ip-range contain the IP address ${requested}`);
    if (requested === cfg.gateway || used.has(requested) || n < first || n > last) throw conflictAddress(requested);
    return requested;
  }
  const range = cfg.ipRange ? parseCidr(cfg.ipRange) : subnet;
  const lo = Math.max(first, range.base);
  const hi = Math.min(last, range.base + cidrSize(range) - 1);
  for (let n = lo; n <= hi; n++) {
    const ip = intToIp(n);
    if (ip !== cfg.gateway && !used.has(ip)) return ip;
  }
  throw invalidArgument(`no available IPv4 addresses on this network's address pools: ${cfg.subnet}`);
}

function conflictAddress(ip: string): Error {
  return invalidArgument(`Address already in use: ${ip}`);
}

export function prefixLength(cidr: string): number {
  return parseCidr(cidr).prefix;
}

/** Docker derives a container's MAC from its IPv4 address: 02:42 followed by the four octets. */
export function macFromIp(ip: string): string {
  const n = ipToInt(ip);
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function isMac(s: string): boolean {
  return /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s);
}

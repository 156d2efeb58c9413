/** IPv4 address and CIDR arithmetic on 32-bit unsigned numbers. */

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`not an IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIpv4(s: string): boolean {
  try {
    ipv4ToInt(s);
    return true;
  } catch {
    return false;
  }
}

export interface Cidr {
  /** The network address (host bits cleared). */
  network: string;
  prefixLen: number;
}

/** '10.1.2.3/16' -> { network: '10.1.0.0', prefixLen: 16 }; a bare address is a /32. */
export function parseCidr(s: string): Cidr {
  const [addr, len] = s.split('/');
  const prefixLen = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`bad prefix length in ${s}`);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  return { network: intToIpv4((ipv4ToInt(addr ?? '') & mask) >>> 0), prefixLen };
}

export function formatCidr(c: Cidr): string {
  return `${c.network}/${c.prefixLen}`;
}

/** The prefix length of a CIDR string ('172.18.0.0/16' -> 16). */
export function prefixLenOf(cidr: string): number {
  return parseCidr(cidr).prefixLen;
}

/**
 * Which URLs to try for a registry host: Docker Hub's real endpoint and its mirrors, https or plain
 * http for insecure registries, loopback always allowed without TLS (as dockerd does).
 */
import { isIP } from 'node:net';
import { invalidArgument } from '../errors.js';
import { DEFAULT_DOMAIN } from './reference.js';

export interface RegistryHostsConfig {
  /** 'host:port', 'host' or a CIDR like '10.0.0.0/8'. Loopback is always insecure. */
  insecure: string[];
  /** Base URLs tried in order before Docker Hub, for docker.io pulls only. */
  mirrors: string[];
}

export interface Endpoint {
  /** Scheme, host and port, no trailing slash: 'http://127.0.0.1:5000'. */
  origin: string;
  /** False for https to an insecure registry (self-signed certificates are accepted). */
  tlsVerify: boolean;
  mirror: boolean;
}

export const DOCKER_HUB_ORIGIN = 'https://registry-1.docker.io';

/** Splits 'host:port', '[::1]:5000', '::1' into the host name (brackets removed) and port. */
export function splitHostPort(host: string): { hostname: string; port?: string } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { hostname: host };
    const rest = host.slice(end + 1);
    const hostname = host.slice(1, end);
    return rest.startsWith(':') ? { hostname, port: rest.slice(1) } : { hostname };
  }
  const colons = host.split(':').length - 1;
  if (colons === 1) {
    const [hostname, port] = host.split(':') as [string, string];
    return { hostname, port };
  }
  return { hostname: host };
}

export function isLoopbackHost(host: string): boolean {
  const { hostname } = splitHostPort(host);
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function ipv6ToBigInt(ip: string): bigint {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = ipv4ToInt(v4[1]!);
    s = `${s.slice(0, -v4[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(zeros).fill('0'), ...tailParts];
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n);
}

/** Whether an IP literal lies in a CIDR block; false for anything that is not both. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const slash = cidr.indexOf('/');
  if (slash < 0) return false;
  const base = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const family = isIP(base);
  if (family === 0 || family !== isIP(ip) || !Number.isInteger(bits)) return false;
  if (family === 4) {
    if (bits < 0 || bits > 32) return false;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0);
  }
  if (bits < 0 || bits > 128) return false;
  const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
  return (ipv6ToBigInt(ip) & mask) === (ipv6ToBigInt(base) & mask);
}

/**
 * A registry host may be reached without verified TLS. CIDR entries match IP literals only: berth
 * does not resolve names to decide this.
 */
export function isInsecureRegistry(host: string, config: Pick<RegistryHostsConfig, 'insecure'>): boolean {
  if (isLoopbackHost(host)) return true;
  const { hostname } = splitHostPort(host);
  const lower = host.toLowerCase();
  for (const raw of config.insecure) {
    const entry = raw.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/$/, '').toLowerCase();
    if (entry === '') continue;
    if (entry.includes('/')) {
      if (isIP(hostname) !== 0 && ipInCidr(hostname, entry)) return true;
      continue;
    }
    if (entry === lower) return true;
    // An entry without a port covers the host on any port.
    if (splitHostPort(entry).port === undefined && splitHostPort(entry).hostname === hostname.toLowerCase()) return true;
  }
  return false;
}

/** 'http://127.0.0.1:5000/' -> endpoint; used for mirrors and for a `source` handed back by resolve. */
export function endpointForOrigin(url: string, config: RegistryHostsConfig, mirror = false): Endpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidArgument(`invalid registry endpoint ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalidArgument(`invalid registry endpoint ${JSON.stringify(url)}: unsupported scheme`);
  const tlsVerify = u.protocol === 'https:' && !isInsecureRegistry(u.host, config);
  return { origin: u.origin, tlsVerify, mirror };
}

/** The host part a user may type for a registry: 'docker.io', '127.0.0.1:5000', 'https://host/v2/'. */
export function registryHostOf(serveraddress: string): string {
  let s = serveraddress.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  s = s.toLowerCase();
  if (s === '' || s === 'index.docker.io' || s === 'registry-1.docker.io' || s === 'registry.hub.docker.com') return DEFAULT_DOMAIN;
  return s;
}

/**
 * Endpoints to try, in order, for a registry domain. The next one is tried only when the previous
 * could not be reached at all; an HTTP answer (even 404) is final.
 */
export function registryEndpoints(domain: string, config: RegistryHostsConfig, opts: { useMirrors?: boolean } = {}): Endpoint[] {
  if (domain === DEFAULT_DOMAIN) {
    const mirrors = opts.useMirrors === false ? [] : config.mirrors.map((m) => endpointForOrigin(m, config, true));
    return [...mirrors, { origin: DOCKER_HUB_ORIGIN, tlsVerify: true, mirror: false }];
  }
  if (isLoopbackHost(domain)) return [{ origin: `http://${domain}`, tlsVerify: false, mirror: false }];
  if (isInsecureRegistry(domain, config)) {
    return [
      { origin: `https://${domain}`, tlsVerify: false, mirror: false },
      { origin: `http://${domain}`, tlsVerify: false, mirror: false },
    ];
  }
  return [{ origin: `https://${domain}`, tlsVerify: true, mirror: false }];
}

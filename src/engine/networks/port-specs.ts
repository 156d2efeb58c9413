/**
 * Published ports in Docker's terms: `-p` specs (go-connections nat.ParsePortSpec, with its error messages),
 * HostConfig.PortBindings validation, and the views inspect and `ps` show.
 */
import { invalidArgument } from '../../errors.js';
import { isIpv4 } from './ipam.js';

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export type PortBindings = Record<string, PortBinding[] | null>;

/** A port published for a running container, as berth keeps it. */
export interface ResolvedPort {
  /** '80/tcp' */
  key: string;
  protocol: 'tcp' | 'udp';
  containerPort: number;
  /** '' = every address */
  hostIp: string;
  hostPort: number;
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** nat.ParsePortRange */
export function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw invalidArgument('empty string specified for ports');
  const parsePort = (s: string): number => {
    if (!/^\d+$/.test(s) || Number(s) > 65535) throw invalidArgument(`invalid port: ${s}`);
    return Number(s);
  };
  if (!ports.includes('-')) {
    const p = parsePort(ports);
    return [p, p];
  }
  const [a = '', b = ''] = ports.split('-');
  const start = parsePort(a);
  const end = parsePort(b);
  if (end < start) throw invalidArgument(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: '80/udp' → ['udp', '80']; no protocol means tcp. */
export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw.length === 0 || parts.length === 0 || parts[0] === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const containerPort = parts[n - 1]!;
  if (n === 1) return ['', '', containerPort];
  if (n === 2) return ['', parts[0]!, containerPort];
  if (n === 3) return [parts[0]!, parts[1]!, containerPort];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, containerPort];
}

/** One `-p` value → its port keys and bindings, in order (a range gives one entry per port). */
export function parsePortSpec(raw: string): Array<{ key: string; binding: PortBinding }> {
  let [ip, hostPort, containerPart] = splitParts(raw);
  const [proto, containerPort] = splitProtoPort(containerPart);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && !isIpv4(ip) && !/^[0-9a-fA-F:]+$/.test(ip)) throw invalidArgument(`invalid IP address: ${ip}`);
  if (containerPort === '') throw invalidArgument(`no port specified: ${raw}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw invalidArgument(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw invalidArgument(`invalid hostPort: ${hostPort}`);
    }
  }
  if (hostPort !== '' && end - start !== hostEnd - hostStart && end !== start) {
    throw invalidArgument(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  if (!PROTOCOLS.includes(proto.toLowerCase())) throw invalidArgument(`invalid proto: ${proto}`);
  const out: Array<{ key: string; binding: PortBinding }> = [];
  for (let i = 0; i <= end - start; i++) {
    let hp = '';
    if (hostPort !== '') {
      // A single container port with a host range: the range is where a free port is picked.
      hp = end === start && hostEnd !== hostStart ? `${hostStart}-${hostEnd}` : String(hostStart + i);
    }
    out.push({ key: `${start + i}/${proto.toLowerCase()}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** Several `-p` values merged into PortBindings. */
export function portBindingsOf(specs: readonly string[]): PortBindings {
  const out: PortBindings = {};
  for (const s of specs) for (const { key, binding } of parsePortSpec(s)) (out[key] ??= []).push(binding);
  return out;
}

/** What the daemon checks at create (moby validatePortBindings), plus berth's own limit to tcp and udp. */
export function validatePortBindings(bindings: PortBindings | null | undefined, exposed: Record<string, unknown> | undefined): void {
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [proto, port] = splitProtoPort(key);
    try {
      parsePortRange(port);
    } catch {
      throw invalidArgument(`invalid port specification: ${JSON.stringify(port)}`);
    }
    if (!['tcp', 'udp'].includes(proto)) throw invalidArgument(`invalid proto: ${proto} (berth publishes tcp and udp ports)`);
    for (const b of list ?? []) {
      const hp = b.HostPort ?? '';
      if (hp !== '') {
        try {
          parsePortRange(hp);
        } catch {
          throw invalidArgument(`invalid port specification: ${JSON.stringify(hp)}`);
        }
      }
      if (b.HostIp && !isIpv4(b.HostIp)) throw invalidArgument(`invalid IP address: ${b.HostIp}`);
    }
  }
  for (const key of Object.keys(exposed ?? {})) {
    const [, port] = splitProtoPort(key);
    try {
      parsePortRange(port);
    } catch {
      throw invalidArgument(`invalid port specification: ${JSON.stringify(port)}`);
    }
  }
}

/** A wanted publication before a host port is picked: hostPort range [lo, hi], or [0, 0] for any free port. */
export interface WantedPort {
  key: string;
  protocol: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  hostRange: [number, number];
}

/** PortBindings plus, with -P, every exposed port without a binding. */
export function wantedPorts(bindings: PortBindings | null | undefined, exposed: Record<string, unknown> | undefined, publishAll: boolean): WantedPort[] {
  const all: PortBindings = { ...(bindings ?? {}) };
  if (publishAll) for (const key of Object.keys(exposed ?? {})) if (!all[key]?.length) all[key] = [{ HostIp: '', HostPort: '' }];
  const out: WantedPort[] = [];
  for (const key of sortPortKeys(Object.keys(all))) {
    const [proto, port] = splitProtoPort(key);
    if (proto !== 'tcp' && proto !== 'udp') continue;
    const containerPort = Number(port);
    for (const b of all[key] ?? []) {
      const hostIp = b.HostIp === '0.0.0.0' ? '' : b.HostIp ?? '';
      const hostRange: [number, number] = b.HostPort ? parsePortRange(b.HostPort) : [0, 0];
      out.push({ key: `${containerPort}/${proto}`, protocol: proto, containerPort, hostIp, hostRange });
    }
  }
  return out;
}

/** Two publications clash when they use the same protocol and port and one of them listens on every address. */
export function portsClash(a: { protocol: string; hostIp: string; hostPort: number }, b: { protocol: string; hostIp: string; hostPort: number }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp);
}

/** Docker's message when a host port is taken. */
export function portAllocatedMessage(p: { hostIp: string; hostPort: number }): string {
  return `Bind for ${p.hostIp || '0.0.0.0'}:${p.hostPort} failed: port is already allocated`;
}

/** Numeric order by port, then protocol, as Docker sorts port maps. */
export function sortPortKeys(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => {
    const [pa, na] = splitProtoPort(a);
    const [pb, nb] = splitProtoPort(b);
    return Number(na.split('-')[0]) - Number(nb.split('-')[0]) || pa.localeCompare(pb);
  });
}

/** NetworkSettings.Ports: every exposed or bound port; null when it is not published (or the container is stopped). */
export function portsView(exposedKeys: readonly string[], published: readonly ResolvedPort[]): Record<string, PortBinding[] | null> {
  const keys = new Set([...exposedKeys, ...published.map((p) => p.key)]);
  const out: Record<string, PortBinding[] | null> = {};
  for (const key of sortPortKeys([...keys])) {
    const list = published.filter((p) => p.key === key).map((p) => ({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) }));
    out[key] = list.length ? list : null;
  }
  return out;
}

/** The published ports back from NetworkSettings.Ports. */
export function publishedFromView(ports: Record<string, PortBinding[] | null> | undefined): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const [key, list] of Object.entries(ports ?? {})) {
    const [proto, port] = splitProtoPort(key);
    for (const b of list ?? []) {
      out.push({ key, protocol: proto === 'udp' ? 'udp' : 'tcp', containerPort: Number(port), hostIp: b.HostIp === '0.0.0.0' ? '' : b.HostIp, hostPort: Number(b.HostPort) });
    }
  }
  return out;
}

/** GET /containers/json Ports. */
export interface SummaryPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export function summaryPorts(exposedKeys: readonly string[], published: readonly ResolvedPort[]): SummaryPort[] {
  const out: SummaryPort[] = published.map((p) => ({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol }));
  for (const key of sortPortKeys(exposedKeys)) {
    if (published.some((p) => p.key === key)) continue;
    const [proto, port] = splitProtoPort(key);
    out.push({ PrivatePort: Number(port), Type: proto });
  }
  return out;
}

/** `docker port` lines: "80/tcp -> 0.0.0.0:8080", optionally only for one port ("80" or "80/udp"). */
export function portLines(ports: Record<string, PortBinding[] | null> | undefined, filter?: string): string[] {
  const out: string[] = [];
  let wantKey: string | undefined;
  if (filter) {
    const [proto, port] = splitProtoPort(filter);
    wantKey = `${port}/${proto}`;
  }
  for (const key of sortPortKeys(Object.keys(ports ?? {}))) {
    if (wantKey && key !== wantKey) continue;
    for (const b of ports?.[key] ?? []) {
      const host = b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp;
      out.push(wantKey ? `${host}:${b.HostPort}` : `${key} -> ${host}:${b.HostPort}`);
    }
  }
  return out;
}

/**
 * `ps` / `container ls`: docker's formatter.ContainerContext fields (so --format templates and
 * `json` see the same values), its default table and its port grouping.
 */
import type { StrictContext } from '../render/template.js';
import { goTimeString, humanDuration, humanSizeWithPrecision } from '../render/units.js';
import { familiarString, parseReference } from '../../registry/reference.js';
import { ellipsis, truncateId } from './images.js';

export interface ContainerPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerMount {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
  Driver?: string;
}

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created: number;
  Ports?: ContainerPort[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: ContainerMount[] | null;
  ImageManifestDescriptor?: { platform?: Record<string, unknown> } | null;
}

export const CONTAINER_HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

export const DEFAULT_CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** Go's strconv.Quote for the printable text ps shows. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function formGroup(key: string, start: number, last: number): string {
  const parts = key.split('/');
  let type = parts[0]!;
  let ip = '';
  if (parts.length > 1) {
    ip = parts[0]!;
    type = parts[1]!;
  }
  let group = String(start);
  if (start !== last) group = `${group}-${last}`;
  if (ip) group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/** formatter.DisplayablePorts: consecutive ports grouped, host mappings listed last. */
export function displayablePorts(input: readonly ContainerPort[]): string {
  const ports = [...input].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    const ai = a.IP ?? '';
    const bi = b.IP ?? '';
    if (ai !== bi) return ai < bi ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of ports) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      order.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const key of order) {
    const g = groups.get(key)!;
    result.push(formGroup(key, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

/** One row of `docker ps`. */
export class ContainerRow implements StrictContext {
  readonly templateTypeName = '*formatter.ContainerContext';
  constructor(
    private readonly c: ContainerSummary,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }
  get Names(): string {
    const names = (this.c.Names ?? []).map((n) => (n.startsWith('/') ? n.slice(1) : n));
    if (this.trunc) {
      // without --no-trunc, links ("other/alias") are hidden behind the container's own name
      const own = names.find((n) => !n.includes('/'));
      if (own !== undefined) return own;
    }
    return names.join(',');
  }
  get Image(): string {
    const image = this.c.Image ?? '';
    if (image === '') return '<no image>';
    if (!this.trunc) return image;
    const id = truncateId(this.c.ImageID ?? '');
    if (id !== '' && id === truncateId(image)) return id;
    try {
      const ref = parseReference(image);
      return familiarString({ domain: ref.domain, path: ref.path, tag: ref.tag });
    } catch {
      return image;
    }
  }
  get Command(): string {
    const cmd = this.c.Command ?? '';
    return goQuote(this.trunc ? ellipsis(cmd, 20) : cmd);
  }
  get CreatedAt(): string {
    return goTimeString(this.c.Created);
  }
  get RunningFor(): string {
    return humanDuration(this.now - this.c.Created * 1000) + ' ago';
  }
  get Ports(): string {
    return displayablePorts(this.c.Ports ?? []);
  }
  get State(): string {
    return this.c.State ?? '';
  }
  get Status(): string {
    return this.c.Status ?? '';
  }
  get Size(): string {
    const rw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    const rootFs = this.c.SizeRootFs ?? 0;
    return rootFs > 0 ? `${rw} (virtual ${humanSizeWithPrecision(rootFs, 3)})` : rw;
  }
  get Labels(): string {
    return Object.entries(this.c.Labels ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  /**
   * {{.Label "k"}}: the template engine calls a field's method without arguments first, so that
   * call hands back the function that takes the label name.
   */
  Label(name?: unknown): string | ((n: unknown) => string) {
    const labels = this.c.Labels ?? {};
    if (name === undefined) return (n: unknown) => labels[String(n)] ?? '';
    return labels[String(name)] ?? '';
  }
  get Mounts(): string {
    return (this.c.Mounts ?? [])
      .map((m) => {
        const name = m.Name || m.Source || '';
        return this.trunc ? ellipsis(name, 15) : name;
      })
      .join(',');
  }
  get LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }
  get Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(',');
  }
  get Platform(): Record<string, unknown> | null {
    return this.c.ImageManifestDescriptor?.platform ?? null;
  }
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(CONTAINER_HEADERS).sort()) out[k] = (this as unknown as Record<string, unknown>)[k];
    return out;
  }
}

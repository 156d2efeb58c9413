/**
 * The one model of volumes (local driver): a directory <data-root>/volumes/<name>/_data, or a mount there (tmpfs, a
 * bind of a host directory, any `mount -t type -o o device`) made while a container uses it. Metadata lives in SQLite;
 * which containers use a volume is read from the containers themselves, so it survives restarts without bookkeeping.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BerthError, conflict, invalidArgument, notFound } from '../../errors.js';
import { isMounted, unmount } from '../../runtime/mounts.js';
import type { VolumeRecords, VolumeRow } from '../../store/volume-records.js';
import type { EventBus } from '../events/event-bus.js';
import { labelsMatch } from '../images/filters.js';
import { copyUp } from './copy-up.js';
import { directorySize } from './dir-size.js';
import { checkVolumeName, type ContainerMount } from './mount-specs.js';

const execFileAsync = promisify(execFile);

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's Volume object (GET /volumes/{name}). */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Which containers reference a volume: all of them, and the running ones. */
export type VolumeUsage = (name: string) => { containers: string[]; running: string[] };

const VALID_OPTS = new Set(['type', 'o', 'device', 'size']);
const REQUIRED_WITH: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device'] };

/** moby's local driver option check. */
export function validateDriverOpts(opts: Record<string, string> | null | undefined): void {
  if (!opts) return;
  for (const k of Object.keys(opts)) if (!VALID_OPTS.has(k)) throw invalidArgument(`invalid option: "${k}"`);
  for (const [k, required] of Object.entries(REQUIRED_WITH)) {
    if (!(k in opts)) continue;
    for (const r of required) if (!(r in opts)) throw invalidArgument(`missing required option: "${r}"`);
  }
  if ('size' in opts) throw invalidArgument('quota size requested but no quota support');
}

function parseBoolFilter(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalidArgument(`invalid filter '${key}=${value}'`);
}

/** Whether a volume passes GET /volumes filters (name as a pattern, driver exact, label, dangling). */
export function volumeMatches(v: { name: string; driver: string; labels: Record<string, string> | null; refCount: number }, filters: Map<string, string[]>): boolean {
  for (const k of filters.keys()) if (!['name', 'driver', 'label', 'dangling'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
  const names = filters.get('name');
  if (names?.length && !names.some((n) => safeRegExp(n).test(v.name))) return false;
  const drivers = filters.get('driver');
  if (drivers?.length && !drivers.includes(v.driver)) return false;
  if (!labelsMatch(v.labels, filters.get('label') ?? [])) return false;
  for (const d of filters.get('dangling') ?? []) {
    if (parseBoolFilter('dangling', d) !== (v.refCount === 0)) return false;
  }
  return true;
}

function safeRegExp(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

/** RFC 3339 to the second, as Docker prints CreatedAt. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export class VolumeService {
  private usage: VolumeUsage = () => ({ containers: [], running: [] });
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly records: VolumeRecords,
    private readonly events: EventBus,
    private readonly root: string,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
  }

  setUsage(usage: VolumeUsage): void {
    this.usage = usage;
  }

  private dataPath(name: string): string {
    return path.join(this.root, name, '_data');
  }

  private view(row: VolumeRow): VolumeView {
    return {
      CreatedAt: rfc3339(row.createdAt),
      Driver: row.driver,
      Labels: sortedKeys(row.doc.labels),
      Mountpoint: this.dataPath(row.name),
      Name: row.name,
      Options: sortedKeys(row.doc.options),
      Scope: 'local',
    };
  }

  private get(name: string): VolumeRow {
    const row = this.records.get(name);
    if (!row) throw notFound(`get ${name}: no such volume`);
    return row;
  }

  /** Checks a create request without creating anything. */
  checkCreate(req: VolumeCreateRequest): void {
    const name = req.Name ?? '';
    if (name) checkVolumeName(name);
    const driver = req.Driver || 'local';
    if (driver !== 'local') throw notFound(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    try {
      validateDriverOpts(req.DriverOpts);
    } catch (e) {
      if (e instanceof BerthError) throw new BerthError(e.code, `create ${name}: ${e.message}`);
      throw e;
    }
    const existing = name ? this.records.get(name) : undefined;
    if (existing && existing.driver !== driver) throw conflict(`create ${name}: a volume with the name ${name} already exists with driver "${existing.driver}"`);
  }

  /** POST /volumes/create: an existing volume of that name is returned as it is. */
  async create(req: VolumeCreateRequest, opts: { anonymous?: boolean } = {}): Promise<VolumeView> {
    this.checkCreate(req);
    const name = req.Name || randomBytes(32).toString('hex');
    const existing = this.records.get(name);
    if (existing) return this.view(existing);
    const labels = opts.anonymous || !req.Name ? { ...(req.Labels ?? {}), [ANONYMOUS_LABEL]: '' } : (req.Labels ?? null);
    const row: VolumeRow = {
      name,
      driver: 'local',
      createdAt: Date.now(),
      doc: { labels, options: req.DriverOpts ?? null },
    };
    await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
    try {
      this.records.insert(row);
    } catch (e) {
      const raced = this.records.get(name);
      if (raced) return this.view(raced);
      await rm(path.join(this.root, name), { recursive: true, force: true });
      throw e;
    }
    this.events.publish('volume', 'create', name, { driver: 'local' });
    return this.view(row);
  }

  inspect(name: string): VolumeView {
    return this.view(this.get(name));
  }

  list(filters: Map<string, string[]> = new Map()): { Volumes: VolumeView[]; Warnings: null } {
    const out: VolumeView[] = [];
    for (const row of this.records.list()) {
      const refCount = filters.has('dangling') ? this.usage(row.name).containers.length : 0;
      if (volumeMatches({ name: row.name, driver: row.driver, labels: row.doc.labels, refCount }, filters)) out.push(this.view(row));
    }
    return { Volumes: out, Warnings: null };
  }

  /** DELETE /volumes/{name}: refused while any container (even stopped) references it; force only hides "no such". */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const row = this.records.get(name);
    if (!row) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const refs = this.usage(name).containers;
    if (refs.length) throw conflict(`remove ${name}: volume is in use - [${refs.join(', ')}]`);
    await this.withLock(name, async () => {
      const data = this.dataPath(name);
      if (row.doc.options?.device && (await isMounted(data))) await unmount(data);
      this.records.remove(name);
      await rm(path.join(this.root, name), { recursive: true, force: true });
    });
    this.events.publish('volume', 'destroy', name, { driver: row.driver });
  }

  /**
   * POST /volumes/prune: unused volumes; from API 1.42 only anonymous ones unless the `all` filter is true.
   */
  async prune(filters: Map<string, string[]>, apiVersion = '1.50'): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    for (const k of filters.keys()) if (!['label', 'label!', 'all'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    let all = !versionAtLeast(apiVersion, '1.42');
    for (const a of filters.get('all') ?? []) all = parseBoolFilter('all', a);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const row of this.records.list()) {
      const labels = row.doc.labels ?? {};
      if (!all && !(ANONYMOUS_LABEL in labels)) continue;
      if (!labelsMatch(labels, filters.get('label') ?? [])) continue;
      const not = filters.get('label!') ?? [];
      if (not.length && not.some((l) => labelsMatch(labels, [l]))) continue;
      if (this.usage(row.name).containers.length) continue;
      const size = await directorySize(this.dataPath(row.name));
      try {
        await this.remove(row.name);
      } catch (e) {
        if (e instanceof BerthError && (e.code === 'conflict' || e.code === 'not_found')) continue;
        throw e;
      }
      deleted.push(row.name);
      reclaimed += size;
    }
    this.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** Every volume with its UsageData, for GET /system/df. */
  async diskUsage(): Promise<VolumeView[]> {
    const out: VolumeView[] = [];
    for (const row of this.records.list()) {
      out.push({ ...this.view(row), UsageData: { Size: await directorySize(this.dataPath(row.name)), RefCount: this.usage(row.name).containers.length } });
    }
    return out;
  }

  /** Checks the volumes a container's mounts would create, before anything is created. */
  checkMounts(mounts: readonly ContainerMount[]): void {
    for (const m of mounts) {
      if (m.type !== 'volume' || !m.volumeCreate) continue;
      if (m.name && this.records.get(m.name)) continue;
      this.checkCreate({ Name: m.name, Driver: m.volumeCreate.driver, DriverOpts: m.volumeCreate.driverOpts, Labels: m.volumeCreate.labels });
    }
  }

  /** Creates the volumes a container's mounts need (anonymous ones get their name) and fills in their paths. */
  async resolveMounts(mounts: readonly ContainerMount[]): Promise<ContainerMount[]> {
    this.checkMounts(mounts);
    const out: ContainerMount[] = [];
    for (const m of mounts) {
      if (m.type !== 'volume') {
        out.push({ ...m });
        continue;
      }
      let name = m.name ?? '';
      if (!name || !this.records.get(name)) {
        const vc = m.volumeCreate ?? { driver: 'local', driverOpts: null, labels: null };
        name = (await this.create({ Name: name, Driver: vc.driver, DriverOpts: vc.driverOpts, Labels: vc.labels }, { anonymous: !name })).Name;
      }
      const { volumeCreate: _vc, ...rest } = m;
      out.push({ ...rest, name, driver: 'local', source: this.dataPath(name) });
    }
    return out;
  }

  /**
   * Before a container starts: volumes with mount options are mounted (once for all their users), missing `-v` host
   * directories are made, and empty volumes get the image's content.
   */
  async acquire(containerId: string, mounts: readonly ContainerMount[], rootfs: string): Promise<void> {
    for (const m of mounts) {
      if (m.type === 'bind') {
        if (m.createHostPath && !existsSync(m.source)) await mkdir(m.source, { recursive: true, mode: 0o755 });
        continue;
      }
      if (m.type !== 'volume' || !m.name) continue;
      const row = this.get(m.name);
      await this.withLock(row.name, () => this.mountBacking(row));
      if (m.copyData) await copyUp(rootfs, m.destination, this.dataPath(row.name));
      this.events.publish('volume', 'mount', row.name, {
        container: containerId, destination: m.destination, driver: row.driver, propagation: m.propagation, 'read/write': String(!m.readOnly),
      });
    }
  }

  /** After a container stopped: a mounted volume no running container uses any more is unmounted. */
  async release(containerId: string, mounts: readonly ContainerMount[]): Promise<void> {
    for (const m of mounts) {
      if (m.type !== 'volume' || !m.name) continue;
      const row = this.records.get(m.name);
      if (!row) continue;
      if (row.doc.options?.device) {
        await this.withLock(row.name, async () => {
          const others = this.usage(row.name).running.filter((id) => id !== containerId);
          if (others.length === 0) await unmount(this.dataPath(row.name));
        });
      }
      this.events.publish('volume', 'unmount', row.name, { container: containerId, driver: row.driver });
    }
  }

  /** `rm -v` and `run --rm`: the container's anonymous volumes go too, unless another container still uses them. */
  async removeAnonymous(mounts: readonly ContainerMount[]): Promise<void> {
    for (const m of mounts) {
      if (m.type !== 'volume' || m.named || !m.name) continue;
      await this.remove(m.name).catch((e: unknown) => {
        if (e instanceof BerthError && (e.code === 'conflict' || e.code === 'not_found')) return;
        throw e;
      });
    }
  }

  private async mountBacking(row: VolumeRow): Promise<void> {
    const o = row.doc.options;
    if (!o?.device) return;
    const data = this.dataPath(row.name);
    await mkdir(data, { recursive: true });
    if (await isMounted(data)) return;
    const args = ['-t', o.type || 'none'];
    if (o.o) args.push('-o', o.o);
    args.push(o.device, data);
    try {
      await execFileAsync('/bin/mount', args);
    } catch (e) {
      const detail = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
      throw new BerthError('internal', `error while mounting volume '${data}': failed to mount local volume: ${detail}`, { cause: e });
    }
  }

  private async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(name, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(name) === next) this.locks.delete(name);
    }
  }
}

/** Go marshals maps with sorted keys; clients compare output byte for byte. */
function sortedKeys(m: Record<string, string> | null): Record<string, string> | null {
  if (!m) return m;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function versionAtLeast(v: string, min: string): boolean {
  const [a1, a2] = v.split('.').map(Number);
  const [b1, b2] = min.split('.').map(Number);
  return a1 > b1 || (a1 === b1 && a2 >= b2);
}

/**
 * A container's mounts as Docker parses them (moby volume/mounts linux parser): `-v` binds, `--mount` objects,
 * `--volumes-from`, `--tmpfs` and Config.Volumes, with Docker's precedence and error messages. Everything here is pure:
 * a bad spec fails before anything is created.
 */
import path from 'node:path';
import { invalidArgument } from '../../errors.js';
import type { SpecMount } from '../../runtime/oci-spec.js';

export type MountType = 'bind' | 'volume' | 'tmpfs';

/** The API's Mount object (HostConfig.Mounts, what `--mount` sends). */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
    Subpath?: string;
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] | null } | null;
}

/** What a volume mount asks for when its volume does not exist yet. */
export interface VolumeCreateOptions {
  driver: string;
  driverOpts: Record<string, string> | null;
  labels: Record<string, string> | null;
}

/** One mount of a container as berth keeps it (Docker's MountPoint plus what start needs). */
export interface ContainerMount {
  type: MountType;
  destination: string;
  /** Host path of a bind, the volume's _data for a volume, '' for tmpfs (and for a volume not resolved yet). */
  source: string;
  /** The volume's name; '' in a plan for an anonymous volume. */
  name?: string;
  driver?: string;
  readOnly: boolean;
  /** The mode string as given (`-v ...:ro,z`); Docker shows "z" for local volumes given without one. */
  mode: string;
  /** Propagation shown by inspect: binds default to rprivate, volumes show ''. */
  propagation: string;
  /** Copy the image's content into an empty volume on first use. */
  copyData: boolean;
  /** The spec named its source (a named volume or a host path): `rm -v` keeps such volumes. */
  named: boolean;
  /** Legacy `-v /host:/dst`: a missing host directory is created. */
  createHostPath?: boolean;
  tmpfsOptions?: string[];
  volumeCreate?: VolumeCreateOptions;
}

/** Docker's inspect shape, in Docker's key order. */
export interface MountView {
  Type: MountType;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const PROPAGATION_MODES = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** moby's linuxValidMountMode: known words, at most one of each kind. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const kind = RW_MODES.has(o) ? 0 : LABEL_MODES.has(o) ? 1 : PROPAGATION_MODES.has(o) ? 2 : COPY_MODES.has(o) ? 3 : CONSISTENCY_MODES.has(o) ? 4 : -1;
    if (kind < 0) return false;
    counts[kind]++;
  }
  return counts.every((c) => c <= 1);
}

const modeWords = (mode: string): string[] => (mode ? mode.split(',') : []);
const propagationOf = (mode: string): string | undefined => modeWords(mode).find((m) => PROPAGATION_MODES.has(m));

class MountConfigError extends Error {}

function mountConfigError(type: string, msg: string): MountConfigError {
  return new MountConfigError(`invalid mount config for type "${type}": ${msg}`);
}

function checkAbsolute(type: string, p: string): void {
  if (!path.isAbsolute(p)) throw mountConfigError(type, `invalid mount path: '${p}' mount path must be absolute`);
}

/** moby's validateMountConfig, then the MountPoint it parses to. */
function fromApiMount(m: ApiMount, checkBindSource: (p: string) => boolean): ContainerMount {
  const type = m.Type ?? '';
  const target = m.Target ?? '';
  if (!target) throw mountConfigError(type, 'field Target must not be empty');
  checkAbsolute(type, target);
  if (path.posix.normalize(target) === '/') throw mountConfigError(type, "invalid specification: destination can't be '/'");
  const destination = path.posix.normalize(target).replace(/(.)\/$/, '$1');
  const source = m.Source ?? '';
  switch (type) {
    case 'bind': {
      if (!source) throw mountConfigError(type, 'field Source must not be empty');
      const propagation = m.BindOptions?.Propagation ?? '';
      if (propagation && !PROPAGATION_MODES.has(propagation)) throw mountConfigError(type, `invalid propagation mode: ${propagation}`);
      if (m.VolumeOptions) throw mountConfigError(type, 'field VolumeOptions must not be specified');
      checkAbsolute(type, source);
      if (!checkBindSource(source)) throw mountConfigError(type, `bind source path does not exist: ${source}`);
      return {
        type, destination, source: path.posix.normalize(source), readOnly: m.ReadOnly ?? false, mode: '',
        propagation: propagation || 'rprivate', copyData: false, named: true,
      };
    }
    case 'volume': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (m.VolumeOptions?.Subpath) throw mountConfigError(type, 'volume subpath is not supported');
      if (m.ReadOnly && !source) throw mountConfigError(type, 'must not set ReadOnly mode when using anonymous volumes');
      if (source) checkVolumeName(source);
      const dc = m.VolumeOptions?.DriverConfig;
      return {
        type, destination, source: '', name: source, driver: dc?.Name || 'local', readOnly: m.ReadOnly ?? false, mode: '', propagation: '',
        copyData: !(m.VolumeOptions?.NoCopy ?? false), named: source !== '',
        volumeCreate: { driver: dc?.Name || 'local', driverOpts: dc?.Options ?? null, labels: m.VolumeOptions?.Labels ?? null },
      };
    }
    case 'tmpfs': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (source) throw mountConfigError(type, 'field Source must not be specified');
      return {
        type, destination, source: '', readOnly: m.ReadOnly ?? false, mode: '', propagation: '', copyData: false, named: false,
        tmpfsOptions: tmpfsOptions(m.TmpfsOptions ?? undefined, m.ReadOnly ?? false),
      };
    }
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
}

/** moby's ConvertTmpfsOptions: the size with the largest unit that divides it, the mode in octal. */
export function tmpfsOptions(opts: ApiMount['TmpfsOptions'] | undefined, readOnly: boolean): string[] {
  const out: string[] = [];
  if (readOnly) out.push('ro');
  const size = opts?.SizeBytes ?? 0;
  if (size < 0) throw mountConfigError('tmpfs', 'invalid tmpfs size');
  if (size) {
    const unit = ([['g', 1 << 30], ['m', 1 << 20], ['k', 1 << 10]] as const).find(([, d]) => size % d === 0);
    out.push(unit ? `size=${size / unit[1]}${unit[0]}` : `size=${size}`);
  }
  if (opts?.Mode) out.push(`mode=${(opts.Mode & 0o7777).toString(8)}`);
  for (const o of opts?.Options ?? []) out.push(o.length > 1 ? `${o[0]}=${o[1]}` : o[0]);
  return out;
}

export function checkVolumeName(name: string): void {
  if (name.length === 1) throw invalidArgument(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!VOLUME_NAME_RE.test(name)) {
    throw invalidArgument(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** One `-v`/Binds entry (moby ParseMountRaw): `[src:]dst[:mode]`, a host path when src is absolute. */
export function parseBindSpec(raw: string): ContainerMount {
  const invalid = (): never => {
    throw invalidArgument(`invalid volume specification: '${raw}'`);
  };
  if ((raw.match(/:/g) ?? []).length > 2) invalid();
  const parts = raw.split(':');
  if (parts[0] === '') invalid();
  let source = '';
  let target: string;
  let mode = '';
  if (parts.length === 1) target = parts[0];
  else if (parts.length === 2) {
    if (validMountMode(parts[1])) [target, mode] = parts;
    else [source, target] = parts;
  } else [source, target, mode] = parts;
  if (!validMountMode(mode)) throw invalidArgument(`invalid mode: ${mode}`);
  const isBind = path.isAbsolute(source);
  const words = modeWords(mode);
  const api: ApiMount = { Type: isBind ? 'bind' : 'volume', Source: source, Target: target, ReadOnly: words.includes('ro') };
  if (words.includes('nocopy')) api.VolumeOptions = { NoCopy: true };
  const propagation = propagationOf(mode);
  if (propagation) api.BindOptions = { Propagation: propagation };
  let m: ContainerMount;
  try {
    m = fromApiMount(api, () => true);
  } catch (e) {
    if (e instanceof MountConfigError) throw invalidArgument(`invalid volume specification: '${raw}': ${e.message}`);
    throw e;
  }
  // moby's setBindModeIfNull: a local volume given with -v and no mode shows "z".
  m.mode = m.type === 'volume' && mode === '' ? 'z' : mode;
  if (m.type === 'bind') m.createHostPath = true;
  return m;
}

/** One HostConfig.Mounts entry; unlike `-v`, a missing bind source is an error. */
export function parseApiMount(m: ApiMount, exists: (p: string) => boolean): ContainerMount {
  try {
    return fromApiMount(m, exists);
  } catch (e) {
    if (e instanceof MountConfigError) throw invalidArgument(e.message);
    throw e;
  }
}

/** `--volumes-from C[:ro|rw]`. */
export function parseVolumesFrom(spec: string): { container: string; mode: string } {
  if (!spec) throw invalidArgument('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const container = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  if (!mode) return { container, mode: 'rw' };
  if (!validMountMode(mode) || propagationOf(mode) || modeWords(mode).includes('nocopy')) throw invalidArgument(`invalid mode: ${mode}`);
  return { container, mode };
}

export interface MountRequest {
  binds: readonly string[];
  mounts: readonly ApiMount[];
  /** Config.Volumes keys: `-v /dst` and the image's VOLUME entries. */
  volumes: readonly string[];
  tmpfs: Readonly<Record<string, string>>;
  volumesFrom: readonly string[];
}

export interface PlanContext {
  /** The mounts of another container, for --volumes-from (throws not found). */
  mountsOf(container: string): ContainerMount[];
  /** Whether a host path exists (bind sources of --mount). */
  exists(p: string): boolean;
}

/**
 * The container's mounts by Docker's precedence: --volumes-from, overridden by binds, then --mount; Config.Volumes
 * only where nothing else (tmpfs included) is mounted. Volumes are not resolved here: anonymous ones have name ''.
 */
export function planMounts(req: MountRequest, ctx: PlanContext): ContainerMount[] {
  const byDest = new Map<string, ContainerMount>();
  for (const spec of req.volumesFrom) {
    const { container, mode } = parseVolumesFrom(spec);
    const writable = !modeWords(mode).includes('ro');
    for (const m of ctx.mountsOf(container)) {
      if (m.type === 'tmpfs') continue;
      byDest.set(m.destination, { ...m, readOnly: m.readOnly || !writable, mode: '', copyData: false, createHostPath: false, volumeCreate: undefined });
    }
  }
  const explicit = new Set<string>();
  const duplicate = (dest: string): never => {
    throw invalidArgument(`Duplicate mount point: ${dest}`);
  };
  for (const b of req.binds) {
    const m = parseBindSpec(b);
    if (explicit.has(m.destination)) duplicate(m.destination);
    explicit.add(m.destination);
    byDest.set(m.destination, m);
  }
  for (const api of req.mounts) {
    const m = parseApiMount(api, ctx.exists);
    if (explicit.has(m.destination)) duplicate(api.Target ?? m.destination);
    explicit.add(m.destination);
    byDest.set(m.destination, m);
  }
  const tmpfsDests = new Set(Object.keys(req.tmpfs).map((d) => path.posix.normalize(d)));
  for (const v of req.volumes) {
    const dest = path.posix.normalize(v);
    if (byDest.has(dest) || tmpfsDests.has(dest)) continue;
    if (!path.isAbsolute(dest)) throw invalidArgument(`invalid volume specification: '${v}': invalid mount config for type "volume": invalid mount path: '${v}' mount path must be absolute`);
    if (dest === '/') throw invalidArgument(`invalid volume specification: '${v}': invalid mount config for type "volume": invalid specification: destination can't be '/'`);
    byDest.set(dest, {
      type: 'volume', destination: dest, source: '', name: '', driver: 'local', readOnly: false, mode: '', propagation: '', copyData: true, named: false,
      volumeCreate: { driver: 'local', driverOpts: null, labels: null },
    });
  }
  return [...byDest.values()].sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0));
}

/** Docker's inspect entry for a mount. */
export function mountView(m: ContainerMount): MountView {
  if (m.type === 'volume') {
    return { Type: 'volume', Name: m.name ?? '', Source: m.source, Destination: m.destination, Driver: m.driver ?? 'local', Mode: m.mode, RW: !m.readOnly, Propagation: m.propagation };
  }
  return { Type: m.type, Source: m.source, Destination: m.destination, Mode: m.mode, RW: !m.readOnly, Propagation: m.propagation };
}

/** The OCI mounts: binds of host paths and of volumes' _data directories, tmpfs as tmpfs. */
export function specMountsFor(mounts: readonly ContainerMount[]): SpecMount[] {
  return mounts.map((m) => {
    if (m.type === 'tmpfs') {
      return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'rprivate', ...(m.tmpfsOptions ?? [])] };
    }
    const options = ['rbind', m.propagation || 'rprivate'];
    if (m.readOnly) options.push('ro');
    return { destination: m.destination, type: 'bind', source: m.source, options };
  });
}

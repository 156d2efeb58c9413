import { constants as fsc } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { BerthError, invalidArgument } from '../errors.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, mknod, setxattr } from '../runtime/libc.js';
import { sha256Digest, type Digest } from '../util/digest.js';
import { OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX } from './overlay-format.js';

export { createLayerTar } from './layer-tar-create.js';

export interface ApplyOptions {
  /** Character and block devices in the tar are refused unless this is set (whiteouts are always allowed). */
  allowDevices?: boolean;
}

export interface ApplyResult {
  /** Sum of the entries' nominal sizes (regular file bytes), as Docker reports a layer's Size. */
  size: number;
}

/** chain_0 = diff_0; chain_n = sha256(chain_{n-1} + " " + diff_n), as the OCI image spec defines ChainID. */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}

const CAPABILITY_XATTR = 'security.capability';
const PAX_CAPABILITY_KEY = `SCHILY.xattr.${CAPABILITY_XATTR}`;
/** Writes are gathered to about this size before they go to disk: few, large syscalls. */
const WRITE_BATCH = 1 << 20;
/** Files up to this size are read into memory and written in the background while the tar is read on. */
const SMALL_FILE = 1 << 20;
/** Bounds on background file writes: enough to keep the libuv pool busy, little enough to bound memory. */
const MAX_BACKGROUND_FILES = 16;
const MAX_BACKGROUND_BYTES = 32 << 20;
const FILE_OPEN_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** A tar header as tar-stream decodes it; the type may be one tar-stream does not name (then null). */
type Header = Omit<tarStream.Header, 'type'> & { type: string | null; pax?: unknown };

/**
 * Makes a tar entry name relative to the layer root, resolving `.` and `..` lexically. A name whose `..` would climb
 * above the root is refused; an absolute name is taken as relative, as Docker does. '' is the root itself.
 */
export function cleanEntryPath(raw: string, entryName: string = raw): string {
  if (raw.includes('\0')) throw invalidArgument(`layer entry ${JSON.stringify(entryName)}: name contains a NUL byte`);
  const parts: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) {
        throw invalidArgument(`layer entry ${JSON.stringify(entryName)}: path ${JSON.stringify(raw)} escapes the layer root`);
      }
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join('/');
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** Extracts the raw bytes of one key from a PAX extended header (tar-stream decodes values as UTF-8, which is lossy). */
function rawPaxValue(buf: Buffer, wanted: string): Buffer | undefined {
  let off = 0;
  while (off < buf.length) {
    const space = buf.indexOf(0x20, off);
    if (space < 0) return undefined;
    const len = parseInt(buf.toString('latin1', off, space), 10);
    if (!(len > 0) || off + len > buf.length) return undefined;
    const record = buf.subarray(space + 1, off + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0 && record.toString('utf8', 0, eq) === wanted) return Buffer.from(record.subarray(eq + 1));
    off += len;
  }
  return undefined;
}

/** The private hook of tar-stream's Extract that receives a PAX header's raw bytes. */
interface ExtractInternals {
  _header: Header | null;
  _decodeLongHeader(buf: Buffer): void;
}

/**
 * Captures security.capability from each PAX header before tar-stream decodes it as text. The value belongs to the
 * entry right after that header.
 */
function captureCapabilities(extract: tarStream.Extract): () => Buffer | undefined {
  let pending: Buffer | undefined;
  const internals = extract as unknown as ExtractInternals;
  if (typeof internals._decodeLongHeader === 'function') {
    const decode = internals._decodeLongHeader.bind(extract);
    internals._decodeLongHeader = (buf: Buffer): void => {
      if (internals._header?.type === 'pax-header') pending = rawPaxValue(buf, PAX_CAPABILITY_KEY);
      decode(buf);
    };
  }
  return () => {
    const v = pending;
    pending = undefined;
    return v;
  };
}

async function writeAll(fh: FileHandle, chunks: Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const c of chunks) total += c.length;
  let written = 0;
  let bufs = chunks;
  while (written < total) {
    const { bytesWritten } = await fh.writev(bufs, position + written);
    if (bytesWritten <= 0) throw new Error('short write');
    written += bytesWritten;
    if (written < total) {
      // A partial write: drop what went out and retry the rest.
      let skip = bytesWritten;
      const rest: Buffer[] = [];
      for (const b of bufs) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
      bufs = rest;
    }
  }
  return total;
}

/**
 * The entry's bytes; a failure to read them is the tar's fault (truncated, or its source failed), not the disk's.
 */
async function* tarBody(name: string, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await it.next();
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw invalidArgument(`invalid layer tar: cannot read entry ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    if (next.done) return;
    yield next.value;
  }
}

/** Applies one layer's entries to one directory; holds what it has verified so parent checks stay cheap. */
class LayerApplier {
  /** Relative paths known to be real directories (not symlinks), all of whose ancestors are too. */
  private readonly knownDirs = new Set<string>(['']);
  /** Directory times are set last: creating entries inside a directory changes its mtime. */
  private readonly dirTimes: Array<{ abs: string; mtime: Date }> = [];
  /**
   * Small files being written in the background, by relative path. Until its write settles, nothing else touches
   * that path; an entry that would remove a directory waits for all of them.
   */
  private readonly inflight = new Map<string, Promise<void>>();
  private inflightBytes = 0;
  private backgroundError: unknown;
  size = 0;

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  async apply(header: Header, body: AsyncIterable<Buffer>, capability: Buffer | undefined): Promise<void> {
    this.throwIfFailed();
    const name = header.name;
    const rel = cleanEntryPath(name);
    const base = baseOf(rel);
    await this.settle(rel);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      await this.whiteout(name, rel, base, header);
      return;
    }

    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        this.requireNotRoot(name, rel);
        await this.regularFile(name, rel, header, body, capability);
        this.size += header.size ?? 0;
        return;
      case 'directory':
        await this.directory(name, rel, header);
        this.size += header.size ?? 0;
        return;
      case 'symlink':
        this.requireNotRoot(name, rel);
        await this.symlink(name, rel, header);
        return;
      case 'link':
        this.requireNotRoot(name, rel);
        await this.hardlink(name, rel, header);
        return;
      case 'character-device':
      case 'block-device':
        this.requireNotRoot(name, rel);
        await this.device(name, rel, header);
        return;
      case 'fifo':
        this.requireNotRoot(name, rel);
        await this.special(name, rel, header, S_IFIFO, 0, 0);
        return;
      default:
        throw invalidArgument(`layer entry ${JSON.stringify(name)}: unsupported tar entry type ${String(header.type)}`);
    }
  }

  private throwIfFailed(): void {
    if (this.backgroundError !== undefined) throw this.backgroundError;
  }

  /** Waits until no background write is pending for `rel`. */
  private async settle(rel: string): Promise<void> {
    const pending = this.inflight.get(rel);
    if (pending) await pending;
    this.throwIfFailed();
  }

  /** Waits for every background write; failures are kept in backgroundError. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight.values());
  }

  private async background(rel: string, bytes: number, task: () => Promise<void>): Promise<void> {
    while (
      this.inflight.size >= MAX_BACKGROUND_FILES ||
      (this.inflight.size > 0 && this.inflightBytes + bytes > MAX_BACKGROUND_BYTES)
    ) {
      await Promise.race(this.inflight.values());
    }
    this.throwIfFailed();
    this.inflightBytes += bytes;
    const done = task()
      .catch((err: unknown) => {
        this.backgroundError ??= err;
      })
      .finally(() => {
        this.inflight.delete(rel);
        this.inflightBytes -= bytes;
      });
    this.inflight.set(rel, done);
  }

  /** Sets directory times once everything is in place. */
  async finish(): Promise<void> {
    await this.drain();
    this.throwIfFailed();
    for (const { abs, mtime } of this.dirTimes) {
      try {
        await lutimes(abs, mtime, mtime);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err; // replaced later in the same tar
      }
    }
  }

  private requireNotRoot(name: string, rel: string): void {
    if (rel === '') throw invalidArgument(`layer entry ${JSON.stringify(name)}: only a directory may name the layer root`);
  }

  /**
   * Makes sure every parent of `rel` is a real directory, creating missing ones (0755, root) when `create` is set.
   * A parent that is a symlink is refused: writing through it could land outside the root.
   */
  private async ensureParents(name: string, rel: string, create = true): Promise<void> {
    const parent = parentOf(rel);
    if (this.knownDirs.has(parent)) return;
    const parts = parent.split('/');
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.knownDirs.has(cur)) continue;
      await this.settle(cur);
      const abs = this.abs(cur);
      let st;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
        if (!create) throw invalidArgument(`layer entry ${JSON.stringify(name)}: ${JSON.stringify(cur)} does not exist`);
        await mkdir(abs, 0o755);
        await chmod(abs, 0o755);
        this.knownDirs.add(cur);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw invalidArgument(`layer entry ${JSON.stringify(name)}: parent ${JSON.stringify(cur)} is a symbolic link`);
      }
      if (!st.isDirectory()) {
        throw invalidArgument(`layer entry ${JSON.stringify(name)}: parent ${JSON.stringify(cur)} is not a directory`);
      }
      this.knownDirs.add(cur);
    }
  }

  /**
   * Removes whatever is at `rel` (a whole tree if a directory); nothing if absent. From a background write there is
   * nothing to wait for: a directory there is not a known one, so no pending write is inside it.
   */
  private async removeExisting(rel: string, inBackground = false): Promise<void> {
    const abs = this.abs(rel);
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isDirectory()) {
      if (!inBackground) await this.drain(); // files inside may still be being written
      await rm(abs, { recursive: true, force: true });
      this.forgetDir(rel);
    } else {
      await unlink(abs);
    }
  }

  private forgetDir(rel: string): void {
    this.knownDirs.delete(rel);
    const prefix = `${rel}/`;
    for (const d of this.knownDirs) if (d.startsWith(prefix)) this.knownDirs.delete(d);
  }

  /** Runs `create`; if something is already at the path, removes it and runs `create` once more. */
  private async createReplacing<T>(rel: string, create: () => Promise<T>, inBackground = false): Promise<T> {
    try {
      return await create();
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
    await this.removeExisting(rel, inBackground);
    return create();
  }

  private async regularFile(
    name: string,
    rel: string,
    header: Header,
    body: AsyncIterable<Buffer>,
    capability: Buffer | undefined,
  ): Promise<void> {
    await this.ensureParents(name, rel);
    // A known directory here is replaced now, so no later entry relies on it while a background write removes it.
    if (this.knownDirs.has(rel)) await this.removeExisting(rel);
    const size = header.size ?? 0;
    if (size > SMALL_FILE) {
      await this.writeFile(rel, header, tarBody(name, body), capability, false);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tarBody(name, body)) chunks.push(chunk);
    await this.background(rel, size, async () => {
      try {
        await this.writeFile(rel, header, chunks, capability, true);
      } catch (err) {
        if (err instanceof BerthError) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new BerthError('internal', `unpacking layer entry ${JSON.stringify(name)}: ${message}`, { cause: err });
      }
    });
  }

  private async writeFile(
    rel: string,
    header: Header,
    body: Iterable<Buffer> | AsyncIterable<Buffer>,
    capability: Buffer | undefined,
    inBackground: boolean,
  ): Promise<void> {
    const abs = this.abs(rel);
    const fh = await this.createReplacing(rel, () => open(abs, FILE_OPEN_FLAGS, 0o600), inBackground);
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      let position = 0;
      for await (const chunk of body) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          position += await writeAll(fh, batch, position);
          batch = [];
          batched = 0;
        }
      }
      if (batched > 0) position += await writeAll(fh, batch, position);
      // chown clears set-id bits and file capabilities, so it goes first.
      await fh.chown(header.uid ?? 0, header.gid ?? 0);
      await fh.chmod((header.mode ?? 0o644) & 0o7777);
      const mtime = header.mtime ?? new Date(0);
      await fh.utimes(mtime, mtime);
    } finally {
      await fh.close();
    }
    if (capability) {
      try {
        setxattr(abs, CAPABILITY_XATTR, capability);
      } catch (err) {
        // A filesystem without security xattrs still gets the file, as Docker does; the capability is lost.
        const code = errCode(err);
        if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
      }
    }
  }

  private async directory(name: string, rel: string, header: Header): Promise<void> {
    const abs = this.abs(rel);
    if (rel !== '') {
      await this.ensureParents(name, rel);
      try {
        await mkdir(abs, 0o700);
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
        const st = await lstat(abs);
        if (!st.isDirectory()) {
          await this.removeExisting(rel);
          await mkdir(abs, 0o700);
        }
        // A directory over a directory merges: the contents stay, the metadata is the new entry's.
      }
      this.knownDirs.add(rel);
    }
    await lchown(abs, header.uid ?? 0, header.gid ?? 0);
    // Safe to follow: abs is a directory we created or checked, never a symlink.
    await chmod(abs, (header.mode ?? 0o755) & 0o7777);
    this.dirTimes.push({ abs, mtime: header.mtime ?? new Date(0) });
  }

  private async symlink(name: string, rel: string, header: Header): Promise<void> {
    await this.ensureParents(name, rel);
    const abs = this.abs(rel);
    const target = header.linkname ?? '';
    if (target === '') throw invalidArgument(`layer entry ${JSON.stringify(name)}: symlink without a target`);
    await this.createReplacing(rel, () => symlink(target, abs));
    await lchown(abs, header.uid ?? 0, header.gid ?? 0);
    const mtime = header.mtime ?? new Date(0);
    await lutimes(abs, mtime, mtime);
  }

  private async hardlink(name: string, rel: string, header: Header): Promise<void> {
    const targetRel = cleanEntryPath(header.linkname ?? '', name);
    if (targetRel === '') throw invalidArgument(`layer entry ${JSON.stringify(name)}: hard link to the layer root`);
    if (targetRel === rel) return;
    await this.ensureParents(name, targetRel, false);
    await this.settle(targetRel);
    const targetAbs = this.abs(targetRel);
    let st;
    try {
      st = await lstat(targetAbs);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      throw invalidArgument(
        `layer entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} does not exist`,
      );
    }
    if (st.isDirectory()) {
      throw invalidArgument(`layer entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} is a directory`);
    }
    await this.ensureParents(name, rel);
    const abs = this.abs(rel);
    // link(2) does not follow a symlink target: the new name shares the symlink's own inode.
    await this.createReplacing(rel, () => link(targetAbs, abs));
  }

  private async device(name: string, rel: string, header: Header): Promise<void> {
    const major = header.devmajor ?? 0;
    const minor = header.devminor ?? 0;
    const isChar = header.type === 'character-device';
    // A 0:0 character device is an overlay-format whiteout, which some tools write directly.
    if (!(isChar && major === 0 && minor === 0) && !this.opts.allowDevices) {
      throw invalidArgument(`layer entry ${JSON.stringify(name)}: device nodes are not allowed in layers`);
    }
    await this.special(name, rel, header, isChar ? S_IFCHR : S_IFBLK, major, minor);
  }

  private async special(name: string, rel: string, header: Header, type: number, major: number, minor: number): Promise<void> {
    await this.ensureParents(name, rel);
    const abs = this.abs(rel);
    const mode = (header.mode ?? 0) & 0o7777;
    await this.createReplacing(rel, async () => mknod(abs, type | mode, major, minor));
    await lchown(abs, header.uid ?? 0, header.gid ?? 0);
    // Device nodes and fifos are not symlinks, so chmod acts on the node itself; mknod's mode went through the umask.
    await chmod(abs, mode);
    const mtime = header.mtime ?? new Date(0);
    await lutimes(abs, mtime, mtime);
  }

  /** OCI whiteouts become overlayfs ones in place: `.wh.x` -> a 0:0 char device at x, `.wh..wh..opq` -> opaque xattr. */
  private async whiteout(name: string, rel: string, base: string, header: Header): Promise<void> {
    const dirRel = parentOf(rel);
    if (base === OPAQUE_MARKER) {
      await this.ensureParents(name, rel);
      setxattr(this.abs(dirRel), OPAQUE_XATTR, 'y');
      return;
    }
    // Other `.wh..wh.` names are aufs bookkeeping (hard link dirs), which Docker skips too.
    if (base.startsWith(WHITEOUT_META_PREFIX)) return;
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw invalidArgument(`layer entry ${JSON.stringify(name)}: invalid whiteout name`);
    }
    const targetRel = dirRel === '' ? hidden : `${dirRel}/${hidden}`;
    await this.ensureParents(name, targetRel);
    await this.settle(targetRel);
    const abs = this.abs(targetRel);
    await this.createReplacing(targetRel, async () => mknod(abs, S_IFCHR, 0, 0));
    await lchown(abs, header.uid ?? 0, header.gid ?? 0);
  }
}

/**
 * Unpacks an OCI layer tar into `dir`, converting whiteouts to overlayfs form. Any entry that would write outside
 * `dir` (through `..`, a symlinked parent, or a hard link out) rejects the whole apply with invalid_argument; the
 * caller discards the directory. Symlinks are never followed.
 */
export async function applyLayerTar(tar: Readable, dir: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const extract = tarStream.extract();
  const takeCapability = captureCapabilities(extract);
  const applier = new LayerApplier(dir, opts);
  let tarError: unknown;
  extract.on('error', (err: unknown) => (tarError = err));
  tar.on('error', (err) => extract.destroy(err));
  tar.pipe(extract as unknown as NodeJS.WritableStream);

  try {
    for await (const entry of extract) {
      const header: Header = entry.header;
      const capability = header.pax ? takeCapability() : undefined;
      try {
        await applier.apply(header, entry as AsyncIterable<Buffer>, capability);
      } catch (err) {
        if (err instanceof BerthError) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new BerthError('internal', `unpacking layer entry ${JSON.stringify(header.name)}: ${message}`, { cause: err });
      }
      entry.resume(); // drain bodies nobody read (skipped entries)
    }
    await applier.finish();
    return { size: applier.size };
  } catch (caught) {
    tar.unpipe(extract as unknown as NodeJS.WritableStream);
    tar.destroy();
    await applier.drain(); // the caller may delete the dir next: nothing may still be writing into it
    // When reading the tar failed, its own error says why better than the entry stream's "destroyed".
    const err = tarError ?? caught;
    if (err instanceof BerthError) throw err;
    // What is left comes from reading the stream: a malformed or truncated tar, or the source failing.
    const message = err instanceof Error ? err.message : String(err);
    throw invalidArgument(`invalid layer tar: ${message}`);
  }
}

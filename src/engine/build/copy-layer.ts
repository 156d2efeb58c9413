/**
 * COPY and ADD without a container: the files are picked from a root (the build context, or another image's root
 * filesystem for --from), placed by Docker's path rules, hashed for the cache, and written as a layer tar.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { once } from 'node:events';
import tarStream from 'tar-stream';
import { BerthError, invalidArgument } from '../../errors.js';
import { resolveInRoot } from '../../runtime/user.js';

export interface CopyEntry {
  /** Host path of the file to read; undefined for a directory made for the copy. */
  source?: string;
  /** Absolute path in the image, no trailing slash. */
  target: string;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname?: string;
  /** A source named by the instruction itself (not found inside a copied directory): ADD may unpack it. */
  named?: boolean;
}

export interface CopyPlan {
  entries: CopyEntry[];
  /** `file:<hex>`, `dir:<hex>` or `multi:<hex>`: what history's created_by and the cache key say about the sources. */
  sourceHash: string;
}

export interface PlanOptions {
  cmd: 'COPY' | 'ADD';
  /** The root sources are taken from (context dir, or an image's mounted root). */
  root: string;
  sources: string[];
  /** As written (expanded); relative to workdir when not absolute. */
  dest: string;
  workdir: string;
  /** Excluded paths (relative to root) act as if they did not exist. */
  ignored?: (rel: string, isDir: boolean) => boolean;
  /** Whether an absolute path is a directory in the image being built on. */
  isDirInImage: (p: string) => Promise<boolean>;
  owner?: { uid: number; gid: number };
  chmod?: number;
  /** Whether the sources come from the build context (changes the error wording). */
  fromContext: boolean;
}

const GLOB = /[*?[]/;

/** Go's filepath.Match for one path component, as a regular expression. */
export function componentPattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw invalidArgument(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '!' + cls.slice(1);
      re += '[' + (cls.startsWith('!') ? '^' + cls.slice(1) : cls).replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The context-relative form of a source; refuses paths that climb out. */
export function cleanSource(src: string): string {
  const cleaned = posix.normalize('/' + src).slice(1);
  const rel = posix.normalize(src.startsWith('/') ? src.slice(1) : src);
  if (rel === '..' || rel.startsWith('../')) throw invalidArgument(`Forbidden path outside the build context: ${src} ()`);
  return cleaned === '' ? '.' : cleaned.replace(/\/$/, '');
}

/** Where COPY puts things: Docker's rules for relative dests and for dests that name a directory. */
export function resolveDest(dest: string, workdir: string): { path: string; endsInSlash: boolean } {
  const endsInSlash = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  const abs = dest.startsWith('/') ? dest : posix.join(workdir || '/', dest);
  const cleaned = posix.normalize(abs);
  return { path: cleaned === '/' ? '/' : cleaned.replace(/\/$/, ''), endsInSlash: endsInSlash || cleaned === '/' };
}

async function expandGlob(root: string, pattern: string, ignored: PlanOptions['ignored']): Promise<string[]> {
  const parts = pattern.split('/');
  let current = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of current) {
      if (!GLOB.test(part)) {
        next.push(base ? `${base}/${part}` : part);
        continue;
      }
      const re = componentPattern(part);
      let names: string[];
      try {
        names = await readdir(base ? posix.join(root, base) : root);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    current = next;
  }
  const out: string[] = [];
  for (const rel of current) {
    try {
      const st = await lstat(posix.join(root, rel));
      if (ignored?.(rel, st.isDirectory())) continue;
      out.push(rel);
    } catch {
      /* a literal component that does not exist */
    }
  }
  return out;
}

function entryOf(st: Awaited<ReturnType<typeof lstat>>, source: string, target: string, opts: PlanOptions): CopyEntry {
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  const mode = opts.chmod !== undefined && kind !== 'symlink' ? opts.chmod : Number(st.mode) & 0o7777;
  return {
    source,
    target,
    kind,
    mode,
    uid: opts.owner?.uid ?? 0,
    gid: opts.owner?.gid ?? 0,
    size: kind === 'file' ? Number(st.size) : 0,
    mtime: st.mtime,
  };
}

async function walkDir(root: string, rel: string, target: string, opts: PlanOptions, out: CopyEntry[]): Promise<void> {
  const names = (await readdir(posix.join(root, rel))).sort();
  for (const name of names) {
    const childRel = rel === '.' ? name : `${rel}/${name}`;
    const abs = posix.join(root, childRel);
    const st = await lstat(abs);
    if (opts.ignored?.(childRel, st.isDirectory())) {
      // An excluded directory may still hold re-included files: descend, but emit the dir only if something is kept.
      if (st.isDirectory()) {
        const inner: CopyEntry[] = [];
        await walkDir(root, childRel, `${target}/${name}`, opts, inner);
        if (inner.length) out.push(entryOf(st, abs, `${target}/${name}`, opts), ...inner);
      }
      continue;
    }
    if (!st.isDirectory() && !st.isFile() && !st.isSymbolicLink()) continue;
    const e = entryOf(st, abs, `${target}/${name}`, opts);
    if (e.kind === 'symlink') e.linkname = await readlink(abs);
    out.push(e);
    if (st.isDirectory()) await walkDir(root, childRel, `${target}/${name}`, opts, out);
  }
}

/** Picks the files for one COPY/ADD from `root` (context or image) by Docker's rules. */
export async function planCopy(opts: PlanOptions): Promise<CopyPlan> {
  const dest = resolveDest(opts.dest, opts.workdir);
  const matched: string[] = [];
  for (const src of opts.sources) {
    const rel = cleanSource(src);
    if (GLOB.test(rel)) {
      matched.push(...(await expandGlob(opts.root, rel, opts.ignored)));
      continue;
    }
    const notFound = (): BerthError =>
      new BerthError(
        'invalid_argument',
        opts.fromContext
          ? `COPY failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`
          : `COPY failed: stat ${posix.join('/', rel)}: file does not exist`,
      );
    let st;
    try {
      st = await lstat(posix.join(opts.root, rel));
    } catch {
      throw notFound();
    }
    if (rel !== '.' && opts.ignored?.(rel, st.isDirectory())) throw notFound();
    matched.push(rel);
  }
  if (matched.length === 0) throw invalidArgument(`${opts.cmd} failed: no source files were specified`);
  if (matched.length > 1 && !dest.endsInSlash) {
    throw invalidArgument(`When using ${opts.cmd} with more than one source file, the destination must be a directory and end with a /`);
  }

  const entries: CopyEntry[] = [];
  const hashes: string[] = [];
  let kindOfSingle: 'file' | 'dir' = 'file';
  for (const rel of matched) {
    // The source itself is followed if it is a symlink (inside the root), as Docker does.
    const real = rel === '.' ? opts.root : await resolveInRoot(opts.root, rel);
    let st;
    try {
      st = await stat(real);
    } catch {
      throw invalidArgument(`${opts.cmd} failed: stat ${rel}: file does not exist`);
    }
    const start = entries.length;
    if (st.isDirectory()) {
      kindOfSingle = 'dir';
      const top = dest.path;
      const inner: CopyEntry[] = [];
      const realRel = posix.relative(opts.root, real) || '.';
      await walkDir(opts.root, realRel, top === '/' ? '' : top, opts, inner);
      entries.push(...inner);
    } else {
      kindOfSingle = 'file';
      const intoDir = dest.endsInSlash || matched.length > 1 || (await opts.isDirInImage(dest.path));
      const target = intoDir ? posix.join(dest.path, posix.basename(rel)) : dest.path;
      entries.push({ ...entryOf(st, real, target, opts), named: true });
    }
    hashes.push(await hashEntries(entries.slice(start), dest.path));
  }
  const sourceHash =
    matched.length === 1 ? `${kindOfSingle}:${hashes[0]}` : `multi:${createHash('sha256').update(hashes.join(',')).digest('hex')}`;
  return { entries, sourceHash };
}

/** Content and metadata (not mtimes, as Docker's cache ignores them) of what is copied, relative to the dest. */
async function hashEntries(entries: CopyEntry[], base: string): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${posix.relative(base, e.target)}\0${e.kind}\0${e.mode.toString(8)}\0${e.uid}:${e.gid}\0${e.size}\0${e.linkname ?? ''}\0`);
    if (e.kind === 'file' && e.source && e.size > 0) {
      for await (const chunk of createReadStream(e.source, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) h.update(chunk);
    }
  }
  return h.digest('hex');
}

export interface ParentDir {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/**
 * The layer tar: parent directories first (with the image's own metadata where they exist, so the layer does not
 * change them), then the entries in order.
 */
export function copyLayerTar(entries: CopyEntry[], parents: ParentDir[]): Readable {
  const pack = tarStream.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out as unknown as NodeJS.WritableStream);
  const add = (header: Partial<tarStream.Header> & { name: string }, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      const h = header as tarStream.Header;
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body) pack.entry(h, body, cb);
      else pack.entry(h, cb);
    });
  const write = async (): Promise<void> => {
    const seen = new Set<string>();
    for (const p of parents) {
      if (p.path === '/' || seen.has(p.path)) continue;
      seen.add(p.path);
      await add({ name: p.path.slice(1) + '/', type: 'directory', mode: p.mode, uid: p.uid, gid: p.gid, mtime: p.mtime });
    }
    for (const e of entries) {
      if (e.target === '' || e.target === '/') continue;
      const name = e.target.slice(1);
      const base = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
      if (e.kind === 'dir') {
        if (seen.has(e.target)) continue;
        seen.add(e.target);
        await add({ ...base, name: name + '/', type: 'directory' });
      } else if (e.kind === 'symlink') {
        await add({ ...base, name, type: 'symlink', linkname: e.linkname ?? '' });
      } else if (e.size === 0 || !e.source) {
        await add({ ...base, name, type: 'file', size: 0 }, Buffer.alloc(0));
      } else {
        let sink!: ReturnType<tarStream.Pack['entry']>;
        const done = new Promise<void>((resolve, reject) => {
          sink = pack.entry({ ...base, name, type: 'file', size: e.size } as tarStream.Header, (err) => (err ? reject(err) : resolve()));
        });
        let copied = 0;
        for await (const chunk of createReadStream(e.source, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
          const part = chunk.length > e.size - copied ? chunk.subarray(0, e.size - copied) : chunk;
          copied += part.length;
          if (part.length && !sink.write(part)) await once(sink, 'drain');
          if (copied >= e.size) break;
        }
        if (copied < e.size) throw new Error(`${e.source} shrank while it was being copied`);
        sink.end(undefined);
        await done;
      }
    }
  };
  write().then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return out;
}

/** Every directory above the copied entries that the tar must carry, shallowest first. */
export function parentDirsOf(entries: CopyEntry[], destDir: string | undefined): string[] {
  const dirs = new Set<string>();
  const addAncestors = (p: string): void => {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add('/' + parts.slice(0, i).join('/'));
  };
  for (const e of entries) addAncestors(e.target);
  if (destDir && destDir !== '/') {
    addAncestors(destDir);
    dirs.add(destDir);
  }
  for (const e of entries) if (e.kind === 'dir') dirs.delete(e.target);
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

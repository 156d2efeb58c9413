/**
 * `cp` between a container and the local filesystem through the archive endpoints:
 * GET /containers/{id}/archive (a tar of the source) and HEAD + PUT (stat the destination, then
 * upload a tar into the directory). "-" on either side means a tar stream on stdin/stdout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import tar from 'tar-stream';
import { invalidArgument } from '../../errors.js';
import { DaemonError } from '../api-client.js';
import type { CliContext } from '../context.js';
import { humanSizeWithPrecision } from '../render/units.js';
import { nonClosing, type ContextProvider } from './images.js';

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** "container:path" → its parts; a local path (also "./a:b" and absolute paths) has no container. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (path.isAbsolute(arg) || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function decodeStat(header: string | string[] | undefined): PathStat | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  try {
    return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as PathStat;
  } catch {
    return undefined;
  }
}

const S_IFDIR = 0x80000000; // Go's os.ModeDir bit as the daemon encodes it

function isDirMode(mode: number): boolean {
  return (mode & S_IFDIR) !== 0 || (mode >>> 0) >= S_IFDIR;
}

/** A counting writable to report "Successfully copied". */
class Counter extends PassThrough {
  bytes = 0;
  constructor() {
    super();
    this.on('data', (c: Buffer) => (this.bytes += c.length));
  }
}

async function extractInto(source: Readable, dest: string, renameRoot: string | undefined): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    let name = header.name.replace(/^\/+/, '');
    if (renameRoot !== undefined) {
      const parts = name.split('/');
      parts[0] = renameRoot;
      name = parts.join('/');
    }
    const target = path.resolve(dest, name);
    if (!target.startsWith(path.resolve(dest))) {
      stream.resume();
      next(invalidArgument(`invalid path in archive: ${header.name}`));
      return;
    }
    const done = (e?: Error | null): void => next(e ?? undefined);
    try {
      if (header.type === 'directory') {
        fs.mkdirSync(target, { recursive: true, mode: header.mode });
        stream.resume();
        stream.on('end', () => done());
      } else if (header.type === 'symlink') {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.rmSync(target, { force: true });
        fs.symlinkSync(header.linkname ?? '', target);
        stream.resume();
        stream.on('end', () => done());
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        pipeline(stream, fs.createWriteStream(target, { mode: header.mode })).then(() => done(), done);
      } else {
        stream.resume();
        stream.on('end', () => done());
      }
    } catch (e) {
      stream.resume();
      done(e as Error);
    }
  });
  await pipeline(source, extract);
}

async function copyFromContainer(ctx: CliContext, container: string, src: string, dest: string, quiet: boolean): Promise<void> {
  const res = await ctx.client.request('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: src } });
  if (dest === '-') {
    await pipeline(res.body, nonClosing(ctx.io.stdout));
    return;
  }
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  const counter = new Counter();
  let destIsDir = false;
  try {
    destIsDir = fs.statSync(dest).isDirectory();
  } catch {
    if (dest.endsWith('/')) throw invalidArgument(`destination directory "${dest}" does not exist`);
  }
  if (destIsDir) await extractInto(res.body.pipe(counter), dest, undefined);
  else await extractInto(res.body.pipe(counter), path.dirname(path.resolve(dest)), path.basename(dest));
  if (!quiet) ctx.err(`Successfully copied ${humanSizeWithPrecision(stat?.size ?? counter.bytes, 3)} to ${dest}\n`);
}

/** A tar of `src` with entries under `rootName`. */
function packPath(src: string, rootName: string): { stream: Readable; size: () => number } {
  const pack = tar.pack();
  let total = 0;
  const add = async (abs: string, name: string): Promise<void> => {
    const st = fs.lstatSync(abs);
    const common = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      pack.entry({ ...common, type: 'directory' });
      for (const child of fs.readdirSync(abs).sort()) await add(path.join(abs, child), `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...common, type: 'symlink', linkname: fs.readlinkSync(abs) });
    } else if (st.isFile()) {
      total += st.size;
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...common, type: 'file', size: st.size }, (e) => (e ? reject(e) : resolve()));
        fs.createReadStream(abs).on('error', reject).pipe(entry);
      });
    }
  };
  add(src, rootName).then(
    () => pack.finalize(),
    (e: Error) => pack.destroy(e),
  );
  // tar-stream's Pack is a streamx stream; piping through a PassThrough gives the Node Readable the client takes
  return { stream: pack.pipe(new PassThrough()), size: () => total };
}

async function copyToContainer(ctx: CliContext, src: string, container: string, dest: string, quiet: boolean): Promise<void> {
  const base = `/containers/${encodeURIComponent(container)}/archive`;
  let destStat: PathStat | undefined;
  try {
    const res = await ctx.client.head(base, { path: dest });
    destStat = decodeStat(res.headers['x-docker-container-path-stat']);
  } catch (e) {
    if (!(e instanceof DaemonError && e.status === 404)) throw e;
  }
  const destIsDir = destStat !== undefined && isDirMode(destStat.mode);
  if (src === '-') {
    if (!destIsDir) throw invalidArgument(`destination "${container}:${dest}" must be a directory`);
    const res = await ctx.client.request('PUT', base, {
      query: { path: dest, noOverwriteDirNonDir: 'true' },
      body: ctx.io.stdin.pipe(new PassThrough()),
      contentType: 'text/plain',
    });
    res.body.resume();
    return;
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(src);
  } catch {
    throw invalidArgument(`lstat ${path.resolve(src)}: no such file or directory`);
  }
  if (!destStat && dest.endsWith('/')) throw invalidArgument(`destination "${container}:${dest}" must be a directory`);
  // into an existing directory the source keeps its name; otherwise it becomes the destination's name
  const targetDir = destIsDir ? dest : path.posix.dirname(dest);
  const rootName = destIsDir ? path.basename(path.resolve(src)) : path.posix.basename(dest);
  if (!destIsDir && destStat && st.isDirectory()) throw invalidArgument(`cannot copy directory to a file: ${container}:${dest}`);
  const packed = packPath(src, rootName);
  const res = await ctx.client.request('PUT', base, {
    query: { path: targetDir, noOverwriteDirNonDir: 'true' },
    body: packed.stream,
    contentType: 'text/plain',
  });
  res.body.resume();
  if (!quiet) ctx.err(`Successfully copied ${humanSizeWithPrecision(packed.size(), 3)} to ${container}:${dest}\n`);
}

function defineCp(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Copy files/folders between a container and the local filesystem')
    .argument('<SRC>')
    .argument('<DEST>')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached')
    .action(async (srcArg: string, destArg: string, opts: { quiet?: boolean }) => {
      const ctx = context();
      const src = splitCpArg(srcArg);
      const dest = splitCpArg(destArg);
      if (src.container && dest.container) throw invalidArgument('copying between containers is not supported');
      if (!src.container && !dest.container) throw invalidArgument('must specify at least one container source');
      const quiet = opts.quiet === true;
      if (src.container) await copyFromContainer(ctx, src.container, src.path, dest.path, quiet);
      else await copyToContainer(ctx, src.path, dest.container!, dest.path, quiet);
    });
}

export function registerCopyCommands(program: Command, group: Command, context: ContextProvider): void {
  defineCp(program.command('cp'), context);
  defineCp(group.command('cp'), context);
}

/** The build context: the tar the client sends, unpacked once into a private directory for the build's lifetime. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createIgnoreMatcher, parseDockerignore } from '../../builder/dockerignore.js';
import { BerthError, invalidArgument } from '../../errors.js';
import { autoDecompress } from '../images/compression.js';
import { extractPlainTar } from './plain-extract.js';

/** bzip2 and xz are rare for contexts: the system's tools decompress them. */
function externalDecompressor(cmd: 'bzip2' | 'xz'): Transform {
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      if (!child.stdin.write(chunk)) child.stdin.once('drain', () => cb());
      else cb();
    },
    flush(cb) {
      child.stdout.once('end', () => cb());
      child.stdin.end();
    },
  });
  child.stdout.on('data', (d: Buffer) => t.push(d));
  child.on('error', (e) => t.destroy(e));
  child.on('close', (code) => {
    if (code !== 0) t.destroy(new Error(`${cmd} failed with code ${code}`));
  });
  return t;
}

/**
 * Any of plain tar, gzip, zstd, bzip2 or xz, told apart by their magic bytes. The first chunk is held until enough
 * bytes are there to decide.
 */
export function decompressAny(source: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let head = Buffer.alloc(0);
  let decided = false;
  const decide = (): void => {
    decided = true;
    let inner: Transform;
    if (head.subarray(0, 3).toString('latin1') === 'BZh') inner = externalDecompressor('bzip2');
    else if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) inner = externalDecompressor('xz');
    else inner = autoDecompress();
    inner.on('error', (e) => out.destroy(e));
    inner.pipe(out);
    inner.write(head);
    source.on('data', (d: Buffer) => {
      if (!inner.write(d)) {
        source.pause();
        inner.once('drain', () => source.resume());
      }
    });
    source.on('end', () => inner.end());
  };
  const onData = (d: Buffer): void => {
    head = Buffer.concat([head, d]);
    if (head.length >= 6) {
      source.off('data', onData);
      source.off('end', onEnd);
      decide();
    }
  };
  const onEnd = (): void => {
    if (!decided) decide();
  };
  source.on('data', onData);
  source.on('end', onEnd);
  source.on('error', (e) => out.destroy(e));
  return out;
}

export interface IgnoreMatcher {
  ignores(relPath: string, isDir?: boolean): boolean;
}

export class BuildContext {
  private constructor(
    readonly dir: string,
    readonly ignore: IgnoreMatcher | undefined,
  ) {}

  /** Unpacks the context tar (safely: no entry may land outside `dir`) and reads .dockerignore. */
  static async extract(source: Readable, tmpRoot: string): Promise<BuildContext> {
    const dir = posix.join(tmpRoot, `build-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      // Plain files: a context file named .wh.x is a file, not a whiteout.
      await extractPlainTar(decompressAny(source), dir, { what: 'build context' });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      if (err instanceof BerthError) throw err;
      throw invalidArgument(`failed to read the build context: ${(err as Error).message}`);
    }
    let ignore: IgnoreMatcher | undefined;
    try {
      const text = await readFile(posix.join(dir, '.dockerignore'), 'utf8');
      ignore = createIgnoreMatcher(parseDockerignore(text));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new BuildContext(dir, ignore);
  }

  /** The Dockerfile by the name the client gave (a path inside the context); Docker's messages when missing. */
  async readDockerfile(name: string): Promise<string> {
    const rel = posix.normalize(name || 'Dockerfile').replace(/^\/+/, '');
    if (rel.startsWith('..')) throw invalidArgument(`Forbidden path outside the build context: ${name} ()`);
    try {
      return await readFile(posix.join(this.dir, rel), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !name) {
        // Docker falls back to the lower-case name.
        try {
          return await readFile(posix.join(this.dir, 'dockerfile'), 'utf8');
        } catch {
          /* the error below */
        }
      }
      throw invalidArgument(`Cannot locate specified Dockerfile: ${name || 'Dockerfile'}`);
    }
  }

  /** Excluded by .dockerignore. Dockerfile and .dockerignore travel anyway, but COPY cannot see them if excluded. */
  ignored(rel: string, isDir: boolean): boolean {
    return this.ignore?.ignores(rel, isDir) ?? false;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

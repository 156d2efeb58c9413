import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants as fsc, createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { BerthError, invalidArgument, notFound } from '../errors.js';
import { digestHex, isDigest, sha256Digest, type Digest } from '../util/digest.js';

export interface BlobWriter {
  /** Write the blob's bytes here and end it (or let commit end it). */
  stream: Writable;
  /** Verifies, fsyncs and moves the blob into place; returns what was stored. */
  commit(): Promise<{ digest: Digest; size: number }>;
  /** Drops everything written; safe to call after a failed commit, or twice. */
  abort(): Promise<void>;
}

const HEX64 = /^[a-f0-9]{64}$/;

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * A Writable over a temp file that hashes the bytes on their way to disk, so a blob is read once. Writes are handed
 * to the file in order; several buffered chunks go out in one writev.
 */
class HashingFileWriter extends Writable {
  readonly hash = createHash('sha256');
  size = 0;

  constructor(private readonly file: Promise<FileHandle>) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    for (const b of bufs) {
      this.hash.update(b);
      this.size += b.length;
    }
    this.file.then((fh) => writeAllAt(fh, bufs)).then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }
}

async function writeAllAt(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest);
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    if (bytesWritten <= 0 && next.length > 0) throw new Error('short write');
    rest = next;
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Content-addressable blobs under `<root>/blobs/sha256/<hex>`. A blob appears only whole and verified: it is written
 * to `<root>/ingest/`, hashed while streaming, fsynced, and renamed into place. Renaming over an existing blob of the
 * same digest is harmless, so concurrent writers of one digest need no lock.
 */
export class ContentStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
  }

  path(d: Digest): string {
    if (!isDigest(d)) throw invalidArgument(`invalid digest: ${JSON.stringify(d)}`);
    return join(this.blobDir, digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    return (await this.size(d)) !== undefined;
  }

  async size(d: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.path(d))).size;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  private tempPath(): string {
    return join(this.ingestDir, `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
  }

  writer(opts: { expected?: Digest; expectedSize?: number } = {}): BlobWriter {
    if (opts.expected !== undefined && !isDigest(opts.expected)) {
      throw invalidArgument(`invalid digest: ${JSON.stringify(opts.expected)}`);
    }
    const temp = this.tempPath();
    const file = open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    file.catch(() => undefined); // reported through the stream or commit
    const stream = new HashingFileWriter(file);
    let settled = false;

    const discard = async (): Promise<void> => {
      settled = true;
      if (!stream.destroyed) stream.destroy();
      try {
        await (await file).close();
      } catch {
        // already closed, or never opened
      }
      await rm(temp, { force: true });
    };

    const commit = async (): Promise<{ digest: Digest; size: number }> => {
      if (settled) throw new BerthError('internal', 'blob writer already committed or aborted');
      try {
        if (!stream.writableFinished) {
          if (stream.destroyed) throw stream.errored ?? new Error('blob stream was destroyed before it finished');
          await new Promise<void>((resolve, reject) => {
            stream.once('finish', resolve);
            stream.once('error', reject);
            if (!stream.writableEnded) stream.end();
          });
        }
        const digest: Digest = `sha256:${stream.hash.digest('hex')}`;
        const size = stream.size;
        if (opts.expected !== undefined && digest !== opts.expected) {
          throw invalidArgument(`digest mismatch: expected ${opts.expected}, got ${digest}`);
        }
        if (opts.expectedSize !== undefined && size !== opts.expectedSize) {
          throw invalidArgument(`size mismatch for ${digest}: expected ${opts.expectedSize} bytes, got ${size}`);
        }
        const fh = await file;
        await fh.sync();
        await fh.close();
        settled = true;
        await rename(temp, this.path(digest));
        await syncDir(this.blobDir);
        return { digest, size };
      } catch (err) {
        await discard();
        throw err;
      }
    };

    return { stream, commit, abort: discard };
  }

  async put(data: Buffer | string, expected?: Digest): Promise<Digest> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(buf);
    if (expected !== undefined && digest !== expected) {
      throw invalidArgument(`digest mismatch: expected ${expected}, got ${digest}`);
    }
    if (await this.has(digest)) return digest;
    const w = this.writer({ expected: digest });
    w.stream.end(buf);
    await w.commit();
    return digest;
  }

  read(d: Digest): Readable {
    const p = this.path(d);
    try {
      accessSync(p, fsc.F_OK);
    } catch {
      throw notFound(`blob ${d} not found`);
    }
    return createReadStream(p, { highWaterMark: 1 << 20 });
  }

  async readBuffer(d: Digest): Promise<Buffer> {
    try {
      return await readFile(this.path(d));
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw notFound(`blob ${d} not found`);
      throw err;
    }
  }

  async delete(d: Digest): Promise<void> {
    await rm(this.path(d), { force: true });
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(this.blobDir);
    return names.filter((n) => HEX64.test(n)).map((n): Digest => `sha256:${n}`);
  }

  /** Removes temp files a crash left behind. Call at start-up, before any writer exists. */
  async cleanIngest(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.ingestDir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return 0;
      throw err;
    }
    for (const n of names) await rm(join(this.ingestDir, n), { recursive: true, force: true });
    return names.length;
  }
}


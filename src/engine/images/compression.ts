import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { DecompressStream } from 'zstd-napi';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  return 'none';
}

export function decompressor(kind: Compression): Transform {
  switch (kind) {
    case 'gzip':
      // A large chunk size keeps the tar extractor fed with fewer, bigger buffers.
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new DecompressStream() as unknown as Transform;
    case 'none':
      return new PassThrough({ highWaterMark: 256 * 1024 });
  }
}

export function gzipper(): Transform {
  return createGzip({ level: 6, chunkSize: 256 * 1024 });
}

/**
 * A stream that decompresses whatever arrives, deciding from the first bytes; used where the format is not
 * declared (docker load, import).
 */
export function autoDecompress(onDetect?: (kind: Compression) => void): Transform {
  let inner: Transform | undefined;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (inner) {
        if (!inner.write(chunk)) inner.once('drain', () => cb());
        else cb();
        return;
      }
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen < 4) return cb();
      start();
      cb();
    },
    flush(cb) {
      if (!inner) start();
      inner!.once('end', () => cb());
      inner!.end();
    },
  });
  function start(): void {
    const head = Buffer.concat(pending);
    pending = [];
    const kind = detectCompression(head);
    onDetect?.(kind);
    inner = decompressor(kind);
    inner.on('data', (d: Buffer) => out.push(d));
    inner.on('error', (e) => out.destroy(e));
    inner.write(head);
  }
  return out;
}

/** Count bytes flowing through without touching them. */
export function byteCounter(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      onBytes(total);
      cb(null, chunk);
    },
  });
}

export function readableFrom(buf: Buffer): Readable {
  const p = new PassThrough();
  p.end(buf);
  return p;
}

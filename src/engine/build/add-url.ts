/** ADD <url>: the daemon fetches the file itself; only what the build needs (name, bytes, mtime) comes back. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { invalidArgument } from '../../errors.js';

export interface FetchedFile {
  path: string;
  /** The file name ADD uses when the dest is a directory: the URL's last path segment. */
  name: string;
  size: number;
  mtime: Date;
  sha256: string;
}

export async function fetchForAdd(url: string, dir: string, signal?: AbortSignal): Promise<FetchedFile> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidArgument(`invalid URL for ADD: ${url}`);
  }
  const name = posix.basename(u.pathname) || '';
  if (!name) throw invalidArgument(`cannot determine filename from url: ${url}`);
  let res;
  try {
    res = await request(u, { signal, maxRedirections: 10 } as Parameters<typeof request>[1]);
  } catch (err) {
    throw invalidArgument(`failed to GET ${url}: ${(err as Error).message}`);
  }
  if (res.statusCode >= 400) {
    res.body.destroy();
    throw invalidArgument(`failed to GET ${url} with status ${res.statusCode}`);
  }
  await mkdir(dir, { recursive: true });
  const path = posix.join(dir, `${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(res.body, tap, createWriteStream(path, { mode: 0o600 }));
  const lm = res.headers['last-modified'];
  const mtime = typeof lm === 'string' && !Number.isNaN(Date.parse(lm)) ? new Date(lm) : new Date(0);
  return { path, name, size, mtime, sha256: hash.digest('hex') };
}

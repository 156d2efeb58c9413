/** ADD <url>: the daemon fetches the file itself; only what the build needs (name, bytes, mtime) comes back. */
import { createWriteStream } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { invalidArgument } from '../../errors.js';
import { digestHex } from '../../util/digest.js';
import { hashingTap } from '../../util/hashing-tap.js';

export interface FetchedFile {
  path: string;
  /** The file name ADD uses when the dest is a directory: the URL's last path segment. */
  name: string;
  size: number;
  mtime: Date;
  sha256: string;
}

let dispatcher: Dispatcher | undefined;

/** undici 7 follows redirects only through its interceptor; Go's http.Get follows up to 10. */
function addDispatcher(): Dispatcher {
  dispatcher ??= new Agent().compose(interceptors.redirect({ maxRedirections: 10 }));
  return dispatcher;
}

function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/** The message Go's http.Get gives for a failed request, which is what Docker's ADD reports. */
function goGetError(url: string, u: URL, err: unknown): string {
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const hostPort = `${u.hostname.replace(/^\[|\]$/g, '')}:${port}`;
  const dial = (what: string): string => `Get ${JSON.stringify(url)}: dial tcp ${hostPort}: ${what}`;
  switch (errnoOf(err)) {
    case 'ECONNREFUSED':
      return dial('connect: connection refused');
    case 'EHOSTUNREACH':
      return dial('connect: no route to host');
    case 'ENETUNREACH':
      return dial('connect: network is unreachable');
    case 'ENOTFOUND':
      return `Get ${JSON.stringify(url)}: dial tcp: lookup ${u.hostname}: no such host`;
    default:
      return `Get ${JSON.stringify(url)}: ${(err as Error).message ?? String(err)}`;
  }
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
    res = await request(u, { signal, dispatcher: addDispatcher() });
  } catch (err) {
    throw invalidArgument(goGetError(url, u, err));
  }
  if (res.statusCode >= 400) {
    // destroy() would emit an unhandled 'error' on the body: drain it instead (error pages are small).
    await res.body.dump().catch(() => undefined);
    throw invalidArgument(`failed to GET ${url} with status ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trimEnd());
  }
  await mkdir(dir, { recursive: true });
  const path = posix.join(dir, `${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const hashed = hashingTap();
  await pipeline(res.body, hashed.tap, createWriteStream(path, { mode: 0o600 }));
  const { digest, size } = hashed.result();
  const lm = res.headers['last-modified'];
  const mtime = typeof lm === 'string' && !Number.isNaN(Date.parse(lm)) ? new Date(lm) : new Date(0);
  return { path, name, size, mtime, sha256: digestHex(digest) };
}

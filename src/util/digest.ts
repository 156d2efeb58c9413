import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';

/** An OCI digest such as `sha256:<64 hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw invalidArgument(`invalid digest: ${JSON.stringify(s)}`);
  return s;
}

export function sha256Digest(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The 64 hex characters of a digest. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

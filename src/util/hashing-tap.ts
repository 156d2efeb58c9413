import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { Digest } from './digest.js';

/** A pass-through stream that hashes and counts what flows through it, so one read both stores and digests. */
export function hashingTap(): { tap: Transform; result: () => { digest: Digest; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, result: () => ({ digest: `sha256:${hash.digest('hex')}`, size }) };
}

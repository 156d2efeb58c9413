/**
 * Reading an image's files straight from its unpacked layers (no mount): enough for the few lookups a COPY makes
 * (is the dest a directory, the metadata of parent dirs, /etc/passwd for --chown). Whiteouts of the path itself are
 * honoured; opaque directories and whiteouts of ancestors are not, which these lookups can live with.
 */
import { lstat, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Stats } from 'node:fs';

export class ImageView {
  /** Layer dirs, top first. */
  constructor(private readonly layers: string[]) {}

  async lstat(p: string): Promise<Stats | undefined> {
    const rel = posix.normalize(p).replace(/^\/+/, '');
    if (rel === '' || rel === '.') return undefined;
    const whiteout = posix.join(posix.dirname(rel), `.wh.${posix.basename(rel)}`);
    for (const dir of this.layers) {
      try {
        return await lstat(posix.join(dir, rel));
      } catch {
        /* not in this layer */
      }
      try {
        await lstat(posix.join(dir, whiteout));
        return undefined;
      } catch {
        /* no whiteout here either */
      }
    }
    return undefined;
  }

  async isDir(p: string): Promise<boolean> {
    return (await this.lstat(p))?.isDirectory() ?? false;
  }

  async readText(p: string): Promise<string | undefined> {
    const rel = posix.normalize(p).replace(/^\/+/, '');
    for (const dir of this.layers) {
      try {
        return await readFile(posix.join(dir, rel), 'utf8');
      } catch {
        /* next layer */
      }
    }
    return undefined;
  }
}

/**
 * Reading an image's files straight from its unpacked layers (no mount): enough for the few lookups a COPY makes
 * (is the dest a directory, the metadata of parent dirs, /etc/passwd for --chown). The layers are in overlayfs form,
 * so the merged view is worked out as overlayfs does: a 0:0 character device is a whiteout, a directory marked
 * opaque hides the layers below it, and a non-directory above a path hides it.
 */
import type { Stats } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { getxattr } from '../../runtime/libc.js';
import { OPAQUE_XATTR } from '../../store/overlay-format.js';

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dir: string): boolean {
  try {
    return getxattr(dir, OPAQUE_XATTR)?.toString() === 'y';
  } catch {
    return false;
  }
}

export class ImageView {
  /** Layer dirs, top first. */
  constructor(private readonly layers: string[]) {}

  /** The layer that provides `p` in the merged view, with its stat; undefined when the path does not exist. */
  private async find(p: string): Promise<{ layer: string; stat: Stats } | undefined> {
    const rel = posix.normalize(p).replace(/^\/+/, '');
    if (rel === '' || rel === '.') return undefined;
    const parts = rel.split('/');
    for (const layer of this.layers) {
      const st = await lstatOrUndefined(posix.join(layer, rel));
      if (st) return isWhiteout(st) ? undefined : { layer, stat: st };
      // Does this layer hide the path from the layers below (through an ancestor)?
      for (let i = 1; i < parts.length; i++) {
        const anc = posix.join(layer, ...parts.slice(0, i));
        const ast = await lstatOrUndefined(anc);
        if (!ast) break;
        if (!ast.isDirectory()) return undefined;
        if (isOpaque(anc)) return undefined;
      }
    }
    return undefined;
  }

  async lstat(p: string): Promise<Stats | undefined> {
    return (await this.find(p))?.stat;
  }

  async isDir(p: string): Promise<boolean> {
    return (await this.lstat(p))?.isDirectory() ?? false;
  }

  async readText(p: string): Promise<string | undefined> {
    const found = await this.find(p);
    if (!found?.stat.isFile()) return undefined;
    const rel = posix.normalize(p).replace(/^\/+/, '');
    return readFile(posix.join(found.layer, rel), 'utf8');
  }
}

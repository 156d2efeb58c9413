/**
 * Unpacks a tar as plain files: no whiteout or opaque-dir meaning (`.wh.x` is just a file called `.wh.x`), as the
 * build context and ADD's local archives are not image layers. Modes, mtimes, symlinks and hard links are kept;
 * owners only when asked (ADD archives). An entry that would land outside `dir` (through `..`, a symlinked parent
 * or a hard link out) rejects the whole extraction. Device nodes and fifos are skipped.
 */
import { constants as fsc, type Stats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { BerthError, invalidArgument } from '../../errors.js';
import { cleanEntryPath } from '../../store/layer-tar.js';

export interface PlainExtractOptions {
  /** Keep the uid/gid of the entries (else everything belongs to the extracting user). */
  keepOwners?: boolean;
  /** Entries whose base name this refuses are skipped. */
  skip?: (rel: string) => boolean;
  /** Wording for errors: "build context" or "archive". */
  what?: string;
}

const FILE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

export async function extractPlainTar(tar: Readable, dir: string, opts: PlainExtractOptions = {}): Promise<void> {
  const what = opts.what ?? 'archive';
  const extract = tarStream.extract();
  let tarError: unknown;
  extract.on('error', (err: unknown) => (tarError = err));
  tar.on('error', (err) => extract.destroy(err));
  tar.pipe(extract as unknown as NodeJS.WritableStream);
  /** Directories whose mtime is set at the end, as later entries change it. */
  const dirTimes: Array<{ abs: string; mtime: Date }> = [];
  /** Known-safe directories (relative); anything else above an entry is checked for symlinks. */
  const safeDirs = new Set<string>(['']);

  const ensureParents = async (rel: string): Promise<void> => {
    const parts = rel.split('/').slice(0, -1);
    let cur = '';
    for (const p of parts) {
      cur = cur ? `${cur}/${p}` : p;
      if (safeDirs.has(cur)) continue;
      const abs = posix.join(dir, cur);
      const st = await lstatOrUndefined(abs);
      if (!st) await mkdir(abs, { mode: 0o755 });
      else if (!st.isDirectory()) throw invalidArgument(`${what} entry ${JSON.stringify(rel)}: ${cur} is not a directory`);
      safeDirs.add(cur);
    }
  };

  const replace = async (abs: string, asDir: boolean): Promise<void> => {
    const st = await lstatOrUndefined(abs);
    if (st && !(asDir && st.isDirectory())) await rm(abs, { recursive: true, force: true });
  };

  try {
    for await (const entry of extract) {
      const h = entry.header;
      const rel = cleanEntryPath(h.name);
      if (rel === '' || opts.skip?.(rel)) {
        entry.resume();
        continue;
      }
      await ensureParents(rel);
      const abs = posix.join(dir, rel);
      const mode = (h.mode ?? 0o644) & 0o7777;
      const mtime = h.mtime ?? new Date();
      switch (h.type) {
        case 'directory': {
          await replace(abs, true);
          await mkdir(abs, { recursive: true });
          await chmod(abs, mode);
          safeDirs.add(rel);
          dirTimes.push({ abs, mtime });
          break;
        }
        case 'file':
        case 'contiguous-file': {
          await replace(abs, false);
          safeDirs.delete(rel);
          const fh = await open(abs, FILE_FLAGS, 0o600);
          try {
            for await (const chunk of entry as AsyncIterable<Buffer>) await fh.write(chunk);
            await fh.chmod(mode);
          } finally {
            await fh.close();
          }
          break;
        }
        case 'symlink': {
          await replace(abs, false);
          safeDirs.delete(rel);
          await symlink(h.linkname ?? '', abs);
          break;
        }
        case 'link': {
          const target = cleanEntryPath(h.linkname ?? '', h.name);
          const targetAbs = posix.join(dir, target);
          const st = await lstatOrUndefined(targetAbs);
          if (!st || st.isDirectory()) throw invalidArgument(`${what} entry ${JSON.stringify(h.name)}: invalid hard link to ${JSON.stringify(h.linkname)}`);
          await replace(abs, false);
          safeDirs.delete(rel);
          await link(targetAbs, abs);
          break;
        }
        default:
          entry.resume();
          continue;
      }
      if (opts.keepOwners) await lchown(abs, h.uid ?? 0, h.gid ?? 0);
      if (h.type !== 'directory' && h.type !== 'link') await lutimes(abs, mtime, mtime);
      entry.resume();
    }
    for (const d of dirTimes.reverse()) await lutimes(d.abs, d.mtime, d.mtime).catch(() => undefined);
  } catch (caught) {
    tar.unpipe(extract as unknown as NodeJS.WritableStream);
    tar.destroy();
    const err = tarError ?? caught;
    if (err instanceof BerthError) throw err;
    throw invalidArgument(`failed to extract the ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

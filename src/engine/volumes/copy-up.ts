/**
 * Docker's copy-up: an empty volume mounted where the image has content gets that content first, with modes, owners,
 * timestamps, symlinks and hard links kept; the volume's root takes the image directory's owner and mode.
 */
import { execFile } from 'node:child_process';
import { lstat, readdir, readlink, chmod, chown, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../../errors.js';

const execFileAsync = promisify(execFile);

/** `containerPath` resolved inside `root`, following symlinks as if `root` were `/`; undefined when absent. */
export async function resolveInRoot(root: string, containerPath: string): Promise<string | undefined> {
  const parts = containerPath.split('/').filter((p) => p && p !== '.');
  let cur: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === '..') {
      cur.pop();
      continue;
    }
    const candidate = path.join(root, ...cur, name);
    const st = await lstat(candidate).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await readlink(candidate);
      if (target.startsWith('/')) cur = [];
      parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
      continue;
    }
    cur.push(name);
  }
  return path.join(root, ...cur);
}

/** Copies the image's directory at `containerPath` into `volumeDir` when the volume is empty. True when copied. */
export async function copyUp(rootfs: string, containerPath: string, volumeDir: string): Promise<boolean> {
  const existing = await readdir(volumeDir).catch(() => []);
  if (existing.length > 0) return false;
  const source = await resolveInRoot(rootfs, containerPath);
  if (!source) return false;
  const st = await stat(source).catch(() => undefined);
  if (!st?.isDirectory()) return false;
  const entries = await readdir(source);
  if (entries.length > 0) {
    try {
      await execFileAsync('cp', ['-a', '--', `${source}/.`, volumeDir], { maxBuffer: 1 << 20 });
    } catch (e) {
      throw new BerthError('internal', `copying image content at ${containerPath} into its volume: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`, { cause: e });
    }
  }
  await chown(volumeDir, st.uid, st.gid);
  await chmod(volumeDir, st.mode & 0o7777);
  return entries.length > 0;
}

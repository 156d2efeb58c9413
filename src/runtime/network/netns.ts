import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { conflict } from '../../errors.js';
import { MNT_DETACH, umount2, type SyscallError } from '../libc.js';
import { execChecked } from './exec.js';

/**
 * Network namespaces kept alive by a bind mount of their nsfs file (what `ip netns add` does, under berth's own
 * directory). `unshare --net=<file>` makes the namespace, binds it and runs `ip` inside to bring lo up: one exec.
 * The unmount is a direct umount2 call: no exec.
 */


export async function createNetns(dir: string, path: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Exclusive create: an existing file is either a live sandbox or a leftover that reconcile removes.
  const fh = await open(path, 'wx', 0o444).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') throw conflict(`network sandbox ${path} already exists`);
    throw e;
  });
  await fh.close();
  try {
    await execChecked('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await removeNetns(path);
    throw e;
  }
}

/** Lazily unmounts (the namespace dies with its last user) and deletes the file; absent is fine. */
export async function removeNetns(path: string): Promise<void> {
  try {
    umount2(path, MNT_DETACH);
  } catch (e) {
    // EINVAL: not a mount point (a half-made sandbox); ENOENT: already gone.
    const code = (e as SyscallError).code;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw e;
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** File names (container ids) under the sandbox directory; [] when it does not exist. */
export async function listNetns(dir: string): Promise<string[]> {
  return readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
}

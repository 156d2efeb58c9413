import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { invalidArgument } from '../errors.js';

/**
 * `--user` and `--group-add` resolved against the image's /etc/passwd and /etc/group, with the rules of
 * Docker (moby/sys/user): a numeric user or group needs no entry, a name does; supplementary groups come
 * from the group file only when no group was given.
 */

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then supplementary groups, then `--group-add`, as Docker puts them in the spec. */
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;
const MAX_SYMLINKS = 255;

/**
 * `path` (absolute, inside the container) as a host path under `rootfs`, with every symlink resolved as if
 * `rootfs` were `/`: absolute targets restart at rootfs, `..` stops at it. Missing components are kept as they are.
 */
export async function resolveInRoot(rootfs: string, path: string): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = posix.join(rootfs, ...resolved, part);
    let target: string | undefined;
    try {
      const st = await lstat(candidate);
      if (st.isSymbolicLink()) target = await readlink(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw invalidArgument(`too many levels of symbolic links in ${path}`);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return posix.join(rootfs, ...resolved);
}

async function readInRoot(rootfs: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(await resolveInRoot(rootfs, path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
}

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  return Number(s);
}

function lines(text: string | undefined): string[][] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return lines(text).map((f) => ({
    name: f[0] ?? '',
    uid: parseId(f[2] ?? '') ?? 0,
    gid: parseId(f[3] ?? '') ?? 0,
    home: f[5] ?? '',
  }));
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  return lines(text).map((f) => ({
    name: f[0] ?? '',
    gid: parseId(f[2] ?? '') ?? 0,
    members: (f[3] ?? '').split(',').filter(Boolean),
  }));
}

function checkRange(kind: 'uid' | 'gid', id: number): number {
  if (id > MAX_ID) throw invalidArgument(`${kind} ${id} out of range`);
  return id;
}

/** The resolution itself, on already-read files (no file: `undefined`). */
export function resolveUserFrom(
  passwdText: string | undefined,
  groupText: string | undefined,
  user: string,
  groupAdd: string[],
): ResolvedUser {
  const colon = user.indexOf(':');
  const userArg = (colon >= 0 ? user.slice(0, colon) : user) || '0';
  const groupArg = colon >= 0 ? user.slice(colon + 1) : '';
  const uidArg = parseId(userArg);
  const gidArg = parseId(groupArg);

  const resolved: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  const match = parsePasswd(passwdText).find((u) => u.name === userArg || (uidArg !== undefined && u.uid === uidArg));
  if (match) {
    resolved.uid = match.uid;
    resolved.gid = match.gid;
    resolved.home = match.home || '/';
  } else if (uidArg === undefined) {
    throw invalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
  } else {
    resolved.uid = checkRange('uid', uidArg);
  }

  const groups = parseGroup(groupText);
  const supplementary: number[] = [];
  if (groupArg !== '') {
    const g = groups.find((e) => (gidArg === undefined ? e.name === groupArg : e.gid === gidArg));
    if (g) resolved.gid = g.gid;
    else if (gidArg === undefined) throw invalidArgument(`unable to find group ${groupArg}: no matching entries in group file`);
    else resolved.gid = checkRange('gid', gidArg);
  } else if (match) {
    for (const g of groups) if (g.members.includes(match.name)) supplementary.push(g.gid);
  }

  const added: number[] = [];
  for (const name of groupAdd) {
    const gid = parseId(name);
    const g = groups.find((e) => e.name === name || (gid !== undefined && e.gid === gid));
    if (g) added.push(g.gid);
    else if (gid === undefined) throw invalidArgument(`Unable to find group ${name}: no matching entries in group file`);
    else added.push(checkRange('gid', gid));
  }
  resolved.additionalGids = [...new Set([resolved.gid, ...supplementary, ...added])];
  return resolved;
}

/**
 * `user` ('', 'name', 'uid', 'name:group', 'uid:gid', ...) and `--group-add` entries, resolved in the
 * container's root filesystem. Symlinks in /etc are followed inside the root only.
 */
export async function resolveUser(rootfs: string, user: string, groupAdd: string[]): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readInRoot(rootfs, '/etc/passwd'), readInRoot(rootfs, '/etc/group')]);
  return resolveUserFrom(passwd, group, user, groupAdd);
}

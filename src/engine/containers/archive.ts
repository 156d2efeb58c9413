import { spawn } from 'node:child_process';
import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { invalidArgument, notFound } from '../../errors.js';
import { applyLayerTar } from '../../store/layer-tar.js';
import { resolveInRoot } from '../../runtime/user.js';

/** Docker's X-Docker-Container-Path-Stat: Go's os.FileMode bits for the type, and the permission bits. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

/** Resolves a path the container names, symlinks followed inside its root only, as Docker's cp does. */
async function hostPathOf(root: string, containerPath: string, label: string): Promise<string> {
  if (!containerPath) throw invalidArgument('path is required');
  const resolved = await resolveInRoot(root, path.posix.resolve('/', containerPath));
  try {
    await lstat(resolved);
  } catch {
    throw notFound(`Could not find the file ${containerPath} in container ${label}`);
  }
  return resolved;
}

export async function statPath(root: string, containerPath: string, label: string): Promise<PathStat> {
  const host = await hostPathOf(root, containerPath, label);
  const st = await lstat(host);
  const mode = (st.mode & 0o7777) + (st.isDirectory() ? GO_MODE_DIR : 0) + (st.isSymbolicLink() ? GO_MODE_SYMLINK : 0);
  return {
    name: path.posix.basename(containerPath) || '/',
    size: st.size,
    mode,
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await readlink(host) : '',
  };
}

/** A tar of the path, its entries named from the path's base name, as GET /containers/{id}/archive returns. */
export async function archivePath(root: string, containerPath: string, label: string): Promise<Readable> {
  const host = await hostPathOf(root, containerPath, label);
  const parent = path.dirname(host);
  const base = path.basename(host);
  // GNU tar archives without following symlinks, so nothing outside the resolved path is read.
  const child = spawn('tar', ['--numeric-owner', '-C', parent, '-cf', '-', base === '' ? '.' : base], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new Error(`archiving ${containerPath}: ${err.trim()}`));
  });
  return child.stdout;
}

/** PUT /containers/{id}/archive: unpacks a tar into a directory of the container, never outside its root. */
export async function extractInto(root: string, containerPath: string, tar: Readable, label: string): Promise<void> {
  const host = await hostPathOf(root, containerPath, label);
  if (!(await stat(host)).isDirectory()) throw invalidArgument(`extraction point is not a directory: ${containerPath}`);
  await applyLayerTar(tar, host, { allowDevices: false });
}

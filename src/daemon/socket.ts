/** Preparing berthd's unix socket: a stale file goes, a live one is not stolen, and access is root:<group> 0660. */
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { conflict, invalidArgument } from '../errors.js';

function connects(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o711 });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(socketPath)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw invalidArgument(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await connects(socketPath)) throw conflict(`another daemon is listening on ${socketPath}`);
  await unlink(socketPath);
}

/** The gid of a group name (or a numeric gid), from /etc/group. */
export async function groupId(group: string, groupFile = '/etc/group'): Promise<number> {
  if (/^\d+$/.test(group)) return Number.parseInt(group, 10);
  let text = '';
  try {
    text = await readFile(groupFile, 'utf8');
  } catch {
    // no group database: only root is known
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number.parseInt(gid, 10);
  }
  if (group === 'root') return 0;
  throw invalidArgument(`group ${JSON.stringify(group)} not found (for the API socket's --group)`);
}

export async function secureSocket(socketPath: string, gid: number): Promise<void> {
  await chown(socketPath, process.getuid?.() ?? 0, gid);
  await chmod(socketPath, 0o660);
}

export async function removeSocket(socketPath: string): Promise<void> {
  try {
    await unlink(socketPath);
  } catch {
    // already gone
  }
}

/**
 * One daemon per data root: `<data-root>/berthd.lock` holds the owner's pid. A lock whose pid is a
 * live berthd refuses the start; a lock left by a dead (or reused) pid is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { conflict } from '../errors.js';

/** A live process whose command line says it is berthd (pids get reused after a crash). */
export function isLiveBerthd(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state; a zombie holds nothing.
    if (/\)\s+Z\s/.test(stat)) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return /berthd|daemon\/main/.test(cmdline);
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isNaN(n) ? undefined : n;
  } catch {
    return undefined;
  }
}

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface DaemonLock {
  readonly path: string;
  release(): void;
}

export function acquireDaemonLock(dataRoot: string, pid: number = process.pid): DaemonLock {
  const file = path.join(dataRoot, 'berthd.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, `${pid}\n`)) {
      return {
        path: file,
        release: () => {
          // Only our own lock: a successor may have taken over a lock we thought we held.
          if (readPid(file) === pid) unlinkSync(file);
        },
      };
    }
    const owner = readPid(file);
    if (owner !== undefined && owner !== pid && isLiveBerthd(owner)) {
      throw conflict(`berthd is already running with data root ${dataRoot} (pid ${owner}); only one daemon may use a data root (lock file ${file})`);
    }
    // Stale: its owner is gone. Removing and re-creating with 'wx' keeps a concurrent starter from
    // also winning: at most one of us creates the new file.
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw conflict(`could not take the daemon lock ${file}: another berthd is starting`);
}

/** Writes the pidfile, refusing when it names another live berthd (dockerd does the same check). */
export function writePidfile(file: string, pid: number = process.pid): void {
  const owner = readPid(file);
  if (owner !== undefined && owner !== pid && isLiveBerthd(owner)) {
    throw conflict(`pid file found, ensure berthd is not running or delete ${file} (process with PID ${owner} is still running)`);
  }
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!createExclusive(file, `${pid}`)) throw conflict(`pid file ${file} was created by another process`);
}

export function removePidfile(file: string, pid: number = process.pid): void {
  if (readPid(file) === pid) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

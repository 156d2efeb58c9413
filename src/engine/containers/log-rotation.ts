/**
 * Rotation of conmon's k8s-file logs, the way Docker's json-file driver rotates: when ctr.log passes max-size it
 * becomes ctr.log.1 (ctr.log.1 becomes .2, and so on; the file past max-file - 1 is deleted) and conmon is told to
 * reopen its log, which starts a fresh ctr.log.
 *
 * conmon's own --log-size-max would throw the whole log away instead, so berthd watches the logs of running
 * containers that have a limit. conmon keeps writing to the renamed file until it handles the reopen, so no record
 * is lost or split between files: records are written whole between two control messages.
 *
 * conmon 2.1.6 does not reset its --log-size-max byte count on a reopen we ask for, so its own limit (the safety net
 * for while berthd is down) still fires now and then, replacing ctr.log and deleting what it held. berthd therefore
 * keeps a hard link, ctr.log.live, to the current file: when conmon replaced the file itself, the link still holds the
 * old one, which becomes ctr.log.1 like any rotated file.
 */
import { type FSWatcher, watch } from 'node:fs';
import { link, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { reopenConmonLog, rotatedLogPath } from '../../runtime/container-log.js';

export interface RotationTarget {
  logPath: string;
  /** conmon's control FIFO (the bundle's `ctl`). */
  ctlPath: string;
  maxSize: number;
  maxFile: number;
}

/**
 * Shifts ctr.log -> ctr.log.1 -> ... -> ctr.log.<maxFile-1>; with maxFile 1 the current file is dropped (Docker
 * truncates it). The caller then asks conmon to reopen.
 */
export async function shiftLogFiles(logPath: string, maxFile: number, from: string = logPath): Promise<void> {
  if (maxFile <= 1) {
    await rm(from, { force: true });
    return;
  }
  await rm(rotatedLogPath(logPath, maxFile - 1), { force: true });
  for (let n = maxFile - 2; n >= 1; n--) {
    await rename(rotatedLogPath(logPath, n), rotatedLogPath(logPath, n + 1)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  await rename(from, rotatedLogPath(logPath, 1));
}

/** The hard link berthd keeps to the current log file (not a rotated file: readers ignore it). */
export function liveLogLink(logPath: string): string {
  return `${logPath}.live`;
}

/**
 * The safety net while berthd is down: conmon's --log-size-max (which starts the log afresh, losing it) set high
 * enough never to fire while berthd rotates at maxSize, yet bounding the disk: at most about twice the configured
 * maxSize x maxFile.
 */
export function conmonLogSizeMax(t: { maxSize: number; maxFile: number }): number {
  return t.maxSize * (t.maxFile + 1);
}

interface Watched {
  target: RotationTarget;
  watcher: FSWatcher | undefined;
  busy: boolean;
  again: boolean;
}

/** Polls as a backstop in case inotify coalesces or drops events (queue overflow). */
const BACKSTOP_MS = 1000;

export class LogRotator {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: (level: 'warn', msg: string) => void) {}

  /** Starts watching a running container's log; a no-op for a container already watched. */
  watch(id: string, target: RotationTarget): void {
    if (this.watched.has(id)) return;
    const w: Watched = { target, watcher: undefined, busy: false, again: false };
    const name = path.basename(target.logPath);
    try {
      // The directory, not the file: the file is replaced at every rotation.
      w.watcher = watch(path.dirname(target.logPath), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.check(id);
      });
      w.watcher.on('error', () => undefined);
    } catch {
      w.watcher = undefined;
    }
    this.watched.set(id, w);
    this.timer ??= setInterval(() => {
      for (const key of this.watched.keys()) this.check(key);
    }, BACKSTOP_MS).unref();
    this.check(id);
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    w.watcher?.close();
    this.watched.delete(id);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }

  /** One rotation at a time per container; an event during one asks for another look afterwards. */
  private check(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    if (w.busy) {
      w.again = true;
      return;
    }
    w.busy = true;
    void this.rotateIfFull(w)
      .catch((e: Error) => this.log('warn', `rotating the log of ${id}: ${e.message}`))
      .finally(() => {
        w.busy = false;
        if (w.again && this.watched.get(id) === w) {
          w.again = false;
          this.check(id);
        }
      });
  }

  private async rotateIfFull(w: Watched): Promise<void> {
    const { logPath, ctlPath, maxSize, maxFile } = w.target;
    const live = liveLogLink(logPath);
    const st = await stat(logPath).catch(() => undefined);
    // Between a rotation and conmon's reopen there is no current file.
    if (!st) return;
    const held = await stat(live).catch(() => undefined);
    if (held && held.ino !== st.ino) {
      // conmon replaced the file on its own: keep the old one as the newest rotated file.
      await shiftLogFiles(logPath, maxFile, live);
      await rm(live, { force: true });
    }
    if (!held || held.ino !== st.ino) {
      await link(logPath, live).catch((e: NodeJS.ErrnoException) => {
        // ENOENT: replaced again meanwhile; the next event links the new one.
        if (e.code !== 'ENOENT' && e.code !== 'EEXIST') throw e;
      });
    }
    if (st.size < maxSize) return;
    await rm(live, { force: true });
    await shiftLogFiles(logPath, maxFile);
    await reopenConmonLog(ctlPath).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENXIO' && e.code !== 'ENOENT') throw e;
      // conmon is gone (the container just exited): start the empty current file it would have made.
      await writeFile(logPath, '', { flag: 'a', mode: 0o600 });
    });
  }
}

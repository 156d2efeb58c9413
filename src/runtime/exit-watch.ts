import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * conmon's exit files: `<exit-dir>/<container id>` holds the exit code as decimal text (128+n for a
 * signal) once the container has exited and its output has been drained. Exit files are the truth
 * about a container's end; pids are not (orphans stay zombies for ~2 s on these machines).
 */

/** The exit code, or undefined when the file is not there (yet). */
export async function readExitCode(exitDir: string, id: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(exitDir, id), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  // An empty or torn file means conmon is still writing it; the next inotify event brings the rest.
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * Resolves with the exit code once the exit file exists. The watch starts before the first check, so a
 * file written in between is never missed. Rejects with an AbortError when `signal` aborts.
 */
export function waitForExit(exitDir: string, id: string, signal?: AbortSignal): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    let done = false;
    let checking = false;
    let again = false;
    const finish = (err: unknown, code?: number): void => {
      if (done) return;
      done = true;
      watcher.close();
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(code as number);
    };
    // Coalesce bursts of events into one read at a time; a read that races a write is simply repeated.
    const check = (): void => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      readExitCode(exitDir, id).then(
        (code) => {
          checking = false;
          if (code !== undefined) finish(undefined, code);
          else if (again) {
            again = false;
            check();
          }
        },
        (e: unknown) => {
          checking = false;
          finish(e);
        },
      );
    };
    const onAbort = (): void => finish(abortError(signal));
    const watcher = watch(exitDir, { persistent: true }, (_event, filename) => {
      if (filename === null || filename === id || String(filename) === id) check();
    });
    watcher.on('error', (e) => finish(e));
    signal?.addEventListener('abort', onAbort, { once: true });
    check();
  });
}

function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('the wait was aborted');
  err.name = 'AbortError';
  return err;
}

import { closeSync, constants as fsc, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { mknod, S_IFIFO } from './libc.js';

/**
 * A real pipe between berthd and a child process, made from a fifo. Node's `stdio: 'pipe'` gives the child a
 * socketpair, and a process cannot open a socket as /dev/stdout or /dev/stderr (ENXIO), which shell scripts do;
 * a fifo gives it a pipe, as conmon and containerd do.
 */
export interface FifoPipe {
  /** The child's end (blocking, as a process expects its stdio); pass it in `stdio`, then call `closeChildEnd`. */
  readonly childFd: number;
  /** Our end, non-blocking, as a stream. */
  readonly stream: Socket;
  closeChildEnd(): void;
}

function makeFifo(path: string): void {
  mknod(path, S_IFIFO | 0o600, 0, 0);
}

function pipeOf(path: string, ours: number, childFd: number, readable: boolean): FifoPipe {
  // The name is no longer needed once both ends are open.
  unlinkSync(path);
  const stream = new Socket({ fd: ours, readable, writable: !readable });
  let closed = false;
  return {
    childFd,
    stream,
    closeChildEnd: () => {
      if (closed) return;
      closed = true;
      closeSync(childFd);
    },
  };
}

/** The child writes, we read (its stdout or stderr). */
export function outputPipe(path: string): FifoPipe {
  makeFifo(path);
  const ours = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  // A reader exists, so this open does not block.
  const theirs = openSync(path, fsc.O_WRONLY);
  return pipeOf(path, ours, theirs, true);
}

/** We write, the child reads (its stdin). */
export function inputPipe(path: string): FifoPipe {
  makeFifo(path);
  // A non-blocking write end needs a reader, and a blocking read end needs a writer: a short-lived reader breaks the tie.
  const probe = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  try {
    const ours = openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK);
    const theirs = openSync(path, fsc.O_RDONLY);
    return pipeOf(path, ours, theirs, false);
  } finally {
    closeSync(probe);
  }
}

import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osc } from 'node:os';
import { pipe, posixSpawn, reapNoHang, type SpawnFdAction } from './libc.js';

/**
 * Starting a child through posix_spawn(3) (glibc: clone with CLONE_VM|CLONE_VFORK, then exec) instead of Node's
 * spawn, which forks: a fork copies the page tables of the whole daemon (~130 MB resident) and blocked berthd's event
 * loop ~4 ms per conmon or runtime start here; posix_spawn costs a fraction of a millisecond whatever berthd's size.
 * Node does not know these children, so they are reaped here, on SIGCHLD, by pid.
 */

export interface LightExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * How each of the child's descriptors 0..n is set up: 'ignore' is /dev/null, 'output' a pipe the child writes and
 * we read, 'input' a pipe we write and the child reads, a number an open descriptor of ours handed over as it is.
 * The pipes are real pipes (a process can open them as /dev/stdout, which a socketpair refuses with ENXIO).
 */
export type LightStdio = 'ignore' | 'output' | 'input' | number;

export interface LightChild {
  readonly pid: number;
  /** Our end of each pipe asked for, by the child's descriptor number. */
  readonly pipes: ReadonlyMap<number, Socket>;
  /** Settles once the child has exited and been reaped. */
  readonly exited: Promise<LightExit>;
}

const waiting = new Map<number, (exit: LightExit) => void>();
let reaper: NodeJS.Timeout | undefined;

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(osc.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

function reap(): void {
  for (const [pid, settle] of waiting) {
    const s = reapNoHang(pid);
    if (s === undefined) continue;
    waiting.delete(pid);
    // null: someone else reaped it (ECHILD); its status is lost, the exit is not.
    if (s === null) settle({ code: null, signal: null });
    else if ((s & 0x7f) === 0) settle({ code: (s >> 8) & 0xff, signal: null });
    else settle({ code: null, signal: signalName(s & 0x7f) });
  }
  if (waiting.size === 0 && reaper) {
    clearInterval(reaper);
    reaper = undefined;
    process.removeListener('SIGCHLD', reap);
  }
}

function watchChild(pid: number): Promise<LightExit> {
  const exited = new Promise<LightExit>((resolve) => waiting.set(pid, resolve));
  if (!reaper) {
    process.on('SIGCHLD', reap);
    // A safety net only (SIGCHLD is what normally reaps); like a Node child, a pending one keeps the loop alive.
    reaper = setInterval(reap, 250);
  }
  return exited;
}

/** Starts `file` (an absolute path) with `args` and exactly `env`. Throws the SyscallError when it cannot be started. */
export function spawnLight(file: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; stdio: readonly LightStdio[] }): LightChild {
  const actions: SpawnFdAction[] = [];
  const ours: Array<{ fd: number; childFd: number; readable: boolean }> = [];
  const theirs: number[] = [];
  try {
    opts.stdio.forEach((how, fd) => {
      if (how === 'ignore') actions.push({ fd, open: '/dev/null', flags: fd === 0 ? 0 : 1 });
      else if (typeof how === 'number') actions.push({ fd, dup: how });
      else {
        const [r, w] = pipe();
        const readable = how === 'output';
        ours.push({ fd: readable ? r : w, childFd: fd, readable });
        theirs.push(readable ? w : r);
        actions.push({ fd, dup: readable ? w : r });
      }
    });
    const env = Object.entries(opts.env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const pid = posixSpawn(file, [file, ...args], env, actions);
    const pipes = new Map(ours.map((o) => [o.childFd, new Socket({ fd: o.fd, readable: o.readable, writable: !o.readable })]));
    return { pid, pipes, exited: watchChild(pid) };
  } catch (e) {
    for (const o of ours) closeSync(o.fd);
    throw e;
  } finally {
    // The child has its copies; ours would keep the pipes open past its exit.
    for (const fd of theirs) closeSync(fd);
  }
}

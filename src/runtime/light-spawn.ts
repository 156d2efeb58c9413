import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osc } from 'node:os';
import koffi from 'koffi';
import { unavailable } from '../errors.js';

/**
 * Starting a child through posix_spawn(3) (glibc: clone with CLONE_VM|CLONE_VFORK, then exec) instead of Node's
 * spawn, which forks: a fork copies the page tables of the whole daemon (~130 MB resident) and blocked berthd's event
 * loop ~4 ms per conmon or runtime start here; posix_spawn costs a fraction of a millisecond whatever berthd's size.
 * Node does not know these children, so they are reaped here, on SIGCHLD, by pid.
 */

const libc = koffi.load('libc.so.6');
const posixSpawn = libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)');
const actionsInit = libc.func('int posix_spawn_file_actions_init(void *actions)');
const actionsDestroy = libc.func('int posix_spawn_file_actions_destroy(void *actions)');
const actionsDup2 = libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
const actionsOpen = libc.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)');
const attrInit = libc.func('int posix_spawnattr_init(void *attr)');
const attrDestroy = libc.func('int posix_spawnattr_destroy(void *attr)');
const attrSetFlags = libc.func('int posix_spawnattr_setflags(void *attr, short flags)');
const attrSetSigMask = libc.func('int posix_spawnattr_setsigmask(void *attr, void *set)');
const attrSetSigDefault = libc.func('int posix_spawnattr_setsigdefault(void *attr, void *set)');
const sigEmptySet = libc.func('int sigemptyset(void *set)');
const sigFillSet = libc.func('int sigfillset(void *set)');
const waitPid = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
const pipe2 = libc.func('int pipe2(_Out_ int *fds, int flags)');

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
/** Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128). */
const OPAQUE_SIZE = 1024;

export interface LightExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * How each of the child's descriptors 0..n is set up: 'ignore' is /dev/null, 'output' a pipe the child writes and
 * we read, 'input' a pipe we write and the child reads, a number an open descriptor of ours handed over as it is.
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
    const status = [0];
    const r = waitPid(pid, status, WNOHANG) as number;
    if (r === 0) continue;
    waiting.delete(pid);
    const s = status[0] ?? 0;
    // r < 0: someone else reaped it (ECHILD); its status is lost, the exit is not.
    if (r < 0) settle({ code: null, signal: null });
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

function makePipe(): [number, number] {
  const fds = [0, 0];
  if ((pipe2(fds, O_CLOEXEC) as number) !== 0) throw unavailable(`pipe2 failed (errno ${koffi.errno()})`);
  return [fds[0] as number, fds[1] as number];
}

/** Starts `file` (an absolute path) with `args` and exactly `env`. Throws when it cannot be started. */
export function spawnLight(file: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; stdio: readonly LightStdio[] }): LightChild {
  const actions = Buffer.alloc(OPAQUE_SIZE);
  const attr = Buffer.alloc(OPAQUE_SIZE);
  const sigs = Buffer.alloc(OPAQUE_SIZE);
  const childEnds: number[] = [];
  const pipes = new Map<number, Socket>();
  const ours: number[] = [];
  actionsInit(actions);
  attrInit(attr);
  try {
    // Node ignores SIGPIPE and may block signals; a fresh program must start with the defaults.
    attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    sigEmptySet(sigs);
    attrSetSigMask(attr, sigs);
    sigFillSet(sigs);
    attrSetSigDefault(attr, sigs);
    const handOver: Array<[number, number]> = [];
    opts.stdio.forEach((how, fd) => {
      if (how === 'ignore') {
        actionsOpen(actions, fd, '/dev/null', fd === 0 ? 0 : 1, 0);
      } else if (how === 'output' || how === 'input') {
        const [r, w] = makePipe();
        const [mine, theirs] = how === 'output' ? [r, w] : [w, r];
        ours.push(mine);
        childEnds.push(theirs);
        handOver.push([theirs, fd]);
      } else {
        handOver.push([how, fd]);
      }
    });
    for (const [from, to] of handOver) actionsDup2(actions, from, to);
    const env = Object.entries(opts.env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const pid = [0];
    const err = posixSpawn(pid, file, actions, attr, [file, ...args, null], [...env, null]) as number;
    if (err !== 0) {
      const code = Object.entries(osc.errno).find(([, n]) => n === err)?.[0] ?? `errno ${err}`;
      throw unavailable(`cannot run ${file}: ${code}`);
    }
    let i = 0;
    opts.stdio.forEach((how, fd) => {
      if (how !== 'output' && how !== 'input') return;
      pipes.set(fd, new Socket({ fd: ours[i++] as number, readable: how === 'output', writable: how === 'input' }));
    });
    return { pid: pid[0] as number, pipes, exited: watchChild(pid[0] as number) };
  } catch (e) {
    for (const fd of ours) closeSync(fd);
    throw e;
  } finally {
    // The child has its copies; ours would keep the pipes open past its exit.
    for (const fd of childEnds) closeSync(fd);
    actionsDestroy(actions);
    attrDestroy(attr);
  }
}

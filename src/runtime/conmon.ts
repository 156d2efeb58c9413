import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError, unavailable } from '../errors.js';
import { readExitCode } from './exit-watch.js';
import { spawnLight, type LightChild, type LightStdio } from './light-spawn.js';
import type { OciRuntime } from './oci-runtime.js';

/**
 * conmon, the container monitor: it runs `<runtime> create` (or `exec`), then daemonizes and holds the
 * container's stdio, pty, log file and exit code, so containers outlive the daemon. We talk to it
 * through the "sync pipe" (fd 3: JSON lines `{"data": n, "message"?: s}`), the start pipe (fd 4: one
 * byte to let it go on) and, for exec with attach, the attach pipe (fd 5: `{"data":0}` once the attach
 * socket exists). Never close the sync pipe before the pid arrives: conmon dies on EPIPE and leaves a
 * `created` container without a monitor.
 */

export const DEFAULT_CONMON_PATH = '/usr/bin/conmon';

export interface ConmonCreateOptions {
  id: string;
  /** The container's name (conmon uses it in its own log messages). */
  name: string;
  /** The OCI bundle (config.json + rootfs); conmon also puts attach/ctl/winsz here. */
  bundle: string;
  runtime: OciRuntime;
  /** conmon writes `<exitDir>/<id>` with the exit code. */
  exitDir: string;
  /** conmon writes `exit` and `oom` here; the pid files go here too. */
  persistDir: string;
  /** The k8s-file log; none (no log kept, `--log-driver none`) when absent. */
  logPath?: string;
  /** Bytes; conmon starts the log afresh when it grows past this (berthd rotates well before; see log-rotation). */
  logMaxSize?: number;
  terminal: boolean;
  /** -i: a stdin pipe that attach clients write to. */
  stdin: boolean;
  /** Docker's StdinOnce: close the container's stdin when the first attached client ends its input. Otherwise stdin stays open. */
  stdinOnce?: boolean;
  conmonPath?: string;
}

export interface CreatedContainer {
  /** The container's init process (in the host pid namespace). */
  pid: number;
  /** The daemonized conmon monitor. */
  conmonPid: number;
  attachPath: string;
  ctlPath: string;
  winszPath: string;
}

export interface ExecOptions {
  containerId: string;
  sessionId: string;
  /** A directory of the session's own: conmon puts attach/ctl/winsz, the pid file and exit/ here. */
  sessionDir: string;
  runtime: OciRuntime;
  /** An OCI `process` object. */
  process: object;
  terminal: boolean;
  stdin: boolean;
  /** --exec-attach: conmon waits for start() after making the attach socket, so no output is lost. */
  attach: boolean;
  /** A k8s-file log of the session's output; none when absent. */
  logPath?: string;
  conmonPath?: string;
}

export interface ExecSession {
  pid: Promise<number>;
  exitCode: Promise<number>;
  /** Present when `attach`. */
  attachPath?: string;
  ctlPath: string;
  /** Lets conmon run the process; with `attach`, call it after connecting to attachPath. */
  start(): Promise<void>;
}

interface SyncMessage {
  data: number;
  message?: string;
}

/** Creates the container under a new conmon; resolves once the runtime has created it (not started). */
export async function conmonCreate(o: ConmonCreateOptions): Promise<CreatedContainer> {
  await Promise.all([mkdir(o.exitDir, { recursive: true }), mkdir(o.persistDir, { recursive: true })]);
  const pidFile = join(o.persistDir, 'pidfile');
  const conmonPidFile = join(o.persistDir, 'conmon.pid');
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-r', o.runtime.execPath,
    '-b', o.bundle,
    '-p', pidFile,
    '-n', o.name,
    '--exit-dir', o.exitDir,
    '--persist-dir', o.persistDir,
    '--full-attach',
    '-l', o.logPath !== undefined ? `k8s-file:${o.logPath}` : 'none',
    '--conmon-pidfile', conmonPidFile,
    // Docker does not fsync container logs either; syncing costs every short-lived container ~5 ms at exit.
    '--no-sync-log',
  ];
  for (const a of o.runtime.globalArgs()) args.push('--runtime-arg', a);
  if (o.logMaxSize !== undefined && o.logMaxSize > 0) args.push('--log-size-max', String(Math.trunc(o.logMaxSize)));
  if (o.terminal) args.push('-t');
  if (o.stdin) {
    args.push('-i');
    // A TTY's stdin outlives every attachment in moby (a detach, then docker attach, must still type into it).
    if (!o.stdinOnce || o.terminal) args.push('--leave-stdin-open');
  }

  const child = spawnConmon(o.conmonPath ?? DEFAULT_CONMON_PATH, args, false);
  const sync = new SyncReader(child);
  const msg = await sync.next();
  // In create mode conmon sends nothing more; closing our end now is safe because the pid has arrived.
  sync.destroy();
  if (msg === undefined) throw sync.failure(`conmon for ${o.id} ended before the runtime created the container`);
  if (msg.data < 0) throw runtimeError(o.runtime, 'create', o.id, msg.message);
  return {
    pid: msg.data,
    conmonPid: await readConmonPid(conmonPidFile),
    attachPath: join(o.bundle, 'attach'),
    ctlPath: join(o.bundle, 'ctl'),
    winszPath: join(o.bundle, 'winsz'),
  };
}

/** Runs a process in a running container under a short-lived conmon. */
export async function conmonExec(o: ExecOptions): Promise<ExecSession> {
  const exitDir = join(o.sessionDir, 'exit');
  await mkdir(exitDir, { recursive: true });
  const specPath = join(o.sessionDir, 'process.json');
  await writeFile(specPath, JSON.stringify(o.process));
  const args = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.sessionId,
    '-r', o.runtime.execPath,
    '-b', o.sessionDir,
    '-p', join(o.sessionDir, 'exec.pid'),
    '-n', o.containerId,
    '--exit-dir', exitDir,
    '--full-attach',
    '-l', o.logPath ? `k8s-file:${o.logPath}` : 'none',
    '-e',
    '--exec-process-spec', specPath,
  ];
  for (const a of o.runtime.globalArgs()) args.push('--runtime-arg', a);
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.attach) args.push('--exec-attach');

  const child = spawnConmon(o.conmonPath ?? DEFAULT_CONMON_PATH, args, o.attach);
  const sync = new SyncReader(child);
  const what = `exec ${o.sessionId} in ${o.containerId}`;

  const pid = (async (): Promise<number> => {
    const m = await sync.next();
    if (m === undefined) throw sync.failure(`conmon for ${what} ended before the process started`);
    if (m.data < 0) throw runtimeError(o.runtime, 'exec', o.containerId, m.message);
    return m.data;
  })();
  const exitCode = (async (): Promise<number> => {
    await pid;
    const m = await sync.next();
    if (m !== undefined) return m.data;
    // The exit line can be lost (sync pipe gone); conmon writes the exit file as well.
    const code = await readExitCode(exitDir, o.containerId);
    if (code === undefined) throw sync.failure(`conmon for ${what} ended without an exit code`);
    return code;
  })();
  // The caller may await only one of them; neither may become an unhandled rejection.
  pid.catch(() => undefined);
  exitCode.catch(() => undefined);

  const ctlPath = join(o.sessionDir, 'ctl');
  if (!o.attach) return { pid, exitCode, ctlPath, start: () => Promise.resolve() };

  const startPipe = child.pipes.get(4) as Writable;
  const attachPipe = new SyncReader(child, 5);
  startPipe.on('error', () => undefined);
  // First byte: conmon goes on to fork and make the attach socket, then reports on the attach pipe.
  startPipe.write('0');
  const ready = await attachPipe.next();
  attachPipe.destroy();
  if (ready === undefined || ready.data < 0) {
    startPipe.destroy();
    const detail = ready?.message ?? (await pid.then(() => '', (e: unknown) => (e as Error).message));
    throw new BerthError('internal', `conmon for ${what} did not open its attach socket${detail ? `: ${detail}` : ''}`);
  }
  let started = false;
  return {
    pid,
    exitCode,
    ctlPath,
    attachPath: join(o.sessionDir, 'attach'),
    start: () => {
      if (started) return Promise.resolve();
      started = true;
      return new Promise<void>((resolve) => startPipe.end('1', () => resolve()));
    },
  };
}

function spawnConmon(path: string, args: string[], attachPipes: boolean): LightChild {
  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: '3' };
  if (attachPipes) {
    env._OCI_STARTPIPE = '4';
    env._OCI_ATTACHPIPE = '5';
  }
  const stdio: LightStdio[] = ['ignore', 'output', 'output', 'output'];
  if (attachPipes) stdio.push('input', 'output');
  try {
    return spawnLight(path, args, { env, stdio });
  } catch (e) {
    throw unavailable(`cannot run conmon: ${(e as Error).message}`, e);
  }
}

/** Reads the JSON lines conmon writes on one of its pipes, and its pre-fork complaints on stdout/stderr. */
class SyncReader {
  private buf = '';
  private readonly lines: SyncMessage[] = [];
  private ended = false;
  private waiter: (() => void) | undefined;
  private diagnostics = '';
  private readonly stream: Readable;

  constructor(child: LightChild, fd = 3) {
    this.stream = child.pipes.get(fd) as Readable;
    this.stream.setEncoding('utf8');
    this.stream.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (line !== '') this.lines.push(parseSyncLine(line));
      }
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    this.stream.on('end', end);
    this.stream.on('close', end);
    this.stream.on('error', end);
    if (fd === 3) {
      const note = (d: Buffer): void => {
        if (this.diagnostics.length < 4096) this.diagnostics += d.toString('utf8');
      };
      child.pipes.get(1)?.on('data', note);
      child.pipes.get(2)?.on('data', note);
    }
  }

  /** The next message, or undefined once the pipe has ended. */
  async next(): Promise<SyncMessage | undefined> {
    for (;;) {
      const m = this.lines.shift();
      if (m !== undefined) return m;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  destroy(): void {
    this.stream.destroy();
  }

  failure(what: string): BerthError {
    const detail = this.diagnostics.trim();
    return new BerthError('internal', detail ? `${what}: ${detail}` : what);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

function parseSyncLine(line: string): SyncMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { data: -1, message: `conmon sent an unreadable message: ${line.slice(0, 200)}` };
  }
  const p = parsed as { data?: unknown; pid?: unknown; exit_code?: unknown; message?: unknown };
  // --api-version 1 uses "data"; older conmons used "pid" / "exit_code".
  const value = p.data ?? p.pid ?? p.exit_code;
  const data = typeof value === 'number' ? value : -1;
  const msg: SyncMessage = { data };
  if (typeof p.message === 'string') msg.message = p.message;
  return msg;
}

function runtimeError(runtime: OciRuntime, verb: string, id: string, message: string | undefined): BerthError {
  const text = (message ?? 'unknown error').trim();
  return new BerthError('internal', `${runtime.name} ${verb} ${id}: ${text}`);
}

/** The monitor writes its pidfile right after it forks, before it runs the runtime; a short retry covers slow disks. */
async function readConmonPid(path: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const n = Number((await readFile(path, 'utf8')).trim());
      if (Number.isInteger(n) && n > 0) return n;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (attempt >= 50) throw new BerthError('internal', `conmon did not write its pid file ${path}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

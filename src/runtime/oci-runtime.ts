import { constants as fsc } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { constants as osc, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError, notFound, unavailable } from '../errors.js';
import type { CgroupAttachWarmer } from './cgroup-attach-warmer.js';
import { spawnLight, type LightChild, type LightStdio } from './light-spawn.js';
import type { OciListEntry, OciState, OciStatus } from './runtime-types.js';

/**
 * The OCI runtime CLI (crun by default, runc selectable). Both take the same global `--root` and the
 * same verbs; only their error messages differ, which is why the "benign" failures are matched loosely.
 */

export interface OciRuntimeOptions {
  /** 'crun', 'runc' or another runtime name (used in messages and by conmon). */
  name: 'crun' | 'runc' | string;
  /** Absolute path of the binary. */
  path: string;
  /** What to execute: a sealed copy of `path` (sealed-binary.ts) or, by default, `path` itself. */
  execPath?: string;
  /** Shared by every runtime of the daemon: create and exec move processes into cgroups. */
  cgroupWarmer?: CgroupAttachWarmer;
  /** The runtime's state directory (`--root`). */
  root: string;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The container is unknown to the runtime: crun "error opening file `.../status`", runc "container does not exist". */
const MISSING = /No such file or directory|does not exist|not found/i;
/** The container (or its init process) is already gone. */
const NOT_RUNNING = /not running|No such process|ESRCH|process already finished|container .* stopped|is stopped/i;

/** A process run in a container by `<runtime> exec` with berthd holding its stdio. */
export interface AttachedExec {
  /** Its pid in the host pid namespace; 0 when it ended before the runtime wrote the pid file. */
  pid: Promise<number>;
  /** Its exit code; rejects with the runtime's own message when the runtime could not run it. */
  exitCode: Promise<number>;
  /** Present when the process reads stdin; ending it closes the process's stdin. */
  stdin?: Writable;
  /** End (or close, when something in the container still holds them shortly after the exit) with the process. */
  stdout: Readable;
  stderr: Readable;
}

/** How long output may trail the exit: a background process that inherited stdout must not hold the exec open. */
const OUTPUT_GRACE_MS = 200;

/**
 * Destroys `s` once it has been flowing without data for the grace period: the pipe is empty and only something
 * other than the exited process still holds its write end. A reader held back by its consumer is left alone.
 */
function endWhenQuiet(s: Socket): void {
  if (s.destroyed || s.readableEnded) return;
  let read = s.bytesRead;
  const timer = setInterval(() => {
    const quiet = s.bytesRead === read;
    read = s.bytesRead;
    if (!quiet || s.isPaused()) return;
    clearInterval(timer);
    s.destroy();
  }, OUTPUT_GRACE_MS);
  s.once('close', () => clearInterval(timer));
}

const STATUSES: ReadonlySet<string> = new Set<OciStatus>(['created', 'running', 'paused', 'stopped']);

export class OciRuntime {
  readonly name: string;
  readonly path: string;
  readonly execPath: string;
  readonly root: string;

  constructor(opts: OciRuntimeOptions) {
    this.name = opts.name;
    this.path = opts.path;
    this.execPath = opts.execPath ?? opts.path;
    this.root = opts.root;
    this.cgroupWarmer = opts.cgroupWarmer;
  }

  private readonly cgroupWarmer: CgroupAttachWarmer | undefined;

  /**
   * Says a create or exec is coming within `ms`: the cgroup move it makes then finds the kernel's lock warm
   * (cgroup-attach-warmer.ts) instead of waiting out a grace period.
   */
  expectCgroupAttach(ms: number): void {
    this.cgroupWarmer?.keepWarm(ms);
  }

  /** Keeps that lock warm until the returned function is called: around a create or an exec. */
  holdCgroupAttachWarm(): () => void {
    return this.cgroupWarmer?.hold() ?? (() => undefined);
  }

  /** The global arguments every invocation starts with (conmon gets them through --runtime-arg). */
  globalArgs(): string[] {
    return [`--root=${this.root}`];
  }

  async start(id: string): Promise<void> {
    if (this.name === 'crun' && (await this.startThroughFifo(id))) return;
    await this.check(['start', id], id);
  }

  /**
   * What `crun start` does, without the ~7 ms of another process: the created container waits reading
   * `exec.fifo`; open it for writing, unlink it (crun calls a container with no fifo started), write one
   * byte. Non-blocking open fails with ENXIO when nobody reads (the init died): then the CLI reports why.
   */
  private async startThroughFifo(id: string): Promise<boolean> {
    const fifo = join(this.root, id, 'exec.fifo');
    let fh;
    try {
      fh = await open(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      await unlink(fifo);
      await fh.write(Buffer.from([0]));
      return true;
    } finally {
      await fh.close();
    }
  }

  /**
   * Cleans up after a container whose init has exited: what `crun delete` does for a stopped container
   * (remove its cgroup in every hierarchy, then its state dir), done here to save a process. Anything
   * unexpected (a live pid, a busy cgroup, another runtime) goes through the runtime's own delete.
   */
  async deleteStopped(id: string): Promise<void> {
    if (this.name === 'crun' && (await this.removeStoppedState(id))) return;
    await this.delete(id, { force: true });
  }

  private async removeStoppedState(id: string): Promise<boolean> {
    const dir = join(this.root, id);
    let status: { pid?: unknown; 'cgroup-path'?: unknown };
    try {
      status = JSON.parse(await readFile(join(dir, 'status'), 'utf8')) as typeof status;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
    if (typeof status.pid !== 'number' || typeof status['cgroup-path'] !== 'string' || !status['cgroup-path'].startsWith('/')) return false;
    try {
      process.kill(status.pid, 0);
      return false;
    } catch {
      /* gone, as expected */
    }
    for (const cg of await cgroupDirs(status['cgroup-path'])) {
      try {
        await rmdir(cg);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return false;
      }
    }
    await rm(dir, { recursive: true, force: true });
    return true;
  }

  /** Sending a signal to a container that has already stopped succeeds (there is nothing left to signal). */
  async kill(id: string, signal: string | number, opts: { all?: boolean } = {}): Promise<void> {
    const args = ['kill'];
    if (opts.all) args.push('--all');
    args.push(id, String(signal));
    const r = await this.run(args);
    if (r.code === 0) return;
    if (NOT_RUNNING.test(r.stderr)) return;
    if (MISSING.test(r.stderr)) {
      // crun reports a stopped container whose state dir still exists as ESRCH; a missing one is gone for good.
      const st = await this.state(id);
      if (st === undefined) throw notFound(`${this.name}: no such container: ${id}`);
      if (st.status === 'stopped') return;
    }
    throw this.failure('kill', id, r);
  }

  /** Deleting a container the runtime does not know succeeds. */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const args = ['delete'];
    if (opts.force) args.push('--force');
    args.push(id);
    const r = await this.run(args);
    if (r.code === 0 || MISSING.test(r.stderr)) return;
    throw this.failure('delete', id, r);
  }

  /** undefined when the runtime does not know the container. */
  async state(id: string): Promise<OciState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) {
      if (MISSING.test(r.stderr)) return undefined;
      throw this.failure('state', id, r);
    }
    const parsed = parseJson(r.stdout, `${this.name} state ${id}`) as { status?: unknown; pid?: unknown };
    const status = String(parsed.status);
    if (!STATUSES.has(status)) throw new BerthError('internal', `${this.name} state ${id}: unknown status ${status}`);
    return { status: status as OciStatus, pid: typeof parsed.pid === 'number' ? parsed.pid : 0 };
  }

  async pause(id: string): Promise<void> {
    await this.check(['pause', id], id);
  }

  async resume(id: string): Promise<void> {
    await this.check(['resume', id], id);
  }

  /**
   * `resources` is an OCI LinuxResources object. It goes through a temporary file: crun reads
   * `--resources -` by opening /dev/stdin, which fails (ENXIO) on the socketpair Node gives a child.
   */
  async update(id: string, resources: object): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-update-'));
    try {
      const file = join(dir, 'resources.json');
      await writeFile(file, JSON.stringify(resources));
      await this.check(['update', '--resources', file, id], id);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Runs `processPath` (an OCI process, terminal false) in the running container `id` directly, without a monitor:
   * `exec` waits for the process and exits with its code. The runtime's own failures go to `--log` too (never the
   * process's output), so a non-empty log file tells "the runtime failed" from "the process exited 255".
   */
  execAttached(id: string, o: { processPath: string; sessionDir: string; stdin: boolean }): AttachedExec {
    const logPath = join(o.sessionDir, `${this.name}.log`);
    const pidPath = join(o.sessionDir, 'exec.pid');
    const child = this.spawn([`--log=${logPath}`, 'exec', '--process', o.processPath, '--pid-file', pidPath, id], [o.stdin ? 'input' : 'ignore', 'output', 'output']);
    const input = child.pipes.get(0);
    const out = child.pipes.get(1) as Socket;
    const err = child.pipes.get(2) as Socket;
    input?.on('error', () => {
      /* the process may end without reading its input */
    });

    let ended = false;
    let settlePid!: (pid: number) => void;
    const pid = new Promise<number>((resolve) => (settlePid = resolve));
    const readPid = (): Promise<number> =>
      readFile(pidPath, 'utf8').then(
        (text) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : 0),
        () => 0,
      );
    const exitCode = new Promise<number>((resolve, reject) => {
      void child.exited.then(({ code, signal }) => {
        ended = true;
        // The runtime writes the pid file before it waits, so it is there now if the process ever ran.
        void Promise.all([readFile(logPath, 'utf8').catch(() => ''), readPid()]).then(([log, p]) => {
          settlePid(p);
          if (log.trim() !== '') reject(new BerthError('internal', `${this.name} exec ${id}: ${cleanMessage(log)}`));
          else resolve(code ?? 128 + (signal ? (osc.signals[signal] ?? 0) : 0));
        });
      });
    });
    exitCode.catch(() => undefined);
    // While it runs, the pid shows up in the pid file; polled with backoff as nothing signals its arrival.
    void (async () => {
      for (let wait = 1; !ended; wait = Math.min(wait * 2, 50)) {
        await new Promise((r) => setTimeout(r, wait));
        const p = ended ? 0 : await readPid();
        if (p > 0) return settlePid(p);
      }
    })();
    // Output normally ends with the process; whatever still holds the pipes afterwards is cut off.
    void exitCode.catch(() => undefined).then(() => {
      endWhenQuiet(out);
      endWhenQuiet(err);
      input?.destroy();
    });

    return { pid, exitCode, stdin: input, stdout: out, stderr: err };
  }

  async list(): Promise<OciListEntry[]> {
    const r = await this.run(['list', '--format', 'json']);
    if (r.code !== 0) throw this.failure('list', '', r);
    // runc prints `null` for an empty list, crun `[\n\n]`.
    const parsed = parseJson(r.stdout, `${this.name} list`);
    if (!Array.isArray(parsed)) return [];
    return parsed.map((e: { id?: unknown; status?: unknown; pid?: unknown }) => ({
      id: String(e.id),
      status: String(e.status),
      pid: typeof e.pid === 'number' ? e.pid : 0,
    }));
  }

  private async check(args: string[], id: string, stdin?: string): Promise<void> {
    const r = await this.run(args, stdin);
    if (r.code === 0) return;
    if (MISSING.test(r.stderr)) throw notFound(`${this.name} ${args[0]}: no such container: ${id}`);
    throw this.failure(args[0] ?? '', id, r);
  }

  private failure(verb: string, id: string, r: RunResult): BerthError {
    const msg = cleanMessage(r.stderr) || `exit code ${r.code}`;
    return new BerthError('internal', `${this.name} ${verb}${id ? ` ${id}` : ''}: ${msg}`);
  }

  /** The runtime with its global arguments, started without a fork of the daemon. */
  private spawn(args: string[], stdio: LightStdio[]): LightChild {
    try {
      return spawnLight(this.execPath, [...this.globalArgs(), ...args], { env: process.env, stdio });
    } catch (e) {
      throw unavailable(`cannot run ${this.name} (${this.path}): ${(e as Error).message}`, e);
    }
  }

  private async run(args: string[], stdin?: string): Promise<RunResult> {
    const child = this.spawn(args, [stdin === undefined ? 'ignore' : 'input', 'output', 'output']);
    if (stdin !== undefined) {
      const w = child.pipes.get(0);
      // The runtime may exit before reading stdin; its exit code tells.
      w?.on('error', () => undefined);
      w?.end(stdin);
    }
    const [stdout, stderr, exit] = await Promise.all([drainText(child.pipes.get(1)), drainText(child.pipes.get(2)), child.exited]);
    return { code: exit.code ?? (exit.signal ? 128 : 1), stdout, stderr };
  }
}

/** Everything a pipe carries until it closes. */
function drainText(s: Readable | undefined): Promise<string> {
  return new Promise((resolve) => {
    if (!s) return resolve('');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup directory in each mounted hierarchy (one on cgroup v2, one per controller on v1). */
async function cgroupDirs(cgroupPath: string): Promise<string[]> {
  const entries = await readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => []);
  if (entries.some((e) => e.name === 'cgroup.controllers')) return [join(CGROUP_ROOT, cgroupPath)];
  return entries.filter((e) => e.isDirectory()).map((e) => join(CGROUP_ROOT, e.name, cgroupPath));
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BerthError('internal', `${what}: unexpected output: ${text.slice(0, 200)}`);
  }
}

/** runc logs as `time="..." level=error msg="..."`; keep just the message. */
export function cleanMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines
    .map((l) => {
      const m = /level=\w+ msg="((?:[^"\\]|\\.)*)"/.exec(l);
      return m?.[1] !== undefined ? m[1].replace(/\\"/g, '"') : l;
    })
    .join('; ');
}

import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { conflict, invalidArgument, notFound } from '../../errors.js';
import { resizeTerminal } from '../../runtime/attach-socket.js';
import { conmonExec, type ExecSession } from '../../runtime/conmon.js';
import type { OciRuntime } from '../../runtime/oci-runtime.js';
import { readBundleProcess } from '../../runtime/oci-spec.js';
import { resolveInRoot, resolveUser } from '../../runtime/user.js';
import type { EventBus } from '../events/event-bus.js';

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd?: string[];
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  DetachKeys?: string;
}

/** What the exec service needs to know of a running container. */
export interface ExecTarget {
  id: string;
  name: string;
  running: boolean;
  bundle: string;
  rootfs: string;
  runtime: OciRuntime;
  user: string;
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
  session?: ExecSession;
  dir: string;
}

/** The process's stdio when berthd holds it directly (attached exec without a TTY). */
export interface ExecPipes {
  stdin?: Writable;
  stdout: Readable;
  stderr: Readable;
}

export interface StartedExec {
  /** The conmon attach socket (the conmon path), connected before `go()`. */
  attachPath?: string;
  /** The process's own pipes (the direct path); it already runs. */
  pipes?: ExecPipes;
  go: () => Promise<void>;
  exited: Promise<number>;
}

/** What crun and runc search when the process has no PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Whether the runtime will find `cwd` and the executable `cmd` in the container's root, looked up as it does (PATH
 * unless the name has a slash). Only a yes is trusted: the root seen here lacks the container's mounts.
 */
async function runnableInRoot(rootfs: string, cmd: string, env: string[], cwd: string): Promise<boolean> {
  const statIn = (p: string): Promise<Stats | undefined> => resolveInRoot(rootfs, p).then((host) => stat(host)).catch(() => undefined);
  const pathVar = env.findLast((kv) => kv.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const candidates = cmd.includes('/')
    ? [path.posix.resolve(cwd, cmd)]
    : pathVar.split(':').map((dir) => path.posix.join(path.posix.resolve(cwd, dir), cmd));
  // All at once: this is on the path of every exec.
  const [dir, ...found] = await Promise.all([statIn(cwd), ...candidates.map(statIn)]);
  return (dir?.isDirectory() ?? false) && found.some((st) => st !== undefined && st.isFile() && (st.mode & 0o111) !== 0);
}

/** The docker exec model: a session is created, then started once (attached or detached), then inspected. */
export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(
    private readonly execRoot: string,
    private readonly events: EventBus,
    private readonly target: (ref: string) => ExecTarget,
  ) {
    // Sessions end with their container.
    events.subscribe((ev) => {
      if (ev.Type === 'container' && ev.Action === 'destroy') this.forget(ev.Actor.ID);
    });
  }

  create(containerRef: string, config: ExecConfig): string {
    const t = this.target(containerRef);
    if (!t.running) throw conflict(`container ${t.id} is not running`);
    if (!config.Cmd?.length) throw invalidArgument('No exec command specified');
    // The start follows within milliseconds (docker exec).
    t.runtime.expectCgroupAttach(30);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, containerId: t.id, config, running: false, exitCode: null, pid: 0, started: false, dir: path.join(this.execRoot, 'exec', id) });
    this.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, t.id, { execID: id, name: t.name });
    return id;
  }

  private get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  /**
   * Starts the process. Attached without a TTY, the runtime runs it directly with pipes (`pipes`, already running);
   * otherwise under conmon: with attach, resolves once conmon's socket is ready and the caller connects before `go()`.
   */
  async start(id: string, opts: { attach: boolean }): Promise<StartedExec> {
    const e = this.get(id);
    if (e.started || e.running) throw conflict(`Exec command ${id} has already run`);
    e.started = true;
    try {
      return await this.startProcess(e, opts.attach);
    } catch (err) {
      e.started = false;
      throw err;
    }
  }

  private async startProcess(e: ExecRecord, attach: boolean): Promise<StartedExec> {
    const t = this.target(e.containerId);
    if (!t.running) throw conflict(`container ${t.id} is not running`);
    // Until the process is in the container's cgroups, i.e. until its pid is known.
    const releaseWarm = t.runtime.holdCgroupAttachWarm();
    try {
      return await this.startInContainer(e, t, attach, releaseWarm);
    } catch (err) {
      releaseWarm();
      throw err;
    }
  }

  private async startInContainer(e: ExecRecord, t: ExecTarget, attach: boolean, releaseWarm: () => void): Promise<StartedExec> {
    const id = e.id;
    const [base, user] = await Promise.all([
      readBundleProcess(t.bundle),
      e.config.User ? resolveUser(t.rootfs, e.config.User, []) : undefined,
    ]);
    const env = [...((base.env as string[]) ?? [])];
    for (const kv of e.config.Env ?? []) {
      const k = kv.split('=')[0];
      const i = env.findIndex((x) => x.split('=')[0] === k);
      if (i >= 0) env[i] = kv;
      else env.push(kv);
    }
    const processSpec = {
      ...base,
      terminal: e.config.Tty ?? false,
      args: e.config.Cmd,
      env,
      cwd: e.config.WorkingDir || base.cwd,
      ...(user ? { user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids } } : {}),
    };
    delete (processSpec as Record<string, unknown>).consoleSize;
    let session: ExecSession | undefined;
    let pipes: ExecPipes | undefined;
    let exitCode: Promise<number>;
    let pid: Promise<number>;
    try {
      const processPath = path.join(e.dir, 'process.json');
      // A command or directory that is not there goes the conmon way, whose failure reads as today (no runtime text
      // on stderr). The session's files are written meanwhile: either way needs them.
      const [direct] =
        attach && !e.config.Tty
          ? await Promise.all([
              runnableInRoot(t.rootfs, e.config.Cmd?.[0] ?? '', env, String(processSpec.cwd || '/')),
              mkdir(e.dir, { recursive: true }).then(() => writeFile(processPath, JSON.stringify(processSpec))),
            ])
          : [false];
      if (direct) {
        const run = t.runtime.execAttached(t.id, { processPath, sessionDir: e.dir, stdin: e.config.AttachStdin ?? false });
        pipes = { stdin: run.stdin, stdout: run.stdout, stderr: run.stderr };
        ({ exitCode, pid } = run);
      } else {
        session = await conmonExec({
          containerId: t.id,
          sessionId: id,
          sessionDir: e.dir,
          runtime: t.runtime,
          process: processSpec,
          terminal: e.config.Tty ?? false,
          stdin: e.config.AttachStdin ?? false,
          attach,
        });
        ({ exitCode, pid } = session);
      }
    } catch (err) {
      await rm(e.dir, { recursive: true, force: true });
      throw err;
    }
    e.session = session;
    e.running = true;
    this.events.publish('container', `exec_start: ${(e.config.Cmd ?? []).join(' ')}`, t.id, { execID: id, name: t.name });
    const exited = exitCode.then(
      (code) => code,
      (err: Error) => {
        // A command that cannot be run reads like Docker's: 126/127 from the runtime's words.
        if (/not found|No such file/.test(err.message)) return 127;
        if (/[Pp]ermission denied/.test(err.message)) return 126;
        throw err;
      },
    );
    pid.then((p) => (e.pid = p), () => undefined).finally(releaseWarm);
    const finished = exited.then(
      (code) => code,
      () => 126,
    ).then(async (code) => {
      e.running = false;
      e.exitCode = code;
      this.events.publish('container', 'exec_die', t.id, { execID: id, exitCode: String(code), name: t.name });
      // Not awaited: the client waits for the exit code, not for the clean-up.
      void rm(e.dir, { recursive: true, force: true }).catch(() => undefined);
      return code;
    });
    return { attachPath: session?.attachPath, pipes, go: () => session?.start() ?? Promise.resolve(), exited: finished };
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    const e = this.get(id);
    if (!e.started) throw conflict(`Exec ${id} is not running`);
    if (!e.config.Tty || !e.session) return;
    await resizeTerminal(e.session.ctlPath, rows, cols);
  }

  /** The session's config as created, for the caller that attaches to it. */
  config(id: string): Readonly<ExecConfig> {
    return this.get(id).config;
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id);
    const cmd = e.config.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { tty: e.config.Tty ?? false, entrypoint: cmd[0] ?? '', arguments: cmd.slice(1), privileged: e.config.Privileged ?? false, user: e.config.User ?? '' },
      OpenStdin: e.config.AttachStdin ?? false,
      OpenStderr: e.config.AttachStderr ?? false,
      OpenStdout: e.config.AttachStdout ?? false,
      CanRemove: !e.running && e.exitCode !== null,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  private forget(containerId: string): void {
    for (const [id, e] of this.execs) if (e.containerId === containerId) this.execs.delete(id);
  }
}

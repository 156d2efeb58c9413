/**
 * Starts a real berthd for an integration test on a private socket, data root and exec root, and
 * tears everything down afterwards (processes it left, mounts, temp dirs).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root: this file runs as dist/test/support/berthd.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BERTHD_BIN = join(REPO_ROOT, 'bin/berthd');
export const BERTH_BIN = join(REPO_ROOT, 'bin/berth');

export interface TestDaemon {
  socket: string;
  /** `unix://<socket>` */
  host: string;
  dataRoot: string;
  execRoot: string;
  pid: number;
  /** process.env with DOCKER_HOST set, for spawning docker or berth. */
  env: NodeJS.ProcessEnv;
  /** SIGTERM, wait for exit, then clean up (also after kill9). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; leaves every file and mount in place (call stop() to clean up). */
  kill9(): Promise<void>;
  /** Everything berthd wrote to stdout and stderr so far. */
  logs(): string;
}

export interface StartDaemonOptions {
  /** Reuse a data root (e.g. of a killed daemon); it is then not removed by stop(). */
  dataRoot?: string;
  /** Reuse an exec root; it is then not removed by stop(). */
  execRoot?: string;
  args?: string[];
  mirrors?: string[];
  /** A berthd-compatible script to run with node instead of bin/berthd (tests of this fixture use a fake). */
  binary?: string;
  /** How long to wait for `GET /_ping` to answer 200. */
  startTimeoutMs?: number;
}

/** GET /_ping on a unix socket; resolves with the status, or 0 on a connection error. */
export function pingSocket(socket: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Decodes the octal escapes (`\040`) mountinfo uses for spaces and the like. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountBelow(dir: string): Promise<void> {
  // Several passes: a path can be mounted over more than once.
  for (let pass = 0; pass < 5; pass++) {
    const points = await mountsBelow(dir);
    if (points.length === 0) return;
    for (const p of points) {
      await run('umount', [p]).catch(() => run('umount', ['-l', p]).catch(() => undefined));
    }
  }
}

/**
 * Processes whose command line mentions `dir` (conmon monitors of the daemon's containers keep
 * running after the daemon stops), plus all their descendants (the containers).
 */
export async function processesUsing(dir: string): Promise<number[]> {
  const parents = new Map<number, number>();
  const matched = new Set<number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(pid, ppid);
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
      if (cmdline.includes(dir)) matched.add(pid);
      else if ((await readlink(`/proc/${pid}/cwd`).catch(() => '')).startsWith(dir)) matched.add(pid);
    } catch {
      // The process exited while we looked.
    }
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!matched.has(pid) && matched.has(ppid)) {
        matched.add(pid);
        grew = true;
      }
    }
  }
  return [...matched];
}

/**
 * The daemon's default bridge, veths and nftables tables stay after it stops (as docker0 does); a test daemon's go with
 * its test. They carry the instance tag berthd derives from its exec root ('b' + 7 hex of sha256(execRoot)).
 */
export async function removeNetworkLeftovers(execRoot: string): Promise<void> {
  const instance = `b${createHash('sha256').update(execRoot).digest('hex').slice(0, 7)}`;
  const links = await run('ip', ['-j', 'link']).then((r) => JSON.parse(r.stdout) as Array<{ ifname: string; ifalias?: string }>, () => []);
  for (const l of links) {
    if (l.ifalias === `berth:${instance}` || l.ifalias?.startsWith(`berth:${instance}:`)) await run('ip', ['link', 'del', l.ifname]).catch(() => undefined);
  }
  for (const family of ['ip', 'bridge']) await run('nft', ['delete', 'table', family, `berth_${instance}`]).catch(() => undefined);
}

export async function startDaemon(opts: StartDaemonOptions = {}): Promise<TestDaemon> {
  const base = await mkdtemp(join(tmpdir(), 'berthd-test-'));
  const socket = join(base, 'berth.sock');
  const dataRoot = opts.dataRoot ?? join(base, 'data');
  const execRoot = opts.execRoot ?? join(base, 'exec');
  await mkdir(dataRoot, { recursive: true });
  await mkdir(execRoot, { recursive: true });
  const host = `unix://${socket}`;
  const args = [
    opts.binary ?? BERTHD_BIN,
    '--host',
    host,
    '--data-root',
    dataRoot,
    '--exec-root',
    execRoot,
    '--pidfile',
    join(base, 'berthd.pid'),
    // A default bridge of its own per exec root, so parallel test daemons never share one.
    '--bridge',
    `bt${createHash('sha256').update(execRoot).digest('hex').slice(0, 8)}`,
    ...(opts.mirrors ?? []).flatMap((m) => ['--registry-mirror', m]),
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: base });
  let log = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = waitExit(child);
  if (child.pid === undefined) throw new Error(`berthd did not start: ${log}`);
  const pid = child.pid;

  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    const owned = [base, ...(opts.dataRoot ? [] : [dataRoot]), ...(opts.execRoot ? [] : [execRoot])];
    for (const p of await processesUsing(base)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await unmountBelow(base);
    await removeNetworkLeftovers(execRoot);
    for (const dir of owned) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
    await exited;
  };

  const daemon: TestDaemon = {
    socket,
    host,
    dataRoot,
    execRoot,
    pid,
    env: { ...process.env, DOCKER_HOST: host },
    logs: () => log,
    kill9: () => signal('SIGKILL'),
    stop: async () => {
      // A daemon that ignores SIGTERM for 10 s gets SIGKILL, so a broken test cannot hang the run.
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 10_000);
      await signal('SIGTERM');
      clearTimeout(timer);
      await cleanup();
    },
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 5000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await cleanup();
      throw new Error(`berthd exited (code ${child.exitCode}, signal ${child.signalCode}) before answering /_ping:\n${log}`);
    }
    if ((await pingSocket(socket)) === 200) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop();
      throw new Error(`berthd did not answer /_ping within ${opts.startTimeoutMs ?? 5000} ms:\n${log}`);
    }
    await sleep(50);
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI (from PATH) or berth's CLI against the daemon. */
export function runCli(
  bin: 'docker' | 'berth',
  args: string[],
  d: Pick<TestDaemon, 'env'>,
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const [cmd, argv] = bin === 'docker' ? ['docker', args] : [process.execPath, [BERTH_BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...d.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, sig) =>
      resolve({
        code: code ?? (sig ? 128 + constants.signals[sig] : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    // A CLI that exits before reading its stdin must not fail the test with EPIPE.
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

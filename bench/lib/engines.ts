/**
 * The engines benches compare: berthd (this repository) and Debian's dockerd (package docker.io)
 * as the reference. Each runs on a private socket, data root and exec root, and is stopped by
 * pid with its leftovers (child processes, mounts, directories) removed.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BERTHD_BIN,
  type CliResult,
  pingSocket,
  processesUsing,
  runCli,
  startDaemon,
  unmountBelow,
} from '../../test/support/berthd.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface BenchEngine {
  name: 'berthd' | 'dockerd';
  socket: string;
  host: string;
  pid: number;
  dataRoot: string;
  /** process.env with DOCKER_HOST pointing at this engine. */
  env: NodeJS.ProcessEnv;
  /** Resident set size of the daemon process itself, from /proc/<pid>/status. */
  rssKiB(): Promise<number | undefined>;
  logs(): string;
  stop(): Promise<void>;
}

export async function readRssKiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The docker CLI (28.x, from PATH) against an engine. */
export function docker(engine: Pick<BenchEngine, 'env'>, args: string[], opts: { input?: Buffer | string } = {}): Promise<CliResult> {
  return runCli('docker', args, engine, opts);
}

/** Why berthd cannot run from this checkout, or undefined when it can. */
export function berthdMissing(binary: string = BERTHD_BIN): string | undefined {
  const main = join(binary, '../../dist/src/daemon/main.js');
  if (!existsSync(binary)) return `${binary} is missing`;
  if (!existsSync(main)) return `${main} is missing (berthd not built or not merged yet)`;
  return undefined;
}

/** `binary`: another checkout's bin/berthd (to compare branches); default this checkout's. */
export async function startBerthd(opts: { args?: string[]; mirrors?: string[]; binary?: string } = {}): Promise<BenchEngine> {
  const missing = berthdMissing(opts.binary);
  if (missing) throw new Error(`berthd unavailable: ${missing}`);
  const d = await startDaemon({ ...opts, startTimeoutMs: 15_000 });
  return {
    name: 'berthd',
    socket: d.socket,
    host: d.host,
    pid: d.pid,
    dataRoot: d.dataRoot,
    env: d.env,
    rssKiB: () => readRssKiB(d.pid),
    logs: d.logs,
    stop: d.stop,
  };
}

// ---------------------------------------------------------------------------------------------
// dockerd

const DOCKERD_PATHS = ['/usr/sbin/dockerd', '/usr/bin/dockerd'];

export function findDockerd(): string | undefined {
  return DOCKERD_PATHS.find((p) => existsSync(p));
}

async function whichDocker(): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'command -v docker || true']);
  return stdout.trim();
}

async function fileSha256(path: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * dockerd's path, installing Debian's docker.io when missing. The install must leave the docker
 * CLI 28 at /usr/local/bin/docker in charge (docker.io's CLI goes to /usr/bin) and must not start
 * a system dockerd: a policy-rc.d that denies service starts is put in place for the install when
 * none exists.
 */
export async function ensureDockerd(log: (msg: string) => void = () => undefined): Promise<string> {
  const found = findDockerd();
  if (found) return found;
  const cliBefore = await whichDocker();
  const cliHashBefore = cliBefore ? await fileSha256(cliBefore) : undefined;
  const policy = '/usr/sbin/policy-rc.d';
  const addedPolicy = !existsSync(policy);
  if (addedPolicy) await writeFile(policy, '#!/bin/sh\n# added by berth bench for the docker.io install\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = (): Promise<unknown> =>
      run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker.io'], { env, maxBuffer: 64 << 20 });
    log('installing Debian docker.io (reference dockerd)...');
    try {
      await install();
    } catch {
      await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 });
      await install();
    }
  } finally {
    if (addedPolicy) await unlink(policy).catch(() => undefined);
  }
  const cliAfter = await whichDocker();
  if (cliBefore && (cliAfter !== cliBefore || (await fileSha256(cliBefore)) !== cliHashBefore)) {
    throw new Error(`installing docker.io changed the docker CLI: was ${cliBefore}, now ${cliAfter}`);
  }
  const dockerd = findDockerd();
  if (!dockerd) throw new Error('docker.io installed but no dockerd found');
  return dockerd;
}

export async function startDockerd(opts: { args?: string[]; log?: (msg: string) => void } = {}): Promise<BenchEngine> {
  const dockerd = await ensureDockerd(opts.log);
  const base = await mkdtemp(join(tmpdir(), 'bench-dockerd-'));
  const socket = join(base, 'docker.sock');
  const dataRoot = join(base, 'data');
  const execRoot = join(base, 'exec');
  await mkdir(dataRoot);
  await mkdir(execRoot);
  // An empty config file keeps a machine-wide /etc/docker/daemon.json out of the measurement.
  const configFile = join(base, 'daemon.json');
  await writeFile(configFile, '{}\n');
  const host = `unix://${socket}`;
  const args = [
    '-H',
    host,
    '--data-root',
    dataRoot,
    '--exec-root',
    execRoot,
    '--pidfile',
    join(base, 'dockerd.pid'),
    '--config-file',
    configFile,
    '--iptables=false',
    '--bridge=none',
    ...(opts.args ?? []),
  ];
  const child = spawn(dockerd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: base });
  let log = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('dockerd did not start');

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 30_000);
      await exited;
      clearTimeout(timer);
    }
    // dockerd stops its managed containerd; anything still referring to our dirs goes now.
    for (const p of await processesUsing(base)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await unmountBelow(base);
    await rm(base, { recursive: true, force: true });
  };

  const engine: BenchEngine = {
    name: 'dockerd',
    socket,
    host,
    pid,
    dataRoot,
    env: { ...process.env, DOCKER_HOST: host },
    rssKiB: () => readRssKiB(pid),
    logs: () => log,
    stop,
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`dockerd exited before answering /_ping:\n${log}`);
    }
    if ((await pingSocket(socket)) === 200) return engine;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not answer /_ping within 30 s:\n${log}`);
    }
    await sleep(100);
  }
}

import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { boundingSetOf, effectiveSetOf } from './capabilities.js';
import type { LinuxDevice } from './oci-types.js';
import { hostSeccompArch } from './seccomp-default.js';

/**
 * What the host and the daemon process allow, read once: the limits a container cannot exceed because
 * the daemon itself cannot (rlimits without CAP_SYS_RESOURCE, the bounding set), and host devices.
 */

export interface Rlimit {
  soft: number; // Infinity = unlimited
  hard: number;
}

/** /proc/<pid>/limits row titles, by the name `--ulimit` uses. */
const LIMIT_TITLES: Record<string, string> = {
  cpu: 'Max cpu time',
  fsize: 'Max file size',
  data: 'Max data size',
  stack: 'Max stack size',
  core: 'Max core file size',
  rss: 'Max resident set',
  nproc: 'Max processes',
  nofile: 'Max open files',
  memlock: 'Max locked memory',
  as: 'Max address space',
  locks: 'Max file locks',
  sigpending: 'Max pending signals',
  msgqueue: 'Max msgqueue size',
  nice: 'Max nice priority',
  rtprio: 'Max realtime priority',
  rttime: 'Max realtime timeout',
};

export const ULIMIT_NAMES: readonly string[] = Object.keys(LIMIT_TITLES);

function limitValue(s: string): number {
  return s === 'unlimited' ? Infinity : Number(s);
}

/** Every limit in a /proc/<pid>/limits text, by `--ulimit` name. */
export function parseProcLimits(text: string): Record<string, Rlimit> {
  const out: Record<string, Rlimit> = {};
  const byTitle = new Map(Object.entries(LIMIT_TITLES).map(([name, title]) => [title, name]));
  for (const line of text.split('\n')) {
    // Columns are padded with spaces; the title itself has single spaces.
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    const name = m && byTitle.get(m[1] as string);
    if (m && name) out[name] = { soft: limitValue(m[2] as string), hard: limitValue(m[3] as string) };
  }
  return out;
}

/** All the daemon's own rlimits. */
export function daemonRlimitTable(): Record<string, Rlimit> {
  return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
}

export function daemonRlimits(): { nofile: Rlimit; nproc: Rlimit } {
  const t = daemonRlimitTable();
  const unknown: Rlimit = { soft: Infinity, hard: Infinity };
  return { nofile: t.nofile ?? unknown, nproc: t.nproc ?? unknown };
}

/** 2 on a unified (cgroup v2 only) host; 1 on legacy or hybrid hosts, where the controllers are in v1 hierarchies. */
export function cgroupVersion(): 1 | 2 {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;
}

export function sysctlExists(name: string): boolean {
  return existsSync(join('/proc/sys', name.replaceAll('.', '/')));
}

export function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

export function daemonOomScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  } catch {
    return 0;
  }
}

// Linux's dev_t encoding (glibc's major()/minor()).
const majorOf = (rdev: bigint): number => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const minorOf = (rdev: bigint): number => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

/** The device node at a host path as an OCI device at `pathInContainer`; undefined if it is no device node. */
export function deviceAt(hostPath: string, pathInContainer: string): LinuxDevice | undefined {
  const st = statSync(hostPath, { bigint: true });
  let type: LinuxDevice['type'];
  if (st.isCharacterDevice()) type = 'c';
  else if (st.isBlockDevice()) type = 'b';
  else return undefined;
  return {
    path: pathInContainer,
    type,
    major: majorOf(st.rdev),
    minor: minorOf(st.rdev),
    fileMode: Number(st.mode & 0o777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/**
 * `--device host[:container]`: one device node, or every device under a directory (mapped below
 * `pathInContainer`), as Docker allows.
 */
export function devicesFromPath(pathOnHost: string, pathInContainer: string): LinuxDevice[] {
  let st;
  try {
    st = statSync(pathOnHost);
  } catch (err) {
    throw invalidArgument(
      `error gathering device information while adding custom device "${pathOnHost}": ${(err as Error).message}`,
    );
  }
  if (!st.isDirectory()) {
    const dev = deviceAt(pathOnHost, pathInContainer);
    if (!dev) throw invalidArgument(`error gathering device information while adding custom device "${pathOnHost}": not a device node`);
    return [dev];
  }
  const out: LinuxDevice[] = [];
  const walk = (dir: string, inContainer: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const host = join(dir, entry.name);
      const ctr = join(inContainer, entry.name);
      if (entry.isDirectory()) walk(host, ctr);
      else if (entry.isCharacterDevice() || entry.isBlockDevice()) {
        const dev = deviceAt(host, ctr);
        if (dev) out.push(dev);
      }
    }
  };
  walk(pathOnHost, pathInContainer);
  return out;
}

// Directories of /dev a privileged container gets from elsewhere (its own devpts, shm, mqueue) or must not see.
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node of the host's /dev, for privileged containers (not /dev/console, which the runtime sets up). */
export function hostDevices(root = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DEV_DIRS.has(entry.name)) walk(path);
        continue;
      }
      if (path === join(root, 'console')) continue;
      if (!entry.isCharacterDevice() && !entry.isBlockDevice()) continue;
      try {
        // lstat first: a device that vanished between readdir and stat is simply not there.
        lstatSync(path);
        const dev = deviceAt(path, path);
        if (dev) out.push(dev);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  walk(root);
  return out;
}

/** The host facts a spec depends on; tests pass their own. */
export interface HostFacts {
  boundingSet: string[];
  /** CAP_SYS_RESOURCE in the daemon's effective set: may raise rlimits and lower oom_score_adj. */
  hasSysResource: boolean;
  rlimits: Record<string, Rlimit>;
  oomScoreAdj: number;
  cgroupVersion: 1 | 2;
  arch: string;
  kernel: string;
  apparmorEnabled: boolean;
  sysctlExists(name: string): boolean;
  hostDevices(): LinuxDevice[];
  devicesFromPath(pathOnHost: string, pathInContainer: string): LinuxDevice[];
}

let cached: HostFacts | undefined;

/** This host's facts, read on first use (the daemon's limits do not change while it runs). */
export function readHostFacts(): HostFacts {
  cached ??= {
    boundingSet: boundingSetOf('self'),
    hasSysResource: effectiveSetOf('self').includes('CAP_SYS_RESOURCE'),
    rlimits: daemonRlimitTable(),
    oomScoreAdj: daemonOomScoreAdj(),
    cgroupVersion: cgroupVersion(),
    arch: hostSeccompArch(),
    kernel: release(),
    apparmorEnabled: apparmorEnabled(),
    sysctlExists,
    hostDevices: () => hostDevices(),
    devicesFromPath,
  };
  return cached;
}

/** Facts about the host, read from /proc, /sys and /etc, for `/info` and `/version`. */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function readTrimmed(p: string): Promise<string | undefined> {
  try {
    return (await readFile(p, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Go's GOARCH names, which docker reports as `Arch` in /version. */
export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };
  return map[nodeArch] ?? nodeArch;
}

export function parseOsRelease(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m || !m[1] || m[2] === undefined) continue;
    let value = m[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    result[m[1]] = value.replace(/\\(.)/g, '$1');
  }
  return result;
}

export interface OsRelease {
  prettyName: string;
  versionId: string;
}

export async function osRelease(): Promise<OsRelease> {
  const text = (await readTrimmed('/etc/os-release')) ?? (await readTrimmed('/usr/lib/os-release')) ?? '';
  const fields = parseOsRelease(text);
  return { prettyName: fields['PRETTY_NAME'] ?? 'Linux', versionId: fields['VERSION_ID'] ?? '' };
}

/** cgroup v2 when the unified hierarchy is mounted at /sys/fs/cgroup itself. */
export async function cgroupVersion(): Promise<'1' | '2'> {
  return (await exists('/sys/fs/cgroup/cgroup.controllers')) ? '2' : '1';
}

export interface CgroupFeatures {
  memoryLimit: boolean;
  swapLimit: boolean;
  kernelMemoryTcp: boolean;
  oomKillDisable: boolean;
  cpuCfsPeriod: boolean;
  cpuCfsQuota: boolean;
  cpuShares: boolean;
  cpuSet: boolean;
  pidsLimit: boolean;
}

export async function cgroupFeatures(version: '1' | '2'): Promise<CgroupFeatures> {
  if (version === '2') {
    const controllers = new Set(((await readTrimmed('/sys/fs/cgroup/cgroup.controllers')) ?? '').split(/\s+/));
    const memory = controllers.has('memory');
    const cpu = controllers.has('cpu');
    return {
      memoryLimit: memory,
      swapLimit: memory,
      kernelMemoryTcp: false,
      oomKillDisable: false,
      cpuCfsPeriod: cpu,
      cpuCfsQuota: cpu,
      cpuShares: cpu,
      cpuSet: controllers.has('cpuset'),
      pidsLimit: controllers.has('pids'),
    };
  }
  const base = '/sys/fs/cgroup';
  const [memoryLimit, swapLimit, kernelMemoryTcp, oomKillDisable, cpuCfsPeriod, cpuCfsQuota, cpuShares, cpuSet, pidsLimit] = await Promise.all([
    exists(`${base}/memory/memory.limit_in_bytes`),
    exists(`${base}/memory/memory.memsw.limit_in_bytes`),
    exists(`${base}/memory/memory.kmem.tcp.limit_in_bytes`),
    exists(`${base}/memory/memory.oom_control`),
    exists(`${base}/cpu/cpu.cfs_period_us`),
    exists(`${base}/cpu/cpu.cfs_quota_us`),
    exists(`${base}/cpu/cpu.shares`),
    exists(`${base}/cpuset/cpuset.cpus`),
    exists(`${base}/pids/cgroup.procs`),
  ]);
  return { memoryLimit, swapLimit, kernelMemoryTcp, oomKillDisable, cpuCfsPeriod, cpuCfsQuota, cpuShares, cpuSet, pidsLimit };
}

export async function sysctlEnabled(file: string): Promise<boolean> {
  return (await readTrimmed(file)) === '1';
}

/** Where `name` lives on PATH (plus the sbin directories root's PATH may lack), or undefined. */
export async function findExecutable(name: string, searchPath: string = process.env['PATH'] ?? ''): Promise<string | undefined> {
  const dirs = [...searchPath.split(':').filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of new Set(dirs)) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** statfs magic numbers of the filesystems a data root commonly sits on. */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0xf2f52010: 'f2fs',
};

export async function backingFilesystem(dir: string): Promise<string> {
  try {
    const st = await statfs(dir);
    return FS_MAGIC[st.type] ?? `0x${st.type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

export async function openFileCount(): Promise<number> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}

export interface ToolVersion {
  version: string;
  commit: string;
}

/** crun/runc/conmon print `<name> version X` and `commit: Y` on --version. */
export function parseToolVersion(output: string): ToolVersion {
  const version = /version\s+(\S+)/.exec(output)?.[1] ?? '';
  const commit = /^commit:\s*(\S+)/m.exec(output)?.[1] ?? '';
  return { version, commit };
}

const toolVersions = new Map<string, Promise<ToolVersion>>();

/** Runs `<tool> --version` once per daemon lifetime; failures read as empty strings. */
export function toolVersion(executable: string): Promise<ToolVersion> {
  let cached = toolVersions.get(executable);
  if (!cached) {
    cached = new Promise((resolve) => {
      execFile(executable, ['--version'], { timeout: 3000 }, (err, stdout) => {
        resolve(err ? { version: '', commit: '' } : parseToolVersion(stdout));
      });
    });
    toolVersions.set(executable, cached);
  }
  return cached;
}

export function kernelVersion(): string {
  return os.release();
}

export function unameMachine(): string {
  return os.machine();
}

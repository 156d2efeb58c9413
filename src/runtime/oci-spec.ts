import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities.js';
import { type HostFacts, type Rlimit, ULIMIT_NAMES, readHostFacts } from './host-limits.js';
import {
  type LinuxDevice,
  type LinuxDeviceCgroup,
  type LinuxNamespace,
  type LinuxResources,
  type LinuxSeccomp,
  type Mount,
  type POSIXRlimit,
  type Spec,
  OCI_VERSION,
} from './oci-types.js';
import { DEFAULT_SECCOMP_PROFILE, parseSeccompProfile, seccompForCapabilities } from './seccomp-default.js';
import type { ResolvedUser } from './user.js';

/**
 * A container's settings as the OCI config.json crun runs, with the defaults Docker's daemon writes
 * (moby oci/defaults.go and daemon/oci_linux.go): the same mounts, masked paths, device rules, capabilities,
 * seccomp filter, sysctls and cgroup resources. Settings this host cannot honour are refused here with a
 * clear error instead of a failing container start.
 */

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface ContainerResources {
  memory?: number;
  memorySwap?: number; // memory+swap; -1 = unlimited
  memoryReservation?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  nanoCpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number; // <= 0 = unlimited
  blkioWeight?: number;
  oomKillDisable?: boolean;
}

export interface ContainerNamespaces {
  /**
   * 'path' joins an existing network namespace. `shared` says it belongs to another container
   * (`--network container:x`), so this container must not set its network sysctls; a namespace made
   * for this container alone (berth's own netns) is treated like 'private'.
   */
  network: { mode: 'private' | 'host' | 'path'; path?: string; shared?: boolean };
  pid: 'private' | 'host';
  ipc: 'private' | 'host';
  uts: 'private' | 'host';
  cgroup: 'private' | 'host';
}

export interface ContainerSpecInput {
  id: string;
  rootfsPath: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  terminal: boolean;
  hostname: string;
  domainname?: string;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | { profile: unknown };
  apparmor?: string;
  mounts: SpecMount[];
  shmSize: number;
  namespaces: ContainerNamespaces;
  resources: ContainerResources;
  cgroupsPath: string;
  devices: Array<{ pathOnHost: string; pathInContainer: string; permissions: string }>;
  sysctls: Record<string, string>;
  ulimits: Array<{ name: string; soft: number; hard: number }>;
  oomScoreAdj?: number;
  init?: { hostPath: string };
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** RLIM_INFINITY does not fit a JS number exactly; `specToJson` writes it out exactly. */
export const RLIM_INFINITY = 2 ** 64 - 1;

export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
]);

export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

const charDevice = (major: number | undefined, minor: number | undefined, access = 'rwm'): LinuxDeviceCgroup => {
  const rule: LinuxDeviceCgroup = { allow: true, type: 'c' };
  if (major !== undefined) rule.major = major;
  if (minor !== undefined) rule.minor = minor;
  rule.access = access;
  return rule;
};

/**
 * The device cgroup rules of an unprivileged container: deny everything, then allow mknod of any node
 * (opening it is still denied) and the standard character devices. Docker lists part of these and leaves
 * the rest (full, ptmx, pts, mknod) to runc's built-in list; crun has no such list, so all are spelled out.
 */
function defaultDeviceRules(): LinuxDeviceCgroup[] {
  return [
    { allow: false, access: 'rwm' },
    charDevice(undefined, undefined, 'm'),
    { allow: true, type: 'b', access: 'm' },
    charDevice(1, 5), // zero
    charDevice(1, 3), // null
    charDevice(1, 9), // urandom
    charDevice(1, 8), // random
    charDevice(1, 7), // full
    charDevice(5, 0), // tty
    charDevice(5, 1), // console
    charDevice(5, 2), // ptmx
    charDevice(136, undefined), // pts/*
    // No explicit deny of fuse (c 10:229): the first rule already denies it, and runc's cgroup v1 device
    // emulator refuses to start a container whose rules punch a hole into the `c *:* m` wildcard.
  ];
}

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * Only sysctls the container's own namespaces isolate may be set, as Docker's validator allows:
 * IPC ones (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) need a private IPC namespace, net.* a network
 * namespace of its own, kernel.hostname/domainname a private UTS namespace (better set with --hostname).
 */
export function validateSysctls(sysctls: Record<string, string>, ns: ContainerNamespaces): void {
  for (const name of Object.keys(sysctls)) {
    if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) {
      if (ns.ipc === 'host') throw invalidArgument(`sysctl "${name}" is not allowed in host IPC namespace`);
    } else if (name.startsWith('net.')) {
      if (ns.network.mode === 'host') throw invalidArgument(`sysctl "${name}" is not allowed in host network namespace`);
      if (ns.network.shared) throw invalidArgument(`sysctl "${name}" is not allowed when joining another container's network namespace`);
    } else {
      throw invalidArgument(`sysctl "${name}" is not whitelisted`);
    }
  }
}

/** `--ulimit` entries as OCI rlimits, refusing what the runtime would fail on (raising a hard limit needs CAP_SYS_RESOURCE). */
export function rlimitsFor(
  ulimits: ContainerSpecInput['ulimits'],
  host: Pick<HostFacts, 'rlimits' | 'hasSysResource'>,
): POSIXRlimit[] {
  const seen = new Set<string>();
  const out: POSIXRlimit[] = [];
  for (const u of ulimits) {
    const name = u.name.toLowerCase();
    if (!ULIMIT_NAMES.includes(name)) throw invalidArgument(`invalid ulimit type: ${u.name}`);
    if (seen.has(name)) throw invalidArgument(`duplicate ulimit: ${name}`);
    seen.add(name);
    const soft = u.soft < 0 ? Infinity : u.soft;
    const hard = u.hard < 0 ? Infinity : u.hard;
    if (!Number.isInteger(u.soft) || !Number.isInteger(u.hard)) throw invalidArgument(`invalid ulimit ${name}: limits must be integers`);
    if (soft > hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
    const daemon: Rlimit | undefined = host.rlimits[name];
    if (!host.hasSysResource && daemon && hard > daemon.hard) {
      const max = daemon.hard === Infinity ? 'unlimited' : String(daemon.hard);
      throw invalidArgument(
        `ulimit ${name}=${u.soft}:${u.hard} is above the daemon's hard limit ${max}, which it cannot raise (no CAP_SYS_RESOURCE)`,
      );
    }
    out.push({
      type: `RLIMIT_${name.toUpperCase()}`,
      soft: soft === Infinity ? RLIM_INFINITY : soft,
      hard: hard === Infinity ? RLIM_INFINITY : hard,
    });
  }
  return out;
}

const MIN_MEMORY = 6 * 1024 * 1024;

/** Docker's checks of resource settings (daemon_unix.go verifyContainerResources), the errors only. */
export function validateResources(r: ContainerResources): void {
  const mem = r.memory ?? 0;
  const swap = r.memorySwap ?? 0;
  const reservation = r.memoryReservation ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) {
    throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (mem === 0 && swap > 0) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && reservation > 0 && mem < reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  const nano = r.nanoCpus ?? 0;
  if (nano > 0 && (r.cpuPeriod ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (r.cpuQuota ?? 0) > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if ((r.cpuShares ?? 0) < 0) throw invalidArgument(`invalid CPU shares (${r.cpuShares}): value must be a positive integer`);
  const w = r.blkioWeight ?? 0;
  if (w !== 0 && (w < 10 || w > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
}

/** Resources in OCI form; the runtime maps them to cgroup v1 files or v2 files. */
export function resourcesFor(r: ContainerResources, cgroupVersion: 1 | 2): Omit<LinuxResources, 'devices'> {
  validateResources(r);
  const out: Omit<LinuxResources, 'devices'> = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if ((r.memory ?? 0) > 0) memory.limit = r.memory;
  if ((r.memoryReservation ?? 0) > 0) memory.reservation = r.memoryReservation;
  if ((r.memorySwap ?? 0) > 0) memory.swap = r.memorySwap;
  // cgroup v2 has no switch to disable the OOM killer; Docker only warns, so drop it rather than fail.
  if (r.oomKillDisable !== undefined && cgroupVersion === 1) memory.disableOOMKiller = r.oomKillDisable;
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if ((r.cpuShares ?? 0) > 0) cpu.shares = r.cpuShares;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if ((r.nanoCpus ?? 0) > 0) {
    // Docker's conversion: a 100 ms period and the share of it the CPUs give.
    cpu.period = 100_000;
    cpu.quota = Math.trunc(((r.nanoCpus as number) * 100_000) / 1e9);
  }
  if ((r.cpuPeriod ?? 0) !== 0) cpu.period = r.cpuPeriod;
  if ((r.cpuQuota ?? 0) !== 0) cpu.quota = r.cpuQuota;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit <= 0 ? -1 : r.pidsLimit };
  if ((r.blkioWeight ?? 0) > 0) out.blockIO = { weight: r.blkioWeight };
  return out;
}

function checkPermissions(p: string, device: string): string {
  if (p === '' || !/^[rwm]+$/.test(p)) throw invalidArgument(`invalid device mode: ${p} for device ${device}`);
  return p;
}

/** Parents before children, as Docker orders mounts (by the depth of their destination), keeping the given order otherwise. */
function sortMounts<T extends { destination: string }>(mounts: T[]): T[] {
  const depth = (m: T): number => m.destination.split('/').filter(Boolean).length;
  return mounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i)
    .map((x) => x.m);
}

function withoutReadonly(m: Mount): void {
  m.options = (m.options ?? []).filter((o) => o !== 'ro');
}

function mountsFor(input: ContainerSpecInput): Mount[] {
  const user = sortMounts(input.mounts.map((m) => ({ ...m, options: [...m.options] })));
  const userDest = new Set(user.map((m) => m.destination));
  const devMounted = userDest.has('/dev');
  const mounts: Mount[] = [];
  for (const m of defaultMounts()) {
    if (userDest.has(m.destination)) continue;
    if (devMounted && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (input.namespaces.ipc === 'host') {
        // The host's IPC namespace comes with the host's shared memory.
        mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
        continue;
      }
      m.options?.push(`size=${input.shmSize > 0 ? input.shmSize : DEFAULT_SHM_SIZE}`);
    }
    mounts.push(m);
  }
  if (input.init && input.namespaces.pid === 'private') {
    mounts.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: input.init.hostPath, options: ['bind', 'ro'] });
  }
  const ownCount = mounts.length;
  mounts.push(...user);

  if (input.readonlyRootfs) {
    const writable = new Set(['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev']);
    for (const m of mounts.slice(0, ownCount)) {
      if (!writable.has(m.destination) && !m.options?.includes('ro')) m.options?.push('ro');
    }
  }
  if (input.privileged) {
    for (const m of mounts) if (m.destination === '/sys' || m.type === 'cgroup') withoutReadonly(m);
  }
  return mounts;
}

function namespacesFor(ns: ContainerNamespaces): LinuxNamespace[] {
  const out: LinuxNamespace[] = [{ type: 'mount' }];
  if (ns.network.mode === 'private') out.push({ type: 'network' });
  else if (ns.network.mode === 'path') {
    if (!ns.network.path) throw invalidArgument('network namespace mode "path" needs a path');
    out.push({ type: 'network', path: ns.network.path });
  }
  if (ns.uts === 'private') out.push({ type: 'uts' });
  if (ns.pid === 'private') out.push({ type: 'pid' });
  if (ns.ipc === 'private') out.push({ type: 'ipc' });
  if (ns.cgroup === 'private') out.push({ type: 'cgroup' });
  return out;
}

function sysctlsFor(input: ContainerSpecInput, host: HostFacts): Record<string, string> {
  validateSysctls(input.sysctls, input.namespaces);
  const out: Record<string, string> = {};
  const net = input.namespaces.network;
  // Docker's two defaults for a network namespace of the container's own: unprivileged ping, and low ports
  // without CAP_NET_BIND_SERVICE. User values win.
  if (net.mode === 'private' || (net.mode === 'path' && !net.shared)) {
    if (host.sysctlExists('net.ipv4.ping_group_range')) out['net.ipv4.ping_group_range'] = '0 2147483647';
    if (host.sysctlExists('net.ipv4.ip_unprivileged_port_start')) out['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  return { ...out, ...input.sysctls };
}

function devicesFor(input: ContainerSpecInput, host: HostFacts): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  if (input.privileged) {
    const devices = host.hostDevices();
    for (const d of input.devices) {
      if (d.pathOnHost === d.pathInContainer) continue; // already there with all host devices
      devices.push(...host.devicesFromPath(d.pathOnHost, d.pathInContainer));
    }
    return { devices, rules: [{ allow: true, access: 'rwm' }] };
  }
  const devices: LinuxDevice[] = [];
  const rules = defaultDeviceRules();
  for (const d of input.devices) {
    const access = checkPermissions(d.permissions || 'rwm', d.pathOnHost);
    for (const dev of host.devicesFromPath(d.pathOnHost, d.pathInContainer)) {
      devices.push(dev);
      if (dev.type === 'c' || dev.type === 'b') rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access });
    }
  }
  return { devices, rules };
}

function seccompFor(input: ContainerSpecInput, bounding: string[], host: HostFacts): LinuxSeccomp | undefined {
  if (input.privileged || input.seccomp === 'unconfined') return undefined;
  const target = { arch: host.arch, kernel: host.kernel };
  if (input.seccomp === 'default') return seccompForCapabilities(DEFAULT_SECCOMP_PROFILE, bounding, target);
  return seccompForCapabilities(parseSeccompProfile(input.seccomp.profile), bounding, target);
}

function envWithHome(env: string[], home: string): string[] {
  return env.some((e) => e.startsWith('HOME=')) ? [...env] : [...env, `HOME=${home}`];
}

/** The config.json of a container. `host` defaults to this machine's facts (read once). */
export function generateSpec(input: ContainerSpecInput, host: HostFacts = readHostFacts()): Spec {
  if (input.args.length === 0) throw invalidArgument('no command specified');
  const caps = input.privileged
    ? [...host.boundingSet]
    : tweakCapabilities([...DEFAULT_CAPABILITIES], input.capAdd, input.capDrop, host.boundingSet);
  const rlimits = rlimitsFor(input.ulimits, host);
  if (input.oomScoreAdj !== undefined) {
    if (input.oomScoreAdj < -1000 || input.oomScoreAdj > 1000) {
      throw invalidArgument(`Invalid value ${input.oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
    }
    if (input.oomScoreAdj < host.oomScoreAdj && !host.hasSysResource) {
      throw invalidArgument(
        `oom score adj ${input.oomScoreAdj} is below the daemon's own (${host.oomScoreAdj}), which needs CAP_SYS_RESOURCE`,
      );
    }
  }
  const { devices, rules } = devicesFor(input, host);
  const initArgs = input.init && input.namespaces.pid === 'private' ? [INIT_PATH_IN_CONTAINER, '--'] : [];

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.terminal,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args: [...initArgs, ...input.args],
      env: envWithHome(input.env, input.user.home),
      cwd: input.cwd || '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      noNewPrivileges: input.noNewPrivileges,
    },
    root: { path: input.rootfsPath, readonly: input.readonlyRootfs },
    mounts: mountsFor(input),
    linux: {
      sysctl: sysctlsFor(input, host),
      resources: { devices: rules, ...resourcesFor(input.resources, host.cgroupVersion) },
      cgroupsPath: input.cgroupsPath,
      namespaces: namespacesFor(input.namespaces),
      devices,
    },
  };
  const process = spec.process as NonNullable<Spec['process']>;
  const linux = spec.linux as NonNullable<Spec['linux']>;
  if (rlimits.length > 0) process.rlimits = rlimits;
  if (input.oomScoreAdj !== undefined) process.oomScoreAdj = input.oomScoreAdj;
  if (input.apparmor && input.apparmor !== 'unconfined' && !input.privileged && host.apparmorEnabled) {
    process.apparmorProfile = input.apparmor;
  }
  if (input.namespaces.uts === 'private') {
    if (input.hostname) spec.hostname = input.hostname;
    if (input.domainname) spec.domainname = input.domainname;
  }
  const seccomp = seccompFor(input, caps, host);
  if (seccomp) linux.seccomp = seccomp;
  if (!input.privileged) {
    linux.maskedPaths = [...(input.maskedPaths ?? DEFAULT_MASKED_PATHS)];
    linux.readonlyPaths = [...(input.readonlyPaths ?? DEFAULT_READONLY_PATHS)];
  }
  return spec;
}

/** config.json text; RLIM_INFINITY is written as the exact 2^64-1 that JSON.stringify cannot produce. */
export function specToJson(spec: Spec): string {
  return JSON.stringify(spec, (_key, value: unknown) => (value === RLIM_INFINITY ? '__RLIM_INFINITY__' : value), 2).replaceAll(
    '"__RLIM_INFINITY__"',
    '18446744073709551615',
  );
}

/** The `process` of a bundle's config.json: what an exec or a health probe starts from. */
export async function readBundleProcess(bundle: string): Promise<Record<string, unknown>> {
  return (JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> }).process;
}

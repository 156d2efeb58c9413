/**
 * `GET /info` and `GET /version`: real figures about this host and this daemon, shaped like the
 * v1.50 SystemInfo and SystemVersion so that `docker info` and `docker version` render them.
 */
import os from 'node:os';
import type { Engine } from '../engine.js';
import type { BuildInfo } from './build-info.js';
import {
  backingFilesystem, cgroupFeatures, cgroupVersion, findExecutable, goArch, kernelVersion, openFileCount, osRelease,
  sysctlEnabled, toolVersion, unameMachine,
} from './host.js';

export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

/** What the daemon knows about itself that the engine does not. */
export interface DaemonFacts {
  /** Stable daemon ID (kept in the data root). */
  id: string;
  build: BuildInfo;
  liveRestore: boolean;
  debug: boolean;
  eventListeners?: number;
}

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface RegistryServiceConfig {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

export interface RuntimeInfo {
  path: string;
}

export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][];
  DockerRootDir: string;
  Plugins: { Volume: string[]; Network: string[]; Authorization: string[] | null; Log: string[] };
  MemoryLimit: boolean;
  SwapLimit: boolean;
  KernelMemoryTCP: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  OomKillDisable: boolean;
  IPv4Forwarding: boolean;
  BridgeNfIptables: boolean;
  BridgeNfIp6tables: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  IndexServerAddress: string;
  RegistryConfig: RegistryServiceConfig;
  GenericResources: null;
  HttpProxy: string;
  HttpsProxy: string;
  NoProxy: string;
  Name: string;
  Labels: string[];
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes: Record<string, RuntimeInfo>;
  DefaultRuntime: string;
  Swarm: {
    NodeID: string;
    NodeAddr: string;
    LocalNodeState: string;
    ControlAvailable: boolean;
    Error: string;
    RemoteManagers: null;
  };
  LiveRestoreEnabled: boolean;
  Isolation: string;
  InitBinary: string;
  ContainerdCommit: { ID: string };
  RuncCommit: { ID: string };
  InitCommit: { ID: string };
  SecurityOptions: string[];
  ProductLicense: string;
  DefaultAddressPools: { Base: string; Size: number }[];
  CDISpecDirs: string[];
  Warnings: string[];
}

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

export interface SystemVersion {
  Platform: { Name: string };
  Components: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
}

/** Docker Hub's index; the docker CLI uses it as the default server for `login`. */
const INDEX_SERVER = 'https://index.docker.io/v1/';
const KNOWN_RUNTIMES = ['crun', 'runc'];
const INIT_BINARIES = ['catatonit', 'tini'];

function isCidr(s: string): boolean {
  return /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s);
}

/** Mirrors apply to Docker Hub; insecure entries are either CIDRs or index names. */
export function registryServiceConfig(mirrors: string[], insecure: string[]): RegistryServiceConfig {
  const cidrs = ['::1/128', '127.0.0.0/8'];
  const indexConfigs: Record<string, IndexInfo> = {
    'docker.io': { Name: 'docker.io', Mirrors: [...mirrors], Secure: true, Official: true },
  };
  for (const entry of insecure) {
    if (isCidr(entry)) {
      if (!cidrs.includes(entry)) cidrs.push(entry);
    } else {
      indexConfigs[entry] = { Name: entry, Mirrors: [], Secure: false, Official: false };
    }
  }
  return { InsecureRegistryCIDRs: cidrs, IndexConfigs: indexConfigs, Mirrors: [...mirrors] };
}

function proxyEnv(name: string): string {
  return process.env[name] ?? process.env[name.toLowerCase()] ?? '';
}

export async function runtimePaths(): Promise<Record<string, RuntimeInfo>> {
  const runtimes: Record<string, RuntimeInfo> = {};
  for (const name of KNOWN_RUNTIMES) {
    const found = await findExecutable(name);
    if (found) runtimes[name] = { path: found };
  }
  return runtimes;
}

export async function collectSystemInfo(engine: Engine, daemon: DaemonFacts): Promise<SystemInfo> {
  const config = engine.config;
  const cgVersion = await cgroupVersion();
  const [features, release, runtimes, backingFs, nfd, ipv4Forwarding, bridgeNf, bridgeNf6, initPaths] = await Promise.all([
    cgroupFeatures(cgVersion),
    osRelease(),
    runtimePaths(),
    backingFilesystem(config.dataRoot),
    openFileCount(),
    sysctlEnabled('/proc/sys/net/ipv4/ip_forward'),
    sysctlEnabled('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    sysctlEnabled('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
    Promise.all(INIT_BINARIES.map((name) => findExecutable(name))),
  ]);
  const defaultRuntime = runtimes[config.defaultRuntime];
  const runtimeCommit = defaultRuntime ? (await toolVersion(defaultRuntime.path)).commit : '';
  const initIndex = initPaths.findIndex((p) => p !== undefined);
  const initPath = initIndex >= 0 ? initPaths[initIndex] : undefined;
  const initCommit = initPath ? (await toolVersion(initPath)).version : '';

  const warnings: string[] = [];
  if (!defaultRuntime) warnings.push(`WARNING: default runtime ${config.defaultRuntime} was not found on PATH`);
  if (!ipv4Forwarding) warnings.push('WARNING: IPv4 forwarding is disabled');
  if (!features.swapLimit) warnings.push('WARNING: No swap limit support');

  const counts = engine.containers.count();
  return {
    ID: daemon.id,
    Containers: counts.total,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    Images: engine.images.count(),
    Driver: 'overlayfs',
    DriverStatus: [
      ['Backing Filesystem', backingFs],
      ['Supports d_type', 'true'],
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    DockerRootDir: config.dataRoot,
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'local'] },
    MemoryLimit: features.memoryLimit,
    SwapLimit: features.swapLimit,
    KernelMemoryTCP: features.kernelMemoryTcp,
    CpuCfsPeriod: features.cpuCfsPeriod,
    CpuCfsQuota: features.cpuCfsQuota,
    CPUShares: features.cpuShares,
    CPUSet: features.cpuSet,
    PidsLimit: features.pidsLimit,
    OomKillDisable: features.oomKillDisable,
    IPv4Forwarding: ipv4Forwarding,
    BridgeNfIptables: bridgeNf,
    BridgeNfIp6tables: bridgeNf6,
    Debug: daemon.debug,
    NFd: nfd,
    // Node has no goroutines; its live handles and requests are the nearest honest figure.
    NGoroutines: process.getActiveResourcesInfo().length,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgVersion,
    NEventsListener: daemon.eventListeners ?? 0,
    KernelVersion: kernelVersion(),
    OperatingSystem: release.prettyName,
    OSVersion: release.versionId,
    OSType: 'linux',
    Architecture: unameMachine(),
    NCPU: os.availableParallelism(),
    MemTotal: os.totalmem(),
    IndexServerAddress: INDEX_SERVER,
    RegistryConfig: registryServiceConfig(config.registryMirrors, config.insecureRegistries),
    GenericResources: null,
    HttpProxy: proxyEnv('HTTP_PROXY'),
    HttpsProxy: proxyEnv('HTTPS_PROXY'),
    NoProxy: proxyEnv('NO_PROXY'),
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: daemon.build.version,
    Runtimes: runtimes,
    DefaultRuntime: config.defaultRuntime,
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: daemon.liveRestore,
    Isolation: '',
    InitBinary: initPath ? INIT_BINARIES[initIndex] ?? '' : '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: runtimeCommit },
    InitCommit: { ID: initCommit },
    SecurityOptions: ['name=seccomp,profile=builtin'],
    ProductLicense: '',
    DefaultAddressPools: [],
    CDISpecDirs: [],
    Warnings: warnings,
  };
}

export async function collectVersion(engine: Engine, daemon: DaemonFacts): Promise<SystemVersion> {
  const build = daemon.build;
  const engineDetails: Record<string, string> = {
    ApiVersion: API_VERSION,
    Arch: goArch(),
    BuildTime: build.buildTime,
    Experimental: 'false',
    GitCommit: build.gitCommit,
    GoVersion: `node ${process.version}`,
    KernelVersion: kernelVersion(),
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
  };
  const components: ComponentVersion[] = [{ Name: 'Engine', Version: build.version, Details: engineDetails }];
  // The programs that do the privileged work, as docker lists containerd and runc.
  const runtimes = await runtimePaths();
  const runtime = runtimes[engine.config.defaultRuntime];
  const conmon = await findExecutable('conmon');
  for (const [name, p] of [[engine.config.defaultRuntime, runtime?.path], ['conmon', conmon]] as const) {
    if (!p) continue;
    const v = await toolVersion(p);
    components.push({ Name: name, Version: v.version, Details: { GitCommit: v.commit } });
  }
  return {
    Platform: { Name: `berth ${build.version}` },
    Components: components,
    Version: build.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: build.gitCommit,
    GoVersion: `node ${process.version}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: kernelVersion(),
    BuildTime: build.buildTime,
  };
}

import type { ApiMount, ContainerMount } from '../volumes/mount-specs.js';

/** The container model, kept in Docker's inspect shape so the API can return it as it is. */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: import('./health.js').HealthState;
}

/** Docker's container Config (the part that comes from the image and `create`). */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck?: unknown;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
}

/** The HostConfig fields berth honours; the rest of what clients send is kept as given. */
export interface HostConfig {
  Binds?: string[] | null;
  NetworkMode?: string;
  AutoRemove?: boolean;
  RestartPolicy?: { Name: string; MaximumRetryCount: number };
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string> | null;
  ShmSize?: number;
  GroupAdd?: string[] | null;
  Init?: boolean | null;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  Sysctls?: Record<string, string> | null;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  OomKillDisable?: boolean | null;
  OomScoreAdj?: number;
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  CgroupnsMode?: string;
  Runtime?: string;
  LogConfig?: { Type: string; Config: Record<string, string> };
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  Mounts?: ApiMount[] | null;
  VolumesFrom?: string[] | null;
  [key: string]: unknown;
}

export interface ContainerDoc {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Name: string; Data: Record<string, string> };
  Mounts: unknown[];
  Config: ContainerConfig;
  NetworkSettings: import('../networks/types.js').NetworkSettings;
  /** berth's own bookkeeping, not shown by inspect. */
  Berth: {
    runtime: string;
    conmonPid?: number;
    layers: string[];
    manualStop?: boolean;
    restartDelayMs?: number;
    /** The container's resolved mounts (binds, volumes, --mount tmpfs); absent on containers made before volumes. */
    mounts?: ContainerMount[];
  };
}

/** What POST /containers/create receives. */
export interface CreateRequest extends Partial<ContainerConfig> {
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
  Platform?: string;
}

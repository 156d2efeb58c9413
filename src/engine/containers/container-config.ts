import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../../errors.js';
import type { ImageConfig } from '../../registry/manifest.js';
import type { ContainerConfig, CreateRequest, HostConfig } from './types.js';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}

const ADJECTIVES = [
  'agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'cool', 'eager', 'fond', 'gentle', 'happy', 'jolly', 'keen', 'kind',
  'lucid', 'merry', 'nifty', 'noble', 'proud', 'quick', 'quiet', 'sharp', 'steady', 'sunny', 'swift', 'tender', 'vivid', 'witty',
];
const NAMES = [
  'babbage', 'bohr', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermat', 'galileo', 'gauss', 'hopper',
  'hypatia', 'kepler', 'knuth', 'lamport', 'liskov', 'lovelace', 'meitner', 'newton', 'noether', 'pascal', 'ritchie', 'shannon',
  'thompson', 'turing', 'wing', 'wozniak',
];

/** Docker-style generated names (adjective_scientist); after a few collisions a number is added, as Docker does. */
export function generateName(attempt: number): string {
  const pick = <T>(xs: T[]): T => xs[randomBytes(2).readUInt16BE(0) % xs.length];
  const base = `${pick(ADJECTIVES)}_${pick(NAMES)}`;
  return attempt > 3 ? `${base}${randomBytes(2).readUInt16BE(0) % 100}` : base;
}

function mergeEnv(image: string[] | undefined, user: string[] | null | undefined): string[] {
  const out = [...(image ?? [])];
  for (const e of user ?? []) {
    const key = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === key);
    if (!e.includes('=')) continue; // `-e NAME` without a value and none in the environment: Docker drops it
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/**
 * The container's config as Docker derives it: the request over the image's defaults. An entrypoint given at create
 * time drops the image's Cmd unless a Cmd is given too.
 */
export function mergeConfig(req: CreateRequest, image: ImageConfig): ContainerConfig {
  const ic = (image.config ?? {}) as Record<string, unknown>;
  const entrypointSet = req.Entrypoint !== undefined && req.Entrypoint !== null;
  const entrypoint = entrypointSet ? req.Entrypoint! : ((ic.Entrypoint as string[] | null | undefined) ?? null);
  const cmdGiven = req.Cmd !== undefined && req.Cmd !== null && req.Cmd.length > 0;
  const cmd = cmdGiven ? req.Cmd! : entrypointSet ? null : ((ic.Cmd as string[] | null | undefined) ?? null);
  return {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User || ((ic.User as string | undefined) ?? ''),
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    ExposedPorts: { ...((ic.ExposedPorts as Record<string, Record<string, never>>) ?? {}), ...(req.ExposedPorts ?? {}) },
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: mergeEnv(ic.Env as string[] | undefined, req.Env),
    Cmd: cmd,
    Healthcheck: req.Healthcheck ?? ic.Healthcheck,
    Image: req.Image ?? '',
    Volumes: { ...((ic.Volumes as Record<string, Record<string, never>>) ?? {}), ...(req.Volumes ?? {}) },
    WorkingDir: req.WorkingDir || ((ic.WorkingDir as string | undefined) ?? ''),
    Entrypoint: entrypoint && entrypoint.length ? entrypoint : null,
    OnBuild: null,
    Labels: { ...((ic.Labels as Record<string, string>) ?? {}), ...(req.Labels ?? {}) },
    StopSignal: req.StopSignal || (ic.StopSignal as string | undefined),
    StopTimeout: req.StopTimeout,
  };
}

export function commandOf(config: ContainerConfig): { path: string; args: string[] } {
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (argv.length === 0) throw invalidArgument('no command specified');
  return { path: argv[0], args: argv.slice(1) };
}

export function normalizeHostConfig(hc: HostConfig | undefined): HostConfig {
  const out: HostConfig = { ...(hc ?? {}) };
  out.NetworkMode = !out.NetworkMode || out.NetworkMode === 'default' ? 'bridge' : out.NetworkMode;
  out.RestartPolicy = out.RestartPolicy?.Name ? out.RestartPolicy : { Name: 'no', MaximumRetryCount: 0 };
  out.LogConfig = out.LogConfig?.Type ? out.LogConfig : { Type: 'json-file', Config: out.LogConfig?.Config ?? {} };
  if (out.AutoRemove && out.RestartPolicy.Name !== 'no') {
    throw invalidArgument('can\'t create \'AutoRemove\' container with restart policy');
  }
  const policy = out.RestartPolicy.Name;
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(policy)) throw invalidArgument(`invalid restart policy '${policy}'`);
  for (const k of ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'ShmSize'] as const) {
    const v = out[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || (v < 0 && k !== 'MemorySwap'))) {
      throw invalidArgument(`invalid ${k}: ${String(v)}`);
    }
  }
  if (out.Memory && out.Memory < 6 * 1024 * 1024) throw invalidArgument('Minimum memory limit allowed is 6MB');
  return out;
}

/**
 * The flags of `create` and `run`, and the JSON body docker builds from them for
 * POST /containers/create: Config, HostConfig and NetworkingConfig with docker's key order,
 * defaults and normalizations (so a daemon sees the same bytes from berth as from docker 28).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import { emptyEndpoint, type EndpointSettings } from '../../engine/networks/types.js';
import { collect } from './flag-values.js';

export interface CreateFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  domainname?: string;
  label: string[];
  labelFile: string[];
  restart?: string;
  volume: string[];
  mount: string[];
  publish: string[];
  expose: string[];
  publishAll?: boolean;
  network?: string;
  networkAlias: string[];
  ip?: string;
  ip6?: string;
  init?: boolean;
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  readOnly?: boolean;
  tmpfs: string[];
  shmSize?: string;
  ulimit: string[];
  sysctl: string[];
  device: string[];
  stopSignal?: string;
  stopTimeout?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  securityOpt: string[];
  groupAdd: string[];
  platform?: string;
  pull: string;
  attach: string[];
  logDriver?: string;
  logOpt: string[];
  detachKeys?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthcheck?: boolean;
  quiet?: boolean;
  sigProxy?: boolean;
  addHost: string[];
  dns: string[];
  dnsOption: string[];
  dnsSearch: string[];
  ipc?: string;
  pid?: string;
  uts?: string;
  cgroupParent?: string;
  runtime?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  volumesFrom: string[];
  cidfile?: string;
}

/** Adds docker's create/run flags; `run` additionally gets -d, --rm handling, --sig-proxy and --detach-keys. */
export function addCreateFlags(cmd: Command, forRun: boolean): Command {
  if (forRun) {
    cmd.option('-d, --detach', 'Run container in background and print container ID');
    cmd.option('--detach-keys <string>', 'Override the key sequence for detaching a container');
    cmd.option('--sig-proxy', 'Proxy received signals to the process (default true)', true);
  }
  return cmd
    .helpOption('--help', 'Print usage')
    .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect, [])
    .option('-a, --attach <list>', 'Attach to STDIN, STDOUT or STDERR', collect, [])
    .option('--cap-add <list>', 'Add Linux capabilities', collect, [])
    .option('--cap-drop <list>', 'Drop Linux capabilities', collect, [])
    .option('--cgroup-parent <string>', 'Optional parent cgroup for the container')
    .option('--cidfile <string>', 'Write the container ID to the file')
    .option('--cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--device <list>', 'Add a host device to the container', collect, [])
    .option('--dns <list>', 'Set custom DNS servers', collect, [])
    .option('--dns-option <list>', 'Set DNS options', collect, [])
    .option('--dns-search <list>', 'Set custom DNS search domains', collect, [])
    .option('--domainname <string>', 'Container NIS domain name')
    .option('--entrypoint <string>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-e, --env <list>', 'Set environment variables', collect, [])
    .option('--env-file <list>', 'Read in a file of environment variables', collect, [])
    .option('--expose <list>', 'Expose a port or a range of ports', collect, [])
    .option('--group-add <list>', 'Add additional groups to join', collect, [])
    .option('--health-cmd <string>', 'Command to run to check health')
    .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h) (default 0s)')
    .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy')
    .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h) (default 0s)')
    .option('--health-start-period <duration>', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)')
    .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)')
    .option('-h, --hostname <string>', 'Container host name')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--ip <string>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--ip6 <string>', 'IPv6 address (e.g., 2001:db8::33)')
    .option('--ipc <string>', 'IPC mode to use')
    .option('-l, --label <list>', 'Set meta data on a container', collect, [])
    .option('--label-file <list>', 'Read in a line delimited file of labels', collect, [])
    .option('--log-driver <string>', 'Logging driver for the container')
    .option('--log-opt <list>', 'Log driver options', collect, [])
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--mount <mount>', 'Attach a filesystem mount to the container', collect, [])
    .option('--name <string>', 'Assign a name to the container')
    .option('--network <network>', 'Connect a container to a network')
    .option('--network-alias <list>', 'Add network-scoped alias for the container', collect, [])
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK')
    .option('--oom-kill-disable', 'Disable OOM Killer')
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)")
    .option('--pid <string>', 'PID namespace to use')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--privileged', 'Give extended privileges to this container')
    .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect, [])
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--pull <string>', 'Pull image before running ("always", "missing", "never")', 'missing')
    .option('-q, --quiet', 'Suppress the pull output')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--restart <string>', 'Restart policy to apply when a container exits', 'no')
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--runtime <string>', 'Runtime to use for this container')
    .option('--security-opt <list>', 'Security Options', collect, [])
    .option('--shm-size <bytes>', 'Size of /dev/shm')
    .option('--stop-signal <string>', 'Signal to stop the container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container')
    .option('--sysctl <map>', 'Sysctl options', collect, [])
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--tmpfs <list>', 'Mount a tmpfs directory', collect, [])
    .option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('--ulimit <ulimit>', 'Ulimit options', collect, [])
    .option('--uts <string>', 'UTS namespace to use')
    .option('-v, --volume <list>', 'Bind mount a volume', collect, [])
    .option('--volumes-from <list>', 'Mount volumes from the specified container(s)', collect, [])
    .option('-w, --workdir <string>', 'Working directory inside the container');
}

// ---------------------------------------------------------------- value parsers

/** go-units RAMInBytes: "64m" → 67108864 (binary multiples, optional b/ib suffix). */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.trunc(Number(m[1]) * mult[(m[2] ?? '').toLowerCase()]!);
}

/** --cpus "1.5" → 1500000000 NanoCPUs, computed in decimal so "0.1" stays exact. */
export function nanoCpus(s: string): number {
  const m = /^(\d*)(?:\.(\d{0,9}))?$/.exec(s.trim());
  if (!m || (m[1] === '' && !m[2])) throw invalidArgument(`invalid argument "${s}" for "--cpus" flag: failed to parse ${s} as a rational number`);
  return Number(m[1] || '0') * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let sign = 1;
  let rest = s;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  let total = 0;
  let pos = 0;
  re.lastIndex = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) throw invalidArgument(`time: invalid duration "${s}"`);
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (rest.length === 0) throw invalidArgument(`time: invalid duration "${s}"`);
  return Math.round(sign * total);
}

function parseInteger(s: string, flag: string): number {
  if (!/^[-+]?\d+$/.test(s.trim())) throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
  return Number(s);
}

/** KEY=VALUE files (--env-file, --label-file): comments and blank lines skipped, bare keys looked up in `lookup` (env files) or dropped. */
export function parseKeyValueFile(file: string, lookup: ((k: string) => string | undefined) | undefined): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`open ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i === 0) throw invalidArgument(`invalid variable: '${line}'`);
    if (i > 0) out.push(line);
    else if (lookup) {
      const v = lookup(line.trim());
      if (v !== undefined) out.push(`${line.trim()}=${v}`);
    }
    // a bare key in a label file is dropped, as docker does
  }
  return out;
}

/** opts.ValidateEnv: "K" alone takes the value from the client's environment when set. */
export function resolveEnv(value: string, env: NodeJS.ProcessEnv): string {
  const i = value.indexOf('=');
  if (i === 0) throw invalidArgument(`invalid environment variable: ${value}`);
  if (i > 0) return value;
  const v = env[value];
  return v !== undefined ? `${value}=${v}` : value;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** nat.ParsePortSpecs over all -p values: exposed ports and bindings, keyed "80/tcp". */
export function parsePublish(specs: readonly string[]): { exposed: Set<string>; bindings: Map<string, PortBinding[]> } {
  const exposed = new Set<string>();
  const bindings = new Map<string, PortBinding[]>();
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalidArgument(`invalid proto: ${proto}`);
    }
    let ip = '';
    let hostPart = '';
    let containerPart: string;
    const v6 = /^\[([^\]]*)\]:(.*)$/.exec(rest);
    if (v6) {
      ip = v6[1]!;
      const i = v6[2]!.lastIndexOf(':');
      hostPart = i >= 0 ? v6[2]!.slice(0, i) : '';
      containerPart = i >= 0 ? v6[2]!.slice(i + 1) : v6[2]!;
    } else {
      const parts = rest.split(':');
      if (parts.length === 1) containerPart = parts[0]!;
      else if (parts.length === 2) [hostPart, containerPart] = [parts[0]!, parts[1]!];
      else {
        containerPart = parts[parts.length - 1]!;
        hostPart = parts[parts.length - 2]!;
        ip = parts.slice(0, -2).join(':');
      }
    }
    if (!containerPart) throw invalidArgument(`no port specified: ${spec}<empty>`);
    const [cStart, cEnd] = parseRange(containerPart, 'containerPort');
    let hStart = 0;
    let hEnd = 0;
    if (hostPart) [hStart, hEnd] = parseRange(hostPart, 'hostPort');
    const cCount = cEnd - cStart;
    if (hostPart && cCount !== hEnd - hStart && cCount !== 0) {
      throw invalidArgument(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
    }
    for (let i = 0; i <= cCount; i++) {
      const key = `${cStart + i}/${proto}`;
      exposed.add(key);
      let hostPort = '';
      if (hostPart) hostPort = cCount === 0 && hEnd !== hStart ? `${hStart}-${hEnd}` : String(hStart + i);
      const list = bindings.get(key) ?? [];
      list.push({ HostIp: ip, HostPort: hostPort });
      bindings.set(key, list);
    }
  }
  return { exposed, bindings };
}

function parseRange(s: string, what: 'containerPort' | 'hostPort'): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw invalidArgument(`invalid ${what}: ${s}`);
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (a > 65535 || b > 65535 || b < a) throw invalidArgument(`invalid port range: ${s}`);
  return [a, b];
}

/** --expose "7000-7001[/proto]" → exposed port keys. */
function parseExpose(spec: string): string[] {
  const [range, proto = 'tcp'] = spec.split('/');
  const [a, b] = parseRange(range!, 'containerPort');
  const out: string[] = [];
  for (let p = a; p <= b; p++) out.push(`${p}/${proto}`);
  return out;
}

/** opts.NormalizeCapabilities: upper case, CAP_ prefix (except ALL), no duplicates. */
export function normalizeCaps(caps: readonly string[]): string[] | null {
  if (caps.length === 0) return null;
  const out: string[] = [];
  for (const c of caps) {
    let n = c.trim().toUpperCase();
    if (n !== 'ALL' && !n.startsWith('CAP_')) n = 'CAP_' + n;
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

export function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw invalidArgument(`invalid ulimit argument: ${s}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Hard: hard, Soft: soft };
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

const isPermissions = (s: string): boolean => /^[rwm]{1,3}$/.test(s);

export function parseDevice(s: string): DeviceMapping {
  const parts = s.split(':');
  const host = parts[0]!;
  let inContainer = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (isPermissions(parts[1]!)) perms = parts[1]!;
    else inContainer = parts[1]!;
  } else if (parts.length === 3) {
    inContainer = parts[1]!;
    if (!isPermissions(parts[2]!)) throw invalidArgument(`invalid device mode: ${parts[2]}`);
    perms = parts[2]!;
  } else if (parts.length > 3) throw invalidArgument(`invalid device specification: ${s}`);
  return { PathOnHost: host, PathInContainer: inContainer, CgroupPermissions: perms };
}

/** --restart no|always|unless-stopped|on-failure[:N]. */
export function parseRestart(s: string): { Name: string; MaximumRetryCount: number } {
  const [name = '', count] = s.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name)) throw invalidArgument(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (count !== undefined && name !== 'on-failure') throw invalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  const n = count !== undefined ? Number(count) : 0;
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(`invalid restart policy format: maximum retry count must be an integer`);
  return { Name: name || 'no', MaximumRetryCount: n };
}

export type MountSpec = Record<string, unknown>;

/** --mount's CSV ("type=bind,src=/x,dst=/y,readonly") as the API's Mount object. */
export function parseMount(spec: string): MountSpec {
  let type = 'volume';
  let source: string | undefined;
  let target: string | undefined;
  let readOnly: boolean | undefined;
  let consistency: string | undefined;
  const bind: Record<string, unknown> = {};
  const volume: Record<string, unknown> = {};
  const tmpfs: Record<string, unknown> = {};
  const parseBool = (k: string, v: string | undefined): boolean => {
    if (v === undefined || ['true', '1'].includes(v.toLowerCase())) return true;
    if (['false', '0'].includes(v.toLowerCase())) return false;
    throw invalidArgument(`invalid value for ${k}: ${v}`);
  };
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    const key = (i >= 0 ? field.slice(0, i) : field).trim().toLowerCase();
    const value = i >= 0 ? field.slice(i + 1) : undefined;
    switch (key) {
      case 'type':
        type = value ?? '';
        break;
      case 'source':
      case 'src':
        source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = value;
        break;
      case 'readonly':
      case 'ro':
        readOnly = parseBool(key, value);
        break;
      case 'consistency':
        consistency = value;
        break;
      case 'bind-propagation':
        bind['Propagation'] = value;
        break;
      case 'bind-nonrecursive':
        bind['NonRecursive'] = parseBool(key, value);
        break;
      case 'volume-nocopy':
        volume['NoCopy'] = parseBool(key, value);
        break;
      case 'volume-subpath':
        volume['Subpath'] = value;
        break;
      case 'volume-driver':
        volume['DriverConfig'] = { ...((volume['DriverConfig'] as object) ?? {}), Name: value };
        break;
      case 'volume-opt': {
        const j = (value ?? '').indexOf('=');
        const dc = (volume['DriverConfig'] as { Options?: Record<string, string> }) ?? {};
        dc.Options = { ...(dc.Options ?? {}), [(value ?? '').slice(0, j)]: (value ?? '').slice(j + 1) };
        volume['DriverConfig'] = dc;
        break;
      }
      case 'tmpfs-size':
        tmpfs['SizeBytes'] = ramInBytes(value ?? '');
        break;
      case 'tmpfs-mode':
        tmpfs['Mode'] = parseInt(value ?? '', 8);
        break;
      default:
        throw invalidArgument(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  if (!target) throw invalidArgument(`invalid argument "${spec}" for "--mount" flag: target is required`);
  const m: MountSpec = { Type: type };
  if (source) m['Source'] = source;
  m['Target'] = target;
  if (readOnly) m['ReadOnly'] = true;
  if (consistency) m['Consistency'] = consistency;
  if (Object.keys(bind).length) m['BindOptions'] = bind;
  if (Object.keys(volume).length) m['VolumeOptions'] = volume;
  if (Object.keys(tmpfs).length) m['TmpfsOptions'] = tmpfs;
  return m;
}

function sortedRecord<T>(m: Map<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of [...m.keys()].sort()) out[k] = m.get(k)!;
  return out;
}

function keyValueMap(list: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const item of list) {
    const i = item.indexOf('=');
    if (i === 0) throw invalidArgument(`invalid label: ${item}`);
    if (i < 0) m.set(item, '');
    else m.set(item.slice(0, i), item.slice(i + 1));
  }
  return m;
}

// ---------------------------------------------------------------- the request

export interface CreateRequest {
  name?: string;
  platform?: string;
  body: Record<string, unknown>;
  /** What the client attaches to; from -a, else stdout+stderr (and stdin with -i); nothing with -d. */
  attach: { stdin: boolean; stdout: boolean; stderr: boolean };
  tty: boolean;
  autoRemove: boolean;
}

export interface BuildContext {
  env: NodeJS.ProcessEnv;
  /** The terminal size for ConsoleSize with -t ([height, width]). */
  consoleSize?: [number, number];
  /** run -d: nothing is attached. */
  detach: boolean;
}

function healthcheck(f: CreateFlags): Record<string, unknown> | undefined {
  const dur = (s: string | undefined, flag: string): number => {
    if (s === undefined) return 0;
    const n = parseGoDuration(s);
    if (n < 0) throw invalidArgument(`--${flag} cannot be negative`);
    return n;
  };
  const any = f.healthCmd !== undefined || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod || f.healthStartInterval;
  if (f.healthcheck === false) {
    if (any) throw invalidArgument('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  const hc: Record<string, unknown> = {};
  if (f.healthCmd) hc['Test'] = ['CMD-SHELL', f.healthCmd];
  const interval = dur(f.healthInterval, 'health-interval');
  const timeout = dur(f.healthTimeout, 'health-timeout');
  const start = dur(f.healthStartPeriod, 'health-start-period');
  const startInterval = dur(f.healthStartInterval, 'health-start-interval');
  if (interval) hc['Interval'] = interval;
  if (timeout) hc['Timeout'] = timeout;
  if (start) hc['StartPeriod'] = start;
  if (startInterval) hc['StartInterval'] = startInterval;
  const retries = f.healthRetries ? parseInteger(f.healthRetries, '--health-retries') : 0;
  if (retries) hc['Retries'] = retries;
  return hc;
}

function readSecurityOpts(list: readonly string[]): string[] | null {
  if (list.length === 0) return null;
  return list.map((opt) => {
    const m = /^seccomp[=:](.*)$/.exec(opt);
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return opt;
    // docker sends the profile itself, not its path
    let text: string;
    try {
      text = fs.readFileSync(m[1]!, 'utf8');
    } catch (e) {
      throw invalidArgument(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch {
      throw invalidArgument(`compacting json for seccomp profile (${m[1]}) failed`);
    }
  });
}

/** The create request docker 28 sends for these flags, image and command. */
export function buildCreateRequest(f: CreateFlags, image: string, args: readonly string[], ctx: BuildContext): CreateRequest {
  const tty = f.tty === true;
  const interactive = f.interactive === true;
  let attach = { stdin: false, stdout: false, stderr: false };
  if (f.attach.length) {
    if (ctx.detach) throw invalidArgument('Conflicting options: -a and -d');
    for (const a of f.attach) {
      const s = a.toLowerCase();
      if (s !== 'stdin' && s !== 'stdout' && s !== 'stderr') throw invalidArgument(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
      attach[s] = true;
    }
    // -i attaches stdin even when -a names only other streams
    if (interactive) attach.stdin = true;
  } else if (!ctx.detach) {
    attach = { stdin: interactive, stdout: true, stderr: true };
  }
  const restart = parseRestart(f.restart ?? 'no');
  if (f.rm && restart.Name !== 'no') throw invalidArgument('Conflicting options: cannot specify both --restart and --rm');

  const env = [
    ...f.envFile.flatMap((file) => parseKeyValueFile(file, (k) => ctx.env[k])),
    ...f.env.map((e) => resolveEnv(e, ctx.env)),
  ];
  const labels = keyValueMap([...f.labelFile.flatMap((file) => parseKeyValueFile(file, undefined)), ...f.label]);
  const ports = parsePublish(f.publish);
  for (const e of f.expose) for (const p of parseExpose(e)) ports.exposed.add(p);

  const volumes = new Map<string, Record<string, never>>();
  const binds: string[] = [];
  for (const v of f.volume) {
    if (v.includes(':')) binds.push(v);
    else volumes.set(v, {});
  }
  const tmpfs = new Map<string, string>();
  for (const t of f.tmpfs) {
    const i = t.indexOf(':');
    tmpfs.set(i >= 0 ? t.slice(0, i) : t, i >= 0 ? t.slice(i + 1) : '');
  }
  const sysctls = keyValueMap(f.sysctl);
  const logOpts = keyValueMap(f.logOpt);

  const network = f.network ?? 'default';
  const endpoints: Record<string, EndpointSettings> = {};
  const hasEndpointOptions = f.networkAlias.length > 0 || f.ip !== undefined || f.ip6 !== undefined;
  if (network === 'default' && !hasEndpointOptions) endpoints['default'] = emptyEndpoint();
  else if (hasEndpointOptions) {
    const ipam: Record<string, string> = {};
    if (f.ip) ipam['IPv4Address'] = f.ip;
    if (f.ip6) ipam['IPv6Address'] = f.ip6;
    endpoints[network] = {
      ...emptyEndpoint(),
      IPAMConfig: Object.keys(ipam).length ? ipam : null,
      Aliases: f.networkAlias.length ? f.networkAlias : null,
    };
  }

  const config: Record<string, unknown> = {
    Hostname: f.hostname ?? '',
    Domainname: f.domainname ?? '',
    User: f.user ?? '',
    AttachStdin: attach.stdin,
    AttachStdout: attach.stdout,
    AttachStderr: attach.stderr,
  };
  if (ports.exposed.size) config['ExposedPorts'] = sortedRecord(new Map([...ports.exposed].map((p) => [p, {}])));
  Object.assign(config, {
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attach.stdin,
    Env: env.length ? env : null,
    Cmd: args.length ? [...args] : null,
  });
  const hc = healthcheck(f);
  if (hc) config['Healthcheck'] = hc;
  Object.assign(config, {
    Image: image,
    Volumes: sortedRecord(volumes),
    WorkingDir: f.workdir ?? '',
    Entrypoint: f.entrypoint === undefined ? null : [f.entrypoint],
    OnBuild: null,
    Labels: sortedRecord(labels),
  });
  if (f.stopSignal) config['StopSignal'] = f.stopSignal;
  if (f.stopTimeout !== undefined) config['StopTimeout'] = parseInteger(f.stopTimeout, '--stop-timeout');

  const mounts = f.mount.map(parseMount);
  const host: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: f.cidfile ?? '',
    LogConfig: { Type: f.logDriver ?? '', Config: sortedRecord(logOpts) },
    NetworkMode: network,
    PortBindings: sortedRecord(ports.bindings),
    RestartPolicy: restart,
    AutoRemove: f.rm === true,
    VolumeDriver: '',
    VolumesFrom: f.volumesFrom.length ? f.volumesFrom : null,
    ConsoleSize: tty && ctx.consoleSize ? ctx.consoleSize : [0, 0],
    CapAdd: normalizeCaps(f.capAdd),
    CapDrop: normalizeCaps(f.capDrop),
    CgroupnsMode: '',
    Dns: f.dns,
    DnsOptions: f.dnsOption,
    DnsSearch: f.dnsSearch,
    ExtraHosts: f.addHost.length ? f.addHost.map((h) => h.replace(/=/, ':')) : null,
    GroupAdd: f.groupAdd.length ? f.groupAdd : null,
    IpcMode: f.ipc ?? '',
    Cgroup: '',
    Links: null,
    OomScoreAdj: f.oomScoreAdj ? parseInteger(f.oomScoreAdj, '--oom-score-adj') : 0,
    PidMode: f.pid ?? '',
    Privileged: f.privileged === true,
    PublishAllPorts: f.publishAll === true,
    ReadonlyRootfs: f.readOnly === true,
    SecurityOpt: readSecurityOpts(f.securityOpt),
  };
  if (tmpfs.size) host['Tmpfs'] = sortedRecord(tmpfs);
  Object.assign(host, {
    UTSMode: f.uts ?? '',
    UsernsMode: '',
    ShmSize: f.shmSize ? ramInBytes(f.shmSize) : 0,
  });
  if (sysctls.size) host['Sysctls'] = sortedRecord(sysctls);
  if (f.runtime) host['Runtime'] = f.runtime;
  Object.assign(host, {
    Isolation: '',
    CpuShares: f.cpuShares ? parseInteger(f.cpuShares, '--cpu-shares') : 0,
    Memory: f.memory ? ramInBytes(f.memory) : 0,
    NanoCpus: f.cpus ? nanoCpus(f.cpus) : 0,
    CgroupParent: f.cgroupParent ?? '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: f.cpusetCpus ?? '',
    CpusetMems: '',
    Devices: f.device.map(parseDevice),
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: f.memoryReservation ? ramInBytes(f.memoryReservation) : 0,
    MemorySwap: f.memorySwap ? (f.memorySwap === '-1' ? -1 : ramInBytes(f.memorySwap)) : 0,
    MemorySwappiness: -1,
    OomKillDisable: f.oomKillDisable === true,
    PidsLimit: f.pidsLimit ? parseInteger(f.pidsLimit, '--pids-limit') : 0,
    Ulimits: f.ulimit.map(parseUlimit),
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
  });
  if (mounts.length) host['Mounts'] = mounts;
  Object.assign(host, { MaskedPaths: null, ReadonlyPaths: null });
  if (f.init) host['Init'] = true;

  return {
    name: f.name,
    platform: f.platform,
    body: { ...config, HostConfig: host, NetworkingConfig: { EndpointsConfig: endpoints } },
    attach,
    tty,
    autoRemove: f.rm === true,
  };
}

/**
 * berthd's settings from flags and daemon.json, merged the way dockerd merges them: a directive may
 * come from either place but not both, and daemon.json keys must all be known.
 */
import path from 'node:path';
import { invalidArgument } from '../errors.js';
import { isLogLevel, type LogLevel } from './log.js';
import { logPolicy, validateLogConfig } from '../engine/containers/log-config.js';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  logLevel: LogLevel;
  pidfile: string;
  defaultRuntime: string;
  liveRestore: boolean;
  /** Group that owns the API socket. */
  group: string;
  /** Linux bridge of the default network (dockerd's --bridge); '' = berth0, or per exec root for a non-standard one. */
  bridge: string;
  /** The default bridge's address with prefix (dockerd's --bip); '' = first free default pool. */
  bip: string;
  /** Containers' default logging driver and its options (dockerd's log-driver, log-opts). */
  logDriver: string;
  logOpts: Record<string, string>;
}

/** The settings one source (the command line or daemon.json) gave explicitly. */
export type DaemonOptions = Partial<DaemonConfig>;

type Kind = 'string' | 'strings' | 'boolean' | 'map';

/** daemon.json key (dockerd's name) and value type of each setting. */
const DIRECTIVES: { [K in keyof DaemonConfig]-?: { key: string; kind: Kind } } = {
  hosts: { key: 'hosts', kind: 'strings' },
  dataRoot: { key: 'data-root', kind: 'string' },
  execRoot: { key: 'exec-root', kind: 'string' },
  registryMirrors: { key: 'registry-mirrors', kind: 'strings' },
  insecureRegistries: { key: 'insecure-registries', kind: 'strings' },
  logLevel: { key: 'log-level', kind: 'string' },
  pidfile: { key: 'pidfile', kind: 'string' },
  defaultRuntime: { key: 'default-runtime', kind: 'string' },
  liveRestore: { key: 'live-restore', kind: 'boolean' },
  group: { key: 'group', kind: 'string' },
  bridge: { key: 'bridge', kind: 'string' },
  bip: { key: 'bip', kind: 'string' },
  logDriver: { key: 'log-driver', kind: 'string' },
  logOpts: { key: 'log-opts', kind: 'map' },
};

const SETTINGS = Object.keys(DIRECTIVES) as (keyof DaemonConfig)[];

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/run/berth';
export const DEFAULT_BRIDGE = 'berth0';

/** A Linux interface name: 1-15 characters, no '/', whitespace or ':'. */
export function validateBridgeName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw invalidArgument(`invalid bridge name ${JSON.stringify(name)}: 1 to 15 of [A-Za-z0-9_.-]`);
  return name;
}

/** --bip is the bridge's own address with the prefix, e.g. 172.17.0.1/16. */
export function validateBip(bip: string): string {
  if (bip === '') return bip;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(bip);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 30 || Number(m[5]) < 1) {
    throw invalidArgument(`invalid bip ${JSON.stringify(bip)}: expected an IPv4 address with a prefix length, e.g. 172.17.0.1/16`);
  }
  return bip;
}

function settingOfKey(key: string): keyof DaemonConfig | undefined {
  return SETTINGS.find((s) => DIRECTIVES[s].key === key);
}

/** Parses daemon.json; unknown keys and wrongly typed values are errors, as in dockerd. */
export function parseDaemonJson(text: string): DaemonOptions {
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument('the configuration must be a JSON object');
  const entries = Object.entries(parsed as Record<string, unknown>);
  const unknown = entries.map(([k]) => k).filter((k) => settingOfKey(k) === undefined);
  if (unknown.length > 0) {
    throw invalidArgument(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    const setting = settingOfKey(key);
    if (!setting) continue;
    const kind = DIRECTIVES[setting].kind;
    const ok =
      kind === 'string' ? typeof value === 'string'
      : kind === 'boolean' ? typeof value === 'boolean'
      : kind === 'map' ? value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')
      : Array.isArray(value) && value.every((v) => typeof v === 'string');
    if (!ok) throw invalidArgument(`${key} must be ${kind === 'strings' ? 'a list of strings' : kind === 'map' ? 'an object of strings' : `a ${kind}`}`);
    options[setting] = Array.isArray(value) ? [...(value as string[])] : kind === 'map' ? { ...(value as Record<string, string>) } : value;
  }
  return options as DaemonOptions;
}

/** Go's %v, which dockerd uses when it reports a conflict. */
function goFormat(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return `map[${Object.entries(value as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}:${v}`).join(' ')}]`;
  }
  return Array.isArray(value) ? `[${value.join(' ')}]` : String(value);
}

/** Flags win nothing: a directive given in both places is refused, listing each conflict. */
export function mergeDaemonOptions(cli: DaemonOptions, file: DaemonOptions): DaemonOptions {
  const conflicts: string[] = [];
  for (const setting of SETTINGS) {
    if (cli[setting] !== undefined && file[setting] !== undefined) {
      conflicts.push(`${DIRECTIVES[setting].key}: (from flag: ${goFormat(cli[setting])}, from file: ${goFormat(file[setting])})`);
    }
  }
  if (conflicts.length > 0) {
    throw invalidArgument(`the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`);
  }
  return { ...file, ...cli };
}

/** The socket path of a `-H` value; only unix sockets are served (TCP would need TLS, not implemented). */
export function unixSocketPath(host: string): string {
  const h = host.trim();
  if (h.startsWith('unix://')) {
    const p = h.slice('unix://'.length);
    if (p === '') return unixSocketPath(DEFAULT_HOST);
    if (!path.isAbsolute(p)) throw invalidArgument(`invalid host ${JSON.stringify(host)}: the socket path must be absolute`);
    return path.normalize(p);
  }
  if (h.startsWith('tcp://') || h.startsWith('http://') || h.startsWith('https://')) {
    throw invalidArgument(
      `refusing to listen on ${host}: TCP listeners need TLS, which berthd does not implement yet; use a unix socket (unix:///path)`,
    );
  }
  if (h.startsWith('fd://') || h.startsWith('npipe://') || h.startsWith('ssh://')) {
    throw invalidArgument(`unsupported host ${JSON.stringify(host)}: berthd listens on unix sockets only (unix:///path)`);
  }
  throw invalidArgument(`invalid host ${JSON.stringify(host)}: expected unix:///path`);
}

/** dockerd's ValidateMirror: an http(s) URL without credentials, query or fragment, ending in '/'. */
export function normalizeMirror(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(`invalid mirror: ${JSON.stringify(value)} is not a valid URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(`invalid mirror: unsupported scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} in ${JSON.stringify(value)}`);
  }
  if (url.search !== '' || url.hash !== '') throw invalidArgument(`invalid mirror: query or fragment at end of the URI ${JSON.stringify(value)}`);
  if (url.username !== '' || url.password !== '') throw invalidArgument(`invalid mirror: username/password not allowed in URI ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '') + '/';
}

/** An insecure registry is a CIDR or a host[:port], never a URL. */
export function validateInsecureRegistry(value: string): string {
  const v = value.trim();
  if (v.includes('://')) throw invalidArgument(`insecure registry ${v} should not contain '://'`);
  if (v === '' || /\s|\//.test(v.replace(/\/\d{1,3}$/, ''))) throw invalidArgument(`invalid insecure registry ${JSON.stringify(value)}`);
  return v;
}

/** Fills defaults and checks every value. */
export function finalizeDaemonConfig(options: DaemonOptions): DaemonConfig {
  const logLevel = options.logLevel ?? 'info';
  if (!isLogLevel(logLevel)) throw invalidArgument(`unable to parse logging level: ${logLevel}`);
  const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : [DEFAULT_HOST];
  hosts.forEach(unixSocketPath);
  const dataRoot = path.resolve(options.dataRoot ?? DEFAULT_DATA_ROOT);
  const execRoot = path.resolve(options.execRoot ?? DEFAULT_EXEC_ROOT);
  const defaultRuntime = options.defaultRuntime ?? 'crun';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(defaultRuntime)) throw invalidArgument(`invalid default runtime ${JSON.stringify(defaultRuntime)}`);
  const logDriver = options.logDriver || 'json-file';
  const logOpts = options.logOpts ?? {};
  validateLogConfig({ Type: logDriver, Config: logOpts });
  logPolicy({ Type: logDriver, Config: logOpts });
  return {
    hosts,
    dataRoot,
    execRoot,
    registryMirrors: (options.registryMirrors ?? []).map(normalizeMirror),
    insecureRegistries: (options.insecureRegistries ?? []).map(validateInsecureRegistry),
    logLevel,
    pidfile: path.resolve(options.pidfile ?? path.join(execRoot, 'berthd.pid')),
    defaultRuntime,
    liveRestore: options.liveRestore ?? true,
    group: options.group ?? 'root',
    // '' lets the engine pick: DEFAULT_BRIDGE for the standard exec root, one of its own for any other.
    bridge: options.bridge === undefined ? '' : validateBridgeName(options.bridge),
    bip: validateBip(options.bip ?? ''),
    logDriver,
    logOpts,
  };
}

export interface ConfigFileInput {
  path: string;
  /** The file's text, or undefined when there is no file to read. */
  text: string | undefined;
}

/** Flags + daemon.json → the daemon's settings; errors name the file as dockerd's do. */
export function resolveDaemonConfig(cli: DaemonOptions, file: ConfigFileInput): DaemonConfig {
  let merged = cli;
  if (file.text !== undefined) {
    try {
      merged = mergeDaemonOptions(cli, parseDaemonJson(file.text));
    } catch (err) {
      throw invalidArgument(`unable to configure the daemon with file ${file.path}: ${(err as Error).message}`);
    }
  }
  return finalizeDaemonConfig(merged);
}

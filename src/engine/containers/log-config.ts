/**
 * HostConfig.LogConfig: which logging driver a container uses and how big its log may grow.
 *
 * Every driver berth knows stores the same thing on disk, conmon's k8s-file lines; the drivers differ only in their
 * rotation defaults (json-file: unlimited, local: 20 MiB x 5) and in `none`, which keeps no log at all.
 */
import { invalidArgument } from '../../errors.js';

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

export type LogDriverName = 'json-file' | 'local' | 'none';

/** What the engine does with a container's output. */
export interface LogPolicy {
  driver: LogDriverName;
  /** Bytes at which the log is rotated; undefined: never. */
  maxSize?: number;
  /** How many files (the current one included) are kept when rotating; at least 1. */
  maxFile: number;
}

export const DEFAULT_LOG_CONFIG: LogConfig = { Type: 'json-file', Config: {} };

/** Options every driver accepts (moby's builtInLogOpts). */
const BUILTIN_OPTS = new Set(['mode', 'max-buffer-size']);
const DRIVER_OPTS: Record<Exclude<LogDriverName, 'none'>, Set<string>> = {
  'json-file': new Set(['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']),
  local: new Set(['max-file', 'max-size', 'compress']),
};

function isDriver(name: string): name is LogDriverName {
  return name === 'json-file' || name === 'local' || name === 'none';
}

/**
 * Docker's units.RAMInBytes: a number with an optional binary unit (k, m, g, t, p; an optional "i" and "b"), so
 * "10m" is 10 MiB.
 */
export function parseLogSize(text: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text.trim());
  if (!m) throw invalidArgument(`invalid size: '${text}'`);
  const scale = { k: 1, m: 2, g: 3, t: 4, p: 5 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 0;
  return Math.trunc(Number.parseFloat(m[1]) * 1024 ** scale);
}

/**
 * The container's LogConfig as dockerd fills it in at create: an empty type takes the daemon's default, and the
 * daemon's options apply to containers of the default driver where the container does not set them.
 */
export function resolveLogConfig(requested: Partial<LogConfig> | undefined, daemonDefault: LogConfig): LogConfig {
  const type = requested?.Type || daemonDefault.Type;
  const config: Record<string, string> = { ...(requested?.Config ?? {}) };
  if (type === daemonDefault.Type) {
    for (const [k, v] of Object.entries(daemonDefault.Config)) if (!(k in config)) config[k] = v;
  }
  return { Type: type, Config: config };
}

/** Checks a LogConfig as dockerd does at create time; throws invalid_argument with dockerd's wording. */
export function validateLogConfig(cfg: LogConfig): void {
  if (cfg.Type === 'none') return;
  const mode = cfg.Config.mode;
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    throw invalidArgument(`logger: logging mode not supported: ${mode}`);
  }
  if (!isDriver(cfg.Type)) {
    // dockerd looks for a logging plugin of that name and finds none.
    throw invalidArgument(`error looking up logging plugin ${cfg.Type}: plugin "${cfg.Type}" not found`);
  }
  const known = DRIVER_OPTS[cfg.Type === 'local' ? 'local' : 'json-file'];
  for (const key of Object.keys(cfg.Config)) {
    if (BUILTIN_OPTS.has(key) || known.has(key)) continue;
    throw invalidArgument(cfg.Type === 'json-file' ? `unknown log opt '${key}' for json-file log driver` : `unknown log opt '${key}' for log driver ${cfg.Type}`);
  }
  // Sizes and counts are dockerd's start-time errors (logPolicy), not create-time ones.
}

/** The driver a LogConfig names, without checking its options. */
export function logDriverOf(cfg: LogConfig): LogDriverName {
  return cfg.Type === 'none' ? 'none' : cfg.Type === 'local' ? 'local' : 'json-file';
}

/**
 * The rotation a LogConfig asks for; throws invalid_argument for bad sizes or counts with dockerd's wording
 * ("failed to initialize logging driver: ...", its error when the container starts).
 */
export function logPolicy(cfg: LogConfig): LogPolicy {
  try {
    return policyOf(cfg);
  } catch (e) {
    throw invalidArgument(`failed to initialize logging driver: ${(e as Error).message}`);
  }
}

function policyOf(cfg: LogConfig): LogPolicy {
  const driver = logDriverOf(cfg);
  if (driver === 'none') return { driver, maxFile: 1 };
  const sizeText = cfg.Config['max-size'];
  const fileText = cfg.Config['max-file'];
  let maxSize: number | undefined = driver === 'local' ? 20 * 1024 * 1024 : undefined;
  let maxFile = driver === 'local' ? 5 : 1;
  if (sizeText !== undefined && sizeText !== '') {
    let n: number;
    try {
      n = sizeText === '-1' ? -1 : parseLogSize(sizeText);
    } catch (e) {
      throw driver === 'local' ? new Error(`invalid value for max-size: ${sizeText}: ${(e as Error).message}`) : e;
    }
    maxSize = n > 0 ? n : undefined;
    if (n === 0) throw invalidArgument('max-size must be a positive number');
  }
  if (fileText !== undefined && fileText !== '') {
    if (!/^-?\d+$/.test(fileText)) throw invalidArgument(`strconv.Atoi: parsing "${fileText}": invalid syntax`);
    maxFile = Number.parseInt(fileText, 10);
    if (maxFile < 1) throw invalidArgument('max-file cannot be less than 1');
  }
  return maxSize === undefined ? { driver, maxFile } : { driver, maxSize, maxFile };
}

/** "max-size=10m" style strings (daemon flags) into a LogConfig's Config. */
export function parseLogOpts(opts: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of opts) {
    const i = o.indexOf('=');
    if (i <= 0) throw invalidArgument(`invalid log opt '${o}': expected key=value`);
    out[o.slice(0, i)] = o.slice(i + 1);
  }
  return out;
}

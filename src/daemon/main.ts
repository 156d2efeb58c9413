/** berthd's command line: dockerd's flags where they mean the same thing. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { buildInfo } from '../engine/system/build-info.js';
import { DEFAULT_CONFIG_FILE, resolveDaemonConfig, type DaemonConfig, type DaemonOptions } from './config.js';
import { parseLogOpts } from '../engine/containers/log-config.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export interface ParsedArgs {
  /** Settings given on the command line (only those). */
  options: DaemonOptions;
  configFile: string;
  /** --config-file was given: then the file must exist. */
  configFileExplicit: boolean;
}

/** Parses argv; returns undefined when commander already handled it (--help, --version). */
export function parseDaemonArgs(argv: string[], output?: { out: (s: string) => void; err: (s: string) => void }): ParsedArgs | undefined {
  const info = buildInfo();
  const program = new Command('berthd')
    .description('berthd: a Docker-compatible container engine daemon')
    .version(`berthd version ${info.version}, build ${info.gitCommit || 'unknown'}`, '-v, --version', 'Print version information and quit')
    .option('-H, --host <uri>', 'Daemon socket to listen on (repeatable; unix:///path)', collect)
    .option('--data-root <dir>', 'Root directory of persistent state (default "/var/lib/berth")')
    .option('--exec-root <dir>', 'Root directory for execution state files (default "/run/berth")')
    .option('--registry-mirror <url>', 'Preferred registry mirror for Docker Hub (repeatable)', collect)
    .option('--insecure-registry <host>', 'Registry (host[:port] or CIDR) reached without TLS verification (repeatable)', collect)
    .option('--config-file <path>', 'Daemon configuration file', DEFAULT_CONFIG_FILE)
    .option('-l, --log-level <level>', 'Logging level: debug, info, warn, error, fatal (default "info")')
    .option('-p, --pidfile <path>', 'Path to use for the daemon PID file (default "<exec-root>/berthd.pid")')
    .option('--default-runtime <name>', 'Default OCI runtime for containers (default "crun")')
    .option('--live-restore', 'Keep containers alive while the daemon is down (always on)')
    .option('-G, --group <group>', 'Group for the unix socket (default "root")')
    .option('-b, --bridge <name>', 'Linux bridge of the default network (default "berth0")')
    .option('--bip <cidr>', 'Address and prefix of the default bridge (default: first free pool from 172.17.0.0/16)')
    .option('--log-driver <name>', 'Default driver for container logs: json-file, local or none (default "json-file")')
    .option('--log-opt <key=value>', 'Default log driver options for containers (repeatable)', collect)
    .allowExcessArguments(false)
    .exitOverride();
  if (output) program.configureOutput({ writeOut: output.out, writeErr: output.err });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return undefined;
    throw err;
  }
  const o = program.opts<{
    host?: string[]; dataRoot?: string; execRoot?: string; registryMirror?: string[]; insecureRegistry?: string[];
    configFile: string; logLevel?: string; pidfile?: string; defaultRuntime?: string; liveRestore?: boolean; group?: string; bridge?: string; bip?: string;
    logDriver?: string; logOpt?: string[];
  }>();
  const options: DaemonOptions = {};
  if (o.host) options.hosts = o.host;
  if (o.dataRoot !== undefined) options.dataRoot = o.dataRoot;
  if (o.execRoot !== undefined) options.execRoot = o.execRoot;
  if (o.registryMirror) options.registryMirrors = o.registryMirror;
  if (o.insecureRegistry) options.insecureRegistries = o.insecureRegistry;
  // The level is validated with the merged settings; the cast only carries the string there.
  if (o.logLevel !== undefined) options.logLevel = o.logLevel as DaemonConfig['logLevel'];
  if (o.pidfile !== undefined) options.pidfile = o.pidfile;
  if (o.defaultRuntime !== undefined) options.defaultRuntime = o.defaultRuntime;
  if (o.liveRestore !== undefined) options.liveRestore = o.liveRestore;
  if (o.group !== undefined) options.group = o.group;
  if (o.bridge !== undefined) options.bridge = o.bridge;
  if (o.bip !== undefined) options.bip = o.bip;
  if (o.logDriver !== undefined) options.logDriver = o.logDriver;
  if (o.logOpt) options.logOpts = parseLogOpts(o.logOpt);
  return { options, configFile: o.configFile, configFileExplicit: program.getOptionValueSource('configFile') === 'cli' };
}

/** Reads daemon.json: a missing file is fine at the default path, an error when named explicitly. */
export function loadDaemonConfig(args: ParsedArgs): DaemonConfig {
  let text: string | undefined;
  try {
    text = readFileSync(args.configFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === 'ENOENT' && !args.configFileExplicit)) {
      throw new Error(`unable to configure the daemon with file ${args.configFile}: ${(err as Error).message}`);
    }
  }
  return resolveDaemonConfig(args.options, { path: args.configFile, text });
}

export async function main(argv: string[]): Promise<void> {
  // Start loading the daemon's module graph while the arguments are parsed; start-up time matters.
  const daemonModule = import('./daemon.js');
  daemonModule.catch(() => {});
  let args: ParsedArgs | undefined;
  try {
    args = parseDaemonArgs(argv);
  } catch (err) {
    // commander has already printed its message.
    process.exitCode = err instanceof CommanderError ? err.exitCode || 1 : 1;
    if (!(err instanceof CommanderError)) process.stderr.write(`${(err as Error).message}\n`);
    return;
  }
  if (!args) return;
  try {
    const config = loadDaemonConfig(args);
    const { runDaemon } = await daemonModule;
    await runDaemon(config);
  } catch (err) {
    process.stderr.write(`failed to start daemon: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

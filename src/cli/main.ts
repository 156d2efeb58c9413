/**
 * berth: a docker-compatible CLI over the Docker Engine API. `main` is what bin/berth runs; `run`
 * takes the streams and returns the exit code, so tests can drive the CLI in-process.
 * Exit codes follow docker: 0 ok, 1 daemon and argument-count errors, 125 flag errors.
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BerthError } from '../errors.js';
import { DEFAULT_HOST } from './api-client.js';
import { registerAuthCommands } from './commands/auth.js';
import { registerBuildCommands } from './commands/build.js';
import { registerContainerCommands } from './commands/containers.js';
import { formatCliError, registerImageCommands } from './commands/images.js';
import { registerNetworkCommands } from './commands/networks.js';
import { registerSystemCommands } from './commands/system.js';
import { registerVolumeCommands } from './commands/volumes.js';
import { CliContext, type CliIo } from './context.js';
import { defaultConfigDir } from './docker-config.js';

function packageVersion(): string {
  try {
    // dist/src/cli/main.js → package.json at the checkout root
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'dev';
  } catch {
    return 'dev';
  }
}

/** -H, else DOCKER_HOST, else BERTH_HOST, else berthd's default socket. */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag || env['DOCKER_HOST'] || env['BERTH_HOST'] || DEFAULT_HOST;
}

const FLAG_ERRORS = new Set([
  'commander.unknownOption',
  'commander.optionMissingArgument',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.missingMandatoryOptionValue',
]);

/** Go bool flags accept --flag=false; commander wants --no-flag. */
function normalizeBoolFlags(argv: string[]): string[] {
  return argv.map((a) => (a === '--human=false' || a === '-H=false' ? '--no-human' : a === '--human=true' || a === '-H=true' ? '--human' : a));
}

export function buildProgram(io: CliIo, version: string, context: () => CliContext): Command {
  const program = new Command('berth');
  program
    .usage('[OPTIONS] COMMAND')
    .description('A self-sufficient runtime for containers')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'berth: ')),
    })
    .option('--config <string>', 'Location of client config files', defaultConfigDir(io.env))
    .option('-D, --debug', 'Enable debug mode')
    .option('-H, --host <list>', 'Daemon socket to connect to')
    .option('-l, --log-level <string>', 'Set the logging level ("debug", "info", "warn", "error", "fatal")', 'info')
    .version(`berth version ${version}`, '-v, --version', 'Print version information and quit')
    .helpOption('-h, --help', 'Print usage')
    .addHelpText('after', "\nRun 'berth COMMAND --help' for more information on a command.");
  registerSystemCommands(program, context);
  registerImageCommands(program, context);
  // after the image commands: the container `inspect` (containers, then images) replaces the image-only one
  registerContainerCommands(program, context);
  registerAuthCommands(program, context);
  registerVolumeCommands(program, context);
  registerBuildCommands(program, context);
  registerNetworkCommands(program, context);
  return program;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const version = packageVersion();
  let ctx: CliContext | undefined;
  let program: Command | undefined;
  const context = (): CliContext => {
    if (!ctx) {
      const g = program!.opts<{ config: string; debug?: boolean; host?: string; logLevel: string }>();
      ctx = new CliContext(io, { host: resolveHost(g.host, io.env), configDir: g.config, debug: g.debug === true, logLevel: g.logLevel }, version);
    }
    return ctx;
  };
  program = buildProgram(io, version, context);
  try {
    if (argv.length === 0) {
      io.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(normalizeBoolFlags(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (FLAG_ERRORS.has(e.code)) {
        io.stderr.write("See 'berth --help'.\n");
        return 125;
      }
      return 1;
    }
    const text = formatCliError(e);
    if (text) io.stderr.write(text + '\n');
    if (ctx?.globals.debug && e instanceof Error && e.stack) io.stderr.write(e.stack + '\n');
    return e instanceof BerthError ? e.exitCode : 1;
  } finally {
    ctx?.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  // a closed pipe (berth images | head) is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  process.exitCode = await run(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
}

/**
 * Container verbs other than create/run: start, stop, restart, kill, rm, pause, unpause, ps, logs,
 * exec, attach, wait, inspect (containers, then images), rename, top, port, update, diff, export,
 * prune, stats and cp; top-level and under `container`, with docker's requests and output.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import { DaemonError, type Query } from '../api-client.js';
import type { CliContext } from '../context.js';
import { hijack } from '../hijack-client.js';
import { renderList, renderOne } from '../render/format.js';
import { tabwrite } from '../render/table.js';
import { humanSize } from '../render/units.js';
import { copyRaw, demultiplex } from '../stdcopy-reader.js';
import { terminalSize } from '../terminal.js';
import { registerCopyCommands } from './container-cp.js';
import { forEachName } from './each-name.js';
import { CONTAINER_HEADERS, ContainerRow, DEFAULT_CONTAINER_TABLE, type ContainerSummary } from './container-ps.js';
import { registerStatsCommands } from './container-stats.js';
import { nanoCpus, parseKeyValueFile, parseRestart, ramInBytes, resolveEnv } from './container-options.js';
import { PreformattedError, confirm, filtersJson, formatCliError, nonClosing, type ContextProvider } from './images.js';
import { ExitStatus, attachQuery, followTerminalSize, proxySignals, registerRunCommands, runSession, startWait } from './run.js';
import { collect } from './flag-values.js';

/** The parts of GET /containers/{id}/json the CLI needs. */
export interface ContainerJson {
  Id: string;
  Name?: string;
  Config?: { Tty?: boolean; OpenStdin?: boolean } | null;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean } | null;
  HostConfig?: { AutoRemove?: boolean } | null;
  NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null } | null;
}

export function inspectContainer(ctx: CliContext, name: string): Promise<ContainerJson> {
  return ctx.client.getJson<ContainerJson>(`/containers/${encodeURIComponent(name)}/json`);
}

async function post(ctx: CliContext, path: string, query?: Query): Promise<void> {
  const res = await ctx.client.request('POST', path, { query });
  res.body.resume();
}

const cpath = (name: string): string => `/containers/${encodeURIComponent(name)}`;

/** timetypes.GetTimestamp: durations are relative to now (whole seconds), dates become "sec.nanos", numbers pass. */
export function apiTimestamp(value: string | undefined, now: number = Date.now()): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value !== '0' && /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    const sign = value.startsWith('-') ? -1 : 1;
    let ns = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
      ns += Number(m[1]) * { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[m[2] as 'ns']!;
    }
    return String(Math.floor((now * 1e6 - sign * ns) / 1e9));
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  // dates without a zone are local time, as in docker
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00` : value);
  if (Number.isNaN(ms)) throw invalidArgument(`failed to parse value as time or duration: "${value}"`);
  const secs = Math.floor(ms / 1000);
  return `${secs}.${String((ms - secs * 1000) * 1e6).padStart(9, '0')}`;
}

// ---------------------------------------------------------------- ps

interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  size?: boolean;
  trunc?: boolean;
  filter: string[];
  format?: string;
}

function definePs(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('-n, --last <int>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes')
    .action(async (opts: PsOptions) => {
      const ctx = context();
      let format = opts.format ?? 'table';
      if (format === 'table') format = opts.quiet ? '{{.ID}}' : opts.size ? `${DEFAULT_CONTAINER_TABLE}\t{{.Size}}` : DEFAULT_CONTAINER_TABLE;
      let limit = opts.last !== undefined ? Number(opts.last) : -1;
      if (!Number.isInteger(limit)) throw invalidArgument(`invalid argument "${opts.last}" for "-n, --last" flag`);
      if (opts.latest) limit = 1;
      // docker asks for sizes when the template shows them
      const wantSize = opts.size === true || (opts.format !== undefined && opts.format.includes('.Size'));
      const query: Query = {
        all: opts.all ? '1' : undefined,
        limit: limit > 0 ? String(limit) : undefined,
        size: wantSize ? '1' : undefined,
        filters: filtersJson(opts.filter),
      };
      const list = await ctx.client.getJson<ContainerSummary[]>('/containers/json', query);
      const now = Date.now();
      const rows = (list ?? []).map((c) => new ContainerRow(c, opts.trunc !== false, now));
      ctx.out(renderList(format, rows, CONTAINER_HEADERS));
    });
}

// ---------------------------------------------------------------- lifecycle verbs

function defineStart(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Start one or more stopped containers')
    .argument('<CONTAINER...>')
    .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (names: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const ctx = context();
      if (!opts.attach && !opts.interactive) {
        await forEachName(ctx, names, async (name) => {
          await post(ctx, `${cpath(name)}/start`);
          return name;
        });
        return;
      }
      if (names.length > 1) throw invalidArgument('you cannot start and attach multiple containers at once');
      const name = names[0]!;
      const c = await inspectContainer(ctx, name);
      const tty = c.Config?.Tty === true;
      const stdin = opts.interactive === true && c.Config?.OpenStdin === true;
      if (stdin && tty && !ctx.io.stdin.isTTY) throw new ExitStatus(1, 'the input device is not a TTY');
      const conn = await hijack(ctx.client, 'POST', `/containers/${c.Id}/attach`, {
        query: attachQuery({ stdin, stdout: true, stderr: true }, opts.detachKeys),
        userAgent: `berth-cli/${ctx.clientVersion}`,
      });
      const wait = await startWait(ctx, c.Id, c.HostConfig?.AutoRemove ? 'removed' : 'next-exit');
      try {
        await post(ctx, `/containers/${c.Id}/start`);
      } catch (e) {
        conn.socket.destroy();
        throw e;
      }
      const stopResize = tty && ctx.io.stdout.isTTY ? followTerminalSize(ctx, `/containers/${c.Id}/resize`) : (): void => {};
      const stopProxy = tty ? (): void => {} : proxySignals(ctx, c.Id);
      try {
        if ((await runSession(ctx, conn, { tty, stdin, detachKeys: opts.detachKeys })) === 'detached') return;
        const w = await wait.result;
        if (w.StatusCode !== 0) throw new ExitStatus(w.StatusCode);
      } finally {
        stopResize();
        stopProxy();
      }
    });
}

function defineStop(cmd: Command, context: ContextProvider, verb: 'stop' | 'restart'): Command {
  return cmd
    .description(verb === 'stop' ? 'Stop one or more running containers' : 'Restart one or more containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .option('-t, --time <int>', 'Seconds to wait before killing the container')
    .action(async (names: string[], opts: { signal?: string; time?: string }) => {
      const ctx = context();
      if (opts.time !== undefined && !/^-?\d+$/.test(opts.time)) throw invalidArgument(`invalid argument "${opts.time}" for "-t, --time" flag: strconv.ParseInt: parsing "${opts.time}": invalid syntax`);
      await forEachName(ctx, names, async (name) => {
        await post(ctx, `${cpath(name)}/${verb}`, { signal: opts.signal, t: opts.time });
        return name;
      });
    });
}

function defineKill(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Kill one or more running containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .action(async (names: string[], opts: { signal?: string }) => {
      const ctx = context();
      await forEachName(ctx, names, async (name) => {
        await post(ctx, `${cpath(name)}/kill`, { signal: opts.signal });
        return name;
      });
    });
}

function definePause(cmd: Command, context: ContextProvider, verb: 'pause' | 'unpause'): Command {
  return cmd
    .description(verb === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers')
    .argument('<CONTAINER...>')
    .action(async (names: string[]) => {
      const ctx = context();
      await forEachName(ctx, names, async (name) => {
        await post(ctx, `${cpath(name)}/${verb}`);
        return name;
      });
    });
}

function defineRm(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove one or more containers')
    .argument('<CONTAINER...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-l, --link', 'Remove the specified link')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action(async (names: string[], opts: { force?: boolean; link?: boolean; volumes?: boolean }) => {
      const ctx = context();
      await forEachName(ctx, names, async (name) => {
        const trimmed = name.replace(/^\/+/, '');
        if (!trimmed) throw invalidArgument('Container name cannot be empty');
        try {
          const res = await ctx.client.request('DELETE', cpath(trimmed), {
            query: { force: opts.force ? '1' : undefined, link: opts.link ? '1' : undefined, v: opts.volumes ? '1' : undefined },
          });
          res.body.resume();
        } catch (e) {
          // docker: with --force a container that is already gone is not an error
          if (opts.force && e instanceof DaemonError && e.status === 404) return undefined;
          throw e;
        }
        return name;
      });
    });
}

function defineWait(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<CONTAINER...>')
    .action(async (names: string[]) => {
      const ctx = context();
      await forEachName(ctx, names, async (name) => {
        const w = await (await startWait(ctx, name, undefined)).result;
        if (w.Error?.Message) throw new PreformattedError(w.Error.Message);
        return String(w.StatusCode);
      });
    });
}

function defineRename(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Rename a container')
    .argument('<CONTAINER>')
    .argument('<NEW_NAME>')
    .action(async (name: string, newName: string) => {
      const ctx = context();
      const trimmed = newName.trim().replace(/^\/+/, '');
      if (!name || !trimmed) throw invalidArgument('Error: Neither old nor new names may be empty');
      await post(ctx, `${cpath(name)}/rename`, { name: trimmed });
    });
}

// ---------------------------------------------------------------- logs

interface LogsOptions {
  follow?: boolean;
  tail: string;
  since?: string;
  until?: string;
  timestamps?: boolean;
  details?: boolean;
}

function defineLogs(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Fetch the logs of a container')
    .argument('<CONTAINER>')
    .option('--details', 'Show extra details provided to logs')
    .option('-f, --follow', 'Follow log output')
    .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .action(async (name: string, opts: LogsOptions) => {
      const ctx = context();
      const c = await inspectContainer(ctx, name);
      const now = Date.now();
      const res = await ctx.client.request('GET', `/containers/${c.Id}/logs`, {
        query: {
          stdout: '1',
          stderr: '1',
          since: apiTimestamp(opts.since, now),
          until: apiTimestamp(opts.until, now),
          timestamps: opts.timestamps ? '1' : undefined,
          follow: opts.follow ? '1' : undefined,
          tail: opts.tail,
          details: opts.details ? '1' : undefined,
        },
      });
      if (c.Config?.Tty) await copyRaw(res.body, ctx.io.stdout);
      else await demultiplex(res.body, ctx.io.stdout, ctx.io.stderr);
    });
}

// ---------------------------------------------------------------- exec

interface ExecOptions {
  detach?: boolean;
  detachKeys?: string;
  env: string[];
  envFile: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

function versionBefore(v: string, than: string): boolean {
  const [a1, a2] = v.split('.').map(Number);
  const [b1, b2] = than.split('.').map(Number);
  return a1! < b1! || (a1 === b1 && a2! < b2!);
}

function defineExec(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Execute a command in a running container')
    .argument('<CONTAINER>')
    .argument('<COMMAND...>')
    .passThroughOptions()
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-e, --env <list>', 'Set environment variables', collect, [])
    .option('--env-file <list>', 'Read in a file of environment variables', collect, [])
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--privileged', 'Give extended privileges to the command')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .action(async (name: string, command: string[], opts: ExecOptions) => {
      const ctx = context();
      const tty = opts.tty === true;
      const detach = opts.detach === true;
      const stdin = opts.interactive === true && !detach;
      if (stdin && tty && !ctx.io.stdin.isTTY) throw new ExitStatus(1, 'the input device is not a TTY');
      await inspectContainer(ctx, name);
      const env = [...opts.envFile.flatMap((f) => parseKeyValueFile(f, (k) => ctx.io.env[k])), ...opts.env.map((e) => resolveEnv(e, ctx.io.env))];
      const size = tty ? terminalSize(ctx.io.stdout) : undefined;
      const withConsole = size !== undefined && !detach && !versionBefore(await ctx.client.apiVersion(), '1.42');
      const body: Record<string, unknown> = { User: opts.user ?? '', Privileged: opts.privileged === true, Tty: tty };
      if (withConsole) body['ConsoleSize'] = [size.height, size.width];
      Object.assign(body, {
        AttachStdin: stdin,
        AttachStderr: !detach,
        AttachStdout: !detach,
        Detach: detach,
        DetachKeys: opts.detachKeys ?? '',
        Env: env.length ? env : null,
        WorkingDir: opts.workdir ?? '',
        Cmd: command,
      });
      const created = await ctx.client.postJson<{ Id: string }>(`${cpath(name)}/exec`, { json: body });
      const startBody: Record<string, unknown> = { Detach: detach, Tty: tty };
      if (withConsole) startBody['ConsoleSize'] = [size.height, size.width];
      if (detach) {
        await ctx.client.request('POST', `/exec/${created.Id}/start`, { json: startBody }).then((r) => r.body.resume());
        return;
      }
      const conn = await hijack(ctx.client, 'POST', `/exec/${created.Id}/start`, { json: startBody, userAgent: `berth-cli/${ctx.clientVersion}` });
      const stopResize = tty && ctx.io.stdout.isTTY ? followTerminalSize(ctx, `/exec/${created.Id}/resize`) : (): void => {};
      try {
        if ((await runSession(ctx, conn, { tty, stdin, detachKeys: opts.detachKeys })) === 'detached') return;
      } finally {
        stopResize();
      }
      const info = await ctx.client.getJson<{ ExitCode?: number | null; Running?: boolean }>(`/exec/${created.Id}/json`);
      const code = info?.ExitCode ?? 0;
      if (code !== 0) throw new ExitStatus(code);
    });
}

// ---------------------------------------------------------------- attach

function defineAttach(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description("Attach local standard input, output, and error streams to a running container")
    .argument('<CONTAINER>')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('--no-stdin', 'Do not attach STDIN')
    .option('--sig-proxy', 'Proxy all received signals to the process (default true)', true)
    .action(async (name: string, opts: { detachKeys?: string; stdin?: boolean; sigProxy?: boolean }) => {
      const ctx = context();
      const c = await inspectContainer(ctx, name);
      if (!c.State?.Running) throw invalidArgument('You cannot attach to a stopped container, start it first');
      if (c.State.Paused) throw invalidArgument('You cannot attach to a paused container, unpause it first');
      if (c.State.Restarting) throw invalidArgument('You cannot attach to a restarting container, wait until it is running');
      const tty = c.Config?.Tty === true;
      const stdin = opts.stdin !== false && c.Config?.OpenStdin === true;
      if (stdin && tty && !ctx.io.stdin.isTTY) throw new ExitStatus(1, 'the input device is not a TTY');
      const wait = await startWait(ctx, name, undefined);
      const conn = await hijack(ctx.client, 'POST', `${cpath(name)}/attach`, {
        query: attachQuery({ stdin, stdout: true, stderr: true }, opts.detachKeys),
        userAgent: `berth-cli/${ctx.clientVersion}`,
      });
      const stopResize = tty && ctx.io.stdout.isTTY ? followTerminalSize(ctx, `${cpath(name)}/resize`) : (): void => {};
      const stopProxy = tty || opts.sigProxy === false ? (): void => {} : proxySignals(ctx, c.Id);
      try {
        if ((await runSession(ctx, conn, { tty, stdin, detachKeys: opts.detachKeys })) === 'detached') {
          wait.response.body.destroy();
          return;
        }
        const w = await wait.result;
        if (w.StatusCode !== 0) throw new ExitStatus(w.StatusCode);
      } finally {
        stopResize();
        stopProxy();
      }
    });
}

// ---------------------------------------------------------------- inspect

async function inspectObjects(ctx: CliContext, names: string[], opts: { format?: string; size?: boolean; type?: string }): Promise<void> {
  const found: unknown[] = [];
  const errors: string[] = [];
  // docker's order when no type is given: containers, images, networks, volumes.
  const kinds = opts.type ? [opts.type] : ['container', 'image', 'network', 'volume'];
  const paths: Record<string, (name: string) => string> = {
    image: (n) => `/images/${n}/json`,
    network: (n) => `/networks/${encodeURIComponent(n)}`,
    volume: (n) => `/volumes/${encodeURIComponent(n)}`,
  };
  for (const name of names) {
    let value: unknown;
    let lastError: unknown;
    for (const kind of kinds) {
      try {
        value =
          kind === 'container'
            ? await ctx.client.getJson<unknown>(`${cpath(name)}/json`, { size: opts.size ? '1' : undefined })
            : await ctx.client.getJson<unknown>(paths[kind]!(name));
        break;
      } catch (e) {
        lastError = e;
        if (!(e instanceof DaemonError && e.status === 404)) break;
      }
    }
    if (value !== undefined) found.push(value);
    else if (lastError instanceof DaemonError && lastError.status === 404) {
      errors.push(opts.type === 'container' ? `Error response from daemon: ${lastError.message}` : `Error: No such object: ${name}`);
    } else errors.push(formatCliError(lastError));
  }
  if (!opts.format) ctx.out(JSON.stringify(found, null, 4) + '\n');
  else for (const v of found) ctx.out(renderOne(opts.format, v));
  if (errors.length) throw new PreformattedError(errors.join('\n'));
}

function defineInspect(cmd: Command, context: ContextProvider, containerOnly: boolean): Command {
  cmd
    .description(containerOnly ? 'Display detailed information on one or more containers' : 'Return low-level information on Docker objects')
    .argument(containerOnly ? '<CONTAINER...>' : '<NAME|ID...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-s, --size', containerOnly ? 'Display total file sizes' : 'Display total file sizes if the type is container');
  if (!containerOnly) cmd.option('--type <string>', 'Only inspect objects of the given type');
  return cmd.action(async (names: string[], opts: { format?: string; size?: boolean; type?: string }) => {
    if (opts.type && !['container', 'image', 'network', 'volume'].includes(opts.type)) throw invalidArgument(`"${opts.type}" is not a valid value for --type`);
    await inspectObjects(context(), names, { ...opts, type: containerOnly ? 'container' : opts.type });
  });
}

// ---------------------------------------------------------------- top, port, diff, export

function defineTop(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Display the running processes of a container')
    .argument('<CONTAINER>')
    .argument('[ps OPTIONS...]')
    .passThroughOptions()
    .action(async (name: string, psArgs: string[]) => {
      const ctx = context();
      const top = await ctx.client.getJson<{ Titles?: string[] | null; Processes?: string[][] | null }>(`${cpath(name)}/top`, {
        ps_args: psArgs.length ? psArgs.join(' ') : undefined,
      });
      let text = (top.Titles ?? []).join('\t') + '\n';
      for (const p of top.Processes ?? []) text += p.join('\t') + '\n';
      ctx.out(tabwrite(text, { minWidth: 20, padding: 3 }));
    });
}

function hostPortString(b: { HostIp: string; HostPort: string }): string {
  const ip = b.HostIp || '0.0.0.0';
  return ip.includes(':') ? `[${ip}]:${b.HostPort}` : `${ip}:${b.HostPort}`;
}

function definePort(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('List port mappings or a specific mapping for the container')
    .argument('<CONTAINER>')
    .argument('[PRIVATE_PORT[/PROTO]]')
    .action(async (name: string, spec: string | undefined) => {
      const ctx = context();
      const c = await inspectContainer(ctx, name);
      const ports = c.NetworkSettings?.Ports ?? {};
      if (spec) {
        const [port, proto = 'tcp'] = spec.split('/');
        const key = `${port}/${proto}`;
        const bindings = ports[key];
        if (!bindings || bindings.length === 0) throw new PreformattedError(`Error: No public port '${key}' published for ${name}`);
        for (const b of bindings) ctx.out(hostPortString(b) + '\n');
        return;
      }
      const keys = Object.keys(ports).sort((a, b) => {
        const [pa, ta] = a.split('/');
        const [pb, tb] = b.split('/');
        return Number(pa) - Number(pb) || (ta! < tb! ? -1 : ta! > tb! ? 1 : 0);
      });
      for (const k of keys) for (const b of ports[k] ?? []) ctx.out(`${k} -> ${hostPortString(b)}\n`);
    });
}

function defineDiff(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<CONTAINER>')
    .action(async (name: string) => {
      const ctx = context();
      const changes = await ctx.client.getJson<{ Path: string; Kind: number }[] | null>(`${cpath(name)}/changes`);
      for (const ch of changes ?? []) ctx.out(`${['C', 'A', 'D'][ch.Kind] ?? '?'} ${ch.Path}\n`);
    });
}

function defineExport(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description("Export a container's filesystem as a tar archive")
    .argument('<CONTAINER>')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .action(async (name: string, opts: { output?: string }) => {
      const ctx = context();
      if (!opts.output && ctx.io.stdout.isTTY) throw invalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const res = await ctx.client.request('GET', `${cpath(name)}/export`);
      if (opts.output) await pipeline(res.body, fs.createWriteStream(opts.output, { mode: 0o644 }));
      else await pipeline(res.body, nonClosing(ctx.io.stdout));
    });
}

// ---------------------------------------------------------------- update, prune

interface UpdateOptions {
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
  restart?: string;
}

function defineUpdate(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Update configuration of one or more containers')
    .argument('<CONTAINER...>')
    .option('--cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--restart <string>', 'Restart policy to apply when a container exits')
    .action(async (names: string[], opts: UpdateOptions) => {
      const ctx = context();
      const body: Record<string, unknown> = {};
      if (opts.cpuShares !== undefined) body['CpuShares'] = Number(opts.cpuShares);
      if (opts.memory !== undefined) body['Memory'] = ramInBytes(opts.memory);
      if (opts.cpus !== undefined) body['NanoCpus'] = nanoCpus(opts.cpus);
      if (opts.cpusetCpus !== undefined) body['CpusetCpus'] = opts.cpusetCpus;
      if (opts.cpusetMems !== undefined) body['CpusetMems'] = opts.cpusetMems;
      if (opts.memoryReservation !== undefined) body['MemoryReservation'] = ramInBytes(opts.memoryReservation);
      if (opts.memorySwap !== undefined) body['MemorySwap'] = opts.memorySwap === '-1' ? -1 : ramInBytes(opts.memorySwap);
      if (opts.pidsLimit !== undefined) body['PidsLimit'] = Number(opts.pidsLimit);
      if (opts.restart !== undefined) body['RestartPolicy'] = parseRestart(opts.restart);
      if (Object.keys(body).length === 0) throw invalidArgument('you must provide one or more flags when using this command');
      await forEachName(ctx, names, async (name) => {
        const r = await ctx.client.postJson<{ Warnings?: string[] | null }>(`${cpath(name)}/update`, { json: body });
        for (const w of r?.Warnings ?? []) ctx.err(`${w}\n`);
        return name;
      });
    });
}

function definePrune(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove all stopped containers')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (opts: { filter: string[]; force?: boolean }) => {
      const ctx = context();
      if (!opts.force && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return;
      const report = await ctx.client.postJson<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>('/containers/prune', {
        query: { filters: filtersJson(opts.filter) },
      });
      const deleted = report?.ContainersDeleted ?? [];
      if (deleted.length) ctx.out('Deleted Containers:\n' + deleted.map((id) => id + '\n').join('') + '\n');
      ctx.out(`Total reclaimed space: ${humanSize(report?.SpaceReclaimed ?? 0)}\n`);
    });
}

// ---------------------------------------------------------------- registration

export function registerContainerCommands(program: Command, context: ContextProvider): void {
  const group = program.command('container').description('Manage containers').enablePositionalOptions();
  registerRunCommands(program, group, context);
  const both = (name: string, define: (cmd: Command) => Command, aliases: string[] = []): void => {
    define(program.command(name));
    const sub = define(group.command(name));
    for (const a of aliases) sub.alias(a);
  };
  both('start', (c) => defineStart(c, context));
  both('stop', (c) => defineStop(c, context, 'stop'));
  both('restart', (c) => defineStop(c, context, 'restart'));
  both('kill', (c) => defineKill(c, context));
  both('pause', (c) => definePause(c, context, 'pause'));
  both('unpause', (c) => definePause(c, context, 'unpause'));
  both('wait', (c) => defineWait(c, context));
  both('rename', (c) => defineRename(c, context));
  both('logs', (c) => defineLogs(c, context));
  both('exec', (c) => defineExec(c, context));
  both('attach', (c) => defineAttach(c, context));
  both('top', (c) => defineTop(c, context));
  both('port', (c) => definePort(c, context));
  both('diff', (c) => defineDiff(c, context));
  both('export', (c) => defineExport(c, context));
  both('update', (c) => defineUpdate(c, context));
  definePs(program.command('ps'), context);
  definePs(group.command('ls').aliases(['ps', 'list']), context);
  defineRm(program.command('rm'), context);
  defineRm(group.command('rm').alias('remove'), context);
  defineInspect(group.command('inspect'), context, true);
  defineInspect(program.command('inspect'), context, false);
  definePrune(group.command('prune'), context);
  registerStatsCommands(program, group, context);
  registerCopyCommands(program, group, context);
}

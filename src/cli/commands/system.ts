/**
 * `version` and `info`: docker's layouts, rendered through the same template engine docker uses
 * for them so that --format sees the same fields.
 */
import type { Command } from 'commander';
import { MAX_API_VERSION } from '../api-client.js';
import type { CliContext } from '../context.js';
import { renderOne } from '../render/format.js';
import { tabwrite } from '../render/table.js';
import { Template } from '../render/template.js';
import { bytesSize } from '../render/units.js';
import { PreformattedError, formatCliError, type ContextProvider } from './images.js';

const VERSION_TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Node version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key := detailsOrder $component}}
  {{$key}}:\t{{index $component.Details $key}}
  {{- end}}
  {{- end}}
 {{- end}}
{{- end}}{{- end}}
`;

/** The client half of `docker version`; Go field names for templates, docker's JSON keys for json. */
class ClientVersion {
  constructor(
    readonly Version: string,
    readonly APIVersion: string,
  ) {}
  readonly DefaultAPIVersion = MAX_API_VERSION;
  readonly Platform = { Name: '' };
  readonly GitCommit = 'unknown';
  readonly GoVersion = process.version;
  readonly Os = process.platform;
  readonly Arch = process.arch === 'x64' ? 'amd64' : process.arch;
  readonly BuildTime = '';
  readonly Context = 'default';
  toJSON(): Record<string, unknown> {
    return {
      Platform: this.Platform,
      Version: this.Version,
      ApiVersion: this.APIVersion,
      DefaultAPIVersion: this.DefaultAPIVersion,
      GitCommit: this.GitCommit,
      GoVersion: this.GoVersion,
      Os: this.Os,
      Arch: this.Arch,
      BuildTime: this.BuildTime,
      Context: this.Context,
    };
  }
}

type ServerVersion = Record<string, unknown> & { ApiVersion?: string; Components?: { Name: string; Version: string; Details?: Record<string, unknown> }[] };

/** Give the API's JSON keys their Go field aliases (ApiVersion → APIVersion) without changing its JSON. */
function withGoAliases(v: ServerVersion): ServerVersion {
  const out: ServerVersion = { ...v, BuildTime: reformatDate(v['BuildTime']) };
  if (out.Components) {
    out.Components = out.Components.map((c) =>
      c.Name === 'Engine' && c.Details ? { ...c, Details: { ...c.Details, BuildTime: reformatDate(c.Details['BuildTime']) } } : c,
    );
  }
  Object.defineProperty(out, 'APIVersion', { value: v.ApiVersion, enumerable: false });
  if (!out['Platform']) Object.defineProperty(out, 'Platform', { value: { Name: '' }, enumerable: false });
  if (!out.Components) {
    // old daemons: synthesize the Engine component docker's template expects
    out.Components = [{ Name: 'Engine', Version: String(v['Version'] ?? ''), Details: { ...v, ApiVersion: v.ApiVersion } }];
  }
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** docker shows build times in Go's ANSIC layout, local time: "Wed Jan  1 00:00:00 2025". */
export function reformatDate(s: unknown): unknown {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(s)) return s;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

function detailsOrder(component: { Details?: Record<string, unknown> }): string[] {
  return Object.keys(component.Details ?? {}).sort();
}

async function runVersion(ctx: CliContext, format: string | undefined): Promise<void> {
  let server: ServerVersion | undefined;
  let failure: unknown;
  let apiVersion = MAX_API_VERSION;
  try {
    apiVersion = await ctx.client.apiVersion();
    server = withGoAliases(await ctx.client.getJson<ServerVersion>('/version'));
  } catch (e) {
    failure = e;
  }
  const data = { Client: new ClientVersion(ctx.clientVersion, apiVersion), Server: server, ServerOK: server !== undefined };
  Object.defineProperty(data, 'ServerOK', { enumerable: false });
  if (format) {
    ctx.out(renderOne(format, data));
  } else {
    const text = Template.parse(VERSION_TEMPLATE, { detailsOrder: (c) => detailsOrder(c as { Details?: Record<string, unknown> }) }).execute(data);
    ctx.out(tabwrite(text, { minWidth: 20, padding: 1 }));
  }
  if (failure) throw failure;
}

type Info = Record<string, unknown>;

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** The server section of `docker info`, the lines berthd can fill in. */
export function renderInfo(info: Info): string {
  const lines: string[] = [];
  const add = (indent: number, label: string, value: unknown): void => {
    lines.push(`${' '.repeat(indent)}${label}: ${str(value)}`);
  };
  add(1, 'Containers', info['Containers'] ?? 0);
  add(2, 'Running', info['ContainersRunning'] ?? 0);
  add(2, 'Paused', info['ContainersPaused'] ?? 0);
  add(2, 'Stopped', info['ContainersStopped'] ?? 0);
  add(1, 'Images', info['Images'] ?? 0);
  add(1, 'Server Version', info['ServerVersion']);
  add(1, 'Storage Driver', info['Driver']);
  for (const pair of (info['DriverStatus'] as [string, string][] | null | undefined) ?? []) add(2, pair[0], pair[1]);
  if (info['LoggingDriver']) add(1, 'Logging Driver', info['LoggingDriver']);
  if (info['CgroupDriver']) add(1, 'Cgroup Driver', info['CgroupDriver']);
  if (info['CgroupVersion']) add(1, 'Cgroup Version', info['CgroupVersion']);
  const runtimes = info['Runtimes'] as Record<string, unknown> | undefined;
  if (runtimes) add(1, 'Runtimes', Object.keys(runtimes).sort().join(' '));
  if (info['DefaultRuntime']) add(1, 'Default Runtime', info['DefaultRuntime']);
  add(1, 'Kernel Version', info['KernelVersion']);
  add(1, 'Operating System', info['OperatingSystem']);
  add(1, 'OSType', info['OSType']);
  add(1, 'Architecture', info['Architecture']);
  add(1, 'CPUs', info['NCPU']);
  add(1, 'Total Memory', bytesSize(Number(info['MemTotal'] ?? 0)));
  add(1, 'Name', info['Name']);
  add(1, 'ID', info['ID']);
  add(1, 'Docker Root Dir', info['DockerRootDir']);
  add(1, 'Debug Mode', info['Debug'] ?? false);
  add(1, 'Experimental', info['ExperimentalBuild'] ?? false);
  const registry = info['RegistryConfig'] as { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Secure?: boolean }> } | undefined;
  const insecure = [
    ...Object.entries(registry?.IndexConfigs ?? {})
      .filter(([, c]) => c.Secure === false)
      .map(([k]) => k),
    ...(registry?.InsecureRegistryCIDRs ?? []),
  ];
  if (insecure.length) {
    lines.push(' Insecure Registries:');
    for (const r of insecure) lines.push(`  ${r}`);
  }
  add(1, 'Live Restore Enabled', info['LiveRestoreEnabled'] ?? false);
  const warnings = (info['Warnings'] as string[] | null | undefined) ?? [];
  return lines.join('\n') + '\n' + (warnings.length ? '\n' + warnings.join('\n') + '\n' : '');
}

async function runInfo(ctx: CliContext, format: string | undefined): Promise<void> {
  const clientInfo = { Debug: ctx.globals.debug, Context: 'default', Plugins: [], Warnings: null };
  let info: Info | undefined;
  let failure: unknown;
  try {
    info = await ctx.client.getJson<Info>('/info');
  } catch (e) {
    failure = e;
  }
  if (format) {
    if (failure) throw failure;
    ctx.out(renderOne(format, { ...info, ClientInfo: clientInfo }));
    return;
  }
  ctx.out(`Client:\n Version:    ${ctx.clientVersion}\n Context:    default\n Debug Mode: ${ctx.globals.debug}\n\nServer:\n`);
  if (failure) {
    ctx.out(`ERROR: ${formatCliError(failure)}\nerrors pretty printing info\n`);
    throw new PreformattedError('');
  }
  ctx.out(renderInfo(info ?? {}));
}

export function registerSystemCommands(program: Command, context: ContextProvider): void {
  program
    .command('version')
    .description('Show the berth version information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (opts: { format?: string }) => runVersion(context(), opts.format));

  const defineInfo = (cmd: Command): Command =>
    cmd
      .description('Display system-wide information')
      .option('-f, --format <string>', 'Format output using a custom template')
      .action(async (opts: { format?: string }) => runInfo(context(), opts.format));
  defineInfo(program.command('info'));
  const system = program.command('system').description('Manage berth');
  defineInfo(system.command('info'));
}


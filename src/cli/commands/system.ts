/**
 * `version` and `info`: docker's layouts, rendered through the same template engine docker uses
 * for them so that --format sees the same fields.
 */
import type { Command } from 'commander';
import { DaemonError, MAX_API_VERSION } from '../api-client.js';
import type { CliContext } from '../context.js';
import { renderList, renderOne } from '../render/format.js';
import { tabwrite } from '../render/table.js';
import { Template, type StrictContext } from '../render/template.js';
import { bytesSize, humanSize, humanSizeWithPrecision } from '../render/units.js';
import { familiarName, parseReference } from '../../registry/reference.js';
import { CONTAINER_HEADERS, ContainerRow, type ContainerSummary } from './container-ps.js';
import { ImageRow, PreformattedError, confirm, filtersJson, formatCliError, type ContextProvider, type ImageSummary } from './images.js';
import { pruneVolumes, renderVolumes, type Volume } from './volumes.js';

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

// ---------------------------------------------------------------- df

interface BuildCacheRecord {
  ID: string;
  Type?: string;
  Size: number;
  InUse?: boolean;
  Shared?: boolean;
}

export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: Volume[] | null;
  BuildCache?: BuildCacheRecord[] | null;
}

/** One line of the `system df` summary (formatter.diskUsage*Context). */
class DfSummaryRow implements StrictContext {
  readonly templateTypeName = '*formatter.diskUsageContext';
  constructor(
    readonly Type: string,
    private readonly total: number,
    private readonly active: number,
    private readonly size: number,
    private readonly reclaimable: number,
    private readonly withPercent: boolean,
  ) {}
  get TotalCount(): string {
    return String(this.total);
  }
  get Active(): string {
    return String(this.active);
  }
  get Size(): string {
    return humanSize(this.size);
  }
  get Reclaimable(): string {
    if (this.withPercent && this.size > 0) return `${humanSize(this.reclaimable)} (${Math.trunc((this.reclaimable * 100) / this.size)}%)`;
    return humanSize(this.reclaimable);
  }
  toJSON(): Record<string, string> {
    return { Active: this.Active, Reclaimable: this.Reclaimable, Size: this.Size, TotalCount: this.TotalCount, Type: this.Type };
  }
}

const running = (c: ContainerSummary): boolean => /running|paused|restarting/.test(c.State ?? '');

/** The four summary lines, computed from the items as docker's CLI does. */
export function dfSummary(du: DiskUsage): DfSummaryRow[] {
  const images = du.Images ?? [];
  const layersSize = du.LayersSize ?? 0;
  let used = 0;
  for (const i of images) if ((i.Containers ?? 0) > 0 && i.Size !== -1 && (i.SharedSize ?? -1) !== -1) used += i.Size - (i.SharedSize ?? 0);
  const containers = du.Containers ?? [];
  const cSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const cReclaim = containers.filter((c) => !running(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const volumes = du.Volumes ?? [];
  const sized = volumes.filter((v) => v.UsageData && v.UsageData.Size !== -1);
  const vSize = sized.reduce((n, v) => n + v.UsageData!.Size, 0);
  const vReclaim = sized.filter((v) => v.UsageData!.RefCount === 0).reduce((n, v) => n + v.UsageData!.Size, 0);
  const cache = du.BuildCache ?? [];
  const bSize = cache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
  const bReclaim = cache.filter((b) => !b.Shared && !b.InUse).reduce((n, b) => n + b.Size, 0);
  return [
    new DfSummaryRow('Images', images.length, images.filter((i) => (i.Containers ?? 0) > 0).length, layersSize, layersSize - used, true),
    new DfSummaryRow('Containers', containers.length, containers.filter(running).length, cSize, cReclaim, true),
    new DfSummaryRow('Local Volumes', volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, vSize, vReclaim, true),
    new DfSummaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, bSize, bReclaim, false),
  ];
}

const DF_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const DF_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const DF_IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const DF_CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const DF_VOLUME_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const DF_CACHE_HEADER = 'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n';

/** docker's imageContext shows shared and unique sizes with four digits, unlike SIZE. */
class DfImageRow extends ImageRow {
  constructor(
    private readonly img: ImageSummary,
    repo: string,
    tag: string,
    now: number,
  ) {
    super(img, repo, tag, '', true, now);
  }
  override get SharedSize(): string {
    const s = this.img.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSize(s);
  }
  override get UniqueSize(): string {
    const s = this.img.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSize(this.img.Size - s);
  }
}

function imageRowFor(i: ImageSummary, now: number): ImageRow {
  let repo = '<none>';
  let tag = '<none>';
  const first = (i.RepoTags ?? [])[0];
  if (first && first !== '<none>:<none>') {
    try {
      const ref = parseReference(first);
      if (ref.tag) {
        repo = familiarName(ref);
        tag = ref.tag;
      }
    } catch {
      // an unparsable tag shows as <none>
    }
  }
  return new DfImageRow(i, repo, tag, now);
}

const IMAGE_DF_HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' };

async function runDf(ctx: CliContext, opts: { verbose?: boolean; format?: string }): Promise<void> {
  const du = await ctx.client.getJson<DiskUsage>('/system/df');
  const now = Date.now();
  if (!opts.verbose) {
    ctx.out(renderList(opts.format || DF_TABLE, dfSummary(du), DF_HEADERS));
    return;
  }
  let out = 'Images space usage:\n\n';
  out += renderList(DF_IMAGE_TABLE, (du.Images ?? []).map((i) => imageRowFor(i, now)), IMAGE_DF_HEADERS);
  out += '\nContainers space usage:\n\n';
  out += renderList(DF_CONTAINER_TABLE, (du.Containers ?? []).map((c) => new ContainerRow({ ...c, SizeRootFs: 0 }, true, now)), CONTAINER_HEADERS);
  out += '\nLocal Volumes space usage:\n\n';
  out += renderVolumes(DF_VOLUME_TABLE, du.Volumes ?? []);
  const cache = du.BuildCache ?? [];
  out += `\nBuild cache usage: ${humanSize(cache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0))}\n\n`;
  out += DF_CACHE_HEADER;
  for (const b of cache) out += `${b.ID.slice(0, 12)}\t${b.Type ?? ''}\t${humanSizeWithPrecision(b.Size, 3)}\n`;
  ctx.out(out);
}

// ---------------------------------------------------------------- prune

function pruneWarning(opts: { all?: boolean; volumes?: boolean }): string {
  const lines = ['  - all stopped containers', '  - all networks not used by at least one container'];
  if (opts.volumes) lines.push('  - all anonymous volumes not used by at least one container');
  lines.push(opts.all ? '  - all images without at least one container associated to them' : '  - all dangling images');
  lines.push(opts.all ? '  - all build cache' : '  - unused build cache');
  return `WARNING! This will remove:\n${lines.join('\n')}\n\nAre you sure you want to continue?`;
}

/** A pruner that berthd may not serve yet (networks, build cache) counts as having removed nothing. */
async function optionalPrune<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DaemonError && (e.status === 404 || e.status === 501)) return undefined;
    throw e;
  }
}

async function runSystemPrune(ctx: CliContext, opts: { all?: boolean; volumes?: boolean; force?: boolean; filter: string[] }): Promise<void> {
  if (!opts.force && !(await confirm(ctx, pruneWarning(opts)))) return;
  const filters = filtersJson(opts.filter);
  let total = 0;
  let out = '';
  const c = await ctx.client.postJson<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>('/containers/prune', { query: { filters } });
  if (c?.ContainersDeleted?.length) out += 'Deleted Containers:\n' + c.ContainersDeleted.map((id) => id + '\n').join('') + '\n';
  total += c?.SpaceReclaimed ?? 0;
  const n = await optionalPrune(() => ctx.client.postJson<{ NetworksDeleted?: string[] | null }>('/networks/prune', { query: { filters } }));
  if (n?.NetworksDeleted?.length) out += 'Deleted Networks:\n' + n.NetworksDeleted.map((x) => x + '\n').join('') + '\n';
  if (opts.volumes) {
    const v = await pruneVolumes(ctx, { filter: opts.filter });
    out += v.text;
    total += v.reclaimed;
  }
  const i = await ctx.client.postJson<{ ImagesDeleted?: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed?: number }>('/images/prune', {
    query: { filters: filtersJson(opts.filter, { dangling: [String(!opts.all)] }) },
  });
  if (i?.ImagesDeleted?.length) {
    out += 'Deleted Images:\n' + i.ImagesDeleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`)).join('') + '\n';
  }
  total += i?.SpaceReclaimed ?? 0;
  const b = await optionalPrune(() =>
    ctx.client.postJson<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('/build/prune', { query: { all: opts.all ? '1' : undefined, filters } }),
  );
  if (b?.CachesDeleted?.length) out += 'Deleted build cache objects:\n' + b.CachesDeleted.map((x) => x + '\n').join('') + '\n';
  total += b?.SpaceReclaimed ?? 0;
  ctx.out(out + `Total reclaimed space: ${humanSize(total)}\n`);
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
  system
    .command('df')
    .description('Show docker disk usage')
    .option('--format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (opts: { format?: string; verbose?: boolean }) => runDf(context(), opts));
  system
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .action(async (opts: { all?: boolean; filter: string[]; force?: boolean; volumes?: boolean }) => runSystemPrune(context(), opts));
}


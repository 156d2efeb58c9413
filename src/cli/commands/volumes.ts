/**
 * `volume create|ls|inspect|rm|prune`: docker's requests, tables and messages.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderList, renderOne } from '../render/format.js';
import type { StrictContext } from '../render/template.js';
import { humanSize } from '../render/units.js';
import { PreformattedError, confirm, filtersJson, formatCliError, type ContextProvider } from './images.js';
import { forEachName } from './each-name.js';
import { collect, keyValues } from './flag-values.js';

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
  Scope?: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

const VOLUME_HEADERS = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

export const DEFAULT_VOLUME_TABLE = 'table {{.Driver}}\t{{.Name}}';

/** formatter.volumeContext's fields. */
export class VolumeRow implements StrictContext {
  readonly templateTypeName = '*formatter.volumeContext';
  constructor(private readonly v: Volume) {}
  get Name(): string {
    return this.v.Name;
  }
  get Driver(): string {
    return this.v.Driver;
  }
  get Scope(): string {
    return this.v.Scope ?? 'local';
  }
  get Mountpoint(): string {
    return this.v.Mountpoint;
  }
  get Labels(): string {
    return Object.entries(this.v.Labels ?? {})
      .map(([k, val]) => `${k}=${val}`)
      .join(',');
  }
  Label(name: string): string {
    return (this.v.Labels ?? {})[name] ?? '';
  }
  get Links(): string {
    return this.v.UsageData ? String(this.v.UsageData.RefCount) : 'N/A';
  }
  get Size(): string {
    return this.v.UsageData && this.v.UsageData.Size !== -1 ? humanSize(this.v.UsageData.Size) : 'N/A';
  }
  get Group(): string {
    return 'N/A';
  }
  get Availability(): string {
    return 'N/A';
  }
  get Status(): string {
    return 'N/A';
  }
  toJSON(): Record<string, string> {
    return {
      Availability: this.Availability, Driver: this.Driver, Group: this.Group, Labels: this.Labels, Links: this.Links, Mountpoint: this.Mountpoint,
      Name: this.Name, Scope: this.Scope, Size: this.Size, Status: this.Status,
    };
  }
}

export function renderVolumes(format: string, volumes: readonly Volume[]): string {
  return renderList(format, volumes.map((v) => new VolumeRow(v)), VOLUME_HEADERS);
}

function defineCreate(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Create a volume')
    .argument('[VOLUME]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect, [])
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect, [])
    .action(async (name: string | undefined, opts: { driver: string; label: string[]; name?: string; opt: string[] }) => {
      const ctx = context();
      if (name && opts.name && name !== opts.name) {
        throw new PreformattedError(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`);
      }
      const v = await ctx.client.postJson<Volume>('/volumes/create', {
        json: { Driver: opts.driver, DriverOpts: keyValues(opts.opt), Labels: keyValues(opts.label), Name: name ?? opts.name ?? '' },
      });
      ctx.out(`${v.Name}\n`);
    });
}

function defineList(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('List volumes')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true")', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display volume names')
    .action(async (opts: { filter: string[]; format?: string; quiet?: boolean }) => {
      const ctx = context();
      const res = await ctx.client.getJson<{ Volumes?: Volume[] | null }>('/volumes', { filters: filtersJson(opts.filter) });
      const volumes = [...(res.Volumes ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      const format = opts.quiet ? '{{.Name}}' : opts.format || DEFAULT_VOLUME_TABLE;
      ctx.out(renderVolumes(format, volumes));
    });
}

function defineInspect(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Display detailed information on one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], opts: { format?: string }) => {
      const ctx = context();
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        try {
          found.push(await ctx.client.getJson<unknown>(`/volumes/${encodeURIComponent(n)}`));
        } catch (e) {
          errors.push(formatCliError(e));
        }
      }
      if (!opts.format) ctx.out(JSON.stringify(found, null, 4) + '\n');
      else for (const v of found) ctx.out(renderOne(opts.format, v));
      if (errors.length) throw new PreformattedError(errors.join('\n'));
    });
}

function defineRemove(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const ctx = context();
      await forEachName(ctx, names, async (n) => {
        await ctx.client.request('DELETE', `/volumes/${encodeURIComponent(n)}`, { query: { force: opts.force ? '1' : undefined } });
        return n;
      });
    });
}

const PRUNE_WARNING = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
const PRUNE_ALL_WARNING = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?';

/** POST /volumes/prune and docker's report of it; returns the bytes reclaimed. */
export async function pruneVolumes(ctx: CliContext, opts: { all?: boolean; filter: readonly string[] }): Promise<{ text: string; reclaimed: number }> {
  const filters = filtersJson(opts.filter, opts.all ? { all: ['true'] } : {});
  const report = await ctx.client.postJson<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>('/volumes/prune', { query: { filters } });
  const deleted = report?.VolumesDeleted ?? [];
  const text = deleted.length ? 'Deleted Volumes:\n' + deleted.map((n) => n + '\n').join('') + '\n' : '';
  return { text, reclaimed: report?.SpaceReclaimed ?? 0 };
}

function definePrune(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (opts: { all?: boolean; filter: string[]; force?: boolean }) => {
      const ctx = context();
      if (!opts.force && !(await confirm(ctx, opts.all ? PRUNE_ALL_WARNING : PRUNE_WARNING))) return;
      const { text, reclaimed } = await pruneVolumes(ctx, opts);
      ctx.out(text + `Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}

export function registerVolumeCommands(program: Command, context: ContextProvider): void {
  const volume = program.command('volume').description('Manage volumes');
  defineCreate(volume.command('create'), context);
  defineList(volume.command('ls').aliases(['list']), context);
  defineInspect(volume.command('inspect'), context);
  defineRemove(volume.command('rm').alias('remove'), context);
  definePrune(volume.command('prune'), context);
}

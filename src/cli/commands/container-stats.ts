/**
 * `stats`: docker's columns (CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS) computed
 * from GET /containers/{id}/stats the way docker's formatter does. --no-stream prints one table;
 * otherwise the table is redrawn as samples arrive.
 */
import type { Command } from 'commander';
import { decodeJsonStream } from '../render/progress.js';
import { renderList } from '../render/format.js';
import type { StrictContext } from '../render/template.js';
import { bytesSize, humanSizeWithPrecision } from '../render/units.js';
import { sprintf } from '../render/template.js';
import type { CliContext } from '../context.js';
import type { ContainerSummary } from './container-ps.js';
import { PreformattedError, formatCliError, truncateId, type ContextProvider } from './images.js';

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export interface StatsSample {
  id?: string;
  name?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
}

const STATS_HEADERS = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export const DEFAULT_STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** One row of `docker stats`, with formatter.statsContext's fields. */
export class StatsRow implements StrictContext {
  readonly templateTypeName = '*formatter.statsContext';
  constructor(
    private readonly container: string,
    private readonly s: StatsSample,
    private readonly trunc: boolean,
  ) {}
  get Container(): string {
    return this.container;
  }
  get ID(): string {
    const id = this.s.id ?? this.container;
    return this.trunc ? truncateId(id) : id;
  }
  get Name(): string {
    const n = this.s.name ?? '';
    return n.startsWith('/') ? n.slice(1) : n || '--';
  }
  get CPUPerc(): string {
    const cpu = this.s.cpu_stats;
    const pre = this.s.precpu_stats;
    const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
    const online = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 0;
    const pct = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
    return sprintf('%.2f%%', pct);
  }
  private memUsed(): number {
    const m = this.s.memory_stats;
    const usage = m?.usage ?? 0;
    // cgroup v2 reports inactive_file, v1 total_inactive_file; docker leaves the page cache out
    const cache = m?.stats?.['inactive_file'] ?? m?.stats?.['total_inactive_file'] ?? 0;
    return cache < usage ? usage - cache : usage;
  }
  get MemUsage(): string {
    return `${bytesSize(this.memUsed())} / ${bytesSize(this.s.memory_stats?.limit ?? 0)}`;
  }
  get MemPerc(): string {
    const limit = this.s.memory_stats?.limit ?? 0;
    return sprintf('%.2f%%', limit > 0 ? (this.memUsed() / limit) * 100 : 0);
  }
  get NetIO(): string {
    let rx = 0;
    let tx = 0;
    for (const n of Object.values(this.s.networks ?? {})) {
      rx += n.rx_bytes ?? 0;
      tx += n.tx_bytes ?? 0;
    }
    return `${humanSizeWithPrecision(rx, 3)} / ${humanSizeWithPrecision(tx, 3)}`;
  }
  get BlockIO(): string {
    let read = 0;
    let write = 0;
    for (const e of this.s.blkio_stats?.io_service_bytes_recursive ?? []) {
      const op = e.op.toLowerCase();
      if (op === 'read') read += e.value;
      else if (op === 'write') write += e.value;
    }
    return `${humanSizeWithPrecision(read, 3)} / ${humanSizeWithPrecision(write, 3)}`;
  }
  get PIDs(): string {
    return String(this.s.pids_stats?.current ?? 0);
  }
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']) out[k] = (this as unknown as Record<string, string>)[k]!;
    return out;
  }
}

interface StatsOptions {
  all?: boolean;
  stream?: boolean;
  trunc?: boolean;
  format?: string;
}

async function containerNames(ctx: CliContext, all: boolean): Promise<string[]> {
  const list = await ctx.client.getJson<ContainerSummary[]>('/containers/json', { all: all ? '1' : undefined });
  return (list ?? []).map((c) => truncateId(c.Id));
}

function render(format: string, samples: Map<string, StatsSample>, trunc: boolean): string {
  const rows = [...samples].map(([name, s]) => new StatsRow(name, s, trunc));
  return renderList(format, rows, STATS_HEADERS);
}

function defineStats(cmd: Command, context: ContextProvider): Command {
  return cmd
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[CONTAINER...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Don't truncate output")
    .action(async (names: string[], opts: StatsOptions) => {
      const ctx = context();
      const trunc = opts.trunc !== false;
      let format = opts.format ?? 'table';
      if (format === 'table') format = DEFAULT_STATS_TABLE;
      const targets = names.length ? names : await containerNames(ctx, opts.all === true);
      const samples = new Map<string, StatsSample>();
      for (const n of targets) samples.set(n, {});
      if (opts.stream === false) {
        const errors: string[] = [];
        for (const n of targets) {
          try {
            samples.set(n, await ctx.client.getJson<StatsSample>(`/containers/${encodeURIComponent(n)}/stats`, { stream: '0' }));
          } catch (e) {
            samples.delete(n);
            errors.push(formatCliError(e));
          }
        }
        ctx.out(render(format, samples, trunc));
        if (errors.length) throw new PreformattedError(errors.join('\n'));
        return;
      }
      const redraw = (): void => {
        const clear = ctx.io.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
        ctx.out(clear + render(format, samples, trunc));
      };
      await Promise.all(
        targets.map(async (n) => {
          const res = await ctx.client.request('GET', `/containers/${encodeURIComponent(n)}/stats`, { query: { stream: '1' } });
          for await (const v of decodeJsonStream(res.body)) {
            samples.set(n, v as StatsSample);
            redraw();
          }
        }),
      );
    });
}

export function registerStatsCommands(program: Command, group: Command, context: ContextProvider): void {
  defineStats(program.command('stats'), context);
  defineStats(group.command('stats'), context);
}

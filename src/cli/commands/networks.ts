/** `berth network create|ls|inspect|rm|prune|connect|disconnect`, with docker's flags and output. */
import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import { DaemonError } from '../api-client.js';
import { renderList, renderOne } from '../render/format.js';
import type { StrictContext } from '../render/template.js';
import { PreformattedError, confirm, filtersJson, formatCliError, type ContextProvider } from './images.js';
import { forEachName } from './each-name.js';
import { collect, keyValues } from './flag-values.js';

/** The parts of GET /networks the CLI shows. */
export interface NetworkJson {
  Name: string;
  Id: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

export const NETWORK_HEADERS = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

export const DEFAULT_NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** One row of `network ls` as docker's formatter sees it. */
export class NetworkRow implements StrictContext {
  readonly templateTypeName = '*formatter.networkContext';
  constructor(private readonly n: NetworkJson, private readonly trunc: boolean) {}
  get ID(): string {
    return this.trunc ? this.n.Id.slice(0, 12) : this.n.Id;
  }
  get Name(): string {
    return this.n.Name;
  }
  get Driver(): string {
    return this.n.Driver ?? '';
  }
  get Scope(): string {
    return this.n.Scope ?? '';
  }
  get IPv6(): string {
    return String(this.n.EnableIPv6 === true);
  }
  get Internal(): string {
    return String(this.n.Internal === true);
  }
  get Labels(): string {
    return Object.entries(this.n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  }
  /** {{.Label "k"}}: called without arguments first by the template engine, it hands back the lookup. */
  Label(name?: unknown): string | ((n: unknown) => string) {
    const labels = this.n.Labels ?? {};
    if (name === undefined) return (n: unknown) => labels[String(n)] ?? '';
    return labels[String(name)] ?? '';
  }
  get CreatedAt(): string {
    return this.n.Created ?? '';
  }
}

/** `network ls` output for the given networks (sorted by name, as docker does). */
export function renderNetworks(list: readonly NetworkJson[], opts: { quiet?: boolean; noTrunc?: boolean; format?: string }): string {
  const sorted = [...list].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  const trunc = !opts.noTrunc;
  if (opts.quiet) return sorted.map((n) => (trunc ? n.Id.slice(0, 12) : n.Id) + '\n').join('');
  const format = opts.format || DEFAULT_NETWORK_TABLE;
  return renderList(format, sorted.map((n) => new NetworkRow(n, trunc)), NETWORK_HEADERS);
}

/** `key=value` options (--opt, --label) as a map; a bare key gets ''. */
interface CreateOpts {
  driver: string;
  subnet: string[];
  gateway: string[];
  ipRange: string[];
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  label: string[];
  opt: string[];
  ipamDriver?: string;
}

/** docker's create body: one IPAM config per --subnet, each --gateway/--ip-range matched to its subnet. */
export function networkCreateBody(name: string, o: CreateOpts): Record<string, unknown> {
  if (o.gateway.length > o.subnet.length || o.ipRange.length > o.subnet.length) {
    throw invalidArgument('every ip-range or gateway must have a corresponding subnet');
  }
  const config = o.subnet.map((subnet, i) => ({
    Subnet: subnet,
    ...(o.ipRange[i] ? { IPRange: o.ipRange[i] } : {}),
    ...(o.gateway[i] ? { Gateway: o.gateway[i] } : {}),
  }));
  return {
    Name: name,
    CheckDuplicate: true,
    Driver: o.driver,
    Scope: '',
    EnableIPv6: o.ipv6 === true,
    IPAM: { Driver: o.ipamDriver || 'default', Options: {}, Config: config },
    Internal: o.internal === true,
    Attachable: o.attachable === true,
    Ingress: false,
    ConfigOnly: false,
    Options: keyValues(o.opt),
    Labels: keyValues(o.label),
  };
}

const npath = (name: string): string => `/networks/${encodeURIComponent(name)}`;

export function registerNetworkCommands(program: Command, context: ContextProvider): void {
  const group = program.command('network').description('Manage networks').enablePositionalOptions();

  group
    .command('create')
    .description('Create a network')
    .argument('<NETWORK>')
    .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <strings>', 'Subnet in CIDR format that represents a network segment', collect, [])
    .option('--gateway <strings>', 'IPv4 or IPv6 Gateway for the master subnet', collect, [])
    .option('--ip-range <strings>', 'Allocate container ip from a sub-range', collect, [])
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ipv6', 'Enable or disable IPv6 address assignment')
    .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
    .option('--label <list>', 'Set metadata on a network', collect, [])
    .option('-o, --opt <map>', 'Set driver specific options', collect, [])
    .action(async (name: string, o: CreateOpts) => {
      const ctx = context();
      const r = await ctx.client.postJson<{ Id: string }>('/networks/create', { json: networkCreateBody(name, o) });
      ctx.out(`${r.Id}\n`);
    });

  const ls = (cmd: Command): Command =>
    cmd
      .description('List networks')
      .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect, [])
      .option('--format <string>', 'Format output using a custom template')
      .option('--no-trunc', 'Do not truncate the output')
      .option('-q, --quiet', 'Only display network IDs')
      .action(async (o: { filter: string[]; format?: string; trunc: boolean; quiet?: boolean }) => {
        const ctx = context();
        const list = await ctx.client.getJson<NetworkJson[]>('/networks', { filters: filtersJson(o.filter) });
        ctx.out(renderNetworks(list, { quiet: o.quiet, noTrunc: !o.trunc, format: o.format }));
      });
  ls(group.command('ls').aliases(['list']));

  group
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action(async (names: string[], o: { format?: string }) => {
      const ctx = context();
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const name of names) {
        try {
          found.push(await ctx.client.getJson<unknown>(npath(name)));
        } catch (e) {
          errors.push(e instanceof DaemonError && e.status === 404 ? `Error response from daemon: ${e.message}` : formatCliError(e));
        }
      }
      if (!o.format) ctx.out(JSON.stringify(found, null, 4) + '\n');
      else for (const v of found) ctx.out(renderOne(o.format, v));
      if (errors.length) throw new PreformattedError(errors.join('\n'));
    });

  group
    .command('rm')
    .aliases(['remove'])
    .description('Remove one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], o: { force?: boolean }) => {
      const ctx = context();
      await forEachName(ctx, names, async (name) => {
        try {
          const res = await ctx.client.request('DELETE', npath(name));
          res.body.resume();
        } catch (e) {
          if (o.force && e instanceof DaemonError && e.status === 404) return undefined;
          throw e;
        }
        return name;
      });
    });

  group
    .command('prune')
    .description('Remove all unused networks')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter: string[]; force?: boolean }) => {
      const ctx = context();
      if (!o.force && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return;
      const r = await ctx.client.postJson<{ NetworksDeleted?: string[] | null }>('/networks/prune', { query: { filters: filtersJson(o.filter) } });
      const deleted = r?.NetworksDeleted ?? [];
      if (deleted.length) ctx.out('Deleted Networks:\n' + deleted.map((n) => n + '\n').join(''));
    });

  group
    .command('connect')
    .description('Connect a container to a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('--alias <strings>', 'Add network-scoped alias for the container', collect, [])
    .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <list>', 'Add link to another container', collect, [])
    .option('--driver-opt <strings>', 'driver options for the network', collect, [])
    .action(async (network: string, container: string, o: { alias: string[]; ip?: string; ip6?: string; link: string[]; driverOpt: string[] }) => {
      const ctx = context();
      const ipam: Record<string, string> = {};
      if (o.ip) ipam['IPv4Address'] = o.ip;
      if (o.ip6) ipam['IPv6Address'] = o.ip6;
      const body = {
        Container: container,
        EndpointConfig: {
          IPAMConfig: Object.keys(ipam).length ? ipam : null,
          Links: o.link.length ? o.link : null,
          Aliases: o.alias.length ? o.alias : null,
          DriverOpts: o.driverOpt.length ? keyValues(o.driverOpt) : null,
        },
      };
      const res = await ctx.client.request('POST', `${npath(network)}/connect`, { json: body });
      res.body.resume();
    });

  group
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (network: string, container: string, o: { force?: boolean }) => {
      const ctx = context();
      const res = await ctx.client.request('POST', `${npath(network)}/disconnect`, { json: { Container: container, Force: o.force === true } });
      res.body.resume();
    });
}

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BerthError, conflict, invalidArgument, notFound } from '../../errors.js';
import type { BridgeNetwork, Endpoint, NetworkDriver, PublishedPort } from '../../runtime/network/types.js';
import type { NetworkRecords, NetworkRow } from '../../store/network-records.js';
import type { EventBus } from '../events/event-bus.js';
import { labelsMatch, parseTimestamp } from '../images/filters.js';
import { hostsFile, resolveExtraHosts, resolvConf } from './etc-files.js';
import { allocateAddress, choosePool, isIpv4, isMac, macFromIp, prefixLength, subnetConfig, type SubnetConfig } from './ipam.js';
import { portAllocatedMessage, portsClash, portsView, publishedFromView, wantedPorts, type PortBindings, type ResolvedPort } from './port-specs.js';
import {
  emptyEndpoint,
  emptyNetworkSettings,
  type DnsServer,
  type EndpointSettings,
  type NetworkCreateRequest,
  type NetworkDoc,
  type NetworkSettings,
} from './types.js';

type Row = NetworkRow<NetworkDoc>;
type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export const PREDEFINED = ['bridge', 'host', 'none'] as const;

const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
const OPT_MTU = 'com.docker.network.driver.mtu';
const OPT_ICC = 'com.docker.network.bridge.enable_icc';
const OPT_MASQ = 'com.docker.network.bridge.enable_ip_masquerade';

export interface NetworkServiceOptions {
  /** The default bridge's device (daemon --bridge). */
  defaultBridge: string;
  /** The default bridge's address as a CIDR (daemon --bip), e.g. 172.17.0.1/16. */
  bip?: string;
  /** The host's resolv.conf, read at each container start. */
  resolvConfPath?: string;
  log: Log;
}

/** What the network side needs to know of a container to start it. */
export interface ContainerNetInput {
  id: string;
  name: string;
  hostname: string;
  domainname: string;
  networkMode: string;
  /** The configured endpoints (inspect's NetworkSettings.Networks), keyed by network name. */
  networks: Record<string, EndpointSettings>;
  /** HostConfig.Links, normalized or 'name:alias'. */
  links: string[];
  portBindings: PortBindings | null | undefined;
  exposedPorts: Record<string, unknown> | undefined;
  publishAll: boolean;
  macAddress?: string;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

/** How other containers are seen from here (for `container:` mode and links). */
export interface ContainerPeer {
  id: string;
  name: string;
  running: boolean;
  pid: number;
}

export interface ContainerLookup {
  peer(ref: string): ContainerPeer;
  /** Connects or disconnects under the container's lock; `fn` edits its stored document's network settings. */
  withNetworkSettings(ref: string, fn: (c: ConnectTarget) => Promise<void>): Promise<void>;
}

/** A container as connect/disconnect sees it. */
export interface ConnectTarget {
  id: string;
  name: string;
  hostname: string;
  running: boolean;
  networkMode: string;
  settings: NetworkSettings;
}

export interface NetNamespace {
  mode: 'private' | 'host' | 'path';
  path?: string;
  shared?: boolean;
}

/** The network side of one container start. */
export interface StartPlan {
  /** The network namespace for the spec, once the sandbox exists. */
  namespace: Promise<NetNamespace>;
  settings: NetworkSettings;
  hosts: string;
  resolv: string;
  /** Veths, addresses, routes and published ports; runs while the runtime creates the container. */
  attach(): Promise<void>;
}

interface ActiveEndpoint {
  networkId: string;
  networkName: string;
  endpointId: string;
  aliases: string[];
  ep: Endpoint;
}

interface ActiveSandbox {
  containerId: string;
  name: string;
  path: string;
  endpoints: ActiveEndpoint[];
  ports: ResolvedPort[];
}

export interface NetworkFilterResult {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: NetworkDoc['IPAM'];
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

const newId = (): string => randomBytes(32).toString('hex');

/**
 * The one model of networks: Docker's predefined bridge/host/none and user bridge networks, their addresses, the
 * containers' endpoints while they run, and the published ports. The kernel work is the driver's.
 */
export class NetworkService {
  private readonly active = new Map<string, ActiveSandbox>();
  private containers: ContainerLookup | undefined;

  constructor(
    private readonly records: NetworkRecords<NetworkDoc>,
    private readonly driver: NetworkDriver,
    private readonly events: EventBus,
    private readonly opts: NetworkServiceOptions,
    private readonly dns?: DnsServer,
  ) {}

  setContainers(lookup: ContainerLookup): void {
    this.containers = lookup;
  }

  private get lookup(): ContainerLookup {
    if (!this.containers) throw new BerthError('internal', 'network service used before containers were wired');
    return this.containers;
  }

  // ---- networks -------------------------------------------------------------------------------------------------

  /** Makes sure the predefined networks exist (stable IDs across restarts) and the default bridge has its subnet. */
  async init(): Promise<void> {
    for (const name of PREDEFINED) {
      if (this.records.byName(name)) continue;
      const driver = name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null';
      this.records.insert({ id: newId(), name, createdAt: Date.now(), doc: this.baseDoc(name, driver, true) });
    }
    const bridge = this.records.byName('bridge')!;
    const doc = bridge.doc;
    let cfg: SubnetConfig;
    if (this.opts.bip) {
      const [ip, len] = this.opts.bip.split('/');
      if (!ip || !isIpv4(ip) || !len) throw invalidArgument(`invalid --bip ${this.opts.bip}: expected an address with a prefix, e.g. 172.17.0.1/16`);
      cfg = subnetConfig({ Subnet: this.opts.bip, Gateway: ip });
    } else if (doc.IPAM.Config[0] && doc.Berth.bridge === this.opts.defaultBridge) {
      cfg = { subnet: doc.IPAM.Config[0].Subnet, gateway: doc.IPAM.Config[0].Gateway };
    } else {
      cfg = await this.pickPool(bridge.id);
    }
    doc.IPAM.Config = [{ Subnet: cfg.subnet, Gateway: cfg.gateway }];
    doc.Berth.bridge = this.opts.defaultBridge;
    doc.Options = {
      'com.docker.network.bridge.default_bridge': 'true',
      [OPT_ICC]: 'true',
      [OPT_MASQ]: 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      [OPT_BRIDGE_NAME]: this.opts.defaultBridge,
      [OPT_MTU]: '1500',
    };
    this.records.update(bridge.id, doc);
  }

  private baseDoc(name: string, driver: NetworkDoc['Driver'], predefined: boolean): NetworkDoc {
    return {
      Name: name,
      Id: '',
      Created: new Date().toISOString(),
      Scope: 'local',
      Driver: driver,
      EnableIPv4: true,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: {},
      Labels: {},
      Berth: { predefined, ...(driver === 'bridge' ? { mtu: 1500, icc: true, masquerade: true } : {}) },
    };
  }

  private async pickPool(exceptId?: string): Promise<SubnetConfig> {
    const taken = [...(await this.driver.hostRoutes())];
    for (const r of this.records.list()) if (r.id !== exceptId) for (const c of r.doc.IPAM.Config) taken.push(c.Subnet);
    const pool = choosePool(taken);
    if (!pool) throw new BerthError('unavailable', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    return subnetConfig({ Subnet: pool });
  }

  /** The kernel side of a bridge network, from its document. */
  bridgeOf(row: Row): BridgeNetwork {
    const cfg = row.doc.IPAM.Config[0];
    if (row.doc.Driver !== 'bridge' || !cfg) throw new BerthError('internal', `network ${row.name} is not a bridge network`);
    return {
      id: row.id,
      bridge: row.doc.Berth.bridge ?? `br-${row.id.slice(0, 12)}`,
      subnet: cfg.Subnet,
      gateway: cfg.Gateway,
      mtu: row.doc.Berth.mtu ?? 1500,
      internal: row.doc.Internal,
      masquerade: row.doc.Berth.masquerade ?? true,
      icc: row.doc.Berth.icc ?? true,
    };
  }

  /** Docker's lookup: full ID, exact name, then unique ID prefix. */
  resolve(ref: string): Row {
    const byId = /^[a-f0-9]{64}$/.test(ref) ? this.records.get(ref) : undefined;
    if (byId) return byId;
    const byName = this.records.byName(ref);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = this.records.byIdPrefix(ref);
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
    }
    throw notFound(`network ${ref} not found`);
  }

  async create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (!name) throw invalidArgument('network name cannot be empty');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if ((PREDEFINED as readonly string[]).includes(name)) throw new BerthError('forbidden', `operation is not permitted on predefined ${name} network`);
    const driver = req.Driver || 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    if (req.EnableIPv6) throw invalidArgument('IPv6 networks are not supported by berth');
    if (req.ConfigOnly || req.Ingress) throw invalidArgument('config-only and ingress networks are not supported by berth');
    if (this.records.byName(name)) throw conflict(`network with name ${name} already exists`);
    const options = { ...(req.Options ?? {}) };
    const doc = this.baseDoc(name, 'bridge', false);
    const id = newId();
    doc.Internal = req.Internal === true;
    doc.Attachable = req.Attachable === true;
    doc.Labels = { ...(req.Labels ?? {}) };
    doc.Options = options;
    doc.Berth.bridge = options[OPT_BRIDGE_NAME] || `br-${id.slice(0, 12)}`;
    if (doc.Berth.bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(doc.Berth.bridge)) throw invalidArgument(`invalid bridge name ${doc.Berth.bridge}: at most 15 of [a-zA-Z0-9_.-]`);
    for (const other of this.records.list()) {
      if (other.doc.Berth.bridge === doc.Berth.bridge) throw conflict(`bridge name ${doc.Berth.bridge} is already used by network ${other.name}`);
    }
    if (options[OPT_MTU] !== undefined) {
      const mtu = Number(options[OPT_MTU]);
      if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw invalidArgument(`invalid MTU ${options[OPT_MTU]}: expected an integer from 68 to 65535`);
      doc.Berth.mtu = mtu;
    }
    const bool = (key: string): boolean | undefined => {
      const v = options[key];
      if (v === undefined) return undefined;
      if (!['true', 'false', '1', '0'].includes(v)) throw invalidArgument(`invalid value "${v}" for ${key}: expected true or false`);
      return v === 'true' || v === '1';
    };
    doc.Berth.icc = bool(OPT_ICC) ?? true;
    doc.Berth.masquerade = bool(OPT_MASQ) ?? true;
    const ipamCfg = req.IPAM?.Config ?? [];
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw notFound(`plugin "${req.IPAM.Driver}" not found`);
    if (ipamCfg.length > 1) throw invalidArgument('berth supports one IPv4 subnet per network');
    let cfg: SubnetConfig;
    if (ipamCfg[0]) {
      cfg = subnetConfig(ipamCfg[0]);
      const overlaps = this.records.list().find((r) => r.doc.IPAM.Config.some((c) => choosePool([c.Subnet], [cfg.subnet]) === undefined));
      if (overlaps) throw new BerthError('forbidden', `Pool overlaps with other one on this address space`);
    } else {
      cfg = await this.pickPool();
    }
    doc.IPAM.Config = [{ Subnet: cfg.subnet, Gateway: cfg.gateway, ...(cfg.ipRange ? { IPRange: cfg.ipRange } : {}) }];
    doc.IPAM.Options = req.IPAM?.Options ?? {};
    doc.Id = id;
    const row: Row = { id, name, createdAt: Date.now(), doc };
    // The name is checked and taken with no await in between.
    if (this.records.byName(name)) throw conflict(`network with name ${name} already exists`);
    this.records.insert(row);
    try {
      await this.driver.ensureNetwork(this.bridgeOf(row));
      await this.dns?.listen(id, cfg.gateway);
    } catch (err) {
      await this.driver.removeNetwork(this.bridgeOf(row)).catch(() => undefined);
      this.records.remove(id);
      throw err;
    }
    this.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  private containersOf(networkId: string): NetworkFilterResult['Containers'] {
    const out: NetworkFilterResult['Containers'] = {};
    for (const sb of this.active.values()) {
      for (const e of sb.endpoints) {
        if (e.networkId !== networkId) continue;
        out[sb.containerId] = { Name: sb.name, EndpointID: e.endpointId, MacAddress: e.ep.mac, IPv4Address: `${e.ep.ip}/${e.ep.prefixLen}`, IPv6Address: '' };
      }
    }
    return out;
  }

  private view(row: Row): NetworkFilterResult {
    const { Berth: _b, ...doc } = row.doc;
    return { ...doc, Id: row.id, Containers: this.containersOf(row.id), Options: doc.Options, Labels: doc.Labels };
  }

  inspect(ref: string): NetworkFilterResult {
    return this.view(this.resolve(ref));
  }

  list(filters: Map<string, string[]> = new Map()): NetworkFilterResult[] {
    const allowed = ['name', 'id', 'label', 'driver', 'type', 'dangling', 'scope'];
    for (const k of filters.keys()) if (!allowed.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    for (const t of filters.get('type') ?? []) if (t !== 'custom' && t !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${t}'`);
    const dangling = filters.get('dangling') ?? [];
    for (const d of dangling) if (!['true', 'false', '1', '0'].includes(d)) throw invalidArgument(`invalid filter 'dangling=${d}'`);
    return this.records
      .list()
      .filter((r) => {
        const names = filters.get('name');
        if (names?.length && !names.some((n) => r.name.includes(n) || safeRegex(n)?.test(r.name))) return false;
        const ids = filters.get('id');
        if (ids?.length && !ids.some((i) => r.id.startsWith(i) || r.id.includes(i))) return false;
        const drivers = filters.get('driver');
        if (drivers?.length && !drivers.includes(r.doc.Driver)) return false;
        const scopes = filters.get('scope');
        if (scopes?.length && !scopes.includes('local')) return false;
        const types = filters.get('type');
        if (types?.length && !types.includes(r.doc.Berth.predefined ? 'builtin' : 'custom')) return false;
        if (!labelsMatch(r.doc.Labels, filters.get('label') ?? [])) return false;
        if (dangling.length) {
          const want = dangling[0] === 'true' || dangling[0] === '1';
          const isDangling = !r.doc.Berth.predefined && !this.inUse(r.id);
          if (want !== isDangling) return false;
        }
        return true;
      })
      .map((r) => this.view(r));
  }

  private inUse(networkId: string): boolean {
    for (const sb of this.active.values()) if (sb.endpoints.some((e) => e.networkId === networkId)) return true;
    return false;
  }

  async remove(ref: string): Promise<void> {
    const row = this.resolve(ref);
    if (row.doc.Berth.predefined) throw new BerthError('forbidden', `${row.name} is a pre-defined network and cannot be removed`);
    if (this.inUse(row.id)) {
      const names = [...this.active.values()].filter((sb) => sb.endpoints.some((e) => e.networkId === row.id)).map((sb) => `name:"${sb.name}" id:"${sb.containerId.slice(0, 12)}"`);
      throw conflict(`error while removing network: network ${row.name} has active endpoints (${names.join(', ')})`);
    }
    await this.dns?.close(row.id).catch(() => undefined);
    await this.driver.removeNetwork(this.bridgeOf(row));
    this.records.remove(row.id);
    this.events.publish('network', 'destroy', row.id, { name: row.name, type: row.doc.Driver });
  }

  async prune(filters: Map<string, string[]> = new Map()): Promise<{ NetworksDeleted: string[] }> {
    for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const deleted: string[] = [];
    for (const row of this.records.list()) {
      if (row.doc.Berth.predefined || this.inUse(row.id)) continue;
      if (!labelsMatch(row.doc.Labels, filters.get('label') ?? [])) continue;
      if ((filters.get('label!') ?? []).some((l) => labelsMatch(row.doc.Labels, [l]))) continue;
      const until = filters.get('until')?.[0];
      if (until && row.createdAt >= parseTimestamp(until)) continue;
      await this.remove(row.id);
      deleted.push(row.name);
    }
    this.events.publish('network', 'prune', '', { reclaimed: '0' });
    return { NetworksDeleted: deleted };
  }

  // ---- container endpoints ---------------------------------------------------------------------------------------

  /** The endpoints a new container is configured with: its network mode's plus NetworkingConfig's. */
  endpointsForCreate(networkMode: string, configs: Record<string, Partial<EndpointSettings>> | undefined): Record<string, EndpointSettings> {
    // Docker looks the other container up at start, not here (a 404 at create makes the docker CLI pull the image).
    if (networkMode.startsWith('container:')) return {};
    const out: Record<string, EndpointSettings> = {};
    const modeNet = this.resolve(networkMode);
    const entries = Object.entries(configs ?? {});
    out[modeNet.name] = this.endpointConfig(modeNet, configs?.[networkMode] ?? configs?.[modeNet.name] ?? configs?.['default'] ?? {});
    for (const [n, cfg] of entries) {
      if (n === 'default' || n === networkMode) continue;
      const net = this.resolve(n);
      if (net.id === modeNet.id) continue;
      if (net.doc.Driver !== 'bridge') throw invalidArgument(`container cannot be connected to network ${net.name} and ${modeNet.name}`);
      out[net.name] = this.endpointConfig(net, cfg);
    }
    return out;
  }

  private endpointConfig(net: Row, cfg: Partial<EndpointSettings>): EndpointSettings {
    const ep = emptyEndpoint(net.id);
    const ip = cfg.IPAMConfig?.IPv4Address;
    if (ip) {
      if (!isIpv4(ip)) throw invalidArgument(`invalid IPv4 address: ${ip}`);
      if (net.doc.Berth.predefined) throw invalidArgument('user specified IP address is supported on user defined networks only');
      const c = net.doc.IPAM.Config[0];
      if (c && choosePool([`${ip}/32`], [c.Subnet]) !== undefined) throw invalidArgument(`no configured subnet or ip-range contain the IP address ${ip}`);
      ep.IPAMConfig = { IPv4Address: ip };
    }
    if (cfg.Aliases?.length) {
      if (net.name === 'bridge') throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
      ep.Aliases = [...cfg.Aliases];
    }
    if (cfg.MacAddress) {
      if (!isMac(cfg.MacAddress)) throw invalidArgument(`invalid MAC address: ${cfg.MacAddress}`);
      ep.MacAddress = cfg.MacAddress;
    }
    if (cfg.Links?.length) ep.Links = [...cfg.Links];
    if (cfg.DriverOpts) ep.DriverOpts = { ...cfg.DriverOpts };
    return ep;
  }

  /** The default bridge's gateway (what `host-gateway` means). */
  hostGateway(): string | undefined {
    return this.records.byName('bridge')?.doc.IPAM.Config[0]?.Gateway;
  }

  private async hostResolvConf(): Promise<string> {
    return readFile(this.opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8').catch(() => '');
  }

  /**
   * Addresses, ports and files for a container about to start. Addresses and ports are taken at once (so two starts
   * never get the same); the sandbox is being made when this returns. On any later failure call release().
   */
  async prepareStart(c: ContainerNetInput): Promise<StartPlan> {
    const hostText = await this.hostResolvConf();
    const extraHosts = resolveExtraHosts(c.extraHosts, this.hostGateway());
    const mode = c.networkMode;
    const settings = emptyNetworkSettings();
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      let namespace: NetNamespace;
      if (mode === 'host') namespace = { mode: 'host' };
      else if (mode === 'none') namespace = { mode: 'private' };
      else {
        const peer = this.lookup.peer(mode.slice('container:'.length));
        if (!peer.running || !peer.pid) throw conflict(`cannot join network namespace of a non running container: container ${peer.id} is not running`);
        namespace = { mode: 'path', path: `/proc/${peer.pid}/ns/net`, shared: true };
      }
      for (const [name, ep] of Object.entries(c.networks)) settings.Networks[name] = { ...ep };
      const hosts = hostsFile({ hostname: c.hostname, domainname: c.domainname, ips: [], links: [], extraHosts });
      const resolv = mode === 'host' && !c.dns.length && !c.dnsSearch.length && !c.dnsOptions.length
        ? hostText
        : resolvConf({ host: hostText, dns: c.dns, dnsSearch: c.dnsSearch, dnsOptions: c.dnsOptions });
      return { namespace: Promise.resolve(namespace), settings, hosts, resolv, attach: async () => {} };
    }

    // Bridge networks: the mode's network first, then the others by name (eth0, eth1, ...).
    const names = Object.keys(c.networks);
    const modeName = names.includes(mode) ? mode : this.resolveName(mode);
    const ordered = [...names].sort((a, b) => (a === modeName ? -1 : b === modeName ? 1 : a.localeCompare(b)));
    const nets = ordered.map((n) => {
      const cfg = c.networks[n]!;
      const row = this.records.get(cfg.NetworkID) ?? this.records.byName(n);
      if (!row) throw notFound(`network ${n} not found`);
      return { row, cfg };
    });
    const sandbox: ActiveSandbox = { containerId: c.id, name: c.name, path: '', endpoints: [], ports: [] };
    this.active.set(c.id, sandbox);
    try {
      let defaultRouteTaken = false;
      nets.forEach(({ row, cfg }, i) => {
        const bridge = this.bridgeOf(row);
        const ip = this.claimAddress(row, c.id, cfg.IPAMConfig?.IPv4Address);
        const mac = (i === 0 && c.macAddress) || cfg.MacAddress || macFromIp(ip);
        const defaultRoute = !bridge.internal && !defaultRouteTaken;
        if (defaultRoute) defaultRouteTaken = true;
        const endpointId = newId();
        const ep: Endpoint = { containerId: c.id, network: bridge, ifName: `eth${i}`, ip, prefixLen: prefixLength(bridge.subnet), mac, defaultRoute, ports: [] };
        const aliases = [...(cfg.Aliases ?? [])];
        sandbox.endpoints.push({ networkId: row.id, networkName: row.name, endpointId, aliases, ep });
        settings.Networks[row.name] = {
          ...cfg,
          NetworkID: row.id,
          EndpointID: endpointId,
          Gateway: bridge.internal ? '' : bridge.gateway,
          IPAddress: ip,
          IPPrefixLen: ep.prefixLen,
          MacAddress: mac,
          DNSNames: row.name === 'bridge' ? null : [...new Set([c.name, ...aliases, c.id.slice(0, 12)])],
        };
      });
      // Ports are published on the first network's endpoint.
      const ports = await this.reservePorts(c, sandbox);
      if (sandbox.endpoints[0]) sandbox.endpoints[0].ep.ports = ports.map(toPublished);
      settings.Ports = portsView(Object.keys(c.exposedPorts ?? {}), ports);
      const first = sandbox.endpoints[0];
      if (first?.networkName === 'bridge') {
        const s = settings.Networks['bridge']!;
        Object.assign(settings, { EndpointID: s.EndpointID, Gateway: s.Gateway, IPAddress: s.IPAddress, IPPrefixLen: s.IPPrefixLen, MacAddress: s.MacAddress });
      }
      const links = this.linkEntries(c.links);
      const hosts = hostsFile({ hostname: c.hostname, domainname: c.domainname, ips: first ? [first.ep.ip] : [], links, extraHosts });
      const userNet = sandbox.endpoints.find((e) => e.networkName !== 'bridge' && !e.ep.network.internal) ?? sandbox.endpoints.find((e) => e.networkName !== 'bridge');
      const resolv = resolvConf({ host: hostText, embeddedDns: userNet?.ep.network.gateway, dns: c.dns, dnsSearch: c.dnsSearch, dnsOptions: c.dnsOptions });
      const namespace = this.driver.createSandbox(c.id).then((p) => {
        sandbox.path = p;
        settings.SandboxKey = p;
        settings.SandboxID = c.id;
        return { mode: 'path' as const, path: p };
      });
      namespace.catch(() => undefined);
      return {
        namespace,
        settings,
        hosts,
        resolv,
        attach: async () => {
          const ns = await namespace;
          await Promise.all(sandbox.endpoints.map((e) => this.driver.attach(ns.path, e.ep)));
          // Docker reports each network a starting container joins.
          for (const e of sandbox.endpoints) this.events.publish('network', 'connect', e.networkId, { container: c.id, name: e.networkName, type: 'bridge' });
        },
      };
    } catch (err) {
      await this.release(c.id);
      throw err;
    }
  }

  private resolveName(ref: string): string {
    return this.resolve(ref).name;
  }

  private claimAddress(row: Row, containerId: string, requested?: string): string {
    const cfg = row.doc.IPAM.Config[0]!;
    const sc: SubnetConfig = { subnet: cfg.Subnet, gateway: cfg.Gateway, ...(cfg.IPRange ? { ipRange: cfg.IPRange } : {}) };
    for (let attempt = 0; attempt < 16; attempt++) {
      const used = this.records.addresses(row.id);
      const ip = allocateAddress(sc, used, requested);
      if (this.records.claimAddress(row.id, ip, containerId)) return ip;
      if (requested) break;
    }
    throw invalidArgument(`Address already in use${requested ? `: ${requested}` : ''}`);
  }

  private publishedElsewhere(exceptId: string): ResolvedPort[] {
    const out: ResolvedPort[] = [];
    for (const sb of this.active.values()) if (sb.containerId !== exceptId) out.push(...sb.ports);
    return out;
  }

  /** Picks host ports: given ones must be free (else Docker's "port is already allocated"), a range's first free, 0 any free. */
  private async reservePorts(c: ContainerNetInput, sandbox: ActiveSandbox): Promise<ResolvedPort[]> {
    const wanted = wantedPorts(c.portBindings, c.exposedPorts, c.publishAll);
    for (const w of wanted) {
      const taken = (): ResolvedPort[] => [...this.publishedElsewhere(c.id), ...sandbox.ports];
      let hostPort: number | undefined;
      const [lo, hi] = w.hostRange;
      if (lo !== 0 && lo === hi) {
        const p = { protocol: w.protocol, hostIp: w.hostIp, hostPort: lo };
        if (taken().some((t) => portsClash(t, p))) throw new BerthError('conflict', `driver failed programming external connectivity on endpoint ${c.name}: ${portAllocatedMessage(p)}`);
        hostPort = lo;
      } else if (lo !== 0) {
        for (let port = lo; port <= hi && hostPort === undefined; port++) {
          if (!taken().some((t) => portsClash(t, { protocol: w.protocol, hostIp: w.hostIp, hostPort: port }))) hostPort = port;
        }
        if (hostPort === undefined) throw new BerthError('conflict', `driver failed programming external connectivity on endpoint ${c.name}: ${portAllocatedMessage({ hostIp: w.hostIp, hostPort: lo })}`);
      } else {
        for (let attempt = 0; attempt < 20 && hostPort === undefined; attempt++) {
          const port = await this.driver.freeHostPort(w.protocol, w.hostIp);
          if (!taken().some((t) => portsClash(t, { protocol: w.protocol, hostIp: w.hostIp, hostPort: port }))) hostPort = port;
        }
        if (hostPort === undefined) throw new BerthError('unavailable', 'no free host port found');
      }
      sandbox.ports.push({ key: w.key, protocol: w.protocol, containerPort: w.containerPort, hostIp: w.hostIp, hostPort });
    }
    return sandbox.ports;
  }

  /** /etc/hosts lines for `--link name[:alias]` to running containers. */
  private linkEntries(links: readonly string[]): Array<{ ip: string; alias: string; id: string; name: string }> {
    const out: Array<{ ip: string; alias: string; id: string; name: string }> = [];
    for (const l of links) {
      const { target, alias } = parseLink(l);
      const peer = this.lookup.peer(target);
      if (!peer.running) throw invalidArgument(`Cannot link to a non running container: /${peer.name} AS ${alias}`);
      const ip = this.active.get(peer.id)?.endpoints[0]?.ep.ip;
      if (ip) out.push({ ip, alias, id: peer.id, name: peer.name });
    }
    return out;
  }

  /** Takes the container off its networks: sandbox, veths, port rules and addresses. No-op when it has none. */
  async release(containerId: string): Promise<void> {
    const sb = this.active.get(containerId);
    this.active.delete(containerId);
    this.records.releaseAddresses(containerId);
    if (!sb) return;
    await this.driver.removeSandbox(containerId);
    for (const e of sb.endpoints) this.events.publish('network', 'disconnect', e.networkId, { container: containerId, name: e.networkName, type: 'bridge' });
  }

  /** Whether berth holds a sandbox for this container (it runs on a bridge network). */
  hasSandbox(containerId: string): boolean {
    return this.active.has(containerId);
  }

  /**
   * At daemon start: the running containers' endpoints as their documents say, handed to the driver so it removes
   * what no longer belongs and restores the rest; then the DNS servers.
   */
  async reconcile(running: Array<{ id: string; name: string; settings: NetworkSettings; exposed: Record<string, unknown> | undefined }>): Promise<void> {
    this.active.clear();
    const endpoints: Endpoint[] = [];
    const sandboxes: string[] = [];
    const keep = new Set<string>();
    for (const c of running) {
      if (!c.settings.SandboxKey) continue;
      const sb: ActiveSandbox = { containerId: c.id, name: c.name, path: c.settings.SandboxKey, endpoints: [], ports: [] };
      let i = 0;
      for (const [netName, s] of Object.entries(c.settings.Networks)) {
        const row = this.records.get(s.NetworkID);
        if (!row || !s.IPAddress || row.doc.Driver !== 'bridge') continue;
        const ep: Endpoint = { containerId: c.id, network: this.bridgeOf(row), ifName: `eth${i++}`, ip: s.IPAddress, prefixLen: s.IPPrefixLen, mac: s.MacAddress, defaultRoute: !!s.Gateway, ports: [] };
        sb.endpoints.push({ networkId: row.id, networkName: netName, endpointId: s.EndpointID, aliases: s.Aliases ?? [], ep });
      }
      sb.ports.push(...publishedFromView(c.settings.Ports));
      if (sb.endpoints[0]) sb.endpoints[0].ep.ports = sb.ports.map(toPublished);
      endpoints.push(...sb.endpoints.map((e) => e.ep));
      sandboxes.push(sb.path);
      keep.add(c.id);
      this.active.set(c.id, sb);
    }
    for (const holder of this.records.holders()) if (!keep.has(holder)) this.records.releaseAddresses(holder);
    const bridges = this.records.list().filter((r) => r.doc.Driver === 'bridge').map((r) => this.bridgeOf(r));
    await this.driver.reconcile({ networks: bridges, endpoints, sandboxes });
    for (const b of bridges) await this.driver.ensureNetwork(b);
    if (this.dns) {
      for (const r of this.records.list()) {
        if (r.doc.Driver !== 'bridge' || r.doc.Berth.predefined) continue;
        await this.dns.listen(r.id, r.doc.IPAM.Config[0]!.Gateway).catch((e: Error) => this.opts.log('warn', `DNS on network ${r.name}: ${e.message}`));
      }
    }
  }

  /**
   * At daemon shutdown: with no container running, the bridges and their rules go too (the next start makes them
   * again), so a stopped berthd leaves nothing in the kernel. With containers running, everything stays for them.
   */
  async shutdown(): Promise<void> {
    if (this.active.size > 0) return;
    for (const r of this.records.list()) if (r.doc.Driver === 'bridge') await this.driver.removeNetwork(this.bridgeOf(r));
  }

  /** The embedded DNS server's question: which addresses does `name` have on this network (running containers only). */
  lookupName(networkId: string, name: string): string[] {
    const row = this.records.get(networkId);
    if (!row || row.doc.Berth.predefined) return [];
    let q = name.toLowerCase().replace(/\.$/, '');
    const suffix = `.${row.name.toLowerCase()}`;
    if (q.endsWith(suffix)) q = q.slice(0, -suffix.length);
    const out: string[] = [];
    for (const sb of this.active.values()) {
      for (const e of sb.endpoints) {
        if (e.networkId !== networkId) continue;
        const names = [sb.name, ...e.aliases, sb.containerId.slice(0, 12)].map((n) => n.toLowerCase());
        if (names.includes(q)) out.push(e.ep.ip);
      }
    }
    return out;
  }

  // ---- connect / disconnect ---------------------------------------------------------------------------------------

  async connect(netRef: string, containerRef: string, cfg: Partial<EndpointSettings> = {}): Promise<void> {
    const row = this.resolve(netRef);
    if (row.doc.Driver !== 'bridge') throw new BerthError('forbidden', `container cannot be disconnected from host network or connected to host network`);
    let containerId = '';
    await this.lookup.withNetworkSettings(containerRef, async (c) => {
      containerId = c.id;
      if (c.networkMode === 'host' || c.networkMode === 'none' || c.networkMode.startsWith('container:')) {
        throw new BerthError('forbidden', 'container sharing network namespace with another container or host cannot be connected to any other network');
      }
      if (Object.values(c.settings.Networks).some((e) => e.NetworkID === row.id) || c.settings.Networks[row.name]) {
        throw new BerthError('forbidden', `endpoint with name ${c.name} already exists in network ${row.name}`);
      }
      const ep = this.endpointConfig(row, cfg);
      if (!c.running) {
        c.settings.Networks[row.name] = ep;
        return;
      }
      const sb = this.active.get(c.id);
      if (!sb?.path) throw conflict(`container ${c.id} has no network sandbox to connect`);
      const bridge = this.bridgeOf(row);
      const ip = this.claimAddress(row, c.id, ep.IPAMConfig?.IPv4Address);
      const used = new Set(sb.endpoints.map((e) => e.ep.ifName));
      let n = 0;
      while (used.has(`eth${n}`)) n++;
      const endpoint: Endpoint = {
        containerId: c.id, network: bridge, ifName: `eth${n}`, ip, prefixLen: prefixLength(bridge.subnet), mac: ep.MacAddress || macFromIp(ip),
        defaultRoute: !bridge.internal && !sb.endpoints.some((e) => e.ep.defaultRoute), ports: [],
      };
      try {
        await this.driver.attach(sb.path, endpoint);
      } catch (err) {
        this.records.releaseAddress(row.id, c.id);
        throw err;
      }
      const endpointId = newId();
      const aliases = [...(ep.Aliases ?? [])];
      sb.endpoints.push({ networkId: row.id, networkName: row.name, endpointId, aliases, ep: endpoint });
      c.settings.Networks[row.name] = {
        ...ep, EndpointID: endpointId, Gateway: bridge.internal ? '' : bridge.gateway, IPAddress: ip, IPPrefixLen: endpoint.prefixLen, MacAddress: endpoint.mac,
        DNSNames: [...new Set([c.name, ...aliases, c.id.slice(0, 12)])],
      };
    });
    this.events.publish('network', 'connect', row.id, { container: containerId, name: row.name, type: row.doc.Driver });
  }

  async disconnect(netRef: string, containerRef: string, force = false): Promise<void> {
    let row: Row | undefined;
    try {
      row = this.resolve(netRef);
    } catch (err) {
      if (!force) throw err;
    }
    let containerId = '';
    await this.lookup.withNetworkSettings(containerRef, async (c) => {
      containerId = c.id;
      const name = row?.name ?? netRef;
      if (row && row.doc.Driver !== 'bridge') throw new BerthError('forbidden', 'container cannot be disconnected from host network or connected to host network');
      const key = Object.keys(c.settings.Networks).find((k) => k === name || (row && c.settings.Networks[k]!.NetworkID === row.id));
      if (!key) throw new BerthError('forbidden', `container ${c.id} is not connected to network ${name}`);
      delete c.settings.Networks[key];
      if (!c.running || !row) return;
      const sb = this.active.get(c.id);
      const idx = sb?.endpoints.findIndex((e) => e.networkId === row!.id) ?? -1;
      if (sb && idx >= 0) {
        const [e] = sb.endpoints.splice(idx, 1);
        await this.driver.detach(sb.path, e!.ep).catch((err: Error) => {
          if (!force) throw err;
        });
      }
      this.records.releaseAddress(row.id, c.id);
      if (key === 'bridge') Object.assign(c.settings, { EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' });
    });
    if (row) this.events.publish('network', 'disconnect', row.id, { container: containerId, name: row.name, type: row.doc.Driver });
  }

  /** What `docker port` reads: the live published ports of a container. */
  publishedPorts(containerId: string): ResolvedPort[] {
    return this.active.get(containerId)?.ports ?? [];
  }
}

function toPublished(p: ResolvedPort): PublishedPort {
  return { protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort };
}

/** '--link name:alias' or Docker's normalized '/name:/container/alias'. */
export function parseLink(link: string): { target: string; alias: string } {
  const [rawTarget = '', rawAlias] = link.split(':');
  const target = rawTarget.replace(/^\//, '');
  const alias = rawAlias ? rawAlias.split('/').pop()! : target;
  if (!target) throw invalidArgument(`invalid link: ${link}`);
  return { target, alias };
}

function safeRegex(s: string): RegExp | undefined {
  try {
    return new RegExp(s);
  } catch {
    return undefined;
  }
}

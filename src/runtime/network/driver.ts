import { readFile, writeFile } from 'node:fs/promises';
import { conflict } from '../../errors.js';
import { execChecked, execTool } from './exec.js';
import {
  addPortsScript,
  baseScript,
  deleteTablesScript,
  filterSyncScript,
  networkScript,
  parseFilterTable,
  rebuildScript,
  removeNetworkScript,
  removePortsScript,
} from './firewall.js';
import { bridgeBatch, hostVethBatch, parseHostRoutes, parseLinks, sandboxBatch } from './links.js';
import { aliasOwner, checkInstance, hostVethName, sandboxDir, sandboxPath } from './names.js';
import { createNetns, listNetns, removeNetns } from './netns.js';
import { ephemeralRange, pickFreePort } from './ports.js';
import type { BridgeNetwork, Endpoint, NetworkDriver } from './types.js';

export type NetworkLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface NetworkDriverOptions {
  /** Short tag (<= 8 chars [a-z0-9]) unique per daemon; every link, table and sandbox carries it. */
  instance: string;
  /** Daemon-private directory; sandboxes are bind mounts under `<runDir>/netns`. */
  runDir: string;
  log: NetworkLog;
}

const ip = (args: string[], input?: string): Promise<string> => execChecked('ip', args, input);
const nft = (script: string): Promise<string> => (script ? execChecked('nft', ['-f', '-'], script) : Promise.resolve(''));

async function writeSysctl(path: string, value: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current?.trim() !== value) await writeFile(path, value);
}

async function readAlias(bridge: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/class/net/${bridge}/ifalias`, 'utf8')).trim();
  } catch {
    return undefined; // no such link
  }
}

/** `nft -j list table ip filter`, '' when Docker's (iptables-nft) filter table does not exist. */
async function listFilterTable(): Promise<string> {
  const r = await execTool('nft', ['-j', 'list', 'table', 'ip', 'filter']);
  return r.code === 0 ? r.stdout : '';
}

export function createNetworkDriver(opts: NetworkDriverOptions): NetworkDriver {
  const instance = checkInstance(opts.instance);
  const netnsDir = sandboxDir(opts.runDir);
  const log = opts.log;
  /** Endpoints attached by this driver (or declared live at reconcile), by container: removal needs their ports. */
  const attached = new Map<string, Endpoint[]>();
  /** Networks ensured (or declared live) and not removed: when the last goes, so do the tables. */
  const networks = new Map<string, BridgeNetwork>();
  let baseReady: Promise<void> | undefined;
  let portCursor = 0;

  const ensureBase = (): Promise<void> => {
    const ready = (baseReady ??= nft(baseScript(instance)).then(
      () => undefined,
      (e: unknown) => {
        baseReady = undefined;
        throw e;
      },
    ));
    return ready;
  };

  const publishedKeys = (): Set<string> => {
    const keys = new Set<string>();
    for (const eps of attached.values()) for (const ep of eps) for (const p of ep.ports) keys.add(`${p.protocol}/${p.hostPort}`);
    return keys;
  };

  async function syncFilter(nets: BridgeNetwork[], scope: Set<string> | 'all'): Promise<void> {
    const json = await listFilterTable();
    if (!json) return;
    const script = filterSyncScript(parseFilterTable(json, instance), instance, nets, scope);
    if (script) {
      log('info', `network: updating accept rules in ip filter for ${nets.map((n) => n.bridge).join(', ') || 'removed networks'}`);
      await nft(script);
    }
  }

  async function ensureBridge(net: BridgeNetwork): Promise<void> {
    const alias = await readAlias(net.bridge);
    const owner = aliasOwner(instance, alias);
    if (owner.kind === 'other-instance' || owner.kind === 'veth') {
      throw conflict(`bridge ${net.bridge} belongs to another berth daemon (${alias})`);
    }
    await ip(['-batch', '-'], bridgeBatch(instance, net, alias !== undefined));
    await writeSysctl(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
  }

  async function ensureNetwork(net: BridgeNetwork): Promise<void> {
    await writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
    networks.set(net.id, net);
    await Promise.all([
      ensureBridge(net),
      // The base goes along every time: idempotent, and it heals a table flushed behind our back.
      nft(baseScript(instance) + networkScript(instance, net)),
      syncFilter([net], new Set([net.id.slice(0, 12)])),
    ]);
  }

  async function removeNetwork(net: BridgeNetwork): Promise<void> {
    for (const [cid, eps] of attached) {
      const rest = eps.filter((e) => e.network.id !== net.id);
      if (rest.length) attached.set(cid, rest);
      else attached.delete(cid);
    }
    const linkGone = async (): Promise<void> => {
      const owner = aliasOwner(instance, await readAlias(net.bridge));
      if (owner.kind !== 'bridge') return; // absent, or not ours to delete
      const r = await execTool('ip', ['link', 'del', 'dev', net.bridge]);
      if (r.code !== 0 && (await readAlias(net.bridge)) !== undefined) throw new Error(`ip link del ${net.bridge}: ${r.stderr.trim()}`);
    };
    networks.delete(net.id);
    let script = removeNetworkScript(instance, net);
    if (networks.size === 0 && attached.size === 0) {
      script = deleteTablesScript(instance);
      baseReady = undefined;
    }
    await Promise.all([linkGone(), nft(script), syncFilter([], new Set([net.id.slice(0, 12)]))]);
  }

  async function createSandbox(containerId: string): Promise<string> {
    const path = sandboxPath(opts.runDir, containerId);
    await createNetns(netnsDir, path);
    return path;
  }

  async function removeSandbox(containerId: string): Promise<void> {
    const eps = attached.get(containerId) ?? [];
    attached.delete(containerId);
    await Promise.all([
      removeNetns(sandboxPath(opts.runDir, containerId)),
      eps.some((e) => e.ports.length) ? ensureBase().then(() => nft(removePortsScript(instance, eps))) : undefined,
    ]);
  }

  async function attach(path: string, ep: Endpoint): Promise<void> {
    const links = async (): Promise<void> => {
      await ip(['-batch', '-'], hostVethBatch(instance, path, ep));
      await execChecked('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], sandboxBatch(ep));
    };
    const ports = ep.ports.length ? ensureBase().then(() => nft(addPortsScript(instance, [ep]))) : undefined;
    const results = await Promise.allSettled([links(), ports]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Leave nothing half-made: the caller's error path may never call detach.
      await undoAttach(ep).catch((e: unknown) => log('warn', `network: undoing failed attach of ${ep.containerId}: ${String(e)}`));
      throw failed.reason;
    }
    const list = attached.get(ep.containerId)?.filter((e) => e.network.id !== ep.network.id) ?? [];
    attached.set(ep.containerId, [...list, ep]);
  }

  async function undoAttach(ep: Endpoint): Promise<void> {
    const veth = hostVethName(ep.containerId, ep.network.id);
    await Promise.all([
      execTool('ip', ['link', 'del', 'dev', veth]),
      ep.ports.length ? ensureBase().then(() => nft(removePortsScript(instance, [ep]))) : undefined,
    ]);
  }

  async function detach(_path: string, ep: Endpoint): Promise<void> {
    const known = attached.get(ep.containerId)?.find((e) => e.network.id === ep.network.id);
    // Remove the ports that were published (attach's), falling back to what the caller passes.
    await undoAttach(known ?? ep);
    const rest = attached.get(ep.containerId)?.filter((e) => e.network.id !== ep.network.id) ?? [];
    if (rest.length) attached.set(ep.containerId, rest);
    else attached.delete(ep.containerId);
  }

  async function reconcile(live: { networks: BridgeNetwork[]; endpoints: Endpoint[]; sandboxes: string[] }): Promise<void> {
    const liveSandboxes = new Set(live.sandboxes);
    const liveBridges = new Set(live.networks.map((n) => n.bridge));
    const liveContainers = new Set(live.endpoints.map((e) => e.containerId));
    for (const p of live.sandboxes) liveContainers.add(p.slice(p.lastIndexOf('/') + 1));

    for (const name of await listNetns(netnsDir)) {
      const path = sandboxPath(opts.runDir, name);
      if (liveSandboxes.has(path)) continue;
      log('info', `network: removing stale sandbox ${path}`);
      await removeNetns(path);
    }

    const links = parseLinks(await ip(['-j', 'link', 'show']));
    const dels: string[] = [];
    for (const link of links) {
      const owner = aliasOwner(instance, link.alias);
      if (owner.kind === 'bridge' && !liveBridges.has(link.name)) dels.push(link.name);
      if (owner.kind === 'veth' && !liveContainers.has(owner.containerId)) dels.push(link.name);
    }
    if (dels.length) {
      log('info', `network: removing stale links ${dels.join(', ')}`);
      // -force: a veth may vanish on its own once its namespace is gone.
      await execTool('ip', ['-force', '-batch', '-'], dels.map((d) => `link del dev ${d}`).join('\n') + '\n');
    }

    if (live.networks.length) await writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
    await Promise.all(live.networks.map((n) => ensureBridge(n)));
    const empty = live.networks.length === 0 && live.endpoints.length === 0;
    const rebuilt = nft(rebuildScript(instance, live.networks, live.endpoints)).then(() => undefined);
    baseReady = empty ? undefined : rebuilt;
    await rebuilt;
    await syncFilter(live.networks, 'all');

    networks.clear();
    for (const n of live.networks) networks.set(n.id, n);
    attached.clear();
    for (const ep of live.endpoints) attached.set(ep.containerId, [...(attached.get(ep.containerId) ?? []), ep]);
  }

  async function hostRoutes(): Promise<string[]> {
    const [routes, addrs] = await Promise.all([ip(['-j', '-4', 'route', 'show', 'table', 'main']), ip(['-j', '-4', 'addr', 'show'])]);
    return parseHostRoutes(routes, addrs);
  }

  async function freeHostPort(protocol: 'tcp' | 'udp', hostIp: string): Promise<number> {
    const taken = publishedKeys();
    const range = await ephemeralRange();
    const { port, next } = await pickFreePort(protocol, hostIp, range, portCursor, (k) => taken.has(k));
    portCursor = next;
    return port;
  }

  return { ensureNetwork, removeNetwork, createSandbox, removeSandbox, attach, detach, reconcile, hostRoutes, freeHostPort };
}

import { parseCidr, formatCidr } from './cidr.js';
import { bridgeAlias, hostVethName, vethAlias } from './names.js';
import type { BridgeNetwork, Endpoint } from './types.js';

/**
 * iproute2 batch scripts (one `ip -batch -` exec each) and parsers for `ip -j` output. Pure text in, text out,
 * so they are unit-tested without root.
 */

/** Creates (when `exists` is false) and configures the bridge: alias tag, mtu, gateway address, up. */
/** 02:42 followed by the IPv4 address's four bytes. */
export function gatewayMac(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

export function bridgeBatch(instance: string, net: BridgeNetwork, exists: boolean): string {
  const prefixLen = parseCidr(net.subnet).prefixLen;
  const lines: string[] = [];
  if (!exists) lines.push(`link add name ${net.bridge} mtu ${net.mtu} type bridge`);
  // A bridge without an address of its own takes its lowest port's MAC, which changes when that container leaves, and
  // the others lose the gateway (and DNS) until their ARP entries expire: pin it, derived from the gateway as Docker does.
  lines.push(`link set dev ${net.bridge} address ${gatewayMac(net.gateway)} alias ${bridgeAlias(instance)} mtu ${net.mtu} up`);
  lines.push(`addr replace ${net.gateway}/${prefixLen} dev ${net.bridge}`);
  return lines.join('\n') + '\n';
}

/**
 * Host half of attach: the veth pair is created with its peer already inside the sandbox (named, MAC'd), and the host
 * end enslaved and up in the same request. Hairpin lets a container reach its own published port through the host's
 * address when br_netfilter bridges the DNAT'd packet back out the port it came in on.
 */
export function hostVethBatch(instance: string, sandboxPath: string, ep: Endpoint): string {
  const veth = hostVethName(ep.containerId, ep.network.id);
  const mtu = ep.network.mtu;
  return (
    [
      `link add ${veth} mtu ${mtu} master ${ep.network.bridge} up type veth peer name ${ep.ifName} address ${ep.mac} mtu ${mtu} netns ${sandboxPath}`,
      `link set dev ${veth} alias ${vethAlias(instance, ep.containerId)}`,
      `link set dev ${veth} type bridge_slave hairpin on`,
    ].join('\n') + '\n'
  );
}

/** Container half of attach, run inside the sandbox: address, up, default route. */
export function sandboxBatch(ep: Endpoint): string {
  const lines = [`addr add ${ep.ip}/${ep.prefixLen} dev ${ep.ifName}`, `link set dev ${ep.ifName} up`];
  if (ep.defaultRoute && !ep.network.internal) lines.push(`route replace default via ${ep.network.gateway} dev ${ep.ifName}`);
  return lines.join('\n') + '\n';
}

/** A link as `ip -j link show` describes it (only what berth reads). */
export interface LinkInfo {
  name: string;
  alias?: string;
  master?: string;
}

export function parseLinks(json: string): LinkInfo[] {
  const rows = JSON.parse(json || '[]') as unknown;
  if (!Array.isArray(rows)) return [];
  const links: LinkInfo[] = [];
  for (const row of rows as Array<Record<string, unknown>>) {
    if (typeof row.ifname !== 'string') continue;
    const link: LinkInfo = { name: row.ifname };
    if (typeof row.ifalias === 'string') link.alias = row.ifalias;
    if (typeof row.master === 'string') link.master = row.master;
    links.push(link);
  }
  return links;
}

/**
 * IPv4 CIDRs from `ip -j -4 route show table main` and `ip -j -4 addr show`: route destinations (not 'default') and
 * the networks of assigned addresses, deduplicated, in first-seen order.
 */
export function parseHostRoutes(routesJson: string, addrsJson: string): string[] {
  const seen = new Set<string>();
  const add = (cidr: string): void => {
    try {
      seen.add(formatCidr(parseCidr(cidr)));
    } catch {
      // not IPv4 (or unparsable): IPAM only deals in IPv4 pools
    }
  };
  const routes = JSON.parse(routesJson || '[]') as Array<Record<string, unknown>>;
  for (const r of Array.isArray(routes) ? routes : []) {
    if (typeof r.dst === 'string' && r.dst !== 'default') add(r.dst);
  }
  const ifaces = JSON.parse(addrsJson || '[]') as Array<Record<string, unknown>>;
  for (const iface of Array.isArray(ifaces) ? ifaces : []) {
    const infos = Array.isArray(iface.addr_info) ? (iface.addr_info as Array<Record<string, unknown>>) : [];
    for (const a of infos) {
      if (a.family === 'inet' && typeof a.local === 'string' && typeof a.prefixlen === 'number') add(`${a.local}/${a.prefixlen}`);
    }
  }
  return [...seen];
}

import { isIpv4, parseCidr, formatCidr } from './cidr.js';
import { filterComment, netChain, tableName } from './names.js';
import type { BridgeNetwork, Endpoint, PublishedPort } from './types.js';

/**
 * nftables scripts (fed to one `nft -f -` per operation). Layout of this instance's tables:
 *
 *   table ip berth_<i>
 *     map ports      host address . protocol . host port -> container address . container port (interval keys,
 *                    so '' = 0.0.0.0/0 = every host address)
 *     dnat_pre/out   one static rule each: local destination -> DNAT through the map (outside and host traffic)
 *     post_<net>     per network: masquerade out of the host, 127.0.0.0/8 sources sent to the bridge (published
 *                    ports on 127.0.0.1 via route_localnet), hairpin (container to a published port on its own bridge)
 *     fwd_<net>      internal networks: nothing in or out of the bridge; icc=false: nothing from the bridge to itself
 *                    (seen by the ip forward hook only with br_netfilter, as with Docker: `meta ibrname` in a bridge
 *                    table would not need it, but this kernel lacks nft_meta_bridge)
 *
 * Per-network rules live in their own base chains and ports in map elements, so adding or removing either is one
 * transaction that names exactly those objects, with no rule handles to remember. `add` of an existing chain or
 * element is a no-op, so "add, flush/delete" makes removals idempotent on nft 1.0.6 (which lacks `destroy`).
 */

const ANY = '0.0.0.0/0';

export function baseScript(instance: string): string {
  const t = tableName(instance);
  const dnat = 'fib daddr type local meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport map @ports';
  return [
    `add table ip ${t}`,
    `add map ip ${t} ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; flags interval; }`,
    `add chain ip ${t} dnat_pre { type nat hook prerouting priority dstnat; policy accept; }`,
    `flush chain ip ${t} dnat_pre`,
    `add rule ip ${t} dnat_pre ${dnat}`,
    `add chain ip ${t} dnat_out { type nat hook output priority -100; policy accept; }`,
    `flush chain ip ${t} dnat_out`,
    `add rule ip ${t} dnat_out ${dnat}`,
    '',
  ].join('\n');
}

const q = (name: string): string => JSON.stringify(name);

const HOOKS = {
  post: 'type nat hook postrouting priority srcnat',
  fwd: 'type filter hook forward priority filter',
} as const;

function chainLines(table: string, chain: string, hook: string, rules: string[]): string[] {
  const head = `add chain ip ${table} ${chain} { ${hook}; policy accept; }`;
  const flush = `flush chain ip ${table} ${chain}`;
  if (rules.length === 0) return [head, flush, `delete chain ip ${table} ${chain}`];
  return [head, flush, ...rules.map((r) => `add rule ip ${table} ${chain} ${r}`)];
}

/** The rules of one network, replacing whatever its chains held (so a changed option takes effect). */
export function networkScript(instance: string, net: BridgeNetwork): string {
  const t = tableName(instance);
  const br = q(net.bridge);
  const subnet = formatCidr(parseCidr(net.subnet));
  const post: string[] = [];
  const fwd: string[] = [];
  if (net.internal) {
    fwd.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
  } else {
    if (net.masquerade) post.push(`ip saddr ${subnet} oifname != ${br} masquerade`);
    post.push(`oifname ${br} ip saddr 127.0.0.0/8 masquerade`, `oifname ${br} ip saddr ${subnet} ct status dnat masquerade`);
  }
  if (!net.icc) fwd.push(`iifname ${br} oifname ${br} drop`);
  return [...chainLines(t, netChain('post', net.id), HOOKS.post, post), ...chainLines(t, netChain('fwd', net.id), HOOKS.fwd, fwd), ''].join('\n');
}

export function removeNetworkScript(instance: string, net: Pick<BridgeNetwork, 'id'>): string {
  const t = tableName(instance);
  const lines = [...chainLines(t, netChain('post', net.id), HOOKS.post, []), ...chainLines(t, netChain('fwd', net.id), HOOKS.fwd, [])];
  return lines.join('\n') + '\n';
}

/** The map key of a published port, or undefined for a host address nft's ip table cannot hold (IPv6). */
export function portKey(p: PublishedPort): string | undefined {
  const host = p.hostIp === '' || p.hostIp === '0.0.0.0' ? ANY : p.hostIp;
  if (host !== ANY && !isIpv4(host)) return undefined;
  return `${host} . ${p.protocol} . ${p.hostPort}`;
}

export function portElements(ep: Endpoint): string[] {
  const out: string[] = [];
  for (const p of ep.ports) {
    const key = portKey(p);
    if (key) out.push(`${key} : ${ep.ip} . ${p.containerPort}`);
  }
  return out;
}

export function addPortsScript(instance: string, eps: Endpoint[]): string {
  const elems = eps.flatMap(portElements);
  if (elems.length === 0) return '';
  return `add element ip ${tableName(instance)} ports { ${elems.join(', ')} }\n`;
}

/** Deletes exactly these endpoints' ports; adding them first makes it a no-op when they are already gone. */
export function removePortsScript(instance: string, eps: Endpoint[]): string {
  const elems = eps.flatMap(portElements);
  if (elems.length === 0) return '';
  const t = tableName(instance);
  const keys = elems.map((e) => e.slice(0, e.indexOf(' : ')));
  return `add element ip ${t} ports { ${elems.join(', ')} }\ndelete element ip ${t} ports { ${keys.join(', ')} }\n`;
}

/** Removes the instance's table (no-op when absent). */
export function deleteTablesScript(instance: string): string {
  const t = tableName(instance);
  return `add table ip ${t}\ndelete table ip ${t}\n`;
}

/** One atomic transaction replacing everything of the instance with exactly `nets` and `eps` (no table at all when
 * both are empty, so a daemon with no networks leaves nothing in the ruleset). */
export function rebuildScript(instance: string, nets: BridgeNetwork[], eps: Endpoint[]): string {
  if (nets.length === 0 && eps.length === 0) return deleteTablesScript(instance);
  return deleteTablesScript(instance) + baseScript(instance) + nets.map((n) => networkScript(instance, n)).join('') + addPortsScript(instance, eps);
}

// ---- Docker's `table ip filter` (iptables-nft) ----------------------------------------------------------------

/** What berth needs to know of `nft -j list table ip filter`. */
export interface FilterTableView {
  /** FORWARD exists with policy drop: berth's bridges need explicit accepts there. */
  forwardDrops: boolean;
  /** The chain accept rules go into: DOCKER-USER when dockerd made it, else FORWARD. */
  acceptChain: string;
  /** Rules berth made earlier (by comment), with the network id prefix they were made for. */
  ours: Array<{ chain: string; handle: number; netId12: string }>;
}

export function parseFilterTable(json: string, instance: string): FilterTableView {
  const view: FilterTableView = { forwardDrops: false, acceptChain: 'FORWARD', ours: [] };
  if (!json.trim()) return view;
  const doc = JSON.parse(json) as { nftables?: Array<Record<string, Record<string, unknown>>> };
  const prefix = filterComment(instance, '');
  for (const item of doc.nftables ?? []) {
    const chain = item.chain;
    if (chain) {
      if (chain.name === 'FORWARD' && chain.policy === 'drop') view.forwardDrops = true;
      if (chain.name === 'DOCKER-USER') view.acceptChain = 'DOCKER-USER';
    }
    const rule = item.rule;
    if (rule && typeof rule.comment === 'string' && rule.comment.startsWith(prefix) && typeof rule.handle === 'number') {
      view.ours.push({ chain: String(rule.chain), handle: rule.handle, netId12: rule.comment.slice(prefix.length) });
    }
  }
  return view;
}

function acceptRules(net: BridgeNetwork): string[] {
  const br = q(net.bridge);
  if (net.internal) return [`iifname ${br} oifname ${br} accept`];
  return [`iifname ${br} accept`, `oifname ${br} ct state established,related accept`, `oifname ${br} ct status dnat accept`];
}

/**
 * Makes berth's accept rules in Docker's filter table match `nets` for the ids in `scope` (all tagged rules when
 * scope is 'all'): tagged rules of ids in scope but not in `nets` are deleted, missing ones inserted. Accepts are
 * only inserted when FORWARD drops; otherwise there is nothing to get past. '' when nothing changes.
 */
export function filterSyncScript(view: FilterTableView, instance: string, nets: BridgeNetwork[], scope: Set<string> | 'all'): string {
  const wanted = new Map(nets.map((n) => [n.id.slice(0, 12), n]));
  const inScope = (id12: string): boolean => scope === 'all' || scope.has(id12);
  const lines: string[] = [];
  const present = new Set<string>();
  for (const r of view.ours) {
    if (inScope(r.netId12) && !(view.forwardDrops && wanted.has(r.netId12))) lines.push(`delete rule ip filter ${q(r.chain)} handle ${r.handle}`);
    else present.add(r.netId12);
  }
  if (view.forwardDrops) {
    for (const [id12, net] of wanted) {
      if (present.has(id12)) continue;
      const comment = q(filterComment(instance, net.id));
      for (const rule of acceptRules(net).reverse()) lines.push(`insert rule ip filter ${q(view.acceptChain)} ${rule} comment ${comment}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

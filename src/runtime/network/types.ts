/**
 * What the engine asks of the host's network plumbing (bridges, veths, network namespaces, firewall rules).
 * Implemented on the kernel in runtime/network; the engine holds only this interface so it can be unit-tested
 * with a fake.
 */

/** A bridge network as the kernel sees it. */
export interface BridgeNetwork {
  /** Docker network ID (64 hex). */
  id: string;
  /** Linux bridge device, at most 15 chars: the default network's (daemon --bridge, 'berth0'), 'br-<id12>', or the
   * `com.docker.network.bridge.name` option. */
  bridge: string;
  /** IPv4 CIDR, e.g. '172.18.0.0/16'. */
  subnet: string;
  /** The bridge's own address inside `subnet`, e.g. '172.18.0.1'. */
  gateway: string;
  mtu: number;
  /** No route out and no NAT (`network create --internal`). */
  internal: boolean;
  /** Masquerade traffic leaving the host (com.docker.network.bridge.enable_ip_masquerade, default true). */
  masquerade: boolean;
  /** Traffic between containers of this network allowed (com.docker.network.bridge.enable_icc, default true). */
  icc: boolean;
}

/** One published port, already resolved (hostPort is never 0 here). */
export interface PublishedPort {
  protocol: 'tcp' | 'udp';
  /** '' means every host address (Docker's 0.0.0.0), including 127.0.0.1. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** A container's place on one network. */
export interface Endpoint {
  containerId: string;
  network: BridgeNetwork;
  /** Interface name inside the container: 'eth0', 'eth1', ... */
  ifName: string;
  ip: string;
  prefixLen: number;
  /** '02:42:..' as Docker derives it from the IP. */
  mac: string;
  /** The endpoint whose gateway becomes the container's default route (internal networks never get it). */
  defaultRoute: boolean;
  ports: PublishedPort[];
}

export interface NetworkDriver {
  /** Creates (idempotently) the bridge with the gateway address, up, and the network's NAT/forwarding rules. */
  ensureNetwork(net: BridgeNetwork): Promise<void>;
  /** Removes the bridge and its rules; a no-op when they are absent. */
  removeNetwork(net: BridgeNetwork): Promise<void>;
  /** A new network namespace bind-mounted at a path berth owns, with lo up; returns that path. */
  createSandbox(containerId: string): Promise<string>;
  /** Unmounts and deletes the namespace (its veths go with it) and any port rules of the container; no-op when absent. */
  removeSandbox(containerId: string): Promise<void>;
  /** A veth from the bridge into the sandbox with the endpoint's address, MAC and route; publishes its ports. */
  attach(sandboxPath: string, ep: Endpoint): Promise<void>;
  /** Reverses attach for a running container (network disconnect). */
  detach(sandboxPath: string, ep: Endpoint): Promise<void>;
  /**
   * At daemon start: removes the sandboxes, veths, bridges and firewall rules this daemon instance made that are not
   * in `live`, and re-installs the rules of those that are.
   */
  reconcile(live: { networks: BridgeNetwork[]; endpoints: Endpoint[]; sandboxes: string[] }): Promise<void>;
  /** IPv4 CIDRs routed or addressed on the host right now (IPAM skips pools that overlap them). */
  hostRoutes(): Promise<string[]>;
  /** A free host port from the ephemeral range for `-p 80` / `-P`, not in use and not published by berth. */
  freeHostPort(protocol: 'tcp' | 'udp', hostIp: string): Promise<number>;
}

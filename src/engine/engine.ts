import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RegistryClient } from '../registry/client.js';
import { ContainerRecords } from '../store/container-records.js';
import { ContentStore } from '../store/content-store.js';
import { MetadataDb } from '../store/db.js';
import { ImageRecords } from '../store/image-records.js';
import { SnapshotStore } from '../store/snapshots.js';
import { VolumeRecords } from '../store/volume-records.js';
import { BuildCacheRecords } from '../store/build-cache-records.js';
import { BuildCache } from './build/build-cache.js';
import { BuildService } from './build/build-service.js';
import { ContainerService } from './containers/container-service.js';
import type { ContainerDoc } from './containers/types.js';
import { ExecService } from './containers/exec-service.js';
import type { LogConfig } from './containers/log-config.js';
import { EventBus } from './events/event-bus.js';
import { ImageService } from './images/image-service.js';
import { ImageStore } from './images/image-store.js';
import { SystemDiskUsage } from './volumes/disk-usage.js';
import { VolumeService } from './volumes/volume-service.js';
import { NetworkService } from './networks/network-service.js';
import { NetworkRecords } from '../store/network-records.js';
import type { NetworkDoc } from './networks/types.js';
import { createNetworkDriver } from '../runtime/network/driver.js';
import { EmbeddedDns } from '../runtime/network/dns-server.js';
import { cgroupAttachWarmerForSelf } from '../runtime/cgroup-attach-warmer.js';

export interface EngineConfig {
  dataRoot: string;
  execRoot: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  defaultRuntime: string;
  logLevel: string;
  /** The default bridge network's device (daemon --bridge). */
  bridge?: string;
  /** The default bridge's address and prefix (daemon --bip). */
  bip?: string;
  /** Containers' default LogConfig (daemon --log-driver / --log-opt); json-file with no options when absent. */
  logConfig?: LogConfig;
}

/** The driver's tag on everything it makes: 'berth' for the standard exec root, else one per exec root. */
export function networkInstance(execRoot: string): string {
  if (path.resolve(execRoot) === '/run/berth') return 'berth';
  return 'b' + createHash('sha256').update(path.resolve(execRoot)).digest('hex').slice(0, 7);
}

/** The host's nameservers, which the embedded DNS server forwards to. */
function hostNameservers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  } catch {
    return [];
  }
}

export interface Engine {
  readonly config: EngineConfig;
  readonly images: ImageService;
  readonly containers: ContainerService;
  readonly execs: ExecService;
  readonly networks: NetworkService;
  readonly events: EventBus;
  readonly volumes: VolumeService;
  readonly diskUsage: SystemDiskUsage;
  readonly builds: BuildService;
  close(): Promise<void>;
}

export type EngineLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

/** Opens the data root, recovers from any crash, and wires the services. */
export async function createEngine(config: EngineConfig, log: EngineLog = () => {}): Promise<Engine> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  const db = MetadataDb.open(path.join(config.dataRoot, 'berth.db'));
  const content = new ContentStore(path.join(config.dataRoot, 'content'));
  const snapshots = new SnapshotStore(path.join(config.dataRoot, 'overlay'));
  await Promise.all([content.init(), snapshots.init()]);
  const store = new ImageStore(new ImageRecords(db), content, snapshots);
  await store.recover((m) => log('warn', m));
  const registry = new RegistryClient({
    hosts: { insecure: config.insecureRegistries, mirrors: config.registryMirrors },
    userAgent: 'berth/0.1.0',
  });
  const events = new EventBus();
  const images = new ImageService(store, registry, events, path.join(config.dataRoot, 'tmp'));
  const volumes = new VolumeService(new VolumeRecords(db), events, path.join(config.dataRoot, 'volumes'));
  await volumes.init();
  const instance = networkInstance(config.execRoot);
  const driver = createNetworkDriver({ instance, runDir: path.join(config.execRoot, 'network'), log });
  // Daemons on other exec roots (tests, side-by-side installs) must not share berth0.
  const defaultBridge = config.bridge ?? (instance === 'berth' ? 'berth0' : `${instance}0`);
  let networks: NetworkService | undefined;
  const dns = new EmbeddedDns({ upstreams: hostNameservers, lookup: (networkId, name) => networks?.lookupName(networkId, name) ?? [], log });
  networks = new NetworkService(new NetworkRecords<NetworkDoc>(db), driver, events, { defaultBridge, bip: config.bip, log }, dns);
  const containers = new ContainerService(new ContainerRecords<ContainerDoc>(db), images, events, {
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    defaultRuntime: config.defaultRuntime,
    logConfig: config.logConfig,
    runtimes: Object.fromEntries(Object.entries({ crun: '/usr/bin/crun', runc: '/usr/bin/runc' }).filter(([, p]) => existsSync(p))),
    networks,
    log,
    volumes,
    sealRuntimes: true,
    cgroupWarmer: cgroupAttachWarmerForSelf(),
  });
  networks.setContainers(containers.networkLookup());
  await networks.init();
  // Before recover: the sandboxes of containers recorded as running are known, so those that died are released.
  await networks.reconcile(containers.runningNetworkStates());
  await containers.recover();
  const builds = new BuildService(
    images,
    containers,
    new BuildCache(new BuildCacheRecords(db), (id) => images.exists(id as `sha256:${string}`)),
    path.join(config.dataRoot, 'tmp', 'build'),
    log,
  );
  const diskUsage = new SystemDiskUsage({
    images,
    containers,
    volumes,
    layerSizes: () => new Map(store.records.listLayers().map((l) => [l.chainId, l.size])),
    containerUpperDir: (id) => path.join(config.dataRoot, 'containers', id, 'upper'),
    buildCache: () => builds.diskUsage(),
  });
  const execs = new ExecService(config.execRoot, events, (ref) => containers.execTarget(ref));
  return {
    config,
    images,
    containers,
    execs,
    events,
    volumes,
    diskUsage,
    builds,
    networks,
    async close() {
      await dns.closeAll().catch(() => undefined);
      await networks!.shutdown().catch((e: Error) => log('warn', `removing idle networks: ${e.message}`));
      await registry.close();
      db.close();
    },
  };
}

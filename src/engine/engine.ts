import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RegistryClient } from '../registry/client.js';
import { ContainerRecords } from '../store/container-records.js';
import { ContentStore } from '../store/content-store.js';
import { MetadataDb } from '../store/db.js';
import { ImageRecords } from '../store/image-records.js';
import { SnapshotStore } from '../store/snapshots.js';
import { ContainerService } from './containers/container-service.js';
import type { ContainerDoc } from './containers/types.js';
import { ExecService } from './containers/exec-service.js';
import type { LogConfig } from './containers/log-config.js';
import { EventBus } from './events/event-bus.js';
import { ImageService } from './images/image-service.js';
import { ImageStore } from './images/image-store.js';

export interface EngineConfig {
  dataRoot: string;
  execRoot: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  defaultRuntime: string;
  logLevel: string;
  /** Containers' default LogConfig (daemon --log-driver / --log-opt); json-file with no options when absent. */
  logConfig?: LogConfig;
}

export interface Engine {
  readonly config: EngineConfig;
  readonly images: ImageService;
  readonly containers: ContainerService;
  readonly execs: ExecService;
  readonly events: EventBus;
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
  const containers = new ContainerService(new ContainerRecords<ContainerDoc>(db), images, events, {
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    defaultRuntime: config.defaultRuntime,
    logConfig: config.logConfig,
    runtimes: Object.fromEntries(Object.entries({ crun: '/usr/bin/crun', runc: '/usr/bin/runc' }).filter(([, p]) => existsSync(p))),
    log,
  });
  await containers.recover();
  const execs = new ExecService(config.execRoot, events, (ref) => containers.execTarget(ref));
  return {
    config,
    images,
    containers,
    execs,
    events,
    async close() {
      await registry.close();
      db.close();
    },
  };
}

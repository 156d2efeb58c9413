/**
 * berthd's lifecycle: lock the data root, bring the engine up, serve the API on each socket, and on
 * SIGTERM/SIGINT take it all down again, leaving no socket, pidfile or lock behind.
 */
import { mkdir } from 'node:fs/promises';
import { buildRouter } from '../api/routes.js';
import { ApiServer } from '../api/server.js';
import type { Engine } from '../engine/engine.js';
import { buildInfo } from '../engine/system/build-info.js';
import { loadDaemonId } from '../engine/system/daemon-id.js';
import type { DaemonConfig } from './config.js';
import { unixSocketPath } from './config.js';
import { acquireDaemonLock, removePidfile, writePidfile, type DaemonLock } from './lock.js';
import { log } from './log.js';
import { groupId, prepareSocketPath, removeSocket, secureSocket } from './socket.js';

export interface RunningDaemon {
  readonly config: DaemonConfig;
  readonly socketPaths: string[];
  /** Stops serving and releases everything; resolves when done. Safe to call more than once. */
  shutdown(): Promise<void>;
}

/** In-flight requests get this long to finish on shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 2000;

export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  log.level = config.logLevel;
  if (!config.liveRestore) log.warn('live-restore cannot be disabled: containers always outlive the daemon');
  const undo: (() => Promise<void> | void)[] = [];
  const rollback = async (): Promise<void> => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn(`cleanup step failed: ${(err as Error).message}`);
      }
    }
    undo.length = 0;
  };

  try {
    await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
    await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
    const lock: DaemonLock = acquireDaemonLock(config.dataRoot);
    undo.push(() => lock.release());
    writePidfile(config.pidfile);
    undo.push(() => removePidfile(config.pidfile));
    log.info('Starting up', { version: buildInfo().version, pid: process.pid });

    // The engine pulls in the stores and native modules: loaded only once the lock is ours.
    const [{ createEngine }, daemonId, gid] = await Promise.all([
      import('../engine/engine.js'),
      loadDaemonId(config.dataRoot),
      groupId(config.group),
    ]);
    const engine: Engine = await createEngine({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      registryMirrors: config.registryMirrors,
      insecureRegistries: config.insecureRegistries,
      defaultRuntime: config.defaultRuntime,
      logLevel: config.logLevel,
      bridge: config.bridge || undefined,
      bip: config.bip || undefined,
      logConfig: { Type: config.logDriver, Config: config.logOpts },
    }, (level, msg) => log[level](msg));
    undo.push(() => engine.close());

    const router = buildRouter(engine, {
      id: daemonId,
      build: buildInfo(),
      liveRestore: true,
      debug: config.logLevel === 'debug',
    });
    const socketPaths = config.hosts.map(unixSocketPath);
    const servers: ApiServer[] = [];
    for (const socketPath of socketPaths) {
      await prepareSocketPath(socketPath);
      const server = new ApiServer({ router, logger: log, serverVersion: buildInfo().version });
      await server.listen(socketPath);
      servers.push(server);
      undo.push(async () => {
        await server.close(SHUTDOWN_GRACE_MS);
        await removeSocket(socketPath);
      });
      await secureSocket(socketPath, gid);
    }
    log.info('Daemon has completed initialization', { startup: `${Math.round(process.uptime() * 1000)}ms` });
    for (const socketPath of socketPaths) log.info(`API listen on ${socketPath}`);

    let stopping: Promise<void> | undefined;
    return {
      config,
      socketPaths,
      shutdown: () => (stopping ??= rollback()),
    };
  } catch (err) {
    await rollback();
    throw err;
  }
}

/** Runs until SIGTERM or SIGINT, then shuts down and exits 0 (1 if shutdown failed). */
export async function runDaemon(config: DaemonConfig): Promise<void> {
  const daemon = await startDaemon(config);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log.info(`Processing signal '${signal}'`);
      daemon.shutdown().then(
        () => {
          log.info('Daemon shutdown complete');
          process.exit(0);
        },
        (err: unknown) => {
          log.error(`shutdown failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
    } else if (signals >= 3) {
      log.warn('Forcing shutdown on repeated signal');
      process.exit(1);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile as readFileAsync, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createLayerTar } from '../../store/layer-tar.js';
import path from 'node:path';
import { BerthError, conflict, invalidArgument, notFound } from '../../errors.js';
import type { ContainerRecords, ContainerRow } from '../../store/container-records.js';
import { resizeTerminal } from '../../runtime/attach-socket.js';
import { conmonCreate } from '../../runtime/conmon.js';
import { readExitCode, waitForExit } from '../../runtime/exit-watch.js';
import { cgroupVersion } from '../../runtime/host-limits.js';
import { isMounted, mountOverlay, unmount } from '../../runtime/mounts.js';
import type { CgroupAttachWarmer } from '../../runtime/cgroup-attach-warmer.js';
import { OciRuntime } from '../../runtime/oci-runtime.js';
import { sealedExecPath } from '../../runtime/sealed-binary.js';
import { SeccompBpfCache } from '../../runtime/seccomp-cache.js';
import { generateSpec, resourcesFor, specToJson, validateResources, DEFAULT_SHM_SIZE, type ContainerResources, type ContainerSpecInput, type SpecMount } from '../../runtime/oci-spec.js';
import { resolveUser } from '../../runtime/user.js';
import type { EventBus } from '../events/event-bus.js';
import { parseTimestamp } from '../images/filters.js';
import type { ImageService } from '../images/image-service.js';
import { commandOf, generateName, mergeConfig, newContainerId, normalizeHostConfig, validateName } from './container-config.js';
import { mountView, parseBindSpec, planMounts, specMountsFor, type ContainerMount } from '../volumes/mount-specs.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { ExecTarget } from './exec-service.js';
import { sampleStats } from './stats.js';
import { statsDocuments, type StatsReading } from './stats-readings.js';
import { healthCommand, intervalMs, recordProbe, runProbe, timeoutMs, type HealthConfig } from './health.js';
import { containerChanges, type Change } from './changes.js';
import type { ContainerConfig, ContainerDoc, ContainerState, CreateRequest, HostConfig } from './types.js';
import { applyChanges } from '../images/changes.js';
import { summaryOf, type ContainerSummary } from './views.js';
import type { ConnectTarget, ContainerLookup, ContainerPeer, NetNamespace, NetworkService, StartPlan } from '../networks/network-service.js';
import { containerNetInput, linksForCreate, stoppedNetworkSettings } from '../networks/container-network.js';
import { validatePortBindings } from '../networks/port-specs.js';
import { emptyNetworkSettings, type NetworkSettings } from '../networks/types.js';
import { DEFAULT_LOG_CONFIG, logDriverOf, logPolicy, resolveLogConfig, validateLogConfig, type LogConfig } from './log-config.js';
import { visitLog, type LogVisitor, type ReadLogOptions } from '../../runtime/container-log.js';
import { conmonLogSizeMax, LogRotator } from './log-rotation.js';

type Row = ContainerRow<ContainerDoc>;

const execFileAsync = promisify(execFile);

export interface ContainerServiceOptions {
  dataRoot: string;
  execRoot: string;
  defaultRuntime: string;
  runtimes: Record<string, string>;
  networks: NetworkService;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  volumes: VolumeService;
  /** The daemon's --log-driver/--log-opt: what a container gets when it names no driver. */
  logConfig?: LogConfig;
  /** Run the runtimes from sealed in-memory copies (sealed-binary.ts). */
  sealRuntimes?: boolean;
  cgroupWarmer?: CgroupAttachWarmer;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const INIT_BINARIES = ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'];

function freshState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}

/** crun's wording of an exec failure, rewritten as Docker's (the docker CLI picks exit codes 126/127 from it). */
function startFailureMessage(raw: string, cmd: string): string {
  if (/executable file `[^`]*` not found in \$PATH/.test(raw)) return `exec: "${cmd}": executable file not found in $PATH`;
  if (/No such file or directory/.test(raw)) return `exec: "${cmd}": stat ${cmd}: no such file or directory`;
  if (/Permission denied/.test(raw)) return `exec: "${cmd}": permission denied`;
  return raw.replace(/^crun create [0-9a-f]+: /, '').trim();
}

/** Exit code Docker's CLI uses when the runtime could not exec the command. */
function startFailureCode(message: string): number {
  if (/permission denied/i.test(message)) return 126;
  if (/not found|no such file/i.test(message)) return 127;
  return 128;
}

/**
 * The one model of containers: every container is an OCI bundle that crun (or runc) runs under its own conmon, which
 * keeps the exit code and the log, so a container outlives berthd and is picked up again when it restarts.
 */
export class ContainerService {
  private readonly waits = new EventEmitter();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watching = new Set<string>();
  private readonly runtimes = new Map<string, OciRuntime>();
  private readonly logRotator: LogRotator;

  constructor(
    private readonly records: ContainerRecords<ContainerDoc>,
    private readonly images: ImageService,
    private readonly events: EventBus,
    private readonly opts: ContainerServiceOptions,
  ) {
    this.waits.setMaxListeners(0);
    this.logRotator = new LogRotator((level, msg) => opts.log(level, msg));
    images.setUsage((imageId) => {
      const running: string[] = [];
      const stopped: string[] = [];
      for (const c of this.records.usingImage(imageId)) (c.doc.State.Running ? running : stopped).push(c.id);
      return { running, stopped };
    });
    opts.volumes.setUsage((name) => {
      const containers: string[] = [];
      const running: string[] = [];
      for (const r of this.records.list()) {
        if (!mountsOf(r.doc).some((m) => m.type === 'volume' && m.name === name)) continue;
        containers.push(r.id);
        if (r.doc.State.Running) running.push(r.id);
      }
      return { containers, running };
    });
  }

  private runtime(name: string): OciRuntime {
    let rt = this.runtimes.get(name);
    if (!rt) {
      const p = this.opts.runtimes[name];
      if (!p) throw invalidArgument(`unknown or invalid runtime name: ${name}`);
      rt = new OciRuntime({
        name,
        path: p,
        // Only crun and runc recognise the sealed copy; another runtime might be a script.
        execPath: this.opts.sealRuntimes && (name === 'crun' || name === 'runc') ? sealedExecPath(p) : p,
        root: path.join(this.opts.execRoot, 'runtime', name),
        cgroupWarmer: this.opts.cgroupWarmer,
      });
      this.runtimes.set(name, rt);
    }
    return rt;
  }

  private readonly seccompCaches = new Map<string, SeccompBpfCache>();

  private seccompCache(rt: OciRuntime): SeccompBpfCache {
    let cache = this.seccompCaches.get(rt.name);
    if (!cache) {
      const st = statSync(rt.path, { throwIfNoEntry: false });
      cache = new SeccompBpfCache(path.join(this.opts.execRoot, 'seccomp'), `${rt.path}:${st?.size ?? 0}:${st?.mtimeMs ?? 0}`);
      this.seccompCaches.set(rt.name, cache);
    }
    return cache;
  }

  private dirs(id: string) {
    const data = path.join(this.opts.dataRoot, 'containers', id);
    const bundle = path.join(this.opts.execRoot, 'containers', id);
    return {
      data,
      upper: path.join(data, 'upper'),
      work: path.join(data, 'work'),
      persist: path.join(data, 'persist'),
      bundle,
      rootfs: path.join(bundle, 'rootfs'),
      exits: path.join(this.opts.execRoot, 'exits'),
    };
  }

  /** One operation at a time per container (start, stop, remove and the exit handler). */
  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(id, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === next) this.locks.delete(id);
    }
  }

  /** Docker's lookup: full ID, exact name, then unique ID prefix. */
  resolve(ref: string): Row {
    const byId = /^[a-f0-9]{64}$/.test(ref) ? this.records.get(ref) : undefined;
    if (byId) return byId;
    const byName = this.records.byName(ref.replace(/^\//, ''));
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = this.records.byIdPrefix(ref);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  inspect(ref: string): Omit<ContainerDoc, 'Berth'> {
    const { Berth: _berth, ...doc } = this.resolve(ref).doc;
    return doc;
  }

  list(opts: { all?: boolean; limit?: number; filters?: Map<string, string[]> } = {}): ContainerSummary[] {
    let rows = this.records.list();
    const f = opts.filters ?? new Map<string, string[]>();
    const status = f.get('status');
    if (!opts.all && !status?.length && !(opts.limit && opts.limit > 0)) rows = rows.filter((r) => r.doc.State.Running);
    rows = rows.filter((r) => {
      if (status?.length && !status.includes(r.doc.State.Status)) return false;
      const names = f.get('name');
      if (names?.length && !names.some((n) => new RegExp(n).test(r.name))) return false;
      const ids = f.get('id');
      if (ids?.length && !ids.some((i) => r.id.startsWith(i))) return false;
      for (const l of f.get('label') ?? []) {
        const [k, v] = l.split('=', 2);
        const labels = r.doc.Config.Labels ?? {};
        if (v === undefined ? !(k in labels) : labels[k] !== v) return false;
      }
      const exited = f.get('exited');
      if (exited?.length && (r.doc.State.Status !== 'exited' || !exited.includes(String(r.doc.State.ExitCode)))) return false;
      const volumes = f.get('volume');
      if (volumes?.length && !mountsOf(r.doc).some((m) => volumes.includes(m.destination) || volumes.includes(m.name || m.source))) return false;
      const ancestor = f.get('ancestor');
      if (ancestor?.length && !ancestor.some((a) => a === r.doc.Config.Image || a === r.imageId || this.imageIdOf(a) === r.imageId)) return false;
      return true;
    });
    if (opts.limit && opts.limit > 0) rows = rows.slice(0, opts.limit);
    return rows.map((r) => summaryOf(r));
  }

  private imageIdOf(name: string): string | undefined {
    try {
      return this.images.get(name).id;
    } catch {
      return undefined;
    }
  }

  async create(req: CreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (!req.Image) throw invalidArgument('config cannot be empty in order to create a container');
    const image = this.images.get(req.Image);
    const config = mergeConfig(req, this.images.config(image));
    const { path: cmdPath, args } = commandOf(config);
    const hostConfig = normalizeHostConfig(req.HostConfig);
    hostConfig.LogConfig = resolveLogConfig(req.HostConfig?.LogConfig, this.opts.logConfig ?? DEFAULT_LOG_CONFIG);
    validateLogConfig(hostConfig.LogConfig);
    const runtimeName = (hostConfig.Runtime as string | undefined) || this.opts.defaultRuntime;
    // A start usually follows a create within milliseconds (docker run).
    this.runtime(runtimeName).expectCgroupAttach(30);
    const planned = planMounts(
      {
        binds: hostConfig.Binds ?? [],
        mounts: hostConfig.Mounts ?? [],
        volumes: Object.keys(config.Volumes ?? {}),
        tmpfs: hostConfig.Tmpfs ?? {},
        volumesFrom: hostConfig.VolumesFrom ?? [],
      },
      { mountsOf: (ref) => mountsOf(this.resolve(ref).doc), exists: (p) => existsSync(p) },
    );
    this.opts.volumes.checkMounts(planned);
    validatePortBindings(hostConfig.PortBindings as Parameters<typeof validatePortBindings>[0], config.ExposedPorts);
    const endpoints = this.opts.networks.endpointsForCreate(hostConfig.NetworkMode!, (req.NetworkingConfig as { EndpointsConfig?: Record<string, never> } | undefined)?.EndpointsConfig);

    const id = newContainerId();
    let finalName: string;
    if (name) {
      finalName = validateName(name);
      const taken = this.records.byName(finalName);
      if (taken) {
        throw conflict(
          `Conflict. The container name "/${finalName}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    } else {
      let attempt = 0;
      do finalName = generateName(attempt++);
      while (this.records.byName(finalName));
    }
    hostConfig.Links = linksForCreate((hostConfig.Links as string[] | null | undefined) ?? [], finalName, (ref) => this.resolve(ref).name);
    const d = this.dirs(id);
    const doc: ContainerDoc = {
      Id: id,
      Created: new Date().toISOString(),
      Path: cmdPath,
      Args: args,
      State: freshState(),
      Image: image.id,
      ResolvConfPath: path.join(d.data, 'resolv.conf'),
      HostnamePath: path.join(d.data, 'hostname'),
      HostsPath: path.join(d.data, 'hosts'),
      LogPath: path.join(d.data, 'ctr.log'),
      Name: `/${finalName}`,
      RestartCount: 0,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: hostConfig,
      GraphDriver: { Name: 'overlay2', Data: { UpperDir: d.upper, WorkDir: d.work, MergedDir: d.rootfs } },
      Mounts: [],
      Config: { ...config, Hostname: config.Hostname || id.slice(0, 12) },
      NetworkSettings: { ...emptyNetworkSettings(), Networks: endpoints },
      Berth: { runtime: runtimeName, layers: this.images.layerPaths(image) },
    };
    // The name is checked and taken with no await in between, so concurrent creates cannot both get it.
    this.records.insert({ id, name: finalName, imageId: image.id, createdAt: Date.now(), doc });
    try {
      await Promise.all([mkdir(d.upper, { recursive: true }), mkdir(d.work, { recursive: true }), mkdir(d.persist, { recursive: true })]);
      const mounts = await this.opts.volumes.resolveMounts(planned);
      doc.Berth.mounts = mounts;
      doc.Mounts = mounts.map(mountView);
      this.records.update(id, doc);
    } catch (err) {
      this.records.remove(id);
      await rm(d.data, { recursive: true, force: true });
      throw err;
    }
    this.events.publish('container', 'create', id, { image: config.Image, name: finalName });
    return { Id: id, Warnings: [] };
  }

  private save(row: Row): void {
    this.records.update(row.id, row.doc);
  }

  private async writeEtcFiles(row: Row, plan: StartPlan): Promise<void> {
    const doc = row.doc;
    await Promise.all([
      writeFile(doc.HostnamePath, `${doc.Config.Hostname}\n`),
      writeFile(doc.HostsPath, plan.hosts),
      writeFile(doc.ResolvConfPath, plan.resolv),
    ]);
  }

  private specInput(row: Row, user: Awaited<ReturnType<typeof resolveUser>>, netns: NetNamespace): ContainerSpecInput {
    const doc = row.doc;
    const hc = doc.HostConfig;
    const d = this.dirs(row.id);
    const bindEtc = (dest: string, src: string): SpecMount => ({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate'] });
    const mounts: SpecMount[] = [
      bindEtc('/etc/resolv.conf', doc.ResolvConfPath),
      bindEtc('/etc/hostname', doc.HostnamePath),
      bindEtc('/etc/hosts', doc.HostsPath),
    ];
    mounts.push(...specMountsFor(mountsOf(doc)));
    for (const [dest, optString] of Object.entries(hc.Tmpfs ?? {})) {
      mounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(optString ? optString.split(',') : [])] });
    }
    const security = hc.SecurityOpt ?? [];
    const seccomp = security.some((s) => /^seccomp[=:]unconfined$/.test(s)) ? 'unconfined' : 'default';
    const env = [...doc.Config.Env];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${doc.Config.Hostname}`);
    if (doc.Config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    let init: { hostPath: string } | undefined;
    if (hc.Init) {
      const bin = INIT_BINARIES.find((b) => existsSync(b));
      if (!bin) throw new BerthError('unavailable', 'no init binary (catatonit or tini) is installed for --init');
      init = { hostPath: bin };
    }
    return {
      id: row.id,
      rootfsPath: d.rootfs,
      readonlyRootfs: hc.ReadonlyRootfs ?? false,
      args: [doc.Path, ...doc.Args],
      env,
      cwd: doc.Config.WorkingDir || '/',
      user,
      terminal: doc.Config.Tty,
      hostname: doc.Config.Hostname,
      domainname: doc.Config.Domainname || undefined,
      privileged: hc.Privileged ?? false,
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      noNewPrivileges: security.some((s) => /^no-new-privileges(:true|=true)?$/.test(s)),
      seccomp,
      mounts,
      shmSize: hc.ShmSize || DEFAULT_SHM_SIZE,
      namespaces: {
        network: netns,
        pid: hc.PidMode === 'host' ? 'host' : 'private',
        ipc: hc.IpcMode === 'host' ? 'host' : 'private',
        uts: hc.UTSMode === 'host' ? 'host' : 'private',
        cgroup: hc.CgroupnsMode === 'host' ? 'host' : 'private',
      },
      resources: resourcesOf(hc),
      cgroupsPath: `/berth/${row.id}`,
      devices: (hc.Devices ?? []).map((dv) => ({ pathOnHost: dv.PathOnHost, pathInContainer: dv.PathInContainer || dv.PathOnHost, permissions: dv.CgroupPermissions || 'rwm' })),
      sysctls: hc.Sysctls ?? {},
      ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
      oomScoreAdj: hc.OomScoreAdj || undefined,
      init,
    };
  }

  /**
   * Called with the conmon attach socket before the process runs, so attached clients miss no output; called with
   * undefined when the start failed.
   */
  private beforeRun = new Map<string, Array<(attachPath: string | undefined) => Promise<void>>>();

  /** Registers a hook that runs once the container is created but before its process starts (attach). */
  onNextStart(id: string, hook: (attachPath: string | undefined) => Promise<void>): () => void {
    const list = this.beforeRun.get(id) ?? [];
    list.push(hook);
    this.beforeRun.set(id, list);
    return () => {
      const l = this.beforeRun.get(id);
      if (l) this.beforeRun.set(id, l.filter((h) => h !== hook));
    };
  }

  /** The hooks waiting for this start, each run once. */
  private takeBeforeRun(id: string): Array<(attachPath: string | undefined) => Promise<void>> {
    const hooks = this.beforeRun.get(id) ?? [];
    this.beforeRun.delete(id);
    return hooks;
  }

  async start(ref: string): Promise<void> {
    const row = this.resolve(ref);
    await this.locked(row.id, () => this.startLocked(row.id));
  }

  private async startLocked(id: string): Promise<void> {
    const row = this.records.get(id);
    if (!row) throw notFound(`No such container: ${id}`);
    if (row.doc.State.Running) throw new BerthError('not_modified', 'container already started');
    const rt = this.runtime(row.doc.Berth.runtime);
    const releaseWarm = rt.holdCgroupAttachWarm();
    try {
      await this.createAndStart(row, rt);
    } finally {
      releaseWarm();
    }
  }

  private async createAndStart(row: Row, rt: OciRuntime): Promise<void> {
    const id = row.id;
    const d = this.dirs(id);
    await mkdir(d.rootfs, { recursive: true });
    // A runtime state left from an earlier run (a crash between exit and clean-up) would make create fail.
    if (existsSync(path.join(rt.root, id))) await rt.delete(id, { force: true });
    await rm(path.join(d.exits, id), { force: true });
    if (!(await isMounted(d.rootfs))) {
      await mountOverlay({ lowerDirs: row.doc.Berth.layers, upperDir: d.upper, workDir: d.work, target: d.rootfs });
    }
    try {
      await this.opts.volumes.acquire(id, mountsOf(row.doc), d.rootfs);
      // Addresses and ports are taken and the sandbox is being made; its veths are set up while conmon creates.
      const plan = await this.opts.networks.prepareStart(containerNetInput(row.id, row.name, row.doc));
      row.doc.NetworkSettings = plan.settings;
      const [, user, netns] = await Promise.all([
        this.writeEtcFiles(row, plan),
        resolveUser(d.rootfs, row.doc.Config.User, row.doc.HostConfig.GroupAdd ?? []),
        plan.namespace,
      ]);
      const spec = generateSpec(this.specInput(row, user, netns));
      const seccompToLearn = rt.name === 'crun' ? await this.seccompCache(rt).apply(spec) : undefined;
      await writeFile(path.join(d.bundle, 'config.json'), specToJson(spec));
      const logging = logPolicy(row.doc.HostConfig.LogConfig ?? DEFAULT_LOG_CONFIG);
      const [createdResult, attached] = await Promise.allSettled([conmonCreate({
        id,
        name: row.name,
        bundle: d.bundle,
        runtime: rt,
        exitDir: d.exits,
        persistDir: d.persist,
        logPath: logging.driver === 'none' ? undefined : row.doc.LogPath,
        logMaxSize: logging.maxSize !== undefined ? conmonLogSizeMax({ maxSize: logging.maxSize, maxFile: logging.maxFile }) : undefined,
        terminal: row.doc.Config.Tty,
        stdin: row.doc.Config.OpenStdin,
        stdinOnce: row.doc.Config.StdinOnce,
      }), plan.attach()]);
      if (createdResult.status === 'rejected') throw createdResult.reason;
      if (attached.status === 'rejected') throw attached.reason;
      const created = createdResult.value;
      await Promise.all(this.takeBeforeRun(id).map((h) => h(created.attachPath).catch((e: Error) => this.opts.log('warn', `attach to ${id}: ${e.message}`))));
      if (seccompToLearn) void this.seccompCache(rt).learn(seccompToLearn, path.join(rt.root, id)).catch(() => undefined);
      row.doc.Berth.conmonPid = created.conmonPid;
      row.doc.Berth.manualStop = false;
      await rt.start(id);
      row.doc.State = {
        ...freshState(),
        Status: 'running',
        Running: true,
        Pid: created.pid,
        StartedAt: new Date().toISOString(),
        ...(healthCommand(row.doc.Config.Healthcheck as HealthConfig | undefined) ? { Health: { Status: 'starting' as const, FailingStreak: 0, Log: [] } } : {}),
      };
      this.save(row);
    } catch (err) {
      const raw = err instanceof Error ? err.message : String(err);
      const message = `failed to create task for container: OCI runtime create failed: unable to start container process: ${startFailureMessage(raw, row.doc.Path)}`;
      await Promise.all(this.takeBeforeRun(id).map((h) => h(undefined).catch(() => undefined)));
      await this.releaseRun(row, 'any');
      row.doc.State = { ...row.doc.State, Status: 'created', Running: false, Pid: 0, ExitCode: startFailureCode(message), Error: message };
      this.save(row);
      this.events.publish('container', 'die', id, { exitCode: String(row.doc.State.ExitCode), image: row.doc.Config.Image, name: row.name });
      if (row.doc.HostConfig.AutoRemove) void this.removeAfterFailedStart(id);
      if (err instanceof BerthError && err.code !== 'internal') throw err;
      throw new BerthError('invalid_argument', message, { cause: err });
    }
    this.events.publish('container', 'start', id, { image: row.doc.Config.Image, name: row.name });
    this.watchExit(id);
    this.watchLog(id);
    this.startHealthcheck(id);
  }

  /**
   * Everything a run holds, given back after its end or a failed start: the runtime's state, the root filesystem
   * mount, the network and the volumes; each part even when another fails.
   */
  private async releaseRun(row: Row, runtimeState: 'exited' | 'any'): Promise<void> {
    await Promise.all([this.releaseRoot(row, runtimeState), this.releaseNetwork(row)]);
    await this.opts.volumes.release(row.id, mountsOf(row.doc)).catch((e: Error) => this.opts.log('warn', `releasing volumes of ${row.id}: ${e.message}`));
  }

  /**
   * The runtime's state and the root filesystem mount. 'exited': the process is known gone (its exit file is there),
   * so the state is cleared without a runtime call, alongside the unmount; 'any': a process may live, so the runtime
   * kills it and deletes its state first.
   */
  private async releaseRoot(row: Row, runtimeState: 'exited' | 'any'): Promise<void> {
    const rt = this.runtime(row.doc.Berth.runtime);
    const { rootfs } = this.dirs(row.id);
    const unmountRoot = (): Promise<void> => unmount(rootfs).catch((e: Error) => this.opts.log('warn', `unmounting ${rootfs}: ${e.message}`));
    if (runtimeState === 'exited') {
      await Promise.all([rt.deleteStopped(row.id).catch(() => undefined), unmountRoot()]);
      return;
    }
    if (existsSync(path.join(rt.root, row.id))) {
      await rt.delete(row.id, { force: true }).catch((e: Error) => this.opts.log('warn', `deleting the runtime state of ${row.id}: ${e.message}`));
    }
    await unmountRoot();
  }

  /** Gives back the container's addresses, ports and sandbox; its settings keep only what a stopped container shows. */
  private async releaseNetwork(row: Row): Promise<void> {
    await this.opts.networks.release(row.id).catch((e: Error) => this.opts.log('warn', `releasing the network of ${row.id}: ${e.message}`));
    row.doc.NetworkSettings = stoppedNetworkSettings(row.doc.NetworkSettings);
  }

  /** Rotates the log of a running container that has a size limit. */
  private watchLog(id: string): void {
    const row = this.records.get(id);
    if (!row) return;
    let p: ReturnType<typeof logPolicy>;
    try {
      p = logPolicy(row.doc.HostConfig.LogConfig ?? DEFAULT_LOG_CONFIG);
    } catch {
      return;
    }
    if (p.driver === 'none' || p.maxSize === undefined) return;
    this.logRotator.watch(id, { logPath: row.doc.LogPath, ctlPath: path.join(this.dirs(id).bundle, 'ctl'), maxSize: p.maxSize, maxFile: p.maxFile });
  }

  /** Docker removes an --rm container whose start failed, once the start call has returned. */
  private async removeAfterFailedStart(id: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    await this.remove(id, { force: true }).catch((e: Error) => this.opts.log('warn', `removing ${id} after a failed start: ${e.message}`));
  }

  private readonly healthTimers = new Map<string, NodeJS.Timeout>();

  /** HEALTHCHECK: probes through conmon on the configured interval while the container runs. */
  private startHealthcheck(id: string): void {
    const row = this.records.get(id);
    const cfg = row?.doc.Config.Healthcheck as HealthConfig | undefined;
    const cmd = healthCommand(cfg);
    if (!row || !cfg || !cmd) return;
    const startedAt = Date.parse(row.doc.State.StartedAt);
    const tick = async (): Promise<void> => {
      const cur = this.records.get(id);
      if (!cur?.doc.State.Running || !cur.doc.State.Health) return;
      const d = this.dirs(id);
      const start = new Date();
      const result = await runProbe({ id, bundle: d.bundle, execRoot: this.opts.execRoot, runtime: this.runtime(cur.doc.Berth.runtime) }, cmd, timeoutMs(cfg)).catch(
        (e: Error) => ({ code: -1, output: e.message }),
      );
      const latest = this.records.get(id);
      if (!latest?.doc.State.Running || !latest.doc.State.Health) return;
      const changed = recordProbe(latest.doc.State.Health, { ...result, start }, cfg, startedAt);
      this.save(latest);
      if (changed) this.events.publish('container', `health_status: ${latest.doc.State.Health.Status}`, id, { image: latest.doc.Config.Image, name: latest.name });
      this.healthTimers.set(id, setTimeout(() => void tick(), intervalMs(cfg)).unref());
    };
    this.healthTimers.set(id, setTimeout(() => void tick(), intervalMs(cfg)).unref());
  }

  private stopHealthcheck(id: string): void {
    clearTimeout(this.healthTimers.get(id));
    this.healthTimers.delete(id);
  }

  private watchExit(id: string): void {
    if (this.watching.has(id)) return;
    this.watching.add(id);
    waitForExit(this.dirs(id).exits, id).then(
      (code) => this.onExit(id, code),
      (err: Error) => {
        this.watching.delete(id);
        this.opts.log('error', `watching ${id} for its exit failed: ${err.message}`);
      },
    );
  }

  private async onExit(id: string, code: number): Promise<void> {
    this.watching.delete(id);
    this.stopHealthcheck(id);
    this.logRotator.unwatch(id);
    await this.locked(id, async () => {
      const row = this.records.get(id);
      if (!row) return;
      const d = this.dirs(id);
      await this.releaseRun(row, 'exited');
      row.doc.State = {
        ...row.doc.State,
        Status: 'exited',
        Running: false,
        Paused: false,
        Pid: 0,
        ExitCode: code,
        OOMKilled: existsSync(path.join(d.persist, 'oom')),
        FinishedAt: new Date().toISOString(),
      };
      this.save(row);
      this.events.publish('container', 'die', id, { exitCode: String(code), image: row.doc.Config.Image, name: row.name });
      this.waits.emit(`exit:${id}`, code);
    });
    const row = this.records.get(id);
    // Docker removes an --rm container's anonymous volumes with it.
    if (row?.doc.HostConfig.AutoRemove) await this.remove(id, { force: true, volumes: true }).catch(() => undefined);
    else if (row && this.shouldRestart(row, code)) this.scheduleRestart(row);
  }

  private readonly pendingRestarts = new Map<string, NodeJS.Timeout>();

  /** Docker's restart policies: a manual stop ends "always"/"unless-stopped" until the next start. */
  private shouldRestart(row: Row, code: number): boolean {
    if (row.doc.Berth.manualStop) return false;
    const policy = row.doc.HostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    switch (policy.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure':
        return code !== 0 && (policy.MaximumRetryCount <= 0 || row.doc.RestartCount < policy.MaximumRetryCount);
      default:
        return false;
    }
  }

  /** Back-off as Docker's: 100 ms doubling up to a minute, back to 100 ms after 10 s of running. */
  private scheduleRestart(row: Row): void {
    const ranMs = Date.parse(row.doc.State.FinishedAt) - Date.parse(row.doc.State.StartedAt);
    const previous = row.doc.Berth.restartDelayMs ?? 0;
    const delay = ranMs >= 10_000 || previous === 0 ? 100 : Math.min(previous * 2, 60_000);
    row.doc.Berth.restartDelayMs = delay;
    row.doc.State = { ...row.doc.State, Restarting: true, Status: 'restarting' };
    this.save(row);
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(row.id);
      const cur = this.records.get(row.id);
      if (!cur || cur.doc.Berth.manualStop) return;
      cur.doc.RestartCount += 1;
      this.save(cur);
      this.start(row.id).catch((e: Error) => this.opts.log('warn', `restarting ${row.id}: ${e.message}`));
    }, delay);
    timer.unref();
    this.pendingRestarts.set(row.id, timer);
  }

  /** POST /containers/{id}/wait: resolves with the exit code once the condition holds. */
  wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<number> {
    const row = this.resolve(ref);
    const id = row.id;
    return new Promise<number>((resolve, reject) => {
      const done = (code: number): void => {
        cleanup();
        resolve(code);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new BerthError('unavailable', 'client went away'));
      };
      const cleanup = (): void => {
        this.waits.off(`exit:${id}`, onExit);
        this.waits.off(`removed:${id}`, onRemoved);
        signal?.removeEventListener('abort', onAbort);
      };
      let lastCode = row.doc.State.ExitCode;
      const onExit = (code: number): void => {
        lastCode = code;
        if (condition !== 'removed') done(code);
      };
      const onRemoved = (code: number): void => done(code ?? lastCode);
      this.waits.on(`exit:${id}`, onExit);
      this.waits.on(`removed:${id}`, onRemoved);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (condition === 'not-running' && !row.doc.State.Running) done(row.doc.State.ExitCode);
    });
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const row = this.resolve(ref);
    if (!row.doc.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${row.id} is not running`);
    await this.runtime(row.doc.Berth.runtime).kill(row.id, signal.replace(/^SIG/i, '').toUpperCase() || 'KILL');
    this.events.publish('container', 'kill', row.id, { image: row.doc.Config.Image, name: row.name, signal });
  }

  private exitOf(id: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waits.off(`exit:${id}`, on);
        resolve(false);
      }, ms);
      const on = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.waits.once(`exit:${id}`, on);
    });
  }

  /** Docker's stop: the stop signal, then SIGKILL after the timeout. Not running: 304. */
  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const row = this.resolve(ref);
    if (!row.doc.State.Running && row.doc.State.Restarting) {
      // Stopping a container between restarts cancels the restart.
      clearTimeout(this.pendingRestarts.get(row.id));
      this.pendingRestarts.delete(row.id);
      row.doc.Berth.manualStop = true;
      row.doc.State = { ...row.doc.State, Restarting: false, Status: 'exited' };
      this.save(row);
      return;
    }
    if (!row.doc.State.Running) throw new BerthError('not_modified', 'container already stopped');
    const rt = this.runtime(row.doc.Berth.runtime);
    const sig = (opts.signal || row.doc.Config.StopSignal || 'SIGTERM').replace(/^SIG/i, '').toUpperCase();
    const timeout = opts.timeout ?? row.doc.Config.StopTimeout ?? 10;
    row.doc.Berth.manualStop = true;
    this.save(row);
    const exited = this.exitOf(row.id, Math.max(0, timeout) * 1000);
    await rt.kill(row.id, sig);
    // A frozen process cannot act on the signal: thaw it, as Docker does.
    if (row.doc.State.Paused) await rt.resume(row.id).catch(() => undefined);
    if (!(await exited)) {
      const killed = this.exitOf(row.id, 10_000);
      await rt.kill(row.id, 'KILL');
      await killed;
    }
    this.events.publish('container', 'stop', row.id, { image: row.doc.Config.Image, name: row.name });
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const row = this.resolve(ref);
    if (row.doc.State.Running) await this.stop(row.id, opts);
    await this.start(row.id);
    this.events.publish('container', 'restart', row.id, { image: row.doc.Config.Image, name: row.name });
  }

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const row = this.resolve(ref);
    clearTimeout(this.pendingRestarts.get(row.id));
    this.pendingRestarts.delete(row.id);
    if (row.doc.State.Running) {
      if (!opts.force) {
        throw conflict(
          `cannot remove container "${row.doc.Name}": container is running: stop the container before removing or force remove`,
        );
      }
      const exited = this.exitOf(row.id, 10_000);
      await this.runtime(row.doc.Berth.runtime).kill(row.id, 'KILL');
      if (row.doc.State.Paused) await this.runtime(row.doc.Berth.runtime).resume(row.id).catch(() => undefined);
      await exited;
    }
    let files: Promise<unknown> = Promise.resolve();
    await this.locked(row.id, async () => {
      const d = this.dirs(row.id);
      // Usually already given back at the exit; a container that never ran cleanly may still hold them.
      await Promise.all([this.releaseRoot(row, 'any'), this.releaseNetwork(row)]);
      this.records.remove(row.id);
      // Nothing can name the container any more: its files go while the waiters hear of the removal (a crash in
      // between leaves directories without a record, which the next start-up removes).
      files = Promise.all([rm(d.data, { recursive: true, force: true }), rm(d.bundle, { recursive: true, force: true }), rm(path.join(d.exits, row.id), { force: true })]);
    });
    if (opts.volumes) await this.opts.volumes.removeAnonymous(mountsOf(row.doc));
    this.events.publish('container', 'destroy', row.id, { image: row.doc.Config.Image, name: row.name });
    this.waits.emit(`removed:${row.id}`, row.doc.State.ExitCode);
    await files;
  }

  async pause(ref: string): Promise<void> {
    const row = this.resolve(ref);
    await this.locked(row.id, async () => {
      const cur = this.records.get(row.id)!;
      if (!cur.doc.State.Running) throw conflict(`Container ${row.id} is not running`);
      if (cur.doc.State.Paused) throw conflict(`Container ${row.id} is already paused`);
      await this.runtime(cur.doc.Berth.runtime).pause(row.id);
      cur.doc.State = { ...cur.doc.State, Paused: true, Status: 'paused' };
      this.save(cur);
    });
    this.events.publish('container', 'pause', row.id, { image: row.doc.Config.Image, name: row.name });
  }

  async unpause(ref: string): Promise<void> {
    const row = this.resolve(ref);
    await this.locked(row.id, async () => {
      const cur = this.records.get(row.id)!;
      if (!cur.doc.State.Paused) throw conflict(`Container ${row.id} is not paused`);
      await this.runtime(cur.doc.Berth.runtime).resume(row.id);
      cur.doc.State = { ...cur.doc.State, Paused: false, Status: 'running' };
      this.save(cur);
    });
    this.events.publish('container', 'unpause', row.id, { image: row.doc.Config.Image, name: row.name });
  }

  /** POST /containers/prune: every container that is not running, as Docker does. */
  async prune(filters: Map<string, string[]> = new Map()): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const deleted: string[] = [];
    for (const row of this.records.list()) {
      if (row.doc.State.Running) continue;
      const labels = row.doc.Config.Labels ?? {};
      const has = (l: string): boolean => {
        const [k, v] = l.split('=', 2);
        return v === undefined ? k in labels : labels[k] === v;
      };
      if (!(filters.get('label') ?? []).every(has)) continue;
      if ((filters.get('label!') ?? []).some(has)) continue;
      const until = filters.get('until')?.[0];
      if (until && row.createdAt >= parseTimestamp(until)) continue;
      await this.remove(row.id);
      deleted.push(row.id);
    }
    this.events.publish('container', 'prune', '', { reclaimed: '0' });
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
  }

  /** The container's processes, for `docker top`: host `ps` filtered to the container's cgroup. */
  async top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const row = this.resolve(ref);
    if (!row.doc.State.Running) throw conflict(`Container ${row.id} is not running`);
    const pids = await containerPids(row.id, this.cgroupVersion());
    const { stdout } = await execFileAsync('ps', psArgs.split(/\s+/).filter(Boolean));
    const lines = stdout.trimEnd().split('\n');
    const titles = lines[0].trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw invalidArgument(`Couldn't find PID field in ps output`);
    const processes: string[][] = [];
    for (const line of lines.slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (!pids.has(Number(fields[pidCol]))) continue;
      // The last column (the command) may contain spaces: keep it whole.
      processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
    }
    return { Titles: titles, Processes: processes };
  }

  async changes(ref: string): Promise<Change[]> {
    const row = this.resolve(ref);
    return containerChanges(this.dirs(row.id).upper, row.doc.Berth.layers);
  }

  /**
   * The container's filesystem as a tar (docker export). A stopped container's layers are mounted read-only for the
   * time of the export.
   */
  async export(ref: string): Promise<Readable> {
    const row = this.resolve(ref);
    const d = this.dirs(row.id);
    if (row.doc.State.Running) return createLayerTar(d.rootfs);
    const target = path.join(this.opts.execRoot, 'export', `${row.id}-${Date.now()}`);
    await mkdir(target, { recursive: true });
    await mountOverlay({ lowerDirs: [d.upper, ...row.doc.Berth.layers], target });
    const tar = createLayerTar(target);
    const cleanup = (): void => {
      void unmount(target).then(() => rm(target, { recursive: true, force: true }));
    };
    tar.once('end', cleanup);
    tar.once('error', cleanup);
    tar.once('close', cleanup);
    return tar;
  }

  /**
   * Runs `fn` on the container's root filesystem: the live mount when it runs, otherwise its layers mounted for the
   * time of the call (writable through its own upper dir).
   */
  async withRootfs<T>(ref: string, fn: (root: string, label: string) => Promise<T>): Promise<T> {
    const row = this.resolve(ref);
    const d = this.dirs(row.id);
    if (row.doc.State.Running) return fn(d.rootfs, row.name);
    return this.locked(row.id, async () => {
      const target = path.join(this.opts.execRoot, 'cp', `${row.id}-${Date.now()}`);
      await mkdir(target, { recursive: true });
      await mountOverlay({ lowerDirs: row.doc.Berth.layers, upperDir: d.upper, workDir: d.work, target });
      try {
        return await fn(target, row.name);
      } finally {
        await unmount(target).catch(() => undefined);
        await rm(target, { recursive: true, force: true });
      }
    });
  }

  /** The container's overlay upper dir: its changes, which the builder commits as a RUN step's layer. */
  upperDir(ref: string): string {
    return this.dirs(this.resolve(ref).id).upper;
  }

  /** docker commit: the container's changes (its overlay upper dir) as a new layer on its image. */
  async commit(
    ref: string,
    opts: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean; config?: Partial<ContainerConfig> },
  ): Promise<string> {
    const row = this.resolve(ref);
    const image = this.images.get(row.imageId);
    const pause = (opts.pause ?? true) && row.doc.State.Running && !row.doc.State.Paused;
    if (pause) await this.pause(row.id);
    try {
      const c = { ...row.doc.Config, ...(opts.config ?? {}) };
      const base: Record<string, unknown> = {
        User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Cmd: c.Cmd, Healthcheck: c.Healthcheck, Volumes: c.Volumes,
        WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, OnBuild: c.OnBuild, Labels: c.Labels, StopSignal: c.StopSignal,
      };
      const config = applyChanges(base, opts.changes ?? []);
      const tar = createLayerTar(this.dirs(row.id).upper);
      const id = await this.images.commitLayer(image, tar, {
        config,
        createdBy: [row.doc.Path, ...row.doc.Args].join(' '),
        comment: opts.comment,
        author: opts.author,
        repo: opts.repo,
        tag: opts.tag,
      });
      this.events.publish('container', 'commit', row.id, { name: row.name, imageID: id });
      return id;
    } finally {
      if (pause) await this.unpause(row.id).catch(() => undefined);
    }
  }

  /** A stats reading (zeros for a container that is not running, as Docker reports). */
  async stats(ref: string): Promise<StatsReading> {
    const row = this.resolve(ref);
    if (!row.doc.State.Running) return { id: row.id, name: row.doc.Name, running: false };
    return { id: row.id, name: row.doc.Name, running: true, sample: await sampleStats(row.id, this.cgroupVersion()) };
  }

  /** Docker's stats documents for the container (stats-readings.ts); throws at once for an unknown one. */
  statsDocuments(ref: string, o: { stream: boolean; oneShot: boolean }, signal: AbortSignal): Promise<AsyncGenerator<Record<string, unknown>>> {
    const id = this.resolve(ref).id;
    return statsDocuments(() => this.stats(id), o, signal);
  }

  /** docker update: new limits apply to a running container at once and to every later start. */
  async update(ref: string, changes: Partial<HostConfig>): Promise<{ Warnings: string[] }> {
    const row = this.resolve(ref);
    const allowed = ['Memory', 'MemorySwap', 'MemoryReservation', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'NanoCpus', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy'] as const;
    const next: HostConfig = { ...row.doc.HostConfig };
    for (const k of allowed) if (changes[k] !== undefined && changes[k] !== null && !(typeof changes[k] === 'number' && changes[k] === 0 && k !== 'PidsLimit')) (next as Record<string, unknown>)[k] = changes[k];
    if (changes.RestartPolicy?.Name && row.doc.HostConfig.AutoRemove && changes.RestartPolicy.Name !== 'no') {
      throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    const resources = resourcesOf(next);
    validateResources(resources);
    await this.locked(row.id, async () => {
      const cur = this.records.get(row.id)!;
      if (cur.doc.State.Running) await this.runtime(cur.doc.Berth.runtime).update(row.id, resourcesFor(resources, this.cgroupVersion()));
      cur.doc.HostConfig = next;
      this.save(cur);
    });
    this.events.publish('container', 'update', row.id, { name: row.name });
    return { Warnings: [] };
  }

  async rename(ref: string, newName: string): Promise<void> {
    const row = this.resolve(ref);
    const name = validateName(newName);
    const taken = this.records.byName(name);
    if (taken && taken.id !== row.id) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    row.doc.Name = `/${name}`;
    this.records.db.transaction(() => {
      this.records.rename(row.id, name);
      this.save(row);
    });
    this.events.publish('container', 'rename', row.id, { name, oldName: row.name });
  }

  /** What an exec needs: the running container's bundle, root and runtime. */
  execTarget(ref: string): ExecTarget {
    const row = this.resolve(ref);
    const d = this.dirs(row.id);
    return {
      id: row.id,
      name: row.name,
      running: row.doc.State.Running,
      bundle: d.bundle,
      rootfs: d.rootfs,
      runtime: this.runtime(row.doc.Berth.runtime),
      user: row.doc.Config.User,
    };
  }

  /** What an attach needs: where conmon's socket is and how the container's stdio is set up. */
  /** Where an attach connects; the attach is an event of the container's, as on Docker. */
  attachTarget(ref: string): { id: string; tty: boolean; running: boolean; attachPath: string; stdinOnce: boolean; openStdin: boolean } {
    const row = this.resolve(ref);
    this.events.publish('container', 'attach', row.id, { image: row.doc.Config.Image, name: row.name });
    return {
      id: row.id,
      tty: row.doc.Config.Tty,
      running: row.doc.State.Running,
      attachPath: path.join(this.dirs(row.id).bundle, 'attach'),
      stdinOnce: row.doc.Config.StdinOnce,
      openStdin: row.doc.Config.OpenStdin,
    };
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const row = this.resolve(ref);
    if (!row.doc.State.Running) throw conflict(`Container ${row.id} is not running`);
    if (!row.doc.Config.Tty) return;
    await resizeTerminal(path.join(this.dirs(row.id).bundle, 'ctl'), rows, cols);
  }

  /**
   * GET /containers/{id}/logs: the request is checked here (throws before any response), then `read` hands the
   * messages to the visitor. Following ends when the container stops, after a short grace that lets conmon's last
   * lines reach the file, or when `signal` aborts.
   */
  openLogs(ref: string, o: Omit<ReadLogOptions, 'signal' | 'tail'> & { tail?: string | null }): { tty: boolean; read(v: LogVisitor, signal: AbortSignal): Promise<void> } {
    const row = this.resolve(ref);
    // moby's ErrReadLogsNotSupported (a NotImplemented error).
    if (logDriverOf(row.doc.HostConfig.LogConfig ?? DEFAULT_LOG_CONFIG) === 'none') throw new BerthError('not_implemented', 'configured logging driver does not support reading');
    if (!o.stdout && !o.stderr) throw invalidArgument('you must choose at least one stream');
    const tail = o.tail && o.tail !== 'all' ? Number.parseInt(o.tail, 10) : undefined;
    if (tail !== undefined && Number.isNaN(tail)) throw invalidArgument(`invalid tail value: ${o.tail}`);
    const id = row.id;
    const logPath = row.doc.LogPath;
    const follow = (o.follow ?? false) && row.doc.State.Running;
    return {
      tty: row.doc.Config.Tty,
      read: async (v, signal) => {
        const stop = new AbortController();
        const abort = (): void => stop.abort();
        signal.addEventListener('abort', abort, { once: true });
        if (follow) void this.stopped(id).then(() => setTimeout(abort, 50));
        try {
          await visitLog(logPath, { ...o, tail, follow, signal: stop.signal }, v);
        } catch (err) {
          if (!stop.signal.aborted && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        } finally {
          signal.removeEventListener('abort', abort);
        }
      },
    };
  }

  /** Resolves when the container next stops (or at once if it is not running). */
  private stopped(id: string): Promise<void> {
    const row = this.records.get(id);
    if (!row?.doc.State.Running) return Promise.resolve();
    return new Promise((resolve) => this.waits.once(`exit:${id}`, () => resolve()));
  }

  /**
   * After a daemon restart: containers whose conmon recorded an exit are marked exited; the ones still running are
   * watched again. Nothing is restarted that was not running.
   */
  async recover(): Promise<void> {
    await this.removeOrphanDirs();
    for (const row of this.records.list()) {
      if (!row.doc.State.Running) {
        await this.removeHalfStarted(row);
        const policy = row.doc.HostConfig.RestartPolicy?.Name;
        const wanted = policy === 'always' || (policy === 'unless-stopped' && !row.doc.Berth.manualStop) || row.doc.State.Restarting;
        if (wanted && !row.doc.HostConfig.AutoRemove) {
          await this.start(row.id).catch((e: Error) => this.opts.log('warn', `starting ${row.id} (restart policy ${policy}): ${e.message}`));
        }
        continue;
      }
      const d = this.dirs(row.id);
      const code = await readExitCode(d.exits, row.id);
      if (code !== undefined) {
        await this.onExit(row.id, code);
        continue;
      }
      const conmon = row.doc.Berth.conmonPid;
      const alive = conmon !== undefined && conmonAlive(conmon);
      if (!alive) {
        await this.onExit(row.id, 137);
        continue;
      }
      this.watchExit(row.id);
      this.watchLog(row.id);
      this.startHealthcheck(row.id);
    }
  }

  /**
   * A daemon killed in the middle of a start leaves a container the runtime created (waiting to be started, with its
   * conmon) and a mounted root, while the record still says "created": take both down.
   */
  private async removeHalfStarted(row: Row): Promise<void> {
    if (!this.opts.runtimes[row.doc.Berth.runtime]) return;
    const stateLeft = existsSync(path.join(this.runtime(row.doc.Berth.runtime).root, row.id));
    if (!stateLeft && !(await isMounted(this.dirs(row.id).rootfs))) return;
    this.opts.log('info', `clearing what an interrupted start of ${row.id} left (runtime state, root mount)`);
    await this.releaseRoot(row, 'any');
  }

  /** Container directories without a record (a crash between a create or remove and its files) go at start-up. */
  private async removeOrphanDirs(): Promise<void> {
    const known = new Set(this.records.list().map((r) => r.id));
    for (const base of [path.join(this.opts.dataRoot, 'containers'), path.join(this.opts.execRoot, 'containers')]) {
      for (const id of await readdir(base).catch(() => [] as string[])) {
        if (known.has(id) || !/^[0-9a-f]{64}$/.test(id)) continue;
        const { rootfs } = this.dirs(id);
        await unmount(rootfs).catch(() => undefined);
        // Never delete through a mount that is still there.
        if (await isMounted(rootfs)) {
          this.opts.log('warn', `leftover container root ${rootfs} is still mounted; leaving it`);
          continue;
        }
        this.opts.log('info', `removing the files of unknown container ${id}`);
        await rm(path.join(base, id), { recursive: true, force: true });
      }
    }
  }

  cgroupVersion(): 1 | 2 {
    return cgroupVersion();
  }

  /** Running containers' network state as stored, for the network side's reconcile at daemon start. */
  runningNetworkStates(): Array<{ id: string; name: string; settings: NetworkSettings; exposed: Record<string, unknown> | undefined }> {
    return this.records
      .list()
      .filter((r) => r.doc.State.Running)
      .map((r) => ({ id: r.id, name: r.name, settings: r.doc.NetworkSettings, exposed: r.doc.Config.ExposedPorts }));
  }

  /** How the network service sees containers: peers for links and `container:` mode, and connect/disconnect. */
  networkLookup(): ContainerLookup {
    return {
      peer: (ref): ContainerPeer => {
        const r = this.resolve(ref);
        return { id: r.id, name: r.name, running: r.doc.State.Running, pid: r.doc.State.Pid };
      },
      withNetworkSettings: async (ref, fn: (c: ConnectTarget) => Promise<void>) => {
        const { id } = this.resolve(ref);
        await this.locked(id, async () => {
          const row = this.records.get(id);
          if (!row) throw notFound(`No such container: ${ref}`);
          const settings = row.doc.NetworkSettings;
          settings.Networks ??= {};
          await fn({ id, name: row.name, hostname: row.doc.Config.Hostname, running: row.doc.State.Running, networkMode: row.doc.HostConfig.NetworkMode ?? 'bridge', settings });
          this.save(row);
        });
      },
    };
  }

  count(): { total: number; running: number; paused: number; stopped: number } {
    const rows = this.records.list();
    const running = rows.filter((r) => r.doc.State.Running && !r.doc.State.Paused).length;
    const paused = rows.filter((r) => r.doc.State.Paused).length;
    return { total: rows.length, running, paused, stopped: rows.length - running - paused };
  }
}

async function containerPids(id: string, version: 1 | 2): Promise<Set<number>> {
  const file = version === 2 ? `/sys/fs/cgroup/berth/${id}/cgroup.procs` : `/sys/fs/cgroup/pids/berth/${id}/cgroup.procs`;
  const text = await readFileAsync(file, 'utf8').catch(() => '');
  return new Set(text.split('\n').filter(Boolean).map(Number));
}

/** The cgroup limits a HostConfig asks for, in the spec generator's terms. */
function resourcesOf(hc: HostConfig): ContainerResources {
  return {
    memory: hc.Memory || undefined,
    memorySwap: hc.MemorySwap || undefined,
    memoryReservation: hc.MemoryReservation || undefined,
    cpuShares: hc.CpuShares || undefined,
    cpuQuota: hc.CpuQuota || undefined,
    cpuPeriod: hc.CpuPeriod || undefined,
    nanoCpus: hc.NanoCpus || undefined,
    cpusetCpus: hc.CpusetCpus || undefined,
    cpusetMems: hc.CpusetMems || undefined,
    pidsLimit: hc.PidsLimit && hc.PidsLimit > 0 ? hc.PidsLimit : undefined,
    blkioWeight: hc.BlkioWeight || undefined,
    oomKillDisable: hc.OomKillDisable ?? undefined,
  };
}

function conmonAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The container's mounts; containers made before volumes existed only had host binds. */
function mountsOf(doc: ContainerDoc): ContainerMount[] {
  if (doc.Berth.mounts) return doc.Berth.mounts;
  const legacy: ContainerMount[] = [];
  for (const b of doc.HostConfig.Binds ?? []) {
    try {
      const m = parseBindSpec(b);
      if (m.type === 'bind') legacy.push(m);
    } catch {
      // a bind berth accepted earlier and no longer parses: leave it out rather than fail the container
    }
  }
  return legacy;
}

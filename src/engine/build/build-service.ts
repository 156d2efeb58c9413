/**
 * Docker's classic builder: each instruction of each stage makes a new image on the previous one. Config-only
 * instructions write an image with an empty-layer history entry, RUN runs a real container of the engine and
 * commits its changes, COPY/ADD write their layer straight from the context. Every step goes through the cache first.
 */
import { readdir, rm, rmdir, lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parseDockerfile, type Dockerfile, type Instruction, type Stage } from '../../builder/dockerfile.js';
import { expandInstruction, expandWord } from '../../builder/expand.js';
import { BerthError, invalidArgument, notFound } from '../../errors.js';
import type { RegistryAuth } from '../../registry/client.js';
import { parseReference, repositoryName } from '../../registry/reference.js';
import { AttachSocket } from '../../runtime/attach-socket.js';
import { mountOverlay, unmount } from '../../runtime/mounts.js';
import { resolveUserFrom } from '../../runtime/user.js';
import { createLayerTar } from '../../store/layer-tar.js';
import type { ImageRecord } from '../../store/image-records.js';
import type { ContainerService } from '../containers/container-service.js';
import type { CreateRequest } from '../containers/types.js';
import type { ImageService } from '../images/image-service.js';
import type { JsonMessage } from '../progress.js';
import { BuildCache, cacheKey, type BuildCacheUsage } from './build-cache.js';
import { BuildContext } from './build-context.js';
import { copyLayerTar, parentDirsOf, planCopy, resolveDest, type CopyEntry, type ParentDir } from './copy-layer.js';
import { ImageView } from './image-view.js';
import { fetchForAdd } from './add-url.js';
import { goQuoteHealthConfig } from './go-format.js';
import { archiveEntries, isLocalArchive } from './add-archive.js';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Digest } from '../../util/digest.js';

export interface BuildOptions {
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  networkMode?: string;
  cacheFrom: string[];
  platform?: string;
  extraHosts: string[];
  shmSize?: number;
  memory?: number;
  auth: Record<string, RegistryAuth>;
}

export type BuildOutput = (msg: JsonMessage) => void;

/** A RUN that exited non-zero: the docker CLI exits with `exitCode`. */
export class RunStepFailed extends BerthError {
  constructor(
    message: string,
    readonly runExitCode: number,
  ) {
    super('invalid_argument', message);
  }
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Args every build may set without declaring them (Docker's predefined args). */
const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
/** Files the runtime creates in a container's root as mount points; not part of what a RUN changed. */
const MOUNT_POINTS = ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'];
const MOUNT_DIRS = ['dev/shm', 'dev/pts', 'dev/mqueue', 'etc', 'dev', 'proc', 'sys'];

type Config = Record<string, unknown> & {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Volumes?: Record<string, Record<string, never>> | null;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
};

interface StageState {
  image: ImageRecord | null;
  /** The image ID steps build on ('' for scratch before any step). */
  imageId: string;
  config: Config;
  shell: string[];
  /** ARGs declared in this stage, with their values in effect. */
  args: Map<string, string | undefined>;
  cmdSetInStage: boolean;
  /** Set by MAINTAINER: the Author of every image the stage commits from then on. */
  author?: string;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function envMap(env: string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else m.set(e, '');
  }
  return m;
}

function setEnv(env: string[] | null | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/** Go's %q of a string slice, as the classic builder writes CMD/ENTRYPOINT in history: `["a" "b"]`. */
function goQuoteSlice(v: string[]): string {
  return `[${v.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function nop(text: string): string {
  return `/bin/sh -c #(nop)  ${text}`;
}

function scratchConfig(): Config {
  return { Env: [DEFAULT_PATH], Cmd: null, Entrypoint: null, WorkingDir: '', User: '', Labels: null, OnBuild: null };
}


export class BuildService {
  constructor(
    private readonly images: ImageService,
    private readonly containers: ContainerService,
    readonly cache: BuildCache,
    private readonly tmpRoot: string,
    private readonly log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void = () => {},
  ) {}

  private readonly running = new Set<BuildRun>();

  diskUsage(): Promise<BuildCacheUsage[]> {
    const sizes = this.reclaimableSizes();
    return Promise.resolve(this.cache.diskUsage((r) => sizes.get(r.key) ?? 0));
  }

  /**
   * Removing cache records also removes the images only they kept (untagged, unused, without children that stay),
   * so SpaceReclaimed is the bytes really freed, and matches the sizes diskUsage reports.
   */
  async prune(opts: { all?: boolean; filters?: Map<string, string[]>; keepStorage?: number }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const sizes = this.reclaimableSizes();
    const res = this.cache.prune(opts, (r) => sizes.get(r.key) ?? 0);
    const stillCached = new Set(this.cache.list().map((r) => r.imageId));
    // Images a running build stands on stay, and so do their parents.
    for (const run of this.running) for (const id of run.heldImages()) stillCached.add(id);
    const reclaimed = await this.images.removeIntermediateImages(res.images.filter((id) => !stillCached.has(id)));
    return { CachesDeleted: res.CachesDeleted, SpaceReclaimed: reclaimed };
  }

  /**
   * What each cache record would free: every layer that removing all the cache's removable images frees is counted
   * once, for the record whose step made it (its image's top layer, which its parent does not have).
   */
  private reclaimableSizes(): Map<string, number> {
    const recs = this.cache.list();
    const { freedLayers } = this.images.reclaimableImages([...new Set(recs.map((r) => r.imageId))]);
    const sizes = new Map<string, number>();
    if (freedLayers.length === 0) return sizes;
    const top = (id: string): string | null | undefined => {
      if (!id) return null;
      try {
        return this.images.get(id).topLayer;
      } catch {
        return undefined;
      }
    };
    const owner = new Map<string, string>();
    for (const r of recs) {
      const t = top(r.imageId);
      if (!t) continue;
      const made = top(r.parentId) !== t;
      if (!owner.has(t) || made) owner.set(t, r.key);
    }
    for (const l of freedLayers) {
      let key = owner.get(l.chainId);
      // A layer whose own step is no longer cached goes to a record whose image holds it.
      key ??= recs.find((r) => {
        try {
          return this.images.get(r.imageId).layers.includes(l.chainId as Digest);
        } catch {
          return false;
        }
      })?.key;
      if (key) sizes.set(key, (sizes.get(key) ?? 0) + l.size);
    }
    return sizes;
  }

  /** POST /build: the context tar in, progress out; resolves with the final image ID. */
  async build(contextTar: Readable, opts: BuildOptions, out: BuildOutput, signal?: AbortSignal): Promise<string> {
    await mkdir(this.tmpRoot, { recursive: true });
    const context = await BuildContext.extract(contextTar, this.tmpRoot);
    try {
      const text = await context.readDockerfile(opts.dockerfile);
      const dockerfile = parseDockerfile(text);
      for (const w of dockerfile.warnings) out({ stream: `${w}\n` });
      const run = new BuildRun(this, context, dockerfile, opts, out, signal);
      this.running.add(run);
      try {
        return await run.run();
      } finally {
        this.running.delete(run);
      }
    } finally {
      await context.remove();
    }
  }

  /** @internal for BuildRun */
  get deps(): { images: ImageService; containers: ContainerService; tmpRoot: string; log: BuildService['log'] } {
    return { images: this.images, containers: this.containers, tmpRoot: this.tmpRoot, log: this.log };
  }
}

/** One build: the step counter, the stages' results and the output. */
class BuildRun {
  private step = 0;
  private readonly total: number;
  private readonly stages: Stage[];
  private readonly stageImages = new Map<number, ImageRecord | null>();
  private current: StageState | undefined;
  private readonly usedArgs = new Set<string>();
  private readonly metaArgs = new Map<string, string | undefined>();
  private readonly escape: string;
  private readonly images: ImageService;
  private readonly containers: ContainerService;
  /** --cache-from images that steps may be restored from (narrowed to one once it matched, as Docker does). */
  private cacheSources: Array<{ image: ImageRecord; history: unknown[]; diffIds: string[] }> = [];

  constructor(
    private readonly service: BuildService,
    private readonly context: BuildContext,
    private readonly dockerfile: Dockerfile,
    private readonly opts: BuildOptions,
    private readonly out: BuildOutput,
    private readonly signal?: AbortSignal,
  ) {
    this.images = service.deps.images;
    this.containers = service.deps.containers;
    this.escape = dockerfile.escape;
    let last = dockerfile.stages.length - 1;
    if (opts.target) {
      const t = opts.target.toLowerCase();
      last = dockerfile.stages.findIndex((s) => s.name === t);
      if (last < 0) throw invalidArgument(`failed to reach build target ${opts.target} in Dockerfile`);
    }
    this.stages = dockerfile.stages.slice(0, last + 1);
    if (Object.keys(opts.labels).length) {
      const target = this.stages[this.stages.length - 1];
      const pairs = Object.entries(opts.labels).sort(([a], [b]) => (a < b ? -1 : 1));
      const original = `LABEL ${pairs.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}`;
      target.instructions = [
        ...target.instructions,
        { kind: 'LABEL', line: 0, original, flags: {}, pairs: pairs.map(([k, v]) => [JSON.stringify(k), JSON.stringify(v)] as [string, string]) },
      ];
    }
    this.total = dockerfile.metaArgs.length + this.stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  }

  private say(text: string): void {
    if (!this.opts.quiet) this.out({ stream: text });
  }

  private printStep(inst: Instruction): void {
    this.step += 1;
    this.say(`Step ${this.step}/${this.total} : ${inst.original}\n`);
  }

  private checkAborted(): void {
    if (this.signal?.aborted) throw new BerthError('unavailable', 'build cancelled: the client went away');
  }

  async run(): Promise<string> {
    this.loadCacheSources();
    for (const meta of this.dockerfile.metaArgs) {
      this.printStep(meta);
      for (const a of meta.args) {
        const given = this.buildArg(a.name);
        const value = given ?? (a.value !== undefined ? expandWord(a.value, this.metaEnv(), this.escape) : undefined);
        this.metaArgs.set(a.name, value);
      }
    }
    let state: StageState | undefined;
    for (const stage of this.stages) {
      this.checkAborted();
      state = await this.fromStep(stage);
      this.current = state;
      for (const inst of stage.instructions) {
        this.checkAborted();
        this.printStep(inst);
        await this.dispatch(state, inst);
        this.say(` ---> ${shortId(state.imageId)}\n`);
      }
      this.stageImages.set(stage.index, state.image);
    }
    const final = state!;
    if (!final.image) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
    const unused = Object.keys(this.opts.buildArgs).filter((k) => !this.usedArgs.has(k) && !PREDEFINED_ARGS.has(k));
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.sort().join(' ')}] were not consumed\n`);
    this.out({ aux: { ID: final.image.id } });
    this.say(`Successfully built ${shortId(final.image.id)}\n`);
    for (const t of this.opts.tags) {
      const name = this.images.tagBuilt(final.image.id, t);
      this.say(`Successfully tagged ${name}\n`);
    }
    // With -q the daemon's only output is the ID, which the CLI prints.
    if (this.opts.quiet) this.out({ stream: `${final.image.id}\n` });
    return final.image.id;
  }

  private buildArg(name: string): string | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.opts.buildArgs, name)) return undefined;
    this.usedArgs.add(name);
    const v = this.opts.buildArgs[name];
    // `--build-arg NAME` with no value takes it from the client's environment; the CLI sends null when unset.
    return v ?? undefined;
  }

  private metaEnv(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.metaArgs) if (v !== undefined) m.set(k, v);
    return m;
  }

  /** Word expansion sees ENV, then the ARGs in effect that ENV does not shadow. */
  private expansionEnv(state: StageState): Map<string, string> {
    const m = envMap(state.config.Env);
    for (const [k, v] of state.args) if (v !== undefined && !m.has(k)) m.set(k, v);
    return m;
  }

  private async fromStep(stage: Stage): Promise<StageState> {
    const from = expandInstruction(stage.from, this.metaEnv(), this.escape);
    this.printStep(stage.from);
    const name = from.image;
    let image: ImageRecord | null = null;
    const byStage = this.stageByName(name);
    if (byStage !== undefined) {
      image = byStage;
    } else if (name.toLowerCase() !== 'scratch') {
      image = await this.baseImage(name, from.flags.platform);
    }
    const config: Config = image ? { ...((this.images.config(image).config ?? {}) as Config) } : scratchConfig();
    const state: StageState = {
      image,
      imageId: image?.id ?? '',
      config,
      shell: (config.Shell as string[] | null | undefined)?.length ? (config.Shell as string[]) : DEFAULT_SHELL,
      args: new Map(),
      cmdSetInStage: false,
    };
    this.say(` ---> ${image ? shortId(image.id) : ''}\n`);
    const triggers = config.OnBuild ?? [];
    if (triggers.length) {
      this.say(`# Executing ${triggers.length} build ${triggers.length === 1 ? 'trigger' : 'triggers'}\n`);
      state.config = { ...state.config, OnBuild: null };
      for (const t of triggers) {
        const parsed = parseDockerfile(`FROM scratch\n${t}\n`).stages[0].instructions[0];
        if (!parsed) continue;
        await this.dispatch(state, parsed);
      }
      this.say(` ---> ${shortId(state.imageId)}\n`);
    }
    return state;
  }

  private stageByName(name: string): ImageRecord | null | undefined {
    const lower = name.toLowerCase();
    for (const s of this.stages) {
      if (s.name === lower || String(s.index) === name) {
        if (!this.stageImages.has(s.index)) {
          if (s.name === lower) throw invalidArgument(`invalid from flag value ${name}: stage not built yet`);
          continue;
        }
        return this.stageImages.get(s.index) ?? null;
      }
    }
    return undefined;
  }

  private async baseImage(name: string, platform: string | undefined): Promise<ImageRecord> {
    let local: ImageRecord | undefined;
    try {
      local = this.images.get(name);
    } catch (err) {
      if (!(err instanceof BerthError) || err.code !== 'not_found') throw err;
    }
    if (local && !this.opts.pull) return local;
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      throw invalidArgument(`invalid reference format: ${name}`);
    }
    const registry = repositoryName(ref).split('/')[0];
    const auth = this.opts.auth[registry] ?? this.opts.auth[`https://${registry}`] ?? (registry === 'docker.io' ? this.opts.auth['https://index.docker.io/v1/'] : undefined);
    try {
      return await this.images.pull(name, undefined, {
        platform: platform || this.opts.platform,
        auth,
        signal: this.signal,
        onProgress: (m) => {
          if (!this.opts.quiet) this.out(m);
        },
      });
    } catch (err) {
      if (local) return local;
      throw err;
    }
  }

  private async dispatch(state: StageState, raw: Instruction): Promise<void> {
    const env = this.expansionEnv(state);
    const inst = raw.kind === 'RUN' || raw.kind === 'CMD' || raw.kind === 'ENTRYPOINT' ? raw : expandInstruction(raw, env, this.escape);
    const c = state.config;
    switch (inst.kind) {
      case 'RUN':
        return this.runStep(state, inst);
      case 'COPY':
      case 'ADD':
        return this.copyStep(state, inst);
      case 'ENV': {
        let e = c.Env ?? [];
        for (const [k, v] of inst.pairs) e = setEnv(e, k, v);
        const text = 'ENV' + inst.pairs.map(([k, v]) => ` ${k}=${v}`).join('');
        return this.configStep(state, { ...c, Env: e }, nop(text));
      }
      case 'LABEL': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of inst.pairs) labels[k] = v;
        const text = 'LABEL' + inst.pairs.map(([k, v]) => ` ${k}=${v}`).join('');
        return this.configStep(state, { ...c, Labels: labels }, nop(text));
      }
      case 'CMD': {
        const cmd = inst.command.form === 'exec' ? inst.command.args : [...state.shell, inst.command.line];
        state.cmdSetInStage = true;
        return this.configStep(state, { ...c, Cmd: cmd }, nop(`CMD ${goQuoteSlice(cmd)}`));
      }
      case 'ENTRYPOINT': {
        const ep = inst.command.form === 'exec' ? inst.command.args : [...state.shell, inst.command.line];
        // An ENTRYPOINT resets a CMD inherited from the base image, as Docker does.
        const next = { ...c, Entrypoint: ep, ...(state.cmdSetInStage ? {} : { Cmd: null }) };
        return this.configStep(state, next, nop(`ENTRYPOINT ${goQuoteSlice(ep)}`));
      }
      case 'SHELL':
        state.shell = inst.shell;
        return this.configStep(state, { ...c, Shell: inst.shell }, nop(`SHELL [${inst.shell.join(' ')}]`));
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of inst.ports) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        return this.configStep(state, { ...c, ExposedPorts: ports }, nop(`EXPOSE ${inst.ports.join(' ')}`));
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        for (const p of inst.paths) {
          if (!p.trim()) throw invalidArgument('VOLUME specified can not be an empty string');
          vols[p] = {};
        }
        return this.configStep(state, { ...c, Volumes: vols }, nop(`VOLUME [${inst.paths.join(' ')}]`));
      }
      case 'USER':
        return this.configStep(state, { ...c, User: inst.user }, nop(`USER ${inst.user}`));
      case 'WORKDIR':
        return this.workdirStep(state, inst.path);
      case 'STOPSIGNAL':
        return this.configStep(state, { ...c, StopSignal: inst.signal }, nop(`STOPSIGNAL ${inst.signal}`));
      case 'MAINTAINER':
        state.author = inst.name;
        return this.configStep(state, c, nop(`MAINTAINER ${inst.name}`));
      case 'HEALTHCHECK': {
        const hc =
          inst.test === null
            ? { Test: ['NONE'] }
            : {
                Test: inst.test,
                ...(inst.interval ? { Interval: inst.interval } : {}),
                ...(inst.timeout ? { Timeout: inst.timeout } : {}),
                ...(inst.startPeriod ? { StartPeriod: inst.startPeriod } : {}),
                ...(inst.startInterval ? { StartInterval: inst.startInterval } : {}),
                ...(inst.retries ? { Retries: inst.retries } : {}),
              };
        const old = (c.Healthcheck as { Test?: string[] } | undefined)?.Test;
        if (old?.length && old[0] !== 'NONE') this.say(`Note: overriding previous HEALTHCHECK: [${old.join(' ')}]\n`);
        return this.configStep(state, { ...c, Healthcheck: hc }, nop(`HEALTHCHECK ${goQuoteHealthConfig(hc)}`));
      }
      case 'ONBUILD': {
        const expr = inst.original.replace(/^\s*onbuild\s+/i, '');
        return this.configStep(state, { ...c, OnBuild: [...(c.OnBuild ?? []), expr] }, nop(`ONBUILD ${expr}`));
      }
      case 'ARG': {
        const parts: string[] = [];
        for (const a of inst.args) {
          let value = this.buildArg(a.name);
          if (value === undefined) value = a.value !== undefined ? a.value : this.metaArgs.get(a.name);
          state.args.set(a.name, value);
          parts.push(a.value !== undefined ? `${a.name}=${a.value}` : a.name);
        }
        return this.configStep(state, c, nop(`ARG ${parts.join(' ')}`));
      }
      case 'FROM':
        throw invalidArgument('FROM inside a stage');
    }
  }

  /** A step that changes only the config: cached, else one new image with an empty-layer history entry. */
  private async configStep(state: StageState, config: Config, createdBy: string): Promise<void> {
    const next = { ...config, Image: state.imageId };
    const key = cacheKey(state.imageId, createdBy, [JSON.stringify(next)]);
    if (this.useCache(state, key, createdBy, next)) return;
    const { id } = await this.images.commitBuildStep(state.image, { config: next, createdBy, platform: this.opts.platform, author: state.author });
    this.finishStep(state, id, key, createdBy, 0);
  }

  /** The images this build builds on right now (a prune must leave them). */
  heldImages(): string[] {
    const ids: string[] = [...this.stageImages.values()].map((i) => i?.id ?? '');
    if (this.current?.imageId) ids.push(this.current.imageId);
    for (const src of this.cacheSources) ids.push(src.image.id);
    return ids.filter(Boolean);
  }

  private loadCacheSources(): void {
    for (const name of this.opts.cacheFrom) {
      try {
        const image = this.images.get(name);
        const cfg = this.images.config(image) as { history?: unknown[]; rootfs?: { diff_ids?: string[] } };
        this.cacheSources.push({ image, history: cfg.history ?? [], diffIds: cfg.rootfs?.diff_ids ?? [] });
      } catch (err) {
        this.service.deps.log('info', `Could not look up ${name} for cache resolution, skipping: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Docker's --cache-from: an image whose history starts with the parent's history (and layers), and whose next
   * entry was made by the same instruction, provides this step. At its last entry the image itself is the result;
   * before that, an image of the parent plus that entry (and its layer) is made.
   */
  private cacheFromLookup(state: StageState, createdBy: string, config: Config): string | undefined {
    if (!this.cacheSources.length) return undefined;
    const parent = state.image ? (this.images.config(state.image) as { history?: unknown[]; rootfs?: { diff_ids?: string[] } }) : undefined;
    const parentHistory = parent?.history ?? [];
    const parentDiffIds = parent?.rootfs?.diff_ids ?? [];
    const n = parentHistory.length;
    for (const src of this.cacheSources) {
      if (src.history.length === 0) continue;
      if (parent && (parentHistory.length || parentDiffIds.length)) {
        if (n >= src.history.length || parentDiffIds.length > src.diffIds.length) continue;
        if (parentHistory.some((h, i) => JSON.stringify(h) !== JSON.stringify(src.history[i]))) continue;
        if (parentDiffIds.some((d, i) => d !== src.diffIds[i])) continue;
      }
      const entry = src.history[n] as { created_by?: string } | undefined;
      if (entry?.created_by !== createdBy) continue;
      const id = n === src.history.length - 1 ? src.image.id : this.images.restoreCachedStep(state.image, src.image, n, config);
      if (!id) continue;
      this.cacheSources = [src];
      return id;
    }
    return undefined;
  }

  /** On a hit: the cached image becomes the state and ` ---> Using cache` is printed. */
  private useCache(state: StageState, key: string, createdBy: string, config: Config): boolean {
    if (this.opts.noCache) return false;
    let hit = this.service.cache.lookup(key);
    if (!hit) {
      hit = this.cacheFromLookup(state, createdBy, config);
      // Remembered like a built step, so the next build finds it without --cache-from and prune can free it.
      if (hit) this.service.cache.record(key, { imageId: hit, parentId: state.imageId, description: createdBy, size: 0 });
    }
    if (!hit) return false;
    const image = this.images.get(hit);
    this.say(' ---> Using cache\n');
    state.image = image;
    state.imageId = image.id;
    state.config = { ...((this.images.config(image).config ?? {}) as Config) };
    return true;
  }

  private finishStep(state: StageState, id: string, key: string, createdBy: string, size: number): void {
    const image = this.images.get(id);
    this.service.cache.record(key, { imageId: id, parentId: state.imageId, description: createdBy, size });
    state.image = image;
    state.imageId = id;
    state.config = { ...((this.images.config(image).config ?? {}) as Config) };
  }

  private view(state: StageState): ImageView {
    return new ImageView(state.image ? this.images.layerPaths(state.image) : []);
  }

  private async workdirStep(state: StageState, dir: string): Promise<void> {
    const base = state.config.WorkingDir || '/';
    const resolved = posix.normalize(dir.startsWith('/') ? dir : posix.join(base, dir));
    const config = { ...state.config, WorkingDir: resolved };
    const createdBy = `/bin/sh -c #(nop) WORKDIR ${resolved}`;
    const view = this.view(state);
    if (resolved === '/' || (await view.isDir(resolved))) return this.configStep(state, config, createdBy);
    const next = { ...config, Image: state.imageId };
    const key = cacheKey(state.imageId, createdBy, [JSON.stringify(next)]);
    if (this.useCache(state, key, createdBy, next)) return;
    const parents = await this.parentDirs(view, parentDirsOf([], resolved), undefined);
    const { id, layerSize } = await this.images.commitBuildStep(state.image, {
      layerTar: copyLayerTar([], parents),
      config: next,
      createdBy,
      platform: this.opts.platform,
      author: state.author,
    });
    this.finishStep(state, id, key, createdBy, layerSize);
  }

  /** Metadata for each dir the layer carries: the image's own where it exists, else a fresh 0755 dir. */
  private async parentDirs(view: ImageView, dirs: string[], owner: { uid: number; gid: number } | undefined, newDir?: string): Promise<ParentDir[]> {
    const now = new Date();
    const out: ParentDir[] = [];
    for (const d of dirs) {
      const st = await view.lstat(d);
      if (st?.isDirectory()) out.push({ path: d, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtime: st.mtime });
      else {
        const own = d === newDir && owner ? owner : { uid: 0, gid: 0 };
        out.push({ path: d, mode: 0o755, ...own, mtime: now });
      }
    }
    return out;
  }

  private async resolveChown(view: ImageView, chown: string | undefined): Promise<{ uid: number; gid: number } | undefined> {
    if (!chown) return undefined;
    const [passwd, group] = await Promise.all([view.readText('/etc/passwd'), view.readText('/etc/group')]);
    const spec = chown.includes(':') ? chown : `${chown}:${chown}`;
    try {
      const u = resolveUserFrom(passwd, group, spec, []);
      return { uid: u.uid, gid: u.gid };
    } catch {
      // `--chown=name` alone means name:name when that group exists, else the user's primary group.
      const u = resolveUserFrom(passwd, group, chown, []);
      return { uid: u.uid, gid: u.gid };
    }
  }

  private async copyStep(state: StageState, inst: Instruction & { kind: 'COPY' | 'ADD' }): Promise<void> {
    const flags = inst.flags;
    const view = this.view(state);
    const owner = await this.resolveChown(view, flags.chown);
    let chmod: number | undefined;
    if (flags.chmod) {
      if (!/^[0-7]{3,4}$/.test(flags.chmod)) throw invalidArgument(`invalid chmod parameter: ${flags.chmod}`);
      chmod = parseInt(flags.chmod, 8);
    }
    const workdir = state.config.WorkingDir || '/';
    let fromImage: ImageRecord | null | undefined;
    if (flags.from) {
      fromImage = this.stageByName(flags.from);
      if (fromImage === undefined) fromImage = await this.baseImage(flags.from, undefined);
    }
    const urls = inst.kind === 'ADD' ? inst.sources.filter((s) => /^https?:\/\//.test(s)) : [];
    const local = inst.sources.filter((s) => !urls.includes(s));
    const scratchDir = posix.join(this.service.deps.tmpRoot, `add-${randomBytes(6).toString('hex')}`);
    let mounted: string | undefined;
    try {
      let root = this.context.dir;
      if (fromImage !== undefined) {
        mounted = posix.join(this.service.deps.tmpRoot, `from-${randomBytes(6).toString('hex')}`);
        await mkdir(mounted, { recursive: true });
        if (fromImage && fromImage.layers.length) await mountOverlay({ lowerDirs: this.images.layerPaths(fromImage), target: mounted });
        root = mounted;
      }
      const entries: CopyEntry[] = [];
      const hashes: string[] = [];
      const dest = resolveDest(inst.dest, workdir);
      if (urls.length + local.length > 1 && !dest.endsInSlash) {
        throw invalidArgument(`When using ${inst.kind} with more than one source file, the destination must be a directory and end with a /`);
      }
      if (local.length) {
        const plan = await planCopy({
          cmd: inst.kind,
          root,
          sources: local,
          dest: inst.dest,
          workdir,
          ignored: fromImage === undefined ? (rel, isDir) => this.context.ignored(rel, isDir) : undefined,
          isDirInImage: (p) => view.isDir(p),
          owner,
          chmod,
          fromContext: fromImage === undefined,
        });
        entries.push(...(inst.kind === 'ADD' ? await this.unpackArchives(plan.entries, scratchDir, dest.path, owner) : plan.entries));
        hashes.push(plan.sourceHash);
      }
      for (const url of urls) {
        const got = await fetchForAdd(url, scratchDir, this.signal);
        const intoDir = dest.endsInSlash || (await view.isDir(dest.path));
        const target = intoDir ? posix.join(dest.path, got.name) : dest.path;
        entries.push({ source: got.path, target, kind: 'file', mode: chmod ?? 0o600, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, size: got.size, mtime: got.mtime });
        hashes.push(`file:${got.sha256}`);
      }
      const sourceHash = hashes.length === 1 ? hashes[0] : `multi:${cacheKey('', hashes.join(','))}`;
      const chownComment = flags.chown ? `--chown=${flags.chown} ` : '';
      const createdBy = `/bin/sh -c #(nop) ${inst.kind} ${chownComment}${sourceHash} in ${inst.dest} `;
      const next = { ...state.config, Image: state.imageId };
      const key = cacheKey(state.imageId, createdBy, [JSON.stringify(next), flags.chmod ?? '', flags.from ?? '']);
      if (this.useCache(state, key, createdBy, next)) return;
      const destDir = dest.endsInSlash || entries.some((e) => e.target.startsWith(dest.path + '/')) ? dest.path : undefined;
      const parents = await this.parentDirs(view, parentDirsOf(entries, destDir), owner, destDir);
      const { id, layerSize } = await this.images.commitBuildStep(state.image, {
        layerTar: copyLayerTar(entries, parents),
        config: next,
        createdBy,
        platform: this.opts.platform,
        author: state.author,
      });
      this.finishStep(state, id, key, createdBy, layerSize);
    } finally {
      if (mounted) {
        await unmount(mounted).catch(() => undefined);
        await rm(mounted, { recursive: true, force: true }).catch(() => undefined);
      }
      await rm(scratchDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** ADD's local archives become their contents under the destination directory. */
  private async unpackArchives(entries: CopyEntry[], scratchDir: string, destDir: string, owner: { uid: number; gid: number } | undefined): Promise<CopyEntry[]> {
    const out: CopyEntry[] = [];
    let n = 0;
    for (const e of entries) {
      if (!e.named || e.kind !== 'file' || !e.source || !(await isLocalArchive(e.source))) {
        out.push(e);
        continue;
      }
      const dir = posix.join(scratchDir, `archive-${n++}`);
      await mkdir(dir, { recursive: true });
      out.push(...(await archiveEntries(e.source, dir, destDir, owner)));
    }
    return out;
  }

  private async runStep(state: StageState, inst: Instruction & { kind: 'RUN' }): Promise<void> {
    const cmd = inst.command.form === 'exec' ? inst.command.args : [...state.shell, inst.command.line];
    const envNow = envMap(state.config.Env);
    const argVars: string[] = [];
    for (const [k, v] of state.args) if (v !== undefined && !envNow.has(k)) argVars.push(`${k}=${v}`);
    for (const k of PREDEFINED_ARGS) {
      const v = this.opts.buildArgs[k];
      if (typeof v === 'string' && !state.args.has(k)) argVars.push(`${k}=${v}`);
    }
    argVars.sort();
    const createdBy = [...(argVars.length ? [`|${argVars.length}`, ...argVars] : []), ...cmd].join(' ');
    const next = { ...state.config, Image: state.imageId };
    const key = cacheKey(state.imageId, createdBy, [JSON.stringify(next)]);
    if (this.useCache(state, key, createdBy, next)) return;
    if (!state.image) throw invalidArgument('Please provide a source image with `from` prior to run');

    const net = !this.opts.networkMode || this.opts.networkMode === 'default' ? 'bridge' : this.opts.networkMode;
    const req: CreateRequest = {
      Image: state.image.id,
      Cmd: cmd,
      Entrypoint: [],
      Env: [...(state.config.Env ?? []), ...argVars],
      User: state.config.User ?? '',
      WorkingDir: state.config.WorkingDir ?? '',
      AttachStdout: true,
      AttachStderr: true,
      Labels: {},
      HostConfig: {
        NetworkMode: net,
        ...(this.opts.extraHosts.length ? { ExtraHosts: this.opts.extraHosts } : {}),
        ...(this.opts.shmSize ? { ShmSize: this.opts.shmSize } : {}),
        ...(this.opts.memory ? { Memory: this.opts.memory } : {}),
      },
    } as CreateRequest;
    const { Id: cid } = await this.containers.create(req);
    this.say(` ---> Running in ${cid.slice(0, 12)}\n`);
    let succeeded = false;
    try {
      const code = await this.runContainer(cid);
      if (code !== 0) {
        throw new RunStepFailed(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, code);
      }
      const upper = this.containers.upperDir(cid);
      await this.dropMountPoints(upper, state);
      const changed = (await readdir(upper)).length > 0;
      const { id, layerSize } = await this.images.commitBuildStep(state.image, {
        ...(changed ? { layerTar: createLayerTar(upper) } : {}),
        config: next,
        createdBy,
        platform: this.opts.platform,
        author: state.author,
      });
      succeeded = true;
      this.finishStep(state, id, key, createdBy, layerSize);
    } finally {
      if ((succeeded && this.opts.rm) || this.opts.forceRm) {
        await this.containers.remove(cid, { force: true }).catch((e: Error) => this.service.deps.log('warn', `removing build container ${cid}: ${e.message}`));
        if (succeeded) this.say(` ---> Removed intermediate container ${cid.slice(0, 12)}\n`);
      }
    }
  }

  /** Runs the container with its output streamed into the build output; resolves with the exit code. */
  private async runContainer(cid: string): Promise<number> {
    let outputDone: Promise<void> = Promise.resolve();
    const stdout = new StringDecoder('utf8');
    const stderr = new StringDecoder('utf8');
    this.containers.onNextStart(cid, async (attachPath) => {
      if (!attachPath) return;
      const sock = await AttachSocket.connect(attachPath);
      outputDone = new Promise<void>((resolve) => sock.onClose(resolve));
      sock.onData((stream, data) => {
        const text = (stream === 'stdout' ? stdout : stderr).write(data);
        if (text) this.say(text);
      });
    });
    const onAbort = (): void => void this.containers.kill(cid).catch(() => undefined);
    this.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.containers.start(cid);
      const code = await this.containers.wait(cid);
      // conmon closes the attach socket once the last output is out; do not wait forever if it does not.
      await Promise.race([outputDone, new Promise((r) => setTimeout(r, 2000).unref())]);
      const rest = stdout.end() + stderr.end();
      if (rest) this.say(rest);
      this.checkAborted();
      return code;
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The runtime creates mount points (/etc/hosts, /proc, ...) in the upper dir when the image lacks them. Docker
   * keeps those in an init layer that is never committed; here they are dropped before the commit when they are
   * still empty and the image does not have them.
   */
  private async dropMountPoints(upper: string, state: StageState): Promise<void> {
    const view = this.view(state);
    for (const f of MOUNT_POINTS) {
      const p = posix.join(upper, f);
      const st = await lstat(p).catch(() => undefined);
      if (st?.isFile() && st.size === 0 && !(await view.lstat('/' + f))) await rm(p, { force: true });
    }
    for (const d of MOUNT_DIRS) {
      const p = posix.join(upper, d);
      const st = await lstat(p).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      if ((await readdir(p)).length > 0) continue;
      const inImage = await view.lstat('/' + d);
      // An empty dir copied up only because a mount point was made inside it carries no change of its own.
      if (!inImage || (inImage.isDirectory() && (Number(inImage.mode) & 0o7777) === (Number(st.mode) & 0o7777))) {
        await rmdir(p).catch(() => undefined);
      }
    }
  }
}

export { notFound };

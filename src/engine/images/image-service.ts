import type { Readable } from 'node:stream';
import { BerthError, conflict, invalidArgument } from '../../errors.js';
import type { RegistryAuth, RegistryClient } from '../../registry/client.js';
import { hostPlatform, parsePlatform, type ImageConfig } from '../../registry/manifest.js';
import {
  familiarString,
  parseReference,
  parseRepositoryAndTag,
  referenceString,
  repositoryName,
  withDefaultTag,
  type Reference,
} from '../../registry/reference.js';
import type { ImageRecord, LayerRecord } from '../../store/image-records.js';
import { sha256Digest, type Digest } from '../../util/digest.js';
import type { EventBus } from '../events/event-bus.js';
import { type ProgressSink } from '../progress.js';
import { loadImages, saveImages } from './archive.js';
import { applyChanges } from './changes.js';
import { imageMatches, referenceMatches, validateFilters, type Filters } from './filters.js';
import type { ImageStore } from './image-store.js';
import { storeLayer } from './layer-ingest.js';
import { pullImage, registerImage } from './pull.js';
import { pushImage } from './push.js';
import { historyOf, inspectOf, shortImageId, summaryOf, type HistoryItem, type ImageInspect, type ImageSummary } from './views.js';

export type DeleteResponseItem = { Untagged: string } | { Deleted: string };

/** As Docker does, a `reference` filter also limits the names shown to the ones it matches. */
function narrowToReferences(summary: ImageSummary, patterns: string[] | undefined): ImageSummary {
  if (!patterns?.length) return summary;
  return {
    ...summary,
    RepoTags: summary.RepoTags.filter((t) => referenceMatches(patterns, t)),
    RepoDigests: summary.RepoDigests.filter((d) => referenceMatches(patterns, d)),
  };
}

/** A builder step's image takes its author from the stage's MAINTAINER only, never from the base image. */
function withoutAuthor(config: Record<string, unknown>): Record<string, unknown> {
  const { author: _author, ...rest } = config;
  return rest;
}

/** Whether a container uses an image; containers register this once they exist. */
export type ImageUsage = (imageId: Digest) => { running: string[]; stopped: string[] };

/**
 * The one model of images: every front end (API, CLI through the API) calls this service only.
 */
export class ImageService {
  private usage: ImageUsage = () => ({ running: [], stopped: [] });

  constructor(
    private readonly store: ImageStore,
    private readonly registry: RegistryClient,
    private readonly events: EventBus,
    private readonly tmpRoot: string,
  ) {}

  setUsage(usage: ImageUsage): void {
    this.usage = usage;
  }

  count(): number {
    return this.store.records.listImages().length;
  }

  async diskUsage(): Promise<number> {
    return this.store.records.listLayers().reduce((n, l) => n + l.size, 0);
  }

  /** POST /auth: checks credentials against the registry; the client keeps them. */
  login(auth: RegistryAuth & { serveraddress?: string }): Promise<{ status: string; identityToken?: string }> {
    return this.registry.login(auth.serveraddress || 'https://index.docker.io/v1/', auth);
  }

  get(name: string): ImageRecord {
    return this.store.resolve(name);
  }

  /** The image's unpacked layers as overlayfs lower directories, top first. */
  layerPaths(img: ImageRecord): string[] {
    return img.layers.map((c) => this.store.snapshots.fsPath(c)).reverse();
  }

  config(img: ImageRecord): ImageConfig {
    return JSON.parse(img.config) as ImageConfig;
  }

  list(opts: { all?: boolean; filters?: Filters } = {}): ImageSummary[] {
    const filters = opts.filters ?? new Map();
    validateFilters(filters);
    const parents = this.parentIds();
    return this.store.records
      .listImages()
      // Docker hides intermediate images (untagged, with children: the builder's steps) unless asked for all.
      .filter((img) => opts.all || !parents.has(img.id) || this.store.repoTags(img.id).length > 0)
      .filter((img) => imageMatches(this.store, img, filters, parents))
      .map((img) => narrowToReferences(summaryOf(this.store, img), filters.get('reference')))
      .sort((a, b) => b.Created - a.Created);
  }

  inspect(name: string): ImageInspect {
    return inspectOf(this.store, this.store.resolve(name));
  }

  history(name: string): HistoryItem[] {
    return historyOf(this.store, this.store.resolve(name));
  }

  /** POST /images/create?fromImage=&tag=: `tag` may be a tag or a digest, as the docker CLI sends either. */
  async pull(
    fromImage: string,
    tag: string | undefined,
    opts: { platform?: string; auth?: RegistryAuth; onProgress: ProgressSink; signal?: AbortSignal },
  ): Promise<ImageRecord> {
    const ref = withDefaultTag(parseRepositoryAndTag(fromImage, tag || undefined));
    const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    const { image } = await pullImage(this.store, this.registry, ref, {
      auth: opts.auth,
      platform,
      onProgress: opts.onProgress,
      signal: opts.signal,
    });
    this.events.publish('image', 'pull', familiarString(ref), { name: familiarString(ref) });
    return image;
  }

  /** POST /images/{name}/push?tag=: with no tag, every tag of the repository is pushed. */
  async push(name: string, tag: string | undefined, opts: { auth?: RegistryAuth; onProgress: ProgressSink; signal?: AbortSignal }): Promise<void> {
    const base = parseReference(name);
    if (base.digest) throw invalidArgument('cannot push a digest reference');
    const repo = repositoryName(base);
    let refs: Reference[];
    if (tag || base.tag) {
      refs = [{ ...base, tag: tag || base.tag }];
    } else {
      refs = this.store.records
        .allTags()
        .map((t) => parseReference(t.name))
        .filter((r) => repositoryName(r) === repo);
      if (refs.length === 0) throw new BerthError('not_found', `An image does not exist locally with the tag: ${familiarString(base)}`);
    }
    opts.onProgress({ status: `The push refers to repository [${repo}]` });
    for (const ref of refs) {
      const id = this.store.records.resolveTag(referenceString(ref));
      if (!id) throw new BerthError('not_found', `An image does not exist locally with the tag: ${familiarString(ref)}`);
      const image = this.store.records.getImage(id)!;
      await pushImage(this.store, this.registry, ref, image, opts);
      this.events.publish('image', 'push', familiarString(ref), { name: familiarString(ref) });
    }
  }

  tag(source: string, repo: string, tag: string | undefined): void {
    const image = this.store.resolve(source);
    const ref = parseRepositoryAndTag(repo, tag || undefined);
    if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    const full = withDefaultTag(ref);
    this.store.records.tag(referenceString(full), image.id);
    this.store.records.updateImageDoc(image.id, { ...image.doc, lastTagTime: new Date().toISOString() });
    this.events.publish('image', 'tag', image.id, { name: familiarString(full) });
  }

  /** IDs of the images some other image names as its parent. */
  private parentIds(): Set<string> {
    const out = new Set<string>();
    for (const img of this.store.records.listImages()) if (typeof img.doc.parent === 'string') out.add(img.doc.parent);
    return out;
  }

  /**
   * Docker's image delete: untag by name, delete by ID, and remove the layers that nothing else uses; then, unless
   * noprune, the untagged parents nothing else needs (a built image's intermediate steps).
   */
  async remove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteResponseItem[]> {
    const { items: out, parent: first } = await this.removeOne(name, opts);
    if (opts.noprune) return out;
    let parent = first;
    while (parent) {
      const img = this.store.records.getImage(parent as Digest);
      if (!img || this.store.records.tagsOf(img.id).length > 0 || this.parentIds().has(img.id)) break;
      const users = this.usage(img.id);
      if (users.running.length || users.stopped.length) break;
      const next = await this.removeOne(img.id, {});
      out.push(...next.items);
      parent = next.parent;
    }
    return out;
  }

  /** `parent`: set when the image itself was deleted and named a parent. */
  private async removeOne(name: string, opts: { force?: boolean }): Promise<{ items: DeleteResponseItem[]; parent?: string }> {
    const image = this.store.resolve(name);
    const out: DeleteResponseItem[] = [];
    const byRef = this.store.referenceNaming(name, image.id);
    const users = this.usage(image.id);
    if (byRef && !byRef.digest) {
      const full = referenceString(withDefaultTag(byRef));
      const remainingTags = this.store.records.tagsOf(image.id).filter((t) => t !== full);
      if (remainingTags.length === 0) this.checkUsers(image.id, users, opts.force);
      this.store.records.untag(full);
      out.push({ Untagged: familiarString(withDefaultTag(byRef)) });
      this.events.publish('image', 'untag', image.id, { name: image.id });
      if (remainingTags.length > 0) return { items: out };
    } else if (byRef?.digest) {
      const remainingTags = this.store.records.tagsOf(image.id);
      if (remainingTags.length > 0) {
        this.store.records.removeDigestsOf(image.id, repositoryName(byRef));
        out.push({ Untagged: familiarString(byRef) });
        return { items: out };
      }
      this.checkUsers(image.id, users, opts.force);
    } else {
      const repos = new Set(this.store.records.tagsOf(image.id).map((t) => repositoryName(parseReference(t))));
      if (repos.size > 1 && !opts.force) {
        throw conflict(
          `conflict: unable to delete ${shortImageId(image.id)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      this.checkUsers(image.id, users, opts.force);
      for (const t of this.store.records.tagsOf(image.id)) {
        this.store.records.untag(t);
        out.push({ Untagged: familiarString(parseReference(t)) });
        this.events.publish('image', 'untag', image.id, { name: image.id });
      }
    }
    if (this.parentIds().has(image.id)) {
      throw conflict(`conflict: unable to delete ${shortImageId(image.id)} (cannot be forced) - image has dependent child images`);
    }
    for (const d of this.store.records.digestsOf(image.id)) out.push({ Untagged: `${familiarString(parseReference(d.repo))}@${d.digest}` });
    const layersBefore = new Set(this.store.records.listLayers().map((l) => l.chainId));
    await this.store.deleteImage(image.id);
    out.push({ Deleted: image.id });
    const layersAfter = new Set(this.store.records.listLayers().map((l) => l.chainId));
    for (const c of [...image.layers].reverse()) if (layersBefore.has(c) && !layersAfter.has(c)) out.push({ Deleted: c });
    this.events.publish('image', 'delete', image.id, { name: image.id });
    return { items: out, parent: typeof image.doc.parent === 'string' ? image.doc.parent : undefined };
  }

  private checkUsers(id: Digest, users: { running: string[]; stopped: string[] }, force?: boolean): void {
    const short = shortImageId(id);
    if (users.running.length) {
      throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${users.running[0].slice(0, 12)}`);
    }
    if (users.stopped.length && !force) {
      throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users.stopped[0].slice(0, 12)}`);
    }
  }

  async prune(opts: { all?: boolean; filters?: Filters }): Promise<{ ImagesDeleted: DeleteResponseItem[]; SpaceReclaimed: number }> {
    const filters = new Map(opts.filters ?? []);
    const dangling = filters.get('dangling');
    filters.delete('dangling');
    validateFilters(filters, new Set(['until', 'label', 'label!']));
    const onlyDangling = dangling?.length ? !['false', '0'].includes(dangling[0].toLowerCase()) : !opts.all;
    const deleted: DeleteResponseItem[] = [];
    const sizeBefore = await this.diskUsage();
    // The parent set only changes when something is removed, so it is rescanned then rather than per image.
    let parents = this.parentIds();
    for (const img of this.store.records.listImages()) {
      if (!this.store.records.getImage(img.id)) continue; // gone with an earlier one's parents
      if (parents.has(img.id)) continue; // Docker prunes from the leaves; parents go with them
      if (onlyDangling && this.store.records.tagsOf(img.id).length > 0) continue;
      const users = this.usage(img.id);
      if (users.running.length || users.stopped.length) continue;
      if (!imageMatches(this.store, img, filters)) continue;
      deleted.push(...(await this.remove(img.id, { force: true })));
      parents = this.parentIds();
    }
    const reclaimed = deleted.length ? sizeBefore - (await this.diskUsage()) : 0;
    this.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  save(names: string[]): Readable {
    if (names.length === 0) throw invalidArgument('no image names given');
    const stream = saveImages(this.store, names);
    for (const n of names) this.events.publish('image', 'save', this.store.resolve(n).id, { name: n });
    return stream;
  }

  async load(source: Readable, opts: { quiet: boolean; onProgress: ProgressSink }): Promise<string[]> {
    const { loaded } = await loadImages(this.store, this.tmpRoot, source, opts);
    for (const l of loaded) this.events.publish('image', 'load', l.replace(/^Loaded image( ID)?: /, ''), {});
    return loaded;
  }

  /**
   * A new image from a base image plus one layer (docker commit; the builder's steps later): the layer tar is stored
   * on top of the base's chain, and the config gains its diff ID and a history entry.
   */
  async commitLayer(
    base: ImageRecord,
    layerTar: Readable,
    opts: { config: Record<string, unknown>; createdBy: string; comment?: string; author?: string; repo?: string; tag?: string },
  ): Promise<Digest> {
    const target = this.targetOf(opts.repo, opts.tag);
    const layer = await storeLayer(this.store, layerTar, { compression: 'none', parent: base.topLayer });
    const baseLayers = base.layers.map((c) => this.store.records.getLayer(c)!);
    const id = this.registerOnBase(JSON.parse(base.config) as Record<string, unknown>, baseLayers, layer, {
      config: opts.config,
      history: { created_by: opts.createdBy, ...(opts.author ? { author: opts.author } : {}), ...(opts.comment ? { comment: opts.comment } : {}) },
      author: opts.author,
      doc: { parent: base.id, ...(opts.comment ? { comment: opts.comment } : {}) },
      target,
    });
    this.events.publish('image', 'commit', id, target ? { name: familiarString(target) } : {});
    return id;
  }

  /**
   * One builder step as an image: `base` (null for scratch) plus, when given, one layer tar, with `config` as the new
   * container config and one history entry. A step without a layer is recorded as Docker does: `empty_layer: true`.
   */
  async commitBuildStep(
    base: ImageRecord | null,
    opts: { layerTar?: Readable; config: Record<string, unknown>; createdBy: string; doc?: Record<string, unknown>; platform?: string; author?: string },
  ): Promise<{ id: Digest; layerSize: number }> {
    const baseConfig: Record<string, unknown> = base
      ? withoutAuthor(JSON.parse(base.config) as Record<string, unknown>)
      : (() => {
          const p = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
          return { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) };
        })();
    const baseLayers = (base?.layers ?? []).map((c) => this.store.records.getLayer(c)!);
    const doc = { ...(base ? { parent: base.id } : {}), ...(opts.doc ?? {}) };
    const layer = opts.layerTar ? await storeLayer(this.store, opts.layerTar, { compression: 'none', parent: base?.topLayer ?? null }) : null;
    const author: Record<string, string> = opts.author ? { author: opts.author } : {};
    const id = this.registerOnBase(baseConfig, baseLayers, layer, {
      config: opts.config,
      history: layer ? { created_by: opts.createdBy, ...author } : { ...author, created_by: opts.createdBy, empty_layer: true },
      author: opts.author,
      doc,
    });
    return { id, layerSize: layer?.size ?? 0 };
  }

  /**
   * --cache-from: a new image made of `parent` plus step `index` of `source`'s history (and that step's layer, which
   * the store already holds), with `config` as its container config, as Docker's classic builder restores a cached
   * step from an image whose history matches the build so far.
   */
  restoreCachedStep(parent: ImageRecord | null, source: ImageRecord, index: number, config: Record<string, unknown>): Digest | undefined {
    const src = JSON.parse(source.config) as {
      architecture?: string;
      os?: string;
      variant?: string;
      author?: string;
      history?: Array<{ created?: string; empty_layer?: boolean }>;
      rootfs?: { diff_ids?: string[] };
    };
    const history = src.history ?? [];
    const entry = history[index];
    if (!entry) return undefined;
    const parentConfig = parent ? (JSON.parse(parent.config) as { history?: unknown[]; rootfs?: { diff_ids?: string[] } }) : {};
    const parentLayers = (parent?.layers ?? []).map((c) => this.store.records.getLayer(c)!);
    const layerIndex = history.slice(0, index).filter((h) => !h.empty_layer).length;
    const layers = [...parentLayers];
    const diffIds = [...(parentConfig.rootfs?.diff_ids ?? [])];
    if (!entry.empty_layer) {
      // The parent must be exactly the layers below this step in the source, else the chain would not match.
      if (parentLayers.length !== layerIndex || source.layers.length <= layerIndex) return undefined;
      const layer = this.store.records.getLayer(source.layers[layerIndex]);
      if (!layer) return undefined;
      layers.push(layer);
      diffIds.push(layer.diffId);
    }
    const image = {
      ...(src.architecture ? { architecture: src.architecture } : {}),
      ...(src.os ? { os: src.os } : {}),
      ...(src.variant ? { variant: src.variant } : {}),
      ...(src.author ? { author: src.author } : {}),
      created: entry.created ?? new Date().toISOString(),
      config,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [...(parentConfig.history ?? []), entry],
    };
    const raw = JSON.stringify(image);
    const id = sha256Digest(raw);
    const existing = this.store.records.getImage(id);
    registerImage(this.store, { id, rawConfig: raw, config: image as unknown as ImageConfig, layers, existing, doc: parent ? { parent: parent.id } : {} });
    return id;
  }

  /**
   * Of `candidates` (images only the build cache keeps), the ones that can go: untagged, without digests, unused by
   * containers and without child images that stay. Also which layers removing them would free, with their sizes.
   */
  reclaimableImages(candidates: string[]): { removable: Digest[]; freedLayers: Array<{ chainId: Digest; size: number }> } {
    const all = this.store.records.listImages();
    const byId = new Map(all.map((i) => [i.id as string, i]));
    const removable = new Set<string>(
      candidates.filter((id) => {
        const img = byId.get(id);
        if (!img) return false;
        if (this.store.records.tagsOf(img.id).length || this.store.records.digestsOf(img.id).length) return false;
        const users = this.usage(img.id);
        return users.running.length === 0 && users.stopped.length === 0;
      }),
    );
    // An image with a child that stays stays too (the child names it as parent): repeat until nothing changes.
    for (let changed = true; changed; ) {
      changed = false;
      for (const img of all) {
        if (removable.has(img.id)) continue;
        const parent = img.doc.parent;
        if (typeof parent === 'string' && removable.delete(parent)) changed = true;
      }
    }
    const kept = new Set<string>();
    for (const img of all) if (!removable.has(img.id)) for (const c of img.layers) kept.add(c);
    const freed = new Map<Digest, number>();
    for (const id of removable) {
      for (const c of byId.get(id)!.layers) {
        if (kept.has(c) || freed.has(c)) continue;
        freed.set(c, this.store.records.getLayer(c)?.size ?? 0);
      }
    }
    return { removable: [...removable] as Digest[], freedLayers: [...freed].map(([chainId, size]) => ({ chainId, size })) };
  }

  /** Removes what reclaimableImages allows of `candidates`, children first; resolves with the bytes freed. */
  async removeIntermediateImages(candidates: string[]): Promise<number> {
    const { removable } = this.reclaimableImages(candidates);
    const left = new Set<string>(removable);
    const before = await this.diskUsage();
    while (left.size) {
      const parents = new Set<string>();
      for (const id of left) {
        const p = this.store.records.getImage(id as Digest)?.doc.parent;
        if (typeof p === 'string') parents.add(p);
      }
      // Leaves first, so no remaining image ever names a removed one as parent.
      const leaves = [...left].filter((id) => !parents.has(id));
      if (leaves.length === 0) break;
      for (const id of leaves) {
        left.delete(id);
        await this.store.deleteImage(id as Digest);
        this.events.publish('image', 'delete', id, { name: id });
      }
    }
    return before - (await this.diskUsage());
  }

  /** Tags an image the builder made (`docker build -t`), without the event noise of `docker tag`. */
  tagBuilt(id: Digest, name: string): string {
    const ref = withDefaultTag(parseReference(name));
    if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    this.store.records.tag(referenceString(ref), id);
    this.events.publish('image', 'tag', id, { name: familiarString(ref) });
    return familiarString(ref);
  }

  /** Whether an image ID is (still) stored. */
  exists(id: Digest): boolean {
    return this.store.records.getImage(id) !== undefined;
  }

  /** The unpacked layer directories of an image, bottom first, for reading files without a mount. */
  snapshotDirs(img: ImageRecord): string[] {
    return img.layers.map((c) => this.store.snapshots.fsPath(c));
  }

  /** POST /images/create?fromSrc=: a root filesystem tarball becomes a one-layer image. */
  async import(
    source: Readable,
    opts: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string; sourceName: string; onProgress: ProgressSink },
  ): Promise<Digest> {
    const target = this.targetOf(opts.repo, opts.tag);
    const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    const layer = await storeLayer(this.store, source, { compression: 'auto', parent: null });
    const base = { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) };
    const id = this.registerOnBase(base, [], layer, {
      config: applyChanges({}, opts.changes ?? []),
      history: { created_by: '', comment: opts.message || `Imported from ${opts.sourceName}` },
      doc: opts.message ? { comment: opts.message } : {},
      target,
    });
    opts.onProgress({ status: id });
    this.events.publish('image', 'import', id, {});
    return id;
  }

  private targetOf(repo: string | undefined, tag: string | undefined): Reference | undefined {
    const target = repo ? withDefaultTag(parseRepositoryAndTag(repo, tag || undefined)) : undefined;
    if (target?.digest) throw invalidArgument('cannot use a digest reference as the new image\'s name');
    return target;
  }

  /**
   * Registers `baseConfig` + one layer (or none, for a step that only changes the config) as an image (config,
   * rootfs, history) and tags it; returns the image ID.
   */
  private registerOnBase(
    baseConfig: Record<string, unknown>,
    baseLayers: LayerRecord[],
    layer: LayerRecord | null,
    opts: { config: Record<string, unknown>; history: Record<string, string | boolean>; author?: string; doc: Record<string, unknown>; target?: Reference },
  ): Digest {
    const created = new Date().toISOString();
    const prior = baseConfig as { rootfs?: { diff_ids?: string[] }; history?: unknown[] };
    const config = {
      ...baseConfig,
      created,
      ...(opts.author ? { author: opts.author } : {}),
      config: opts.config,
      rootfs: { type: 'layers', diff_ids: [...(prior.rootfs?.diff_ids ?? []), ...(layer ? [layer.diffId] : [])] },
      history: [...(prior.history ?? []), { created, ...opts.history }],
    };
    const raw = JSON.stringify(config);
    const id = sha256Digest(raw);
    registerImage(this.store, { id, rawConfig: raw, config: config as unknown as ImageConfig, layers: layer ? [...baseLayers, layer] : baseLayers, doc: opts.doc });
    if (opts.target) this.store.records.tag(referenceString(opts.target), id);
    return id;
  }
}

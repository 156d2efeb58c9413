import { invalidArgument, notFound } from '../../errors.js';
import {
  familiarName,
  familiarString,
  parseReference,
  referenceString,
  repositoryName,
  withDefaultTag,
  type Reference,
} from '../../registry/reference.js';
import type { ContentStore } from '../../store/content-store.js';
import type { ImageRecord, ImageRecords } from '../../store/image-records.js';
import type { SnapshotStore } from '../../store/snapshots.js';
import type { Digest } from '../../util/digest.js';

const FULL_ID = /^(?:sha256:)?([a-f0-9]{64})$/;
const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{1,63})$/;

/**
 * The image model over the store: name resolution as Docker does it, and removal of layers nobody uses any more.
 * Pull, push, load and the views all go through here.
 */
export class ImageStore {
  /** Layers (`chain:<id>`) and blobs (`blob:<digest>`) that a pull in progress may still register, with counts. */
  private readonly held = new Map<string, number>();

  constructor(
    readonly records: ImageRecords,
    readonly content: ContentStore,
    readonly snapshots: SnapshotStore,
  ) {}

  /** Docker's lookup order: full ID, then reference (tag or digest), then a unique ID prefix. */
  resolve(name: string): ImageRecord {
    const found = this.tryResolve(name);
    if (!found) throw notFound(`No such image: ${name}`);
    return found;
  }

  tryResolve(name: string): ImageRecord | undefined {
    const full = FULL_ID.exec(name);
    if (full) {
      const img = this.records.getImage(`sha256:${full[1]}`);
      if (img) return img;
    }
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref) {
      const id = this.resolveReference(ref);
      if (id) return this.records.getImage(id);
    }
    const prefix = ID_PREFIX.exec(name);
    if (prefix && (name.startsWith('sha256:') || !ref?.tag)) {
      const matches = this.records.findImageByIdPrefix(prefix[1]);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`ambiguous image ID prefix ${name}: ${matches.length} images match`);
    }
    return undefined;
  }

  resolveReference(ref: Reference): Digest | undefined {
    if (ref.digest) return this.records.resolveDigest(repositoryName(ref), ref.digest);
    return this.records.resolveTag(referenceString(withDefaultTag(ref)));
  }

  /** The reference `name` was, if it is one (tag or digest) that points at image `id`; undefined when it named an ID. */
  referenceNaming(name: string, id: Digest): Reference | undefined {
    let ref: Reference;
    try {
      ref = parseReference(name);
    } catch {
      return undefined;
    }
    return this.resolveReference(ref) === id ? ref : undefined;
  }

  /** RepoTags as the API shows them: familiar names. */
  repoTags(id: Digest): string[] {
    return this.records
      .tagsOf(id)
      .map((t) => familiarString(parseReference(t)))
      .sort();
  }

  repoDigests(id: Digest): string[] {
    return this.records
      .digestsOf(id)
      .map((d) => `${familiarName(parseReference(d.repo))}@${d.digest}`)
      .sort();
  }

  /** Deletes the image record and every layer (snapshot, blob, row) that no other image uses. */
  async deleteImage(id: Digest): Promise<void> {
    const img = this.records.getImage(id);
    if (!img) return;
    this.records.deleteImage(id);
    await this.releaseLayers([...img.layers].reverse());
  }

  /** Layers are released top first so a parent is never removed before its child. */
  async releaseLayers(chainIds: Digest[]): Promise<void> {
    for (const chainId of chainIds) {
      if (this.records.layerUsers(chainId) > 0) continue;
      if (this.records.listLayers().some((l) => l.parent === chainId)) continue;
      const layer = this.records.getLayer(chainId);
      this.records.deleteLayer(chainId);
      await this.snapshots.remove(chainId);
      if (layer?.blobDigest && !this.records.findLayerByBlob(layer.blobDigest)) await this.content.delete(layer.blobDigest);
    }
  }

  /** Marks layers and blobs as wanted by a pull in progress, until the returned function is called. */
  hold(chainIds: Digest[], blobDigests: Digest[]): () => void {
    const keys = [...chainIds.map((c) => `chain:${c}`), ...blobDigests.map((d) => `blob:${d}`)];
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) {
        const n = (this.held.get(k) ?? 1) - 1;
        if (n > 0) this.held.set(k, n);
        else this.held.delete(k);
      }
    };
  }

  /**
   * After a failed pull: removes the snapshots and blobs it committed that no layer record claims and no other pull
   * holds, so a failure stores nothing. Each check is followed directly by the one unlink or rename that detaches the
   * item; a pull starting in between would have to fetch and commit a whole layer inside that gap to be affected.
   */
  async discardUnregistered(layers: Array<{ chainId: Digest; blobDigest: Digest | null }>): Promise<void> {
    for (const { chainId, blobDigest } of [...layers].reverse()) {
      if (blobDigest && !this.held.has(`blob:${blobDigest}`) && !this.records.findLayerByBlob(blobDigest)) {
        await this.content.delete(blobDigest);
      }
      if (!this.held.has(`chain:${chainId}`) && !this.records.getLayer(chainId)) await this.snapshots.remove(chainId);
    }
  }

  /**
   * Crash recovery at start-up: partial downloads and unpacks are dropped, snapshots and blobs nobody refers to are
   * removed, and an image that claims a layer whose files are gone is removed rather than left half-usable.
   */
  async recover(log: (msg: string) => void): Promise<void> {
    const ingest = await this.content.cleanIngest();
    const temps = await this.snapshots.cleanTemp();
    if (ingest || temps) log(`removed ${ingest} partial downloads and ${temps} partial layer unpacks`);
    const onDisk = new Set(await this.snapshots.list());
    const layers = this.records.listLayers();
    const known = new Set(layers.map((l) => l.chainId));
    for (const img of this.records.listImages()) {
      const missing = img.layers.find((c) => !onDisk.has(c) || !known.has(c));
      if (missing) {
        log(`removing image ${img.id}: layer ${missing} is missing on disk`);
        await this.deleteImage(img.id);
      }
    }
    const used = new Set<string>();
    for (const img of this.records.listImages()) for (const c of img.layers) used.add(c);
    // Children go before parents (the parent column is a foreign key), so sweep until nothing changes.
    for (let changed = true; changed; ) {
      changed = false;
      const all = this.records.listLayers();
      for (const l of all) {
        const garbage = !used.has(l.chainId) || !onDisk.has(l.chainId);
        if (garbage && !all.some((o) => o.parent === l.chainId)) {
          this.records.deleteLayer(l.chainId);
          changed = true;
        }
      }
    }
    const liveLayers = new Set(this.records.listLayers().map((l) => l.chainId));
    for (const chainId of onDisk) if (!liveLayers.has(chainId)) await this.snapshots.remove(chainId);
    const liveBlobs = new Set(
      this.records
        .listLayers()
        .map((l) => l.blobDigest)
        .filter((d): d is Digest => d !== null),
    );
    for (const d of await this.content.list()) if (!liveBlobs.has(d)) await this.content.delete(d);
  }
}

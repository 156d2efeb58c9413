import type BetterSqlite3 from 'better-sqlite3';
import type { Digest } from '../util/digest.js';
import type { MetadataDb } from './db.js';

export interface LayerRecord {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  /** Unpacked bytes. */
  size: number;
  /** Bytes of the uncompressed layer tar. */
  diffSize: number;
  /** The compressed blob this layer came from (or was pushed as), if one is kept. */
  blobDigest: Digest | null;
  blobMediaType: string | null;
  blobSize: number | null;
  createdAt: number;
}

export interface ImageRecord {
  /** sha256 of the config. */
  id: Digest;
  /** The raw config JSON, byte-exact. */
  config: string;
  topLayer: Digest | null;
  size: number;
  /** Local time the image was stored, ms. */
  createdAt: number;
  /** Extra metadata (manifests per repo, ...). */
  doc: Record<string, unknown>;
  /** Chain IDs, base first. */
  layers: Digest[];
}

interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  size: number;
  diff_size: number;
  blob_digest: string | null;
  blob_media_type: string | null;
  blob_size: number | null;
  created_at: number;
}

interface ImageRow {
  id: string;
  config: string;
  top_layer: string | null;
  size: number;
  created_at: number;
  doc: string;
}

const HEX_PREFIX = /^(?:sha256:)?([a-f0-9]{1,64})$/;

function toLayer(r: LayerRow): LayerRecord {
  return {
    chainId: r.chain_id as Digest,
    diffId: r.diff_id as Digest,
    parent: r.parent as Digest | null,
    size: r.size,
    diffSize: r.diff_size,
    blobDigest: r.blob_digest as Digest | null,
    blobMediaType: r.blob_media_type,
    blobSize: r.blob_size,
    createdAt: r.created_at,
  };
}

function parseDoc(doc: string): Record<string, unknown> {
  const v: unknown = JSON.parse(doc);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function toImage(r: ImageRow, layers: Digest[]): ImageRecord {
  return {
    id: r.id as Digest,
    config: r.config,
    topLayer: r.top_layer as Digest | null,
    size: r.size,
    createdAt: r.created_at,
    doc: parseDoc(r.doc),
    layers,
  };
}

/** Typed access to the image tables; the engine goes through this, never through SQL. */
export class ImageRecords {
  private readonly s: {
    getLayer: BetterSqlite3.Statement<[string], LayerRow>;
    putLayer: BetterSqlite3.Statement<[LayerRow]>;
    setLayerBlob: BetterSqlite3.Statement<[string, string, number, string]>;
    findLayerByBlob: BetterSqlite3.Statement<[string], LayerRow>;
    layerUsers: BetterSqlite3.Statement<[string], { n: number }>;
    deleteLayer: BetterSqlite3.Statement<[string]>;
    listLayers: BetterSqlite3.Statement<[], LayerRow>;
    getImage: BetterSqlite3.Statement<[string], ImageRow>;
    imageLayers: BetterSqlite3.Statement<[string], { chain_id: string }>;
    imagesInRange: BetterSqlite3.Statement<[string, string], ImageRow>;
    upsertImage: BetterSqlite3.Statement<[ImageRow]>;
    deleteImageLayers: BetterSqlite3.Statement<[string]>;
    insertImageLayer: BetterSqlite3.Statement<[string, number, string]>;
    updateDoc: BetterSqlite3.Statement<[string, string]>;
    deleteImage: BetterSqlite3.Statement<[string]>;
    deleteTagsOf: BetterSqlite3.Statement<[string]>;
    deleteDigestsOf: BetterSqlite3.Statement<[string]>;
    deleteDigestsOfInRepo: BetterSqlite3.Statement<[string, string]>;
    listImages: BetterSqlite3.Statement<[], ImageRow>;
    allImageLayers: BetterSqlite3.Statement<[], { image_id: string; chain_id: string }>;
    resolveTag: BetterSqlite3.Statement<[string], { image_id: string }>;
    upsertTag: BetterSqlite3.Statement<[string, string]>;
    untag: BetterSqlite3.Statement<[string]>;
    tagsOf: BetterSqlite3.Statement<[string], { name: string }>;
    allTags: BetterSqlite3.Statement<[], { name: string; image_id: string }>;
    upsertDigest: BetterSqlite3.Statement<[string, string, string, string]>;
    digestsOf: BetterSqlite3.Statement<[string], { repo: string; digest: string; manifest: string }>;
    resolveDigest: BetterSqlite3.Statement<[string, string], { image_id: string }>;
  };

  constructor(readonly db: MetadataDb) {
    const q = db.sql;
    this.s = {
      getLayer: q.prepare('SELECT * FROM layers WHERE chain_id = ?'),
      putLayer: q.prepare(
        `INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, diff_size, blob_digest, blob_media_type, blob_size, created_at)
         VALUES (@chain_id, @diff_id, @parent, @size, @diff_size, @blob_digest, @blob_media_type, @blob_size, @created_at)`,
      ),
      setLayerBlob: q.prepare(
        'UPDATE layers SET blob_digest = ?, blob_media_type = ?, blob_size = ? WHERE chain_id = ?',
      ),
      findLayerByBlob: q.prepare('SELECT * FROM layers WHERE blob_digest = ? ORDER BY created_at LIMIT 1'),
      layerUsers: q.prepare('SELECT COUNT(DISTINCT image_id) AS n FROM image_layers WHERE chain_id = ?'),
      deleteLayer: q.prepare('DELETE FROM layers WHERE chain_id = ?'),
      listLayers: q.prepare('SELECT * FROM layers ORDER BY created_at, chain_id'),
      getImage: q.prepare('SELECT * FROM images WHERE id = ?'),
      imageLayers: q.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx'),
      imagesInRange: q.prepare('SELECT * FROM images WHERE id >= ? AND id < ? ORDER BY id'),
      upsertImage: q.prepare(
        `INSERT INTO images (id, config, top_layer, size, created_at, doc)
         VALUES (@id, @config, @top_layer, @size, @created_at, @doc)
         ON CONFLICT(id) DO UPDATE SET config = excluded.config, top_layer = excluded.top_layer, size = excluded.size,
           created_at = excluded.created_at, doc = excluded.doc`,
      ),
      deleteImageLayers: q.prepare('DELETE FROM image_layers WHERE image_id = ?'),
      insertImageLayer: q.prepare('INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)'),
      updateDoc: q.prepare('UPDATE images SET doc = ? WHERE id = ?'),
      deleteImage: q.prepare('DELETE FROM images WHERE id = ?'),
      deleteTagsOf: q.prepare('DELETE FROM image_tags WHERE image_id = ?'),
      deleteDigestsOf: q.prepare('DELETE FROM image_digests WHERE image_id = ?'),
      deleteDigestsOfInRepo: q.prepare('DELETE FROM image_digests WHERE image_id = ? AND repo = ?'),
      listImages: q.prepare('SELECT * FROM images ORDER BY created_at, id'),
      allImageLayers: q.prepare('SELECT image_id, chain_id FROM image_layers ORDER BY image_id, idx'),
      resolveTag: q.prepare('SELECT image_id FROM image_tags WHERE name = ?'),
      upsertTag: q.prepare(
        'INSERT INTO image_tags (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id',
      ),
      untag: q.prepare('DELETE FROM image_tags WHERE name = ?'),
      tagsOf: q.prepare('SELECT name FROM image_tags WHERE image_id = ? ORDER BY name'),
      allTags: q.prepare('SELECT name, image_id FROM image_tags ORDER BY name'),
      upsertDigest: q.prepare(
        `INSERT INTO image_digests (repo, digest, image_id, manifest) VALUES (?, ?, ?, ?)
         ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id, manifest = excluded.manifest`,
      ),
      digestsOf: q.prepare('SELECT repo, digest, manifest FROM image_digests WHERE image_id = ? ORDER BY repo, digest'),
      resolveDigest: q.prepare('SELECT image_id FROM image_digests WHERE repo = ? AND digest = ?'),
    };
  }

  // --- layers

  getLayer(chainId: Digest): LayerRecord | undefined {
    const r = this.s.getLayer.get(chainId);
    return r && toLayer(r);
  }

  /** Inserts the layer unless one with this chain ID exists (same chain ID means same content). */
  putLayer(l: LayerRecord): void {
    this.s.putLayer.run({
      chain_id: l.chainId,
      diff_id: l.diffId,
      parent: l.parent,
      size: l.size,
      diff_size: l.diffSize,
      blob_digest: l.blobDigest,
      blob_media_type: l.blobMediaType,
      blob_size: l.blobSize,
      created_at: l.createdAt,
    });
  }

  /** Remembers a compressed blob for an existing layer (e.g. after a push compressed it). */
  setLayerBlob(chainId: Digest, blobDigest: Digest, mediaType: string, size: number): void {
    this.s.setLayerBlob.run(blobDigest, mediaType, size, chainId);
  }

  findLayerByBlob(blobDigest: Digest): LayerRecord | undefined {
    const r = this.s.findLayerByBlob.get(blobDigest);
    return r && toLayer(r);
  }

  /** How many images use the layer. */
  layerUsers(chainId: Digest): number {
    return this.s.layerUsers.get(chainId)?.n ?? 0;
  }

  /** Fails (foreign key) while an image or a child layer still refers to it. */
  deleteLayer(chainId: Digest): void {
    this.s.deleteLayer.run(chainId);
  }

  listLayers(): LayerRecord[] {
    return this.s.listLayers.all().map(toLayer);
  }

  // --- images

  getImage(id: Digest): ImageRecord | undefined {
    const r = this.s.getImage.get(id);
    if (!r) return undefined;
    return toImage(r, this.layersOf(id));
  }

  private layersOf(id: string): Digest[] {
    return this.s.imageLayers.all(id).map((l) => l.chain_id as Digest);
  }

  /** Images whose ID starts with the hex prefix (with or without 'sha256:'); [] for a prefix that is not hex. */
  findImageByIdPrefix(prefix: string): ImageRecord[] {
    const m = HEX_PREFIX.exec(prefix);
    if (!m) return [];
    const low = `sha256:${m[1]}`;
    // Every ID with this prefix sorts between the prefix and the prefix followed by a character above any hex digit.
    return this.s.imagesInRange.all(low, `${low}z`).map((r) => toImage(r, this.layersOf(r.id)));
  }

  /** Stores the image and its layer list in one transaction, replacing an earlier row with the same ID. */
  putImage(img: ImageRecord): void {
    this.db.transaction(() => {
      this.s.upsertImage.run({
        id: img.id,
        config: img.config,
        top_layer: img.topLayer,
        size: img.size,
        created_at: img.createdAt,
        doc: JSON.stringify(img.doc),
      });
      this.s.deleteImageLayers.run(img.id);
      img.layers.forEach((chainId, idx) => this.s.insertImageLayer.run(img.id, idx, chainId));
    });
  }

  updateImageDoc(id: Digest, doc: Record<string, unknown>): void {
    this.s.updateDoc.run(JSON.stringify(doc), id);
  }

  /** Removes the image with its tags, digests and layer list; the layers themselves stay (see layerUsers). */
  deleteImage(id: Digest): void {
    this.db.transaction(() => {
      this.s.deleteTagsOf.run(id);
      this.s.deleteDigestsOf.run(id);
      this.s.deleteImageLayers.run(id);
      this.s.deleteImage.run(id);
    });
  }

  listImages(): ImageRecord[] {
    const layers = new Map<string, Digest[]>();
    for (const r of this.s.allImageLayers.all()) {
      let list = layers.get(r.image_id);
      if (!list) layers.set(r.image_id, (list = []));
      list.push(r.chain_id as Digest);
    }
    return this.s.listImages.all().map((r) => toImage(r, layers.get(r.id) ?? []));
  }

  // --- tags

  /** Points `name` at the image; returns the image it pointed to before, if any. */
  tag(name: string, imageId: Digest): Digest | undefined {
    return this.db.transaction(() => {
      const before = this.s.resolveTag.get(name)?.image_id as Digest | undefined;
      this.s.upsertTag.run(name, imageId);
      return before;
    });
  }

  untag(name: string): boolean {
    return this.s.untag.run(name).changes > 0;
  }

  resolveTag(name: string): Digest | undefined {
    return this.s.resolveTag.get(name)?.image_id as Digest | undefined;
  }

  tagsOf(imageId: Digest): string[] {
    return this.s.tagsOf.all(imageId).map((r) => r.name);
  }

  allTags(): Array<{ name: string; imageId: Digest }> {
    return this.s.allTags.all().map((r) => ({ name: r.name, imageId: r.image_id as Digest }));
  }

  // --- digests

  /** Records that `repo@digest` (a manifest) names the image; a later call for the same pair replaces it. */
  addDigest(repo: string, digest: Digest, imageId: Digest, manifest: string): void {
    this.s.upsertDigest.run(repo, digest, imageId, manifest);
  }

  digestsOf(imageId: Digest): Array<{ repo: string; digest: Digest; manifest: string }> {
    return this.s.digestsOf.all(imageId).map((r) => ({ repo: r.repo, digest: r.digest as Digest, manifest: r.manifest }));
  }

  resolveDigest(repo: string, digest: Digest): Digest | undefined {
    return this.s.resolveDigest.get(repo, digest)?.image_id as Digest | undefined;
  }

  removeDigestsOf(imageId: Digest, repo?: string): void {
    if (repo === undefined) this.s.deleteDigestsOf.run(imageId);
    else this.s.deleteDigestsOfInRepo.run(imageId, repo);
  }
}

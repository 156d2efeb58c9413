import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { BerthError, invalidArgument } from '../../errors.js';
import {

  parseImageConfig,
  parseManifestOrIndex,
  MediaType,
} from '../../registry/manifest.js';
import { familiarString, parseReference, referenceString, withDefaultTag } from '../../registry/reference.js';
import type { ImageRecord, LayerRecord } from '../../store/image-records.js';
import { applyLayerTar, chainIds } from '../../store/layer-tar.js';
import { digestHex, isDigest, sha256Digest, type Digest } from '../../util/digest.js';
import { ProgressReporter, type ProgressSink } from '../progress.js';
import { decompressor, detectCompression, type Compression } from './compression.js';
import type { ImageStore } from './image-store.js';
import { storeLayer } from './layer-ingest.js';
import { registerImage } from './pull.js';

const blobPath = (d: Digest): string => `blobs/sha256/${digestHex(d)}`;


interface SaveItem {
  image: ImageRecord;
  layers: LayerRecord[];
  names: string[]; // full references
}

/**
 * `docker save`: Docker 25+'s format, an OCI image layout that also carries the legacy manifest.json, with
 * uncompressed layers whose digests are the diff IDs, so `docker load` and OCI tools both read it.
 */
export function saveImages(store: ImageStore, names: string[]): Readable {
  const items = new Map<Digest, SaveItem>();
  for (const name of names) {
    const image = store.resolve(name);
    let item = items.get(image.id);
    if (!item) {
      const layers = image.layers.map((c) => store.records.getLayer(c)!);
      item = { image, layers, names: [] };
      items.set(image.id, item);
    }
    // Named by tag: the archive carries the tag. Named by ID or digest: it carries none, as with Docker.
    const ref = store.referenceNaming(name, image.id);
    if (ref && !ref.digest) {
      const full = referenceString(withDefaultTag(ref));
      if (!item.names.includes(full)) item.names.push(full);
    }
  }
  const pack = tarStream.pack();
  const out = new PassThrough();
  pack.pipe(out);
  writeSave(store, pack, [...items.values()]).catch((err) => {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return out;
}

function addDir(pack: tarStream.Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, type: 'directory', mtime: new Date(0), mode: 0o755 }, (err) => (err ? reject(err) : resolve()));
  });
}

function addEntry(pack: tarStream.Pack, name: string, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, mtime: new Date(0), mode: 0o644 }, data, (err) => (err ? reject(err) : resolve()));
  });
}

async function writeSave(store: ImageStore, pack: tarStream.Pack, items: SaveItem[]): Promise<void> {
  await addDir(pack, 'blobs/');
  await addDir(pack, 'blobs/sha256/');
  const written = new Set<string>();
  const legacy: Array<Record<string, unknown>> = [];
  const indexEntries: Array<Record<string, unknown>> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, layers, names } of items) {
    for (const layer of layers) {
      if (written.has(layer.diffId)) continue;
      written.add(layer.diffId);
      if (!layer.blobDigest) throw new BerthError('unavailable', `layer ${layer.diffId} has no stored blob`);
      const entry = pack.entry({ name: blobPath(layer.diffId), size: layer.diffSize, mtime: new Date(0), mode: 0o644 });
      const done = new Promise<void>((resolve, reject) => {
        entry.on('finish', resolve);
        entry.on('error', reject);
      });
      await pipeline(store.content.read(layer.blobDigest), decompressor(compressionOf(layer)), entry);
      await done;
    }
    if (!written.has(image.id)) {
      written.add(image.id);
      await addEntry(pack, blobPath(image.id), image.config);
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: image.id, size: Buffer.byteLength(image.config) },
        layers: layers.map((l) => ({ mediaType: MediaType.OciLayer, digest: l.diffId, size: l.diffSize })),
      }),
    );
    const manifestDigest = sha256Digest(manifest);
    if (!written.has(manifestDigest)) {
      written.add(manifestDigest);
      await addEntry(pack, blobPath(manifestDigest), manifest);
    }
    const desc = { mediaType: MediaType.OciManifest, digest: manifestDigest, size: manifest.length };
    if (names.length === 0) indexEntries.push(desc);
    for (const full of names) {
      const ref = parseReference(full);
      indexEntries.push({
        ...desc,
        annotations: { 'io.containerd.image.name': full, 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' },
      });
      const familiar = familiarString(ref);
      const repo = familiar.slice(0, familiar.lastIndexOf(':'));
      (repositories[repo] ??= {})[ref.tag ?? 'latest'] = layers.length ? digestHex(layers[layers.length - 1].diffId) : '';
    }
    legacy.push({
      Config: blobPath(image.id),
      RepoTags: names.map((n) => familiarString(parseReference(n))),
      Layers: layers.map((l) => blobPath(l.diffId)),
    });
  }
  await addEntry(pack, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexEntries }));
  await addEntry(pack, 'manifest.json', JSON.stringify(legacy));
  await addEntry(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  if (Object.keys(repositories).length) await addEntry(pack, 'repositories', JSON.stringify(repositories));
  pack.finalize();
}

function compressionOf(layer: LayerRecord): Compression {
  const mt = layer.blobMediaType ?? '';
  if (mt.endsWith('zstd')) return 'zstd';
  if (mt.endsWith('gzip')) return 'gzip';
  return 'none';
}

/** Extracts an archive into a private directory; the archive's own paths are checked like any layer's. */
async function unpackArchive(source: Readable, dir: string): Promise<void> {
  await applyLayerTar(source, dir, { allowDevices: false });
}

interface LoadCandidate {
  configPath: string;
  layerPaths: string[];
  names: string[]; // full references
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidArgument(`invalid archive: ${path.basename(file)}: ${(e as Error).message}`);
  }
}

function inside(root: string, rel: string): string {
  const p = path.resolve(root, rel);
  if (p !== root && !p.startsWith(root + path.sep)) throw invalidArgument(`invalid archive: path ${rel} escapes the archive`);
  return p;
}

async function findImages(dir: string): Promise<LoadCandidate[]> {
  const legacy = await readJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(path.join(dir, 'manifest.json'));
  if (legacy) {
    return legacy.map((m) => ({
      configPath: inside(dir, m.Config),
      layerPaths: m.Layers.map((l) => inside(dir, l)),
      names: (m.RepoTags ?? []).map((t) => referenceString(withDefaultTag(parseReference(t)))),
    }));
  }
  const index = await readJson<{ manifests?: Array<{ digest: string; mediaType?: string; annotations?: Record<string, string> }> }>(
    path.join(dir, 'index.json'),
  );
  if (!index) throw invalidArgument('invalid archive: no manifest.json or index.json found');
  const out: LoadCandidate[] = [];
  const visit = async (
    entries: Array<{ digest: string; mediaType?: string; annotations?: Record<string, string> }>,
    inherited?: string,
  ): Promise<void> => {
    for (const e of entries) {
      if (!isDigest(e.digest)) throw invalidArgument(`invalid archive: bad digest ${e.digest}`);
      const raw = await readFile(inside(dir, blobPath(e.digest)));
      if (sha256Digest(raw) !== e.digest) throw invalidArgument(`invalid archive: digest mismatch for ${e.digest}`);
      const parsed = parseManifestOrIndex(raw, e.mediaType);
      const ann = e.annotations ?? {};
      const name = ann['io.containerd.image.name'] ?? inherited ?? refNameAnnotation(ann['org.opencontainers.image.ref.name']);
      if (parsed.kind === 'index') {
        await visit(parsed.index.manifests, name);
        continue;
      }
      const m = parsed.manifest;
      out.push({
        configPath: inside(dir, blobPath(m.config.digest)),
        layerPaths: m.layers.map((l) => inside(dir, blobPath(l.digest))),
        names: name ? [referenceString(withDefaultTag(parseReference(name)))] : [],
      });
    }
  };
  await visit(index.manifests ?? []);
  return out;
}

function refNameAnnotation(v: string | undefined): string | undefined {
  if (!v) return undefined;
  // A bare tag like "latest" names no repository; a full reference does.
  return v.includes('/') || v.includes(':') ? v : undefined;
}

async function headOf(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface LoadResult {
  loaded: string[]; // lines as docker prints them
}

/** `docker load`: docker-save archives (legacy and OCI layout) and plain OCI image layouts. */
export async function loadImages(
  store: ImageStore,
  tmpRoot: string,
  source: Readable,
  opts: { onProgress: ProgressSink; quiet: boolean },
): Promise<LoadResult> {
  await mkdir(tmpRoot, { recursive: true });
  const dir = await mkdtemp(path.join(tmpRoot, 'load-'));
  try {
    await unpackArchive(source, dir);
    const candidates = await findImages(dir);
    if (candidates.length === 0) throw invalidArgument('invalid archive: it contains no image');
    const loaded: string[] = [];
    for (const c of candidates) {
      const rawConfig = await readFile(c.configPath);
      const id = sha256Digest(rawConfig);
      const config = parseImageConfig(rawConfig);
      const diffIds = config.rootfs.diff_ids as Digest[];
      if (diffIds.length !== c.layerPaths.length) {
        throw invalidArgument(`invalid archive: ${c.layerPaths.length} layers for ${diffIds.length} diff IDs`);
      }
      const chains = chainIds(diffIds);
      const layers: LayerRecord[] = [];
      for (let i = 0; i < chains.length; i++) {
        const existing = store.records.getLayer(chains[i]);
        if (existing && (await store.snapshots.has(chains[i]))) {
          layers.push(existing);
          continue;
        }
        const file = c.layerPaths[i];
        const size = (await stat(file)).size;
        const compression = detectCompression(await headOf(file));
        const shortId = digestHex(diffIds[i]).slice(0, 12);
        const bar = opts.quiet ? undefined : new ProgressReporter(opts.onProgress, shortId, 'Loading layer', size);
        const layer = await storeLayer(store, createReadStream(file, { highWaterMark: 1 << 20 }), {
          compression,
          parent: i === 0 ? null : chains[i - 1],
          expectedDiffId: diffIds[i],
          onBytes: (n) => bar?.update(n),
        });
        bar?.update(size, true);
        layers.push(layer);
      }
      registerImage(store, { id, rawConfig: rawConfig.toString('utf8'), config, layers, existing: store.records.getImage(id) });
      if (c.names.length === 0) loaded.push(`Loaded image ID: ${id}`);
      for (const name of c.names) {
        const previous = store.records.tag(name, id);
        const shown = familiarString(parseReference(name));
        if (previous && previous !== id) {
          opts.onProgress({ stream: `The image ${shown} already exists, renaming the old one with ID ${previous} to empty string\n` });
        }
        loaded.push(`Loaded image: ${shown}`);
      }
    }
    for (const line of loaded) opts.onProgress({ stream: `${line}\n` });
    return { loaded };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { BerthError } from '../../errors.js';
import type { ImageConfig, Platform } from '../../registry/manifest.js';
import { layerCompression } from '../../registry/manifest.js';
import type { RegistryAuth, RegistryClient, ResolvedImage } from '../../registry/client.js';
import { familiarString, referenceString, repositoryName, type Reference } from '../../registry/reference.js';
import type { ImageRecord, LayerRecord } from '../../store/image-records.js';
import { chainIds } from '../../store/layer-tar.js';
import { digestHex, type Digest } from '../../util/digest.js';
import { ProgressReporter, type ProgressSink } from '../progress.js';
import type { ImageStore } from './image-store.js';
import { ingestLayer, type IngestedLayer } from './layer-ingest.js';

export interface PullOptions {
  auth?: RegistryAuth;
  platform?: Platform;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

/** Docker limits concurrent downloads to 3 by default; local registries are fast enough that more helps. */
const MAX_CONCURRENT_LAYERS = 6;

const shortId = (d: Digest): string => digestHex(d).slice(0, 12);

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return results;
}

/**
 * Pulls one image: resolves the manifest for the platform, fetches every missing layer concurrently while unpacking
 * it, and registers the image only once every layer is verified and committed, so an interrupted pull never leaves an
 * image that claims layers it does not have.
 */
export async function pullImage(
  store: ImageStore,
  registry: RegistryClient,
  ref: Reference,
  opts: PullOptions,
): Promise<{ image: ImageRecord; upToDate: boolean }> {
  const progress = opts.onProgress;
  // Resolve before the first message, so a missing image is an HTTP error rather than a broken stream.
  const resolved = await registry.resolve(ref, { auth: opts.auth, platform: opts.platform });
  progress({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag ?? 'latest' });
  const config = resolved.config;
  const diffIds = config.rootfs.diff_ids as Digest[];
  const layers = resolved.manifest.layers;
  if (diffIds.length !== layers.length) {
    throw new BerthError('invalid_argument', `manifest has ${layers.length} layers but the image config lists ${diffIds.length}`);
  }
  const chains = chainIds(diffIds);
  const release = store.hold(chains, layers.map((l) => l.digest));
  // Layers this pull made visible; on failure they are dropped again unless something else claims them.
  const committed: Array<{ chainId: Digest; blobDigest: Digest | null }> = [];
  try {
    return await fetchAndRegister(store, registry, ref, resolved, chains, committed, opts);
  } catch (err) {
    release();
    await store.discardUnregistered(committed);
    throw err;
  } finally {
    release();
  }
}

async function fetchAndRegister(
  store: ImageStore,
  registry: RegistryClient,
  ref: Reference,
  resolved: ResolvedImage,
  chains: Digest[],
  committed: Array<{ chainId: Digest; blobDigest: Digest | null }>,
  opts: PullOptions,
): Promise<{ image: ImageRecord; upToDate: boolean }> {
  const progress = opts.onProgress;
  const config = resolved.config;
  const diffIds = config.rootfs.diff_ids as Digest[];
  const layers = resolved.manifest.layers;
  const imageId = resolved.configDigest;
  const existing = store.records.getImage(imageId);

  const ingested = await mapLimit(layers, MAX_CONCURRENT_LAYERS, async (desc, i) => {
    const id = shortId(desc.digest);
    if (store.records.getLayer(chains[i]) && (await store.snapshots.has(chains[i]))) {
      progress({ status: 'Already exists', progressDetail: {}, id });
      return undefined;
    }
    progress({ status: 'Pulling fs layer', progressDetail: {}, id });
    const { body, size } = await registry.fetchBlob(resolved.source, desc.digest, { auth: opts.auth });
    const bar = new ProgressReporter(progress, id, 'Downloading', desc.size || size);
    let layer: IngestedLayer;
    try {
      layer = await ingestLayer(store.content, store.snapshots, body, {
        compression: layerCompression(desc.mediaType),
        expectedBlobDigest: desc.digest,
        expectedBlobSize: desc.size,
        expectedDiffId: diffIds[i],
        keepBlob: true,
        onBytes: (n) => bar.update(n),
        signal: opts.signal,
      });
    } catch (err) {
      body.destroy();
      throw err;
    }
    bar.update(desc.size, true);
    progress({ status: 'Verifying Checksum', progressDetail: {}, id });
    progress({ status: 'Download complete', progressDetail: {}, id });
    committed.push({ chainId: chains[i], blobDigest: layer.blobDigest });
    try {
      await layer.commit(chains[i]);
    } catch (err) {
      await layer.abort();
      throw err;
    }
    progress({ status: 'Pull complete', progressDetail: {}, id });
    return { layer, mediaType: desc.mediaType };
  });

  const now = Date.now();
  const layerRecords: LayerRecord[] = chains.map((chainId, i) => {
    const got = ingested[i];
    const old = store.records.getLayer(chainId);
    if (!got) return old!;
    return {
      chainId,
      diffId: diffIds[i],
      parent: i === 0 ? null : chains[i - 1],
      size: got.layer.size,
      diffSize: got.layer.diffSize,
      blobDigest: got.layer.blobDigest,
      blobMediaType: got.mediaType,
      blobSize: got.layer.blobSize,
      createdAt: now,
    };
  });

  const image = registerImage(store, {
    id: imageId,
    rawConfig: resolved.rawConfig.toString('utf8'),
    config,
    layers: layerRecords,
    existing,
  });
  // Docker reports "up to date" only when the name already pointed at this image: a new tag is news too.
  const nameWasCurrent = store.resolveReference(ref) === imageId;
  recordPulledNames(store, ref, resolved, imageId);

  const digest = resolved.indexDigest ?? resolved.manifestDigest;
  progress({ status: `Digest: ${digest}` });
  const upToDate = existing !== undefined && nameWasCurrent && ingested.every((l) => l === undefined);
  const shown = familiarString(ref);
  progress({ status: upToDate ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
  return { image, upToDate };
}

export function registerImage(
  store: ImageStore,
  img: { id: Digest; rawConfig: string; config: ImageConfig; layers: LayerRecord[]; existing?: ImageRecord; doc?: Record<string, unknown> },
): ImageRecord {
  const record: ImageRecord = {
    id: img.id,
    config: img.rawConfig,
    topLayer: img.layers.length ? img.layers[img.layers.length - 1].chainId : null,
    size: img.layers.reduce((n, l) => n + l.size, 0),
    createdAt: img.existing?.createdAt ?? Date.now(),
    doc: { ...(img.existing?.doc ?? {}), ...(img.doc ?? {}) },
    layers: img.layers.map((l) => l.chainId),
  };
  store.records.db.transaction(() => {
    for (const l of img.layers) {
      store.records.putLayer(l);
      if (l.blobDigest && l.blobMediaType && l.blobSize !== null) {
        store.records.setLayerBlob(l.chainId, l.blobDigest, l.blobMediaType, l.blobSize);
      }
    }
    store.records.putImage(record);
  });
  return record;
}

function recordPulledNames(store: ImageStore, ref: Reference, resolved: ResolvedImage, imageId: Digest): void {
  const repo = repositoryName(ref);
  const digest = resolved.indexDigest ?? resolved.manifestDigest;
  store.records.db.transaction(() => {
    store.records.addDigest(repo, digest, imageId, resolved.rawManifest.toString('utf8'));
    if (ref.tag && !ref.digest) {
      store.records.tag(referenceString(ref), imageId);
      store.records.updateImageDoc(imageId, { ...(store.records.getImage(imageId)?.doc ?? {}), lastTagTime: new Date().toISOString() });
    }
  });
}

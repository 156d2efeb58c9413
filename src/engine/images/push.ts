import { BerthError } from '../../errors.js';
import type { RegistryAuth, RegistryClient } from '../../registry/client.js';
import {


  layerCompression,
  parseManifestOrIndex,
  type Descriptor,
  MediaType,
} from '../../registry/manifest.js';
import { repositoryName, type Reference } from '../../registry/reference.js';
import type { ImageRecord, LayerRecord } from '../../store/image-records.js';
import { digestHex, sha256Digest, type Digest } from '../../util/digest.js';
import { ProgressReporter, type ProgressSink } from '../progress.js';
import { gzipper, readableFrom } from './compression.js';
import type { ImageStore } from './image-store.js';

export interface PushOptions {
  auth?: RegistryAuth;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

interface PushPlan {
  manifest: Buffer;
  mediaType: string;
  layers: Array<{ layer: LayerRecord; desc: Descriptor }>;
}

/** Reuses a manifest the image came with when all its blobs are still here, so a pushed image keeps its digest. */
async function storedManifest(store: ImageStore, image: ImageRecord, layers: LayerRecord[]): Promise<PushPlan | undefined> {
  for (const { manifest } of store.records.digestsOf(image.id)) {
    const raw = Buffer.from(manifest, 'utf8');
    let parsed;
    try {
      parsed = parseManifestOrIndex(raw, undefined);
    } catch {
      continue;
    }
    if (parsed.kind !== 'manifest' || parsed.manifest.config.digest !== image.id) continue;
    const m = parsed.manifest;
    if (m.layers.length !== layers.length) continue;
    if (!m.layers.every((d, i) => d.digest === layers[i].blobDigest)) continue;
    const present = await Promise.all(m.layers.map((d) => store.content.has(d.digest)));
    if (!present.every(Boolean)) continue;
    return { manifest: raw, mediaType: parsed.mediaType, layers: m.layers.map((desc, i) => ({ layer: layers[i], desc })) };
  }
  return undefined;
}

/** Registries expect compressed layers; an uncompressed blob (from `load` or `import`) is gzipped once and kept. */
async function ensureCompressedBlob(store: ImageStore, layer: LayerRecord): Promise<LayerRecord> {
  if (!layer.blobDigest || !(await store.content.has(layer.blobDigest))) {
    throw new BerthError('unavailable', `layer ${layer.diffId} has no blob to push`);
  }
  if (layerCompression(layer.blobMediaType ?? '') !== 'none') return layer;
  const w = store.content.writer();
  const src = store.content.read(layer.blobDigest);
  const gz = gzipper();
  src.on('error', (e) => gz.destroy(e));
  await new Promise<void>((resolve, reject) => {
    gz.on('error', reject);
    w.stream.on('error', reject);
    w.stream.on('finish', resolve);
    src.pipe(gz).pipe(w.stream);
  }).catch(async (e) => {
    await w.abort();
    throw e;
  });
  const { digest, size } = await w.commit();
  store.records.setLayerBlob(layer.chainId, digest, MediaType.DockerLayerGzip, size);
  return { ...layer, blobDigest: digest, blobMediaType: MediaType.DockerLayerGzip, blobSize: size };
}

async function buildManifest(store: ImageStore, image: ImageRecord, layers: LayerRecord[]): Promise<PushPlan> {
  const ready = await Promise.all(layers.map((l) => ensureCompressedBlob(store, l)));
  const zstd = ready.some((l) => layerCompression(l.blobMediaType ?? '') === 'zstd');
  const oci = zstd;
  const descs: Descriptor[] = ready.map((l) => ({
    mediaType: oci
      ? layerCompression(l.blobMediaType ?? '') === 'zstd'
        ? MediaType.OciLayerZstd
        : MediaType.OciLayerGzip
      : MediaType.DockerLayerGzip,
    size: l.blobSize ?? 0,
    digest: l.blobDigest as Digest,
  }));
  const configBytes = Buffer.byteLength(image.config, 'utf8');
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? MediaType.OciManifest : MediaType.DockerManifest,
    config: { mediaType: oci ? MediaType.OciConfig : MediaType.DockerConfig, size: configBytes, digest: image.id },
    layers: descs,
  };
  return {
    manifest: Buffer.from(JSON.stringify(manifest, null, 3)),
    mediaType: manifest.mediaType,
    layers: ready.map((layer, i) => ({ layer, desc: descs[i] })),
  };
}

export async function pushImage(
  store: ImageStore,
  registry: RegistryClient,
  ref: Reference,
  image: ImageRecord,
  opts: PushOptions,
): Promise<Digest> {
  const progress = opts.onProgress;
  const layers = image.layers.map((c) => {
    const l = store.records.getLayer(c);
    if (!l) throw new BerthError('internal', `image ${image.id} refers to unknown layer ${c}`);
    return l;
  });
  const plan = (await storedManifest(store, image, layers)) ?? (await buildManifest(store, image, layers));
  for (const { layer } of plan.layers) progress({ status: 'Preparing', progressDetail: {}, id: digestHex(layer.diffId).slice(0, 12) });

  await Promise.all(
    plan.layers.map(async ({ layer, desc }) => {
      const id = digestHex(layer.diffId).slice(0, 12);
      const bar = new ProgressReporter(progress, id, 'Pushing', desc.size);
      const outcome = await registry.pushBlob(ref, { digest: desc.digest, size: desc.size }, () => store.content.read(desc.digest), {
        auth: opts.auth,
        onProgress: (n) => bar.update(n),
      });
      progress({ status: outcome === 'exists' ? 'Layer already exists' : 'Pushed', progressDetail: {}, id });
    }),
  );
  const config = Buffer.from(image.config, 'utf8');
  await registry.pushBlob(ref, { digest: image.id, size: config.length }, () => readableFrom(config), { auth: opts.auth });
  const digest = await registry.putManifest(ref, plan.manifest, plan.mediaType, { auth: opts.auth });
  if (digest !== sha256Digest(plan.manifest)) {
    throw new BerthError('internal', `registry answered digest ${digest} for a manifest whose digest is ${sha256Digest(plan.manifest)}`);
  }
  store.records.addDigest(repositoryName(ref), digest, image.id, plan.manifest.toString('utf8'));
  const tag = ref.tag ?? 'latest';
  progress({ status: `${tag}: digest: ${digest} size: ${plan.manifest.length}` });
  progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: plan.manifest.length } });
  return digest;
}

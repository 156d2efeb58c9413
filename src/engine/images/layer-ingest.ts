import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError, invalidArgument } from '../../errors.js';
import type { ContentStore } from '../../store/content-store.js';
import { applyLayerTar } from '../../store/layer-tar.js';
import type { SnapshotStore } from '../../store/snapshots.js';
import { sha256Digest, type Digest } from '../../util/digest.js';
import { hashingTap } from '../../util/hashing-tap.js';
import { MediaType } from '../../registry/manifest.js';
import type { LayerRecord } from '../../store/image-records.js';
import type { ImageStore } from './image-store.js';
import { autoDecompress, byteCounter, decompressor, type Compression } from './compression.js';

export interface IngestOptions {
  compression: Compression | 'auto';
  /** Digest and size the blob must have (from a manifest); checked before anything is kept. */
  expectedBlobDigest?: Digest;
  expectedBlobSize?: number;
  /** The uncompressed digest the image config promises for this layer. */
  expectedDiffId?: Digest;
  /** Keep the blob in the content store (pull/load); import keeps it too, so push and save can reuse it. */
  keepBlob: boolean;
  onBytes?: (compressedBytes: number) => void;
  /** With 'auto': told what the blob turned out to be. */
  onCompression?: (kind: Compression) => void;
  signal?: AbortSignal;
}

export interface IngestedLayer {
  blobDigest: Digest | null;
  blobSize: number;
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  diffSize: number;
  /** Bytes unpacked on disk, as Docker counts an image's size. */
  size: number;
  /** Move the unpacked snapshot under its chain ID; until then nothing is visible. */
  commit(chainId: Digest): Promise<void>;
  abort(): Promise<void>;
}

/**
 * One pass over a layer blob: it is written to the content store (verified against its digest), decompressed,
 * hashed into its diff ID and unpacked into a fresh snapshot, all at once, so a layer costs one read of the network
 * or the file. Nothing becomes visible until the caller commits; any failure leaves nothing behind.
 */
export async function ingestLayer(
  content: ContentStore,
  snapshots: SnapshotStore,
  source: Readable,
  opts: IngestOptions,
): Promise<IngestedLayer> {
  const snap = await snapshots.prepare();
  const blob = opts.keepBlob
    ? content.writer({ expected: opts.expectedBlobDigest, expectedSize: opts.expectedBlobSize })
    : undefined;
  // The diff ID is the sha256 of the uncompressed tar.
  const diff = hashingTap();
  let blobSize = 0;
  const counter = byteCounter((n) => {
    blobSize = n;
    opts.onBytes?.(n);
  });
  const decompress = opts.compression === 'auto' ? autoDecompress(opts.onCompression) : decompressor(opts.compression);

  const abortAll = async (): Promise<void> => {
    await Promise.allSettled([snap.abort(), blob?.abort()]);
  };

  try {
    const counted = source.pipe(counter);
    source.on('error', (e) => counted.destroy(e));
    const toBlob = blob ? pipeline(counted, blob.stream, { signal: opts.signal }) : Promise.resolve();
    const unpacked = (async () => {
      const tarStream = counted.pipe(decompress).pipe(diff.tap);
      counted.on('error', (e) => decompress.destroy(e));
      decompress.on('error', (e) => diff.tap.destroy(e));
      return applyLayerTar(tarStream, snap.fsDir);
    })();
    const [, applied] = await Promise.all([toBlob, unpacked]);
    const { digest: diffId, size: diffSize } = diff.result();
    if (opts.expectedDiffId && diffId !== opts.expectedDiffId) {
      throw invalidArgument(`layer diff ID mismatch: expected ${opts.expectedDiffId}, got ${diffId}`);
    }
    let blobDigest: Digest | null = null;
    if (blob) blobDigest = (await blob.commit()).digest;
    else if (opts.expectedBlobSize !== undefined && blobSize !== opts.expectedBlobSize) {
      throw invalidArgument(`layer size mismatch: expected ${opts.expectedBlobSize}, got ${blobSize}`);
    }
    return {
      blobDigest,
      blobSize,
      diffId,
      diffSize,
      size: applied.size,
      commit: (chainId) => snap.commit(chainId),
      abort: () => snap.abort(),
    };
  } catch (err) {
    await abortAll();
    if (err instanceof BerthError) throw err;
    throw new BerthError('invalid_argument', `failed to register layer: ${(err as Error).message}`, { cause: err });
  }
}

/** The media type a stored blob of each compression is recorded (and later pushed) under. */
export const LAYER_MEDIA_TYPE: Record<Compression, string> = {
  none: MediaType.OciLayer,
  gzip: MediaType.DockerLayerGzip,
  zstd: MediaType.OciLayerZstd,
};

/**
 * A layer on top of `parent` (a chain ID, or null for a base layer), from a tar stream: ingested, committed under its
 * chain ID, and returned as the record to register with the image. A layer that is already stored is reused.
 */
export async function storeLayer(
  store: ImageStore,
  source: Readable,
  opts: { compression: Compression | 'auto'; parent: Digest | null; expectedDiffId?: Digest; onBytes?: (n: number) => void },
): Promise<LayerRecord> {
  let compression: Compression = opts.compression === 'auto' ? 'none' : opts.compression;
  const got = await ingestLayer(store.content, store.snapshots, source, {
    compression: opts.compression,
    expectedDiffId: opts.expectedDiffId,
    keepBlob: true,
    onBytes: opts.onBytes,
    onCompression: (c) => (compression = c),
  });
  const chainId: Digest = opts.parent ? sha256Digest(`${opts.parent} ${got.diffId}`) : got.diffId;
  const existing = store.records.getLayer(chainId);
  if (existing && (await store.snapshots.has(chainId))) {
    await got.abort();
    return existing;
  }
  await got.commit(chainId);
  return {
    chainId,
    diffId: got.diffId,
    parent: opts.parent,
    size: got.size,
    diffSize: got.diffSize,
    blobDigest: got.blobDigest,
    blobMediaType: LAYER_MEDIA_TYPE[compression],
    blobSize: got.blobSize,
    createdAt: Date.now(),
  };
}

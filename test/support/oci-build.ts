/**
 * Builds OCI / Docker images in memory for tests: layer tars, config, manifest, index, and the
 * `docker save` archive. Deliberately independent of berth's own code (except the digest helper),
 * so a bug in the engine cannot hide itself by also being in the fixture.
 *
 * Everything is deterministic: entries sorted, fixed mtime, uid/gid 0 unless given. Building the
 * same input twice yields the same digests.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { compress as zstdCompress } from 'zstd-napi';
import { type Digest, digestHex, sha256Digest } from '../../src/util/digest.js';

/** One entry of a layer, keyed by its path inside the layer (no leading slash, written as given). */
export type FileSpec =
  | { type: 'file'; content: Buffer | string; mode?: number; uid?: number; gid?: number }
  | { type: 'dir'; mode?: number; uid?: number; gid?: number }
  | { type: 'symlink'; target: string; uid?: number; gid?: number }
  /** A hard link to `target`, a path inside the same layer. */
  | { type: 'hardlink'; target: string }
  /** Deletes the path from lower layers: written as `<dir>/.wh.<name>`. */
  | { type: 'whiteout' }
  /** Makes the directory opaque: written as the dir plus `<dir>/.wh..wh..opq`. */
  | { type: 'opaque'; mode?: number }
  | { type: 'fifo'; mode?: number };

export type LayerSpec = Map<string, FileSpec> | string;
export type Compression = 'gzip' | 'zstd' | 'none';
export type ImageFormat = 'docker' | 'oci';

export interface BuiltLayer {
  /** The uncompressed tar. */
  tar: Buffer;
  /** The blob as stored in a registry (compressed as asked). */
  blob: Buffer;
  diffId: Digest;
  digest: Digest;
  mediaType: string;
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: Buffer;
  configDigest: Digest;
  manifest: Buffer;
  manifestDigest: Digest;
  manifestMediaType: string;
}

export interface ContainerConfigLike {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
  OnBuild?: string[];
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfigLike {
  architecture: string;
  os: string;
  variant?: string;
  created: string;
  author?: string;
  config: ContainerConfigLike;
  history: HistoryEntry[];
}

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** Fixed timestamp for tar entries and the config, so builds are reproducible. */
export const FIXED_TIME = new Date('2024-01-01T00:00:00Z');
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface TarEntry {
  header: Partial<tar.Header> & { name: string };
  content?: Buffer;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function entriesFromSpec(path: string, spec: FileSpec): TarEntry[] {
  const base = { mtime: FIXED_TIME, uname: '', gname: '' };
  switch (spec.type) {
    case 'file': {
      const content = typeof spec.content === 'string' ? Buffer.from(spec.content) : spec.content;
      return [
        {
          header: { ...base, name: path, type: 'file', mode: spec.mode ?? 0o644, uid: spec.uid ?? 0, gid: spec.gid ?? 0, size: content.length },
          content,
        },
      ];
    }
    case 'dir':
      return [{ header: { ...base, name: `${path}/`, type: 'directory', mode: spec.mode ?? 0o755, uid: spec.uid ?? 0, gid: spec.gid ?? 0 } }];
    case 'symlink':
      return [{ header: { ...base, name: path, type: 'symlink', linkname: spec.target, mode: 0o777, uid: spec.uid ?? 0, gid: spec.gid ?? 0 } }];
    case 'hardlink':
      return [{ header: { ...base, name: path, type: 'link', linkname: spec.target, mode: 0o644, uid: 0, gid: 0 } }];
    case 'whiteout': {
      const dir = parentOf(path);
      const name = `${dir ? `${dir}/` : ''}.wh.${baseOf(path)}`;
      return [{ header: { ...base, name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0 }, content: Buffer.alloc(0) }];
    }
    case 'opaque':
      return [
        { header: { ...base, name: `${path}/`, type: 'directory', mode: spec.mode ?? 0o755, uid: 0, gid: 0 } },
        { header: { ...base, name: `${path}/.wh..wh..opq`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0 }, content: Buffer.alloc(0) },
      ];
    case 'fifo':
      return [{ header: { ...base, name: path, type: 'fifo', mode: spec.mode ?? 0o644, uid: 0, gid: 0 } }];
  }
}

/** Reads a directory tree into a FileSpec map (owners forced to 0; modes kept). */
export async function specFromDir(root: string): Promise<Map<string, FileSpec>> {
  const out = new Map<string, FileSpec>();
  // Hard links inside the tree keep their identity, as `docker build` layers do.
  const seenInodes = new Map<string, string>();
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = await lstat(abs);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        out.set(path, { type: 'dir', mode });
        await walk(path);
      } else if (st.isSymbolicLink()) {
        out.set(path, { type: 'symlink', target: await readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seenInodes.get(key) : undefined;
        if (first !== undefined) {
          out.set(path, { type: 'hardlink', target: first });
        } else {
          if (st.nlink > 1) seenInodes.set(key, path);
          out.set(path, { type: 'file', content: await readFile(abs), mode });
        }
      } else if (st.isFIFO()) {
        out.set(path, { type: 'fifo', mode });
      }
      // Sockets and devices are skipped: image layers for tests never need them.
    }
  }
  await walk('');
  return out;
}

/**
 * Depth-first order with names sorted per directory: parents precede children, and it is the
 * order specFromDir walks in, so a hard link's target (the first path met) is written first.
 */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** A deterministic tar of the given entries (see comparePaths for the order). */
export async function buildLayerTar(spec: LayerSpec): Promise<Buffer> {
  const files = typeof spec === 'string' ? await specFromDir(spec) : spec;
  const entries = [...files].flatMap(([path, spec]) => entriesFromSpec(path, spec));
  const key = (e: TarEntry): string => e.header.name.replace(/\/$/, '');
  entries.sort((a, b) => comparePaths(key(a), key(b)));
  return packTar(entries);
}

/** A tar of the entries exactly in the order given (no sorting, no checks: tests of bad tars need that). */
export async function packTar(entries: ReadonlyArray<{ header: Partial<tar.Header> & { name: string }; content?: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(e.header, e.content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return done;
}

export function layerMediaType(compression: Compression, format: ImageFormat): string {
  // zstd only exists as an OCI media type; docker-format manifests with zstd layers use it too.
  if (compression === 'zstd') return MEDIA_TYPES.ociLayerZstd;
  if (format === 'docker') return compression === 'gzip' ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.dockerLayerTar;
  return compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.ociLayerTar;
}

export function compressBlob(data: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(data);
  if (compression === 'zstd') return zstdCompress(data);
  return data;
}

export async function buildLayer(spec: LayerSpec, compression: Compression = 'gzip', format: ImageFormat = 'docker'): Promise<BuiltLayer> {
  const tarBuf = await buildLayerTar(spec);
  return layerFromTar(tarBuf, compression, format);
}

export function layerFromTar(tarBuf: Buffer, compression: Compression = 'gzip', format: ImageFormat = 'docker'): BuiltLayer {
  const blob = compressBlob(tarBuf, compression);
  return {
    tar: tarBuf,
    blob,
    diffId: sha256Digest(tarBuf),
    digest: sha256Digest(blob),
    mediaType: layerMediaType(compression, format),
  };
}

function makeConfig(layers: BuiltLayer[], over: Partial<ImageConfigLike> | undefined): Buffer {
  const created = over?.created ?? FIXED_TIME.toISOString();
  const history: HistoryEntry[] =
    over?.history ?? layers.map((_, i) => ({ created, created_by: `/bin/sh -c #(nop) layer ${i}` }));
  const doc = {
    architecture: over?.architecture ?? 'amd64',
    os: over?.os ?? 'linux',
    ...(over?.variant !== undefined ? { variant: over.variant } : {}),
    ...(over?.author !== undefined ? { author: over.author } : {}),
    created,
    config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['sh'], ...over?.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  return Buffer.from(JSON.stringify(doc));
}

/** An image from already-built layers (useful to share layers between images). */
export function assembleImage(
  layers: BuiltLayer[],
  opts: { config?: Partial<ImageConfigLike>; format?: ImageFormat } = {},
): BuiltImage {
  const format = opts.format ?? 'docker';
  const config = makeConfig(layers, opts.config);
  const configDigest = sha256Digest(config);
  const manifestMediaType = format === 'docker' ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest;
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: {
      mediaType: format === 'docker' ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig,
      size: config.length,
      digest: configDigest,
    },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestDoc, null, 2));
  return { layers, config, configDigest, manifest, manifestDigest: sha256Digest(manifest), manifestMediaType };
}

export async function buildImage(opts: {
  layers: LayerSpec[];
  config?: Partial<ImageConfigLike>;
  compression?: Compression;
  format?: ImageFormat;
}): Promise<BuiltImage> {
  const format = opts.format ?? 'docker';
  const compression = opts.compression ?? 'gzip';
  const layers: BuiltLayer[] = [];
  for (const spec of opts.layers) layers.push(await buildLayer(spec, compression, format));
  return assembleImage(layers, { config: opts.config, format });
}

/** A one-layer image for a foreign platform (an index's non-amd64 entry). */
export async function buildTinyImage(platform: { architecture: string; os?: string; variant?: string }, format: ImageFormat = 'docker'): Promise<BuiltImage> {
  return buildImage({
    layers: [new Map<string, FileSpec>([['platform.txt', { type: 'file', content: `${platform.os ?? 'linux'}/${platform.architecture}\n` }]])],
    config: { architecture: platform.architecture, os: platform.os ?? 'linux', variant: platform.variant, config: { Cmd: ['/platform.txt'] } },
    format,
  });
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface BuiltIndex {
  manifest: Buffer;
  digest: Digest;
  mediaType: string;
}

/** An image index (OCI) or manifest list (docker) over the given images. */
export function buildIndex(entries: Array<{ image: BuiltImage; platform: Platform }>, format: ImageFormat = 'docker'): BuiltIndex {
  const mediaType = format === 'docker' ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.ociIndex;
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests: entries.map(({ image, platform }) => ({
      mediaType: image.manifestMediaType,
      size: image.manifest.length,
      digest: image.manifestDigest,
      platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) },
    })),
  };
  const manifest = Buffer.from(JSON.stringify(doc, null, 2));
  return { manifest, digest: sha256Digest(manifest), mediaType };
}

// ---------------------------------------------------------------------------------------------
// Pushing with plain fetch (the registry protocol, not berth's client).

export interface PushAuth {
  user: string;
  password: string;
}

function registryBase(registryUrl: string): string {
  const withScheme = /^https?:\/\//.test(registryUrl) ? registryUrl : `http://${registryUrl}`;
  return withScheme.replace(/\/+$/, '');
}

function authHeaders(auth: PushAuth | undefined): Record<string, string> {
  return auth ? { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` } : {};
}

async function expectStatus(res: Response, ok: number[], what: string): Promise<void> {
  if (!ok.includes(res.status)) {
    const body = await res.text().catch(() => '');
    throw new Error(`${what}: HTTP ${res.status} ${body.slice(0, 500)}`);
  }
}

export async function pushBlobRaw(registryUrl: string, repo: string, digest: Digest, data: Buffer, auth?: PushAuth): Promise<void> {
  const base = registryBase(registryUrl);
  const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: authHeaders(auth) });
  if (head.status === 200) return;
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: authHeaders(auth) });
  await expectStatus(start, [202], `start upload of ${digest}`);
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (!location) throw new Error(`start upload of ${digest}: no Location header`);
  const url = new URL(location, `${base}/`);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, {
    method: 'PUT',
    headers: { ...authHeaders(auth), 'content-type': 'application/octet-stream' },
    body: data,
  });
  await expectStatus(put, [201], `upload of ${digest}`);
  await put.body?.cancel();
}

export async function pushManifestRaw(
  registryUrl: string,
  repo: string,
  reference: string,
  manifest: Buffer,
  mediaType: string,
  auth?: PushAuth,
): Promise<void> {
  const base = registryBase(registryUrl);
  const res = await fetch(`${base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeaders(auth), 'content-type': mediaType },
    body: manifest,
  });
  await expectStatus(res, [201], `put manifest ${repo}:${reference}`);
  await res.body?.cancel();
  const got = res.headers.get('docker-content-digest');
  const want = sha256Digest(manifest);
  if (got && got !== want) throw new Error(`put manifest ${repo}:${reference}: registry says ${got}, expected ${want}`);
}

/** Pushes layers, config and manifest; `tag` may also be the manifest digest. */
export async function pushImageRaw(registryUrl: string, repo: string, tag: string, img: BuiltImage, auth?: PushAuth): Promise<void> {
  for (const l of img.layers) await pushBlobRaw(registryUrl, repo, l.digest, l.blob, auth);
  await pushBlobRaw(registryUrl, repo, img.configDigest, img.config, auth);
  await pushManifestRaw(registryUrl, repo, tag, img.manifest, img.manifestMediaType, auth);
}

/** Pushes every image by digest, then an index (docker manifest list by default) over them under `tag`. */
export async function pushIndexRaw(
  registryUrl: string,
  repo: string,
  tag: string,
  entries: Array<{ image: BuiltImage; platform: Platform }>,
  opts: { format?: ImageFormat; auth?: PushAuth } = {},
): Promise<BuiltIndex> {
  for (const { image } of entries) await pushImageRaw(registryUrl, repo, image.manifestDigest, image, opts.auth);
  const index = buildIndex(entries, opts.format ?? 'docker');
  await pushManifestRaw(registryUrl, repo, tag, index.manifest, index.mediaType, opts.auth);
  return index;
}

/** amd64 = the given image, arm64 = a tiny image: the usual shape of a multi-platform tag. */
export async function pushMultiPlatformRaw(
  registryUrl: string,
  repo: string,
  tag: string,
  amd64: BuiltImage,
  opts: { format?: ImageFormat; auth?: PushAuth } = {},
): Promise<{ index: BuiltIndex; arm64: BuiltImage }> {
  const format = opts.format ?? 'docker';
  const arm64 = await buildTinyImage({ architecture: 'arm64', variant: 'v8' }, format);
  const index = await pushIndexRaw(
    registryUrl,
    repo,
    tag,
    [
      { image: amd64, platform: { architecture: 'amd64', os: 'linux' } },
      { image: arm64, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
    opts,
  );
  return { index, arm64 };
}

// ---------------------------------------------------------------------------------------------
// docker save archives.

/** `busybox:latest` -> `docker.io/library/busybox:latest`, as containerd names images. */
export function fullImageName(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return ref;
  return slash < 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
}

function splitTag(ref: string): { name: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}

/**
 * The archive `docker save` (25+) writes: an OCI layout (oci-layout, index.json, blobs/sha256/*)
 * plus the legacy manifest.json and repositories files. Layers are stored uncompressed, as docker
 * does, so the manifest inside the archive is a new OCI manifest over the diff IDs.
 */
export async function dockerSaveTar(img: BuiltImage, repoTags: string[]): Promise<Buffer> {
  const files = new Map<string, FileSpec>();
  const blob = (d: Digest, data: Buffer): string => {
    const p = `blobs/sha256/${digestHex(d)}`;
    files.set(p, { type: 'file', content: data });
    return p;
  };
  files.set('blobs', { type: 'dir' });
  files.set('blobs/sha256', { type: 'dir' });
  const layerPaths = img.layers.map((l) => blob(l.diffId, l.tar));
  const configPath = blob(img.configDigest, img.config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: img.configDigest, size: img.config.length },
      layers: img.layers.map((l) => ({ mediaType: MEDIA_TYPES.ociLayerTar, digest: l.diffId, size: l.tar.length })),
    }),
  );
  const manifestDigest = sha256Digest(manifest);
  blob(manifestDigest, manifest);
  const refs = repoTags.length > 0 ? repoTags : [undefined];
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: refs.map((ref) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: manifestDigest,
      size: manifest.length,
      ...(ref
        ? { annotations: { 'io.containerd.image.name': fullImageName(ref), 'org.opencontainers.image.ref.name': splitTag(ref).tag } }
        : {}),
    })),
  };
  files.set('index.json', { type: 'file', content: JSON.stringify(index) });
  files.set('oci-layout', { type: 'file', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) });
  files.set('manifest.json', {
    type: 'file',
    content: JSON.stringify([{ Config: configPath, RepoTags: repoTags, Layers: layerPaths }]),
  });
  if (repoTags.length > 0) {
    const top = digestHex(img.layers[img.layers.length - 1]?.diffId ?? img.configDigest);
    const repos: Record<string, Record<string, string>> = {};
    for (const ref of repoTags) {
      const { name, tag } = splitTag(ref);
      (repos[name] ??= {})[tag] = top;
    }
    files.set('repositories', { type: 'file', content: JSON.stringify(repos) });
  }
  return buildLayerTar(files);
}

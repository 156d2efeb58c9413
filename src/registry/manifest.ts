/**
 * Manifest, index and image-config documents of the Docker schema2 and OCI image formats: media
 * types, shapes, and validation of what a registry hands us before anything is stored.
 */
import { BerthError, invalidArgument } from '../errors.js';
import { type Digest, isDigest } from '../util/digest.js';
import { type Platform, selectPlatformEntry } from './platform.js';

export { type Platform, hostPlatform, parsePlatform, formatPlatform, normalizePlatform } from './platform.js';

export const MediaType = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1SignedManifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciNondistributableLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** What we send as Accept on manifest GETs: every format we can use, single-platform first. */
export const MANIFEST_ACCEPT = [
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.OciIndex,
] as const;

const MANIFEST_TYPES = new Set<string>([MediaType.DockerManifest, MediaType.OciManifest]);
const INDEX_TYPES = new Set<string>([MediaType.DockerManifestList, MediaType.OciIndex]);
const SCHEMA1_TYPES = new Set<string>([MediaType.DockerSchema1Manifest, MediaType.DockerSchema1SignedManifest]);
const CONFIG_TYPES = new Set<string>([MediaType.DockerConfig, MediaType.OciConfig]);
const FOREIGN_LAYER_TYPES = new Set<string>([
  MediaType.DockerForeignLayer,
  MediaType.OciNondistributableLayer,
  MediaType.OciNondistributableLayerGzip,
  MediaType.OciNondistributableLayerZstd,
]);

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Array<Descriptor & { platform?: Platform }>;
  annotations?: Record<string, string>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` object of an image config: the defaults a container starts with. */
export interface ContainerConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  author?: string;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Fields docker keeps (container, docker_version, ...) pass through untouched. */
  [extra: string]: unknown;
}

export type ParsedManifest =
  | { kind: 'manifest'; manifest: ImageManifest; mediaType: string }
  | { kind: 'index'; index: ImageIndex; mediaType: string };

export const isManifestMediaType = (t: string): boolean => MANIFEST_TYPES.has(t);
export const isIndexMediaType = (t: string): boolean => INDEX_TYPES.has(t);
export const isConfigMediaType = (t: string): boolean => CONFIG_TYPES.has(t);
export const isForeignLayerMediaType = (t: string): boolean => FOREIGN_LAYER_TYPES.has(t);

const bad = (what: string): BerthError => invalidArgument(`invalid manifest: ${what}`);

function parseJsonObject(body: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalidArgument(`invalid ${what}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidArgument(`invalid ${what}: not a JSON object`);
  return doc as Record<string, unknown>;
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${what} is not an object`);
  for (const x of Object.values(v)) if (typeof x !== 'string') throw bad(`${what} has a non-string value`);
  return v as Record<string, string>;
}

function parsePlatformField(v: unknown): Platform | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('platform is not an object');
  const p = v as Record<string, unknown>;
  if (typeof p['architecture'] !== 'string' || typeof p['os'] !== 'string') throw bad('platform needs os and architecture');
  const out: Platform = { architecture: p['architecture'], os: p['os'] };
  if (typeof p['variant'] === 'string' && p['variant'] !== '') out.variant = p['variant'];
  if (typeof p['os.version'] === 'string' && p['os.version'] !== '') out['os.version'] = p['os.version'];
  if (Array.isArray(p['os.features'])) out['os.features'] = p['os.features'].filter((x): x is string => typeof x === 'string');
  return out;
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} is not an object`);
  const d = v as Record<string, unknown>;
  if (typeof d['mediaType'] !== 'string' || d['mediaType'] === '') throw bad(`${what} has no mediaType`);
  if (typeof d['digest'] !== 'string' || !isDigest(d['digest'])) throw bad(`${what} has an invalid digest ${JSON.stringify(d['digest'])}`);
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(`${what} has an invalid size`);
  const out: Descriptor = { mediaType: d['mediaType'], digest: d['digest'], size };
  if (d['urls'] !== undefined && d['urls'] !== null) {
    if (!Array.isArray(d['urls']) || !d['urls'].every((u) => typeof u === 'string')) throw bad(`${what} has invalid urls`);
    out.urls = d['urls'] as string[];
  }
  const annotations = stringMap(d['annotations'], `${what} annotations`);
  if (annotations) out.annotations = annotations;
  const platform = parsePlatformField(d['platform']);
  if (platform) out.platform = platform;
  if (typeof d['artifactType'] === 'string') out.artifactType = d['artifactType'];
  return out;
}

const schema1Error = (): BerthError =>
  new BerthError(
    'not_implemented',
    'not supported: Docker Image manifest version 2, schema 1 has been removed; push the image again with a newer client (schema 2 or OCI)',
  );

function baseMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses a manifest or an index. The registry's Content-Type decides when it names a known type;
 * otherwise the document's own mediaType field, and then its shape.
 */
export function parseManifestOrIndex(body: Buffer, contentType: string | undefined): ParsedManifest {
  const header = baseMediaType(contentType);
  if (SCHEMA1_TYPES.has(header)) throw schema1Error();
  const doc = parseJsonObject(body, 'manifest');
  if (doc['schemaVersion'] === 1) throw schema1Error();
  if (doc['schemaVersion'] !== 2) throw bad(`unsupported schemaVersion ${JSON.stringify(doc['schemaVersion'])}`);
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  if (declared !== undefined && SCHEMA1_TYPES.has(declared)) throw schema1Error();

  let mediaType: string;
  if (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header)) mediaType = header;
  else if (declared !== undefined && (MANIFEST_TYPES.has(declared) || INDEX_TYPES.has(declared))) mediaType = declared;
  else if (Array.isArray(doc['manifests'])) mediaType = MediaType.OciIndex;
  else if (doc['config'] !== undefined && Array.isArray(doc['layers'])) mediaType = MediaType.OciManifest;
  else throw bad(`unknown media type ${JSON.stringify(contentType ?? declared ?? '')}`);

  // A document whose mediaType field contradicts the header could be read two ways; refuse it.
  if (declared !== undefined && declared !== mediaType && (MANIFEST_TYPES.has(declared) || INDEX_TYPES.has(declared))) {
    throw bad(`media type ${declared} does not match Content-Type ${mediaType}`);
  }

  const annotations = stringMap(doc['annotations'], 'annotations');
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc['manifests'])) throw bad('index has no manifests');
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType,
      manifests: doc['manifests'].map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
    };
    if (annotations) index.annotations = annotations;
    return { kind: 'index', index, mediaType };
  }
  if (doc['config'] === undefined) throw bad('manifest has no config');
  if (!Array.isArray(doc['layers'])) throw bad('manifest has no layers');
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType,
    config: parseDescriptor(doc['config'], 'config'),
    layers: doc['layers'].map((l, i) => parseDescriptor(l, `layers[${i}]`)),
  };
  if (annotations) manifest.annotations = annotations;
  return { kind: 'manifest', manifest, mediaType };
}

function stringArrayOrNull(v: unknown, what: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`invalid image config: ${what} must be a list of strings`);
}

/** Parses an image config blob and checks the fields the engine relies on. */
export function parseImageConfig(body: Buffer): ImageConfig {
  const doc = parseJsonObject(body, 'image config');
  const fail = (what: string): BerthError => invalidArgument(`invalid image config: ${what}`);
  const rootfs = doc['rootfs'];
  if (typeof rootfs !== 'object' || rootfs === null || Array.isArray(rootfs)) throw fail('rootfs missing');
  const r = rootfs as Record<string, unknown>;
  if (r['type'] !== 'layers') throw fail(`rootfs type ${JSON.stringify(r['type'])} is not "layers"`);
  const diffIds = r['diff_ids'] ?? [];
  if (!Array.isArray(diffIds)) throw fail('rootfs.diff_ids is not a list');
  for (const d of diffIds) if (typeof d !== 'string' || !isDigest(d)) throw fail(`invalid diff_id ${JSON.stringify(d)}`);
  for (const key of ['architecture', 'os', 'variant', 'os.version', 'created', 'author']) {
    if (doc[key] !== undefined && typeof doc[key] !== 'string') throw fail(`${key} is not a string`);
  }
  if (doc['history'] !== undefined && doc['history'] !== null && !Array.isArray(doc['history'])) throw fail('history is not a list');
  const cfg = doc['config'];
  if (cfg !== undefined && cfg !== null) {
    if (typeof cfg !== 'object' || Array.isArray(cfg)) throw fail('config is not an object');
    const c = cfg as Record<string, unknown>;
    for (const key of ['Env', 'Entrypoint', 'Cmd', 'OnBuild', 'Shell']) stringArrayOrNull(c[key], `config.${key}`);
    for (const key of ['User', 'WorkingDir', 'StopSignal']) {
      if (c[key] !== undefined && c[key] !== null && typeof c[key] !== 'string') throw fail(`config.${key} is not a string`);
    }
  }
  const out = { ...doc } as ImageConfig;
  out.architecture = typeof doc['architecture'] === 'string' ? doc['architecture'] : '';
  out.os = typeof doc['os'] === 'string' ? doc['os'] : '';
  out.rootfs = { type: 'layers', diff_ids: diffIds as Digest[] };
  if (cfg === null) delete out.config;
  if (doc['history'] === null) delete out.history;
  return out;
}

/** How a layer blob is compressed; foreign and unknown layer types cannot be pulled. */
export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' {
  switch (mediaType) {
    case MediaType.DockerLayerGzip:
    case MediaType.OciLayerGzip:
      return 'gzip';
    case MediaType.DockerLayerZstd:
    case MediaType.OciLayerZstd:
      return 'zstd';
    case MediaType.DockerLayer:
    case MediaType.OciLayer:
      return 'none';
  }
  if (FOREIGN_LAYER_TYPES.has(mediaType)) {
    throw new BerthError('not_implemented', `foreign layers are not supported (media type ${mediaType})`);
  }
  throw invalidArgument(`unsupported layer media type ${JSON.stringify(mediaType)}`);
}

/** The index entry for `want` (see platform.ts for the matching rules). */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | undefined {
  return selectPlatformEntry(index.manifests.filter((m) => MANIFEST_TYPES.has(m.mediaType)), want);
}

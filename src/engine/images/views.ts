import type { ImageConfig } from '../../registry/manifest.js';
import { parseImageConfig } from '../../registry/manifest.js';
import type { ImageRecord } from '../../store/image-records.js';
import { digestHex } from '../../util/digest.js';
import type { ImageStore } from './image-store.js';

/** GET /images/json item (Docker API 1.50 shape; the API layer adapts it for older clients). */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime?: string };
  Descriptor?: { mediaType: string; digest: string; size: number };
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

const configCache = new Map<string, ImageConfig>();

/** Image configs never change for an ID, so they are parsed once. */
export function imageConfig(img: ImageRecord): ImageConfig {
  let c = configCache.get(img.id);
  if (!c) {
    c = parseImageConfig(Buffer.from(img.config, 'utf8'));
    configCache.set(img.id, c);
  }
  return c;
}

export function createdSeconds(img: ImageRecord): number {
  const created = imageConfig(img).created;
  const t = created ? Date.parse(created) : NaN;
  return Number.isNaN(t) ? Math.floor(img.createdAt / 1000) : Math.floor(t / 1000);
}

export function summaryOf(store: ImageStore, img: ImageRecord): ImageSummary {
  const cfg = imageConfig(img);
  return {
    Id: img.id,
    ParentId: typeof img.doc.parent === 'string' ? img.doc.parent : '',
    RepoTags: store.repoTags(img.id),
    RepoDigests: store.repoDigests(img.id),
    Created: createdSeconds(img),
    Size: img.size,
    SharedSize: -1,
    Labels: cfg.config?.Labels ?? null,
    Containers: -1,
  };
}

/** The container config keys in the order and with the zero values Docker's inspect prints. */
function containerConfigView(cfg: ImageConfig): Record<string, unknown> {
  const c = (cfg.config ?? {}) as Record<string, unknown>;
  return {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: c.ExposedPorts,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Healthcheck: c.Healthcheck,
    ArgsEscaped: c.ArgsEscaped,
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    StopSignal: c.StopSignal,
    Shell: c.Shell,
  };
}

export function inspectOf(store: ImageStore, img: ImageRecord): ImageInspect {
  const cfg = imageConfig(img);
  const dirs = img.layers.map((c) => store.snapshots.fsPath(c)).reverse();
  const graphData: Record<string, string> = {};
  if (dirs.length) {
    graphData.UpperDir = dirs[0];
    if (dirs.length > 1) graphData.LowerDir = dirs.slice(1).join(':');
  }
  const digests = store.records.digestsOf(img.id);
  const out: ImageInspect = {
    Id: img.id,
    RepoTags: store.repoTags(img.id),
    RepoDigests: store.repoDigests(img.id),
    Parent: typeof img.doc.parent === 'string' ? img.doc.parent : '',
    Comment: typeof img.doc.comment === 'string' ? img.doc.comment : (cfg.history?.at(-1)?.comment ?? ''),
    Created: cfg.created ?? new Date(img.createdAt).toISOString(),
    DockerVersion: (cfg as { docker_version?: string }).docker_version ?? '',
    Author: cfg.author ?? '',
    Config: containerConfigView(cfg),
    Architecture: cfg.architecture,
    Variant: cfg.variant,
    Os: cfg.os,
    OsVersion: (cfg as { 'os.version'?: string })['os.version'],
    Size: img.size,
    GraphDriver: { Name: 'overlay2', Data: graphData },
    RootFS: { Type: 'layers', Layers: [...cfg.rootfs.diff_ids] },
    Metadata: { LastTagTime: typeof img.doc.lastTagTime === 'string' ? img.doc.lastTagTime : '0001-01-01T00:00:00Z' },
  };
  if (digests.length) {
    const m = Buffer.from(digests[0].manifest, 'utf8');
    try {
      const mt = (JSON.parse(digests[0].manifest) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
      out.Descriptor = { mediaType: mt, digest: digests[0].digest, size: m.length };
    } catch {
      /* a stored manifest that does not parse only loses its descriptor */
    }
  }
  return out;
}

export function historyOf(store: ImageStore, img: ImageRecord): HistoryItem[] {
  const cfg = imageConfig(img);
  const layers = img.layers.map((c) => store.records.getLayer(c));
  const items: HistoryItem[] = [];
  const history = cfg.history?.length
    ? cfg.history
    : layers.map(() => ({ created: cfg.created, created_by: '', comment: '', empty_layer: false }));
  let layerIndex = 0;
  for (const h of history) {
    let size = 0;
    if (!h.empty_layer) {
      size = layers[layerIndex]?.size ?? 0;
      layerIndex++;
    }
    const t = h.created ? Date.parse(h.created) : NaN;
    items.push({
      Id: '<missing>',
      Created: Number.isNaN(t) ? 0 : Math.floor(t / 1000),
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  items.reverse();
  if (items.length) {
    items[0].Id = img.id;
    items[0].Tags = store.repoTags(img.id);
  }
  return items;
}

export const shortImageId = (id: string): string => digestHex(id as `sha256:${string}`).slice(0, 12);

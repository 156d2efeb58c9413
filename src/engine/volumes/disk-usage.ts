/**
 * GET /system/df: what images, containers and volumes take on disk, in Docker's shape. Sizes are measured the way
 * Docker measures them (apparent bytes, hard links once): containers by their overlay upper dir, volumes by _data.
 */
import type { ContainerService } from '../containers/container-service.js';
import type { ContainerSummary } from '../containers/views.js';
import type { ImageService } from '../images/image-service.js';
import type { ImageSummary } from '../images/views.js';
import { invalidArgument } from '../../errors.js';
import { directorySize } from './dir-size.js';
import type { VolumeService, VolumeView } from './volume-service.js';

const DISK_USAGE_TYPES = ['container', 'image', 'volume', 'build-cache'] as const;
export type DiskUsageType = (typeof DISK_USAGE_TYPES)[number];

export interface DiskUsageReport {
  LayersSize?: number;
  Images?: ImageSummary[];
  Containers?: Array<ContainerSummary & { SizeRw: number; SizeRootFs: number }>;
  Volumes?: VolumeView[];
  BuildCache?: unknown[];
}

export interface DiskUsageDeps {
  images: ImageService;
  containers: ContainerService;
  volumes: VolumeService;
  /** Unpacked size of every layer, by chain ID. */
  layerSizes(): Map<string, number>;
  containerUpperDir(id: string): string;
  /** The builder's cache records, in Docker's BuildCache shape. */
  buildCache(): Promise<unknown[]>;
}

/** Per image: how many bytes of its layers other images share too. */
export function sharedSizes(imageLayers: Map<string, readonly string[]>, layerSizes: Map<string, number>): { shared: Map<string, number>; layersSize: number } {
  const refs = new Map<string, number>();
  for (const layers of imageLayers.values()) for (const l of new Set(layers)) refs.set(l, (refs.get(l) ?? 0) + 1);
  let layersSize = 0;
  for (const l of refs.keys()) layersSize += layerSizes.get(l) ?? 0;
  const shared = new Map<string, number>();
  for (const [id, layers] of imageLayers) {
    let s = 0;
    for (const l of new Set(layers)) if ((refs.get(l) ?? 0) > 1) s += layerSizes.get(l) ?? 0;
    shared.set(id, s);
  }
  return { shared, layersSize };
}

export class SystemDiskUsage {
  constructor(private readonly deps: DiskUsageDeps) {}

  async report(types: readonly string[] = []): Promise<DiskUsageReport> {
    for (const t of types) if (!(DISK_USAGE_TYPES as readonly string[]).includes(t)) throw invalidArgument(`unknown object type: ${t}`);
    const want = (t: DiskUsageType): boolean => types.length === 0 || types.includes(t);
    const out: DiskUsageReport = {};
    const containers = this.deps.containers.list({ all: true });
    if (want('image')) {
      // As dockerd: intermediate images (the builder's steps) count under the build cache, not here.
      const images = this.deps.images.list({});
      const imageLayers = new Map<string, readonly string[]>();
      for (const img of images) imageLayers.set(img.Id, this.deps.images.get(img.Id).layers);
      const { shared, layersSize } = sharedSizes(imageLayers, this.deps.layerSizes());
      out.LayersSize = layersSize;
      out.Images = images.map((img) => ({
        ...img,
        SharedSize: shared.get(img.Id) ?? 0,
        Containers: containers.filter((c) => c.ImageID === img.Id).length,
      }));
    }
    if (want('container')) {
      const imageSize = new Map<string, number>();
      for (const c of containers) {
        if (!imageSize.has(c.ImageID)) imageSize.set(c.ImageID, (() => {
          try {
            return this.deps.images.get(c.ImageID).size;
          } catch {
            return 0;
          }
        })());
      }
      out.Containers = [];
      for (const c of containers) {
        const rw = await directorySize(this.deps.containerUpperDir(c.Id));
        out.Containers.push({ ...c, SizeRw: rw, SizeRootFs: rw + (imageSize.get(c.ImageID) ?? 0) });
      }
    }
    if (want('volume')) out.Volumes = await this.deps.volumes.diskUsage();
    if (want('build-cache')) out.BuildCache = await this.deps.buildCache();
    return out;
  }
}

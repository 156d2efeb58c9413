/**
 * The build cache: a step is reused when the same thing (its created_by text, which carries the expanded
 * instruction, the build args a RUN sees, and for COPY/ADD the hash of the copied files) was done on the same parent
 * image. The records live in SQLite, so the cache survives a daemon restart.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from '../../errors.js';
import type { BuildCacheRecord, BuildCacheRecords } from '../../store/build-cache-records.js';
import { parseTimestamp } from '../images/filters.js';

/** The key of one step: parent image (empty for scratch) + what the step does + anything else that changes its result. */
export function cacheKey(parentId: string, createdBy: string, extra: string[] = []): string {
  const h = createHash('sha256');
  h.update(`${parentId}\n${createdBy}`);
  for (const e of extra) h.update(`\n${e}`);
  return h.digest('hex');
}

export interface BuildCacheUsage {
  ID: string;
  Type: 'regular';
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string;
  UsageCount: number;
}

export class BuildCache {
  constructor(
    private readonly records: BuildCacheRecords,
    /** Whether an image still exists: a cache entry whose image was removed is a miss (and dropped). */
    private readonly imageExists: (id: string) => boolean,
  ) {}

  lookup(key: string): string | undefined {
    const rec = this.records.get(key);
    if (!rec) return undefined;
    if (!this.imageExists(rec.imageId)) {
      this.records.remove(key);
      return undefined;
    }
    this.records.touch(key, Date.now());
    return rec.imageId;
  }

  record(key: string, rec: { imageId: string; parentId: string; description: string; size: number }): void {
    const now = Date.now();
    this.records.put({ key, ...rec, createdAt: now, lastUsedAt: now, usageCount: 1 });
  }

  /** The records whose image still exists. */
  list(): BuildCacheRecord[] {
    return this.records.list().filter((r) => this.imageExists(r.imageId));
  }

  /** `sizeOf` says what removing a record would free (its image's own layer, if nothing else keeps it). */
  diskUsage(sizeOf: (r: BuildCacheRecord) => number = (r) => r.size): BuildCacheUsage[] {
    return this.list().map((r) => ({
      ID: r.key.slice(0, 25),
      Type: 'regular' as const,
      Description: r.description,
      InUse: false,
      Shared: false,
      Size: sizeOf(r),
      CreatedAt: new Date(r.createdAt).toISOString(),
      LastUsedAt: new Date(r.lastUsedAt).toISOString(),
      UsageCount: r.usageCount,
    }));
  }

  /**
   * POST /build/prune: forgets cache records, and says which images they held so the caller can remove the ones
   * nothing else keeps. `all` is accepted for the CLI; every record counts as unused here. SpaceReclaimed is the sum
   * of `sizeOf` over what was forgotten (the caller replaces it with what removing images really freed).
   */
  prune(
    opts: { all?: boolean; filters?: Map<string, string[]>; keepStorage?: number },
    sizeOf: (r: BuildCacheRecord) => number = (r) => r.size,
  ): { CachesDeleted: string[]; SpaceReclaimed: number; images: string[] } {
    const filters = opts.filters ?? new Map<string, string[]>();
    for (const k of filters.keys()) {
      if (!['until', 'unused-for', 'type', 'id', 'description', 'inuse', 'shared', 'private'].includes(k)) {
        throw invalidArgument(`invalid filter '${k}'`);
      }
    }
    const until = filters.get('until')?.[0] ?? filters.get('unused-for')?.[0];
    const cutoff = until ? untilCutoff(until) : undefined;
    const all = this.records.list();
    let list: BuildCacheRecord[] = all;
    if (cutoff !== undefined) list = list.filter((r) => r.lastUsedAt < cutoff);
    const ids = filters.get('id');
    if (ids?.length) list = list.filter((r) => ids.some((i) => r.key.startsWith(i)));
    let total = all.reduce((n, r) => n + sizeOf(r), 0);
    const deleted: string[] = [];
    const images = new Set<string>();
    let reclaimed = 0;
    for (const r of list) {
      if (opts.keepStorage && total <= opts.keepStorage) break;
      const size = sizeOf(r);
      this.records.remove(r.key);
      deleted.push(r.key.slice(0, 25));
      images.add(r.imageId);
      reclaimed += size;
      total -= size;
    }
    return { CachesDeleted: deleted, SpaceReclaimed: reclaimed, images: [...images] };
  }
}

/** `until` is a timestamp or a Go duration before now ("24h", "10m"). */
function untilCutoff(v: string): number {
  return parseTimestamp(v);
}

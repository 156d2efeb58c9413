import type BetterSqlite3 from 'better-sqlite3';
import type { MetadataDb } from './db.js';

/** One remembered build step: the key says what was done on which parent, the image is what came out. */
export interface BuildCacheRecord {
  key: string;
  imageId: string;
  parentId: string;
  description: string;
  size: number;
  createdAt: number;
  lastUsedAt: number;
  usageCount: number;
}

interface Row {
  key: string;
  image_id: string;
  parent_id: string;
  description: string;
  size: number;
  created_at: number;
  last_used_at: number;
  usage_count: number;
}

function toRecord(r: Row): BuildCacheRecord {
  return {
    key: r.key,
    imageId: r.image_id,
    parentId: r.parent_id,
    description: r.description,
    size: r.size,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    usageCount: r.usage_count,
  };
}

/** The build cache table (migration 5). */
export class BuildCacheRecords {
  private readonly s: Record<string, BetterSqlite3.Statement>;

  constructor(readonly db: MetadataDb) {
    const q = db.sql;
    this.s = {
      get: q.prepare('SELECT * FROM build_cache WHERE key = ?'),
      put: q.prepare(
        `INSERT INTO build_cache (key, image_id, parent_id, description, size, created_at, last_used_at, usage_count)
         VALUES (@key, @image_id, @parent_id, @description, @size, @created_at, @last_used_at, @usage_count)
         ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, parent_id = excluded.parent_id,
           description = excluded.description, size = excluded.size, created_at = excluded.created_at,
           last_used_at = excluded.last_used_at, usage_count = excluded.usage_count`,
      ),
      touch: q.prepare('UPDATE build_cache SET last_used_at = ?, usage_count = usage_count + 1 WHERE key = ?'),
      remove: q.prepare('DELETE FROM build_cache WHERE key = ?'),
      list: q.prepare('SELECT * FROM build_cache ORDER BY last_used_at'),
    };
  }

  get(key: string): BuildCacheRecord | undefined {
    const r = this.s.get.get(key) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  put(rec: BuildCacheRecord): void {
    this.s.put.run({
      key: rec.key,
      image_id: rec.imageId,
      parent_id: rec.parentId,
      description: rec.description,
      size: rec.size,
      created_at: rec.createdAt,
      last_used_at: rec.lastUsedAt,
      usage_count: rec.usageCount,
    });
  }

  touch(key: string, now: number): void {
    this.s.touch.run(now, key);
  }

  remove(key: string): void {
    this.s.remove.run(key);
  }

  /** Least recently used first. */
  list(): BuildCacheRecord[] {
    return (this.s.list.all() as Row[]).map(toRecord);
  }
}

import type BetterSqlite3 from 'better-sqlite3';
import type { MetadataDb } from './db.js';

export interface ContainerRow<Doc> {
  id: string;
  name: string;
  imageId: string;
  createdAt: number;
  doc: Doc;
}

interface Row {
  id: string;
  name: string;
  image_id: string;
  created_at: number;
  doc: string;
}

/** Containers as rows: indexed columns for lookups plus the engine's JSON document. */
export class ContainerRecords<Doc> {
  private readonly s: Record<string, BetterSqlite3.Statement>;

  constructor(readonly db: MetadataDb) {
    const q = db.sql;
    this.s = {
      get: q.prepare('SELECT * FROM containers WHERE id = ?'),
      byName: q.prepare('SELECT * FROM containers WHERE name = ?'),
      byPrefix: q.prepare('SELECT * FROM containers WHERE id >= ? AND id < ? ORDER BY id LIMIT 2'),
      insert: q.prepare('INSERT INTO containers (id, name, image_id, created_at, doc) VALUES (?, ?, ?, ?, ?)'),
      update: q.prepare('UPDATE containers SET doc = ? WHERE id = ?'),
      rename: q.prepare('UPDATE containers SET name = ? WHERE id = ?'),
      remove: q.prepare('DELETE FROM containers WHERE id = ?'),
      list: q.prepare('SELECT * FROM containers ORDER BY created_at DESC, id'),
      byImage: q.prepare('SELECT * FROM containers WHERE image_id = ?'),
    };
  }

  private toRow(r: Row | undefined): ContainerRow<Doc> | undefined {
    if (!r) return undefined;
    return { id: r.id, name: r.name, imageId: r.image_id, createdAt: r.created_at, doc: JSON.parse(r.doc) as Doc };
  }

  get(id: string): ContainerRow<Doc> | undefined {
    return this.toRow(this.s.get.get(id) as Row | undefined);
  }

  byName(name: string): ContainerRow<Doc> | undefined {
    return this.toRow(this.s.byName.get(name) as Row | undefined);
  }

  /** Up to two rows whose ID starts with the hex prefix: two means ambiguous. */
  byIdPrefix(prefix: string): Array<ContainerRow<Doc>> {
    const hi = prefix + 'g';
    return (this.s.byPrefix.all(prefix, hi) as Row[]).map((r) => this.toRow(r)!);
  }

  insert(row: ContainerRow<Doc>): void {
    this.s.insert.run(row.id, row.name, row.imageId, row.createdAt, JSON.stringify(row.doc));
  }

  update(id: string, doc: Doc): void {
    this.s.update.run(JSON.stringify(doc), id);
  }

  rename(id: string, name: string): void {
    this.s.rename.run(name, id);
  }

  remove(id: string): void {
    this.s.remove.run(id);
  }

  list(): Array<ContainerRow<Doc>> {
    return (this.s.list.all() as Row[]).map((r) => this.toRow(r)!);
  }

  usingImage(imageId: string): Array<ContainerRow<Doc>> {
    return (this.s.byImage.all(imageId) as Row[]).map((r) => this.toRow(r)!);
  }
}

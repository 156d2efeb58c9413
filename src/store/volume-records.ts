import type BetterSqlite3 from 'better-sqlite3';
import type { MetadataDb } from './db.js';

export interface VolumeDoc {
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
}

export interface VolumeRow {
  name: string;
  driver: string;
  createdAt: number;
  doc: VolumeDoc;
}

interface Row {
  name: string;
  driver: string;
  created_at: number;
  doc: string;
}

/** Volumes as rows: the name is the key, labels and driver options ride in a JSON document. */
export class VolumeRecords {
  private readonly s: Record<string, BetterSqlite3.Statement>;

  constructor(readonly db: MetadataDb) {
    const q = db.sql;
    this.s = {
      get: q.prepare('SELECT * FROM volumes WHERE name = ?'),
      insert: q.prepare('INSERT INTO volumes (name, driver, created_at, doc) VALUES (?, ?, ?, ?)'),
      remove: q.prepare('DELETE FROM volumes WHERE name = ?'),
      list: q.prepare('SELECT * FROM volumes ORDER BY name'),
    };
  }

  private toRow(r: Row | undefined): VolumeRow | undefined {
    if (!r) return undefined;
    return { name: r.name, driver: r.driver, createdAt: r.created_at, doc: JSON.parse(r.doc) as VolumeDoc };
  }

  get(name: string): VolumeRow | undefined {
    return this.toRow(this.s.get.get(name) as Row | undefined);
  }

  insert(row: VolumeRow): void {
    this.s.insert.run(row.name, row.driver, row.createdAt, JSON.stringify(row.doc));
  }

  remove(name: string): void {
    this.s.remove.run(name);
  }

  list(): VolumeRow[] {
    return (this.s.list.all() as Row[]).map((r) => this.toRow(r)!);
  }
}

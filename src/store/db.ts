import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { BerthError, unavailable } from '../errors.js';
import { MIGRATIONS } from './migrations.js';

export interface Migration {
  version: number;
  name: string;
  up(db: BetterSqlite3.Database): void;
}

function checkMigrations(migrations: Migration[]): void {
  let prev = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= prev) {
      throw new BerthError('internal', `migrations must have increasing positive versions (at ${m.version} "${m.name}")`);
    }
    prev = m.version;
  }
}

/**
 * The SQLite metadata database: WAL, foreign keys on, schema brought up to date on open. Each migration runs in its
 * own transaction with its row in schema_migrations, so a crash leaves the schema at a whole version.
 */
export class MetadataDb {
  private constructor(readonly sql: BetterSqlite3.Database) {}

  static open(file: string, migrations: Migration[] = MIGRATIONS): MetadataDb {
    checkMigrations(migrations);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    let sql: BetterSqlite3.Database;
    try {
      sql = new Database(file);
    } catch (err) {
      throw unavailable(`cannot open metadata database ${file}: ${(err as Error).message}`, err);
    }
    const db = new MetadataDb(sql);
    try {
      sql.pragma('journal_mode = WAL');
      sql.pragma('synchronous = NORMAL');
      sql.pragma('foreign_keys = ON');
      sql.pragma('busy_timeout = 5000');
      db.migrate(file, migrations);
    } catch (err) {
      sql.close();
      if (err instanceof BerthError) throw err;
      throw unavailable(`cannot prepare metadata database ${file}: ${(err as Error).message}`, err);
    }
    return db;
  }

  private migrate(file: string, migrations: Migration[]): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const current = this.schemaVersion();
    const latest = migrations.length > 0 ? migrations[migrations.length - 1].version : 0;
    if (current > latest) {
      throw unavailable(
        `metadata database ${file} has schema version ${current}, newer than this berth knows (${latest}); ` +
          'it was written by a newer berth: upgrade berth, or use another --data-root',
      );
    }
    const record = this.sql.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    // By what is recorded, not by the highest number: a migration merged in below an applied one still runs.
    const applied = new Set((this.sql.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      this.transaction(() => {
        m.up(this.sql);
        record.run(m.version, m.name, Date.now());
      });
    }
  }

  /** Runs fn in an IMMEDIATE transaction (the write lock is taken up front, so it cannot fail to upgrade later). */
  transaction<T>(fn: () => T): T {
    return this.sql.transaction(fn).immediate();
  }

  schemaVersion(): number {
    const row = this.sql.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  close(): void {
    if (this.sql.open) this.sql.close();
  }
}

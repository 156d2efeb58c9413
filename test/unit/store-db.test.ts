import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../../src/errors.js';
import { MetadataDb, type Migration } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

describe('MetadataDb', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-db-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const v1: Migration = { version: 1, name: 'one', up: (db) => db.exec('CREATE TABLE t1 (x INTEGER)') };
  const v2: Migration = { version: 2, name: 'two', up: (db) => db.exec('ALTER TABLE t1 ADD COLUMN y TEXT') };

  it('applies the default migrations with the expected pragmas and tables', () => {
    const db = MetadataDb.open(join(dir, 'sub', 'default.db'));
    try {
      assert.equal(db.schemaVersion(), MIGRATIONS[MIGRATIONS.length - 1].version);
      assert.equal(db.sql.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.sql.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.sql.pragma('synchronous', { simple: true }), 1); // NORMAL
      assert.equal(db.sql.pragma('busy_timeout', { simple: true }), 5000);
      const tables = (db.sql.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map(
        (r) => r.name,
      );
      for (const t of ['layers', 'images', 'image_tags', 'image_digests', 'image_layers', 'schema_migrations']) {
        assert.ok(tables.includes(t), `table ${t}`);
      }
      const indexes = (db.sql.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as Array<{ name: string }>).map((r) => r.name);
      for (const i of ['image_tags_image_id', 'image_digests_image_id', 'image_layers_chain_id']) assert.ok(indexes.includes(i), `index ${i}`);
    } finally {
      db.close();
    }
  });

  it('runs only the migrations not yet applied, and records them', () => {
    const file = join(dir, 'steps.db');
    const first = MetadataDb.open(file, [v1]);
    first.sql.prepare('INSERT INTO t1 (x) VALUES (1)').run();
    assert.equal(first.schemaVersion(), 1);
    first.close();

    const second = MetadataDb.open(file, [v1, v2]);
    try {
      assert.equal(second.schemaVersion(), 2);
      const rows = second.sql.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as Array<{
        version: number;
        name: string;
        applied_at: number;
      }>;
      assert.deepEqual(
        rows.map((r) => [r.version, r.name]),
        [
          [1, 'one'],
          [2, 'two'],
        ],
      );
      assert.ok(rows.every((r) => r.applied_at > 0));
      assert.deepEqual(second.sql.prepare('SELECT x, y FROM t1').all(), [{ x: 1, y: null }]);
    } finally {
      second.close();
    }
  });

  it('rolls back a failing migration entirely', () => {
    const file = join(dir, 'failing.db');
    const bad: Migration = {
      version: 2,
      name: 'bad',
      up: (db) => {
        db.exec('CREATE TABLE half (x)');
        throw new Error('boom');
      },
    };
    assert.throws(() => MetadataDb.open(file, [v1, bad]), (err: unknown) => err instanceof BerthError && /boom/.test(err.message));
    const db = MetadataDb.open(file, [v1]);
    try {
      assert.equal(db.schemaVersion(), 1);
      assert.deepEqual(db.sql.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'half'").get(), { n: 0 });
    } finally {
      db.close();
    }
  });

  it('refuses a database newer than the code', () => {
    const file = join(dir, 'newer.db');
    MetadataDb.open(file, [v1, v2]).close();
    assert.throws(
      () => MetadataDb.open(file, [v1]),
      (err: unknown) => err instanceof BerthError && err.code === 'unavailable' && /schema version 2, newer than this berth knows \(1\)/.test(err.message),
    );
  });

  it('refuses migrations out of order', () => {
    assert.throws(() => MetadataDb.open(join(dir, 'order.db'), [v2, v1]), /increasing/);
  });

  it('transaction commits on success, rolls back on throw, and nests', () => {
    const db = MetadataDb.open(join(dir, 'tx.db'), [v1]);
    try {
      const count = (): number => (db.sql.prepare('SELECT COUNT(*) AS n FROM t1').get() as { n: number }).n;
      assert.equal(
        db.transaction(() => {
          db.sql.prepare('INSERT INTO t1 (x) VALUES (1)').run();
          return 'done';
        }),
        'done',
      );
      assert.equal(count(), 1);
      assert.throws(() =>
        db.transaction(() => {
          db.sql.prepare('INSERT INTO t1 (x) VALUES (2)').run();
          throw new Error('undo');
        }),
      );
      assert.equal(count(), 1);
      db.transaction(() => {
        db.sql.prepare('INSERT INTO t1 (x) VALUES (3)').run();
        assert.throws(() =>
          db.transaction(() => {
            db.sql.prepare('INSERT INTO t1 (x) VALUES (4)').run();
            throw new Error('inner');
          }),
        );
      });
      assert.deepEqual(db.sql.prepare('SELECT x FROM t1 ORDER BY x').all(), [{ x: 1 }, { x: 3 }]);
    } finally {
      db.close();
    }
  });
});

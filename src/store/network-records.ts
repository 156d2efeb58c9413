import type BetterSqlite3 from 'better-sqlite3';
import type { MetadataDb } from './db.js';

export interface NetworkRow<Doc> {
  id: string;
  name: string;
  createdAt: number;
  doc: Doc;
}

interface Row {
  id: string;
  name: string;
  created_at: number;
  doc: string;
}

/**
 * Networks as rows (indexed name plus the engine's JSON document) and the addresses handed out on them: the
 * (network, ip) primary key is what keeps two containers from getting one address, also across restarts.
 */
export class NetworkRecords<Doc> {
  private readonly s: Record<string, BetterSqlite3.Statement>;

  constructor(readonly db: MetadataDb) {
    const q = db.sql;
    this.s = {
      get: q.prepare('SELECT * FROM networks WHERE id = ?'),
      byName: q.prepare('SELECT * FROM networks WHERE name = ?'),
      byPrefix: q.prepare('SELECT * FROM networks WHERE id >= ? AND id < ? ORDER BY id LIMIT 2'),
      insert: q.prepare('INSERT INTO networks (id, name, created_at, doc) VALUES (?, ?, ?, ?)'),
      update: q.prepare('UPDATE networks SET doc = ? WHERE id = ?'),
      remove: q.prepare('DELETE FROM networks WHERE id = ?'),
      list: q.prepare('SELECT * FROM networks ORDER BY created_at, id'),
      addressesOf: q.prepare('SELECT ip FROM network_addresses WHERE network_id = ?'),
      addAddress: q.prepare('INSERT INTO network_addresses (network_id, ip, container_id) VALUES (?, ?, ?)'),
      releaseOne: q.prepare('DELETE FROM network_addresses WHERE network_id = ? AND container_id = ?'),
      releaseAll: q.prepare('DELETE FROM network_addresses WHERE container_id = ?'),
      holders: q.prepare('SELECT DISTINCT container_id FROM network_addresses'),
    };
  }

  private toRow(r: Row | undefined): NetworkRow<Doc> | undefined {
    if (!r) return undefined;
    return { id: r.id, name: r.name, createdAt: r.created_at, doc: JSON.parse(r.doc) as Doc };
  }

  get(id: string): NetworkRow<Doc> | undefined {
    return this.toRow(this.s.get.get(id) as Row | undefined);
  }

  byName(name: string): NetworkRow<Doc> | undefined {
    return this.toRow(this.s.byName.get(name) as Row | undefined);
  }

  /** Up to two rows whose ID starts with the hex prefix: two means ambiguous. */
  byIdPrefix(prefix: string): Array<NetworkRow<Doc>> {
    return (this.s.byPrefix.all(prefix, prefix + 'g') as Row[]).map((r) => this.toRow(r)!);
  }

  insert(row: NetworkRow<Doc>): void {
    this.s.insert.run(row.id, row.name, row.createdAt, JSON.stringify(row.doc));
  }

  update(id: string, doc: Doc): void {
    this.s.update.run(JSON.stringify(doc), id);
  }

  remove(id: string): void {
    this.s.remove.run(id);
  }

  list(): Array<NetworkRow<Doc>> {
    return (this.s.list.all() as Row[]).map((r) => this.toRow(r)!);
  }

  addresses(networkId: string): Set<string> {
    return new Set((this.s.addressesOf.all(networkId) as Array<{ ip: string }>).map((r) => r.ip));
  }

  /** Records the address; false when it is already held (the caller picks again). */
  claimAddress(networkId: string, ip: string, containerId: string): boolean {
    try {
      this.s.addAddress.run(networkId, ip, containerId);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
      throw err;
    }
  }

  releaseAddress(networkId: string, containerId: string): void {
    this.s.releaseOne.run(networkId, containerId);
  }

  releaseAddresses(containerId: string): void {
    this.s.releaseAll.run(containerId);
  }

  /** Containers holding any address. */
  holders(): string[] {
    return (this.s.holders.all() as Array<{ container_id: string }>).map((r) => r.container_id);
  }
}

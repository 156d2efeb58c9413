import type { Migration } from './db.js';

/**
 * The schema's history, oldest first. Never edit an applied migration: add a new one with the next version.
 */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'image tables',
    up(db) {
      db.exec(`
        CREATE TABLE layers (
          chain_id        TEXT PRIMARY KEY,
          diff_id         TEXT NOT NULL,
          parent          TEXT NULL REFERENCES layers(chain_id),
          size            INTEGER NOT NULL,  -- unpacked bytes
          diff_size       INTEGER NOT NULL,  -- bytes of the uncompressed tar (for save)
          blob_digest     TEXT NULL,
          blob_media_type TEXT NULL,
          blob_size       INTEGER NULL,
          created_at      INTEGER NOT NULL
        );
        CREATE INDEX layers_parent ON layers(parent);
        CREATE INDEX layers_blob_digest ON layers(blob_digest);

        CREATE TABLE images (
          id         TEXT PRIMARY KEY,           -- sha256:<hex> of the config
          config     TEXT NOT NULL,              -- raw config JSON, byte-exact
          top_layer  TEXT NULL REFERENCES layers(chain_id),
          size       INTEGER NOT NULL,
          created_at INTEGER NOT NULL,           -- local ms
          doc        TEXT NOT NULL DEFAULT '{}'  -- JSON: extra metadata
        );

        CREATE TABLE image_tags (
          name     TEXT PRIMARY KEY,             -- 'docker.io/library/busybox:latest'
          image_id TEXT NOT NULL REFERENCES images(id)
        );
        CREATE INDEX image_tags_image_id ON image_tags(image_id);

        CREATE TABLE image_digests (
          repo     TEXT NOT NULL,                -- 'docker.io/library/busybox'
          digest   TEXT NOT NULL,                -- manifest digest
          image_id TEXT NOT NULL REFERENCES images(id),
          manifest TEXT NOT NULL,                -- raw manifest JSON
          PRIMARY KEY (repo, digest)
        );
        CREATE INDEX image_digests_image_id ON image_digests(image_id);

        CREATE TABLE image_layers (
          image_id TEXT NOT NULL REFERENCES images(id),
          idx      INTEGER NOT NULL,
          chain_id TEXT NOT NULL REFERENCES layers(chain_id),
          PRIMARY KEY (image_id, idx)
        );
        CREATE INDEX image_layers_chain_id ON image_layers(chain_id);
      `);
    },
  },
  {
    version: 2,
    name: 'containers',
    up(db) {
      db.exec(`
        CREATE TABLE containers (
          id         TEXT PRIMARY KEY,           -- 64 hex
          name       TEXT NOT NULL UNIQUE,       -- without the leading '/'
          image_id   TEXT NOT NULL,
          created_at INTEGER NOT NULL,           -- ms
          doc        TEXT NOT NULL               -- JSON: config, host config, state
        );
        CREATE INDEX containers_image_id ON containers(image_id);
      `);
    },
  },
  {
    version: 3,
    name: 'networks',
    up(db) {
      db.exec(`
        CREATE TABLE networks (
          id         TEXT PRIMARY KEY,           -- 64 hex
          name       TEXT NOT NULL UNIQUE,
          created_at INTEGER NOT NULL,           -- ms
          doc        TEXT NOT NULL               -- JSON: driver, IPAM, options, labels
        );
        CREATE TABLE network_addresses (
          network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
          ip           TEXT NOT NULL,
          container_id TEXT NOT NULL,
          PRIMARY KEY (network_id, ip)
        );
        CREATE INDEX network_addresses_container ON network_addresses(container_id);
      `);
    },
  },
  {
    version: 4,
    name: 'volumes',
    up(db) {
      db.exec(`
        CREATE TABLE volumes (
          name       TEXT PRIMARY KEY,
          driver     TEXT NOT NULL,
          created_at INTEGER NOT NULL,           -- ms
          doc        TEXT NOT NULL               -- JSON: labels, driver options
        );
      `);
    },
  },
  {
    version: 5,
    name: 'build cache',
    up(db) {
      db.exec(`
        CREATE TABLE build_cache (
          key           TEXT PRIMARY KEY,      -- sha256 of parent image ID + the step as the cache sees it
          image_id      TEXT NOT NULL,         -- the image the step produced
          parent_id     TEXT NOT NULL,         -- '' for a step on scratch
          description   TEXT NOT NULL,         -- the step's created_by
          size          INTEGER NOT NULL,      -- bytes of the layer the step added (0 for config-only steps)
          created_at    INTEGER NOT NULL,      -- ms
          last_used_at  INTEGER NOT NULL,      -- ms
          usage_count   INTEGER NOT NULL
        );
        CREATE INDEX build_cache_image_id ON build_cache(image_id);
        CREATE INDEX build_cache_parent_id ON build_cache(parent_id);
      `);
    },
  },
];

-- btrt database schema for SQLite (schema version 1, as released first; a test fixture for `btrt db upgrade`). `btrt run` applies it itself to a new
-- database file; `btrt db init` does the same on demand.

CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS torrents (
  info_hash TEXT NOT NULL PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  origin_url TEXT NULL
);

CREATE TABLE IF NOT EXISTS peers (
  info_hash TEXT NOT NULL,
  address TEXT NOT NULL,
  port INTEGER NOT NULL,
  peer_id TEXT NOT NULL,
  seeder INTEGER NOT NULL,
  source INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (info_hash, address, port)
);

CREATE INDEX IF NOT EXISTS peers_expires_at ON peers (expires_at);

CREATE TABLE IF NOT EXISTS stats (
  sampled_at INTEGER NOT NULL PRIMARY KEY,
  announces INTEGER NOT NULL,
  scrapes INTEGER NOT NULL,
  forwarded INTEGER NOT NULL
);

INSERT OR IGNORE INTO schema_version (version) VALUES (1);

-- btrt database schema for SQLite (schema version 3). `btrt run` applies it itself to a new
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
-- No index on expires_at (schema 3): keeping one up to date on every re-announce cost more
-- than the rest of the write; btrt purges expired rows by a scan every few minutes.

CREATE TABLE IF NOT EXISTS stats (
  sampled_at INTEGER NOT NULL PRIMARY KEY,
  announces INTEGER NOT NULL,
  scrapes INTEGER NOT NULL,
  forwarded INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS stats_returned (
  sampled_at INTEGER NOT NULL,
  peer_group TEXT NOT NULL,
  peers INTEGER NOT NULL,
  PRIMARY KEY (sampled_at, peer_group)
);

INSERT OR IGNORE INTO schema_version (version) VALUES (1), (2), (3);

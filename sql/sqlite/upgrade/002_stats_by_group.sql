-- Schema version 1 -> 2: peers handed out per peer group, per minute.

CREATE TABLE IF NOT EXISTS stats_returned (
  sampled_at INTEGER NOT NULL,
  peer_group TEXT NOT NULL,
  peers INTEGER NOT NULL,
  PRIMARY KEY (sampled_at, peer_group)
);

INSERT OR IGNORE INTO schema_version (version) VALUES (2);

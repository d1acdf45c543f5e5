-- Schema version 2 -> 3: no index on peers.expires_at. Updating it on every re-announce was
-- the larger part of a flush; btrt now purges expired peers by a scan every few minutes.

DROP INDEX IF EXISTS peers_expires_at;

INSERT OR IGNORE INTO schema_version (version) VALUES (3);

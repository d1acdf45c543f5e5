-- Schema version 2 -> 3: no index on peers.expires_at. Updating it on every re-announce was
-- the larger part of a flush; btrt now purges expired peers by a scan every few minutes.

DROP INDEX peers_expires_at ON peers;

INSERT IGNORE INTO schema_version (version) VALUES (3);

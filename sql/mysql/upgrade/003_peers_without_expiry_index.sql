-- Schema version 2 -> 3: no index on peers.expires_at. Updating it on every re-announce was
-- the larger part of a flush; btrt now purges expired peers by a scan every few minutes.
--
-- Rerunnable: DDL commits at once, so an upgrade interrupted after the DROP INDEX leaves the
-- index gone and the version at 2. MySQL has no DROP INDEX IF EXISTS (MariaDB has), so the
-- index is dropped only when information_schema still lists it.

SET @btrt_upgrade_003 = (SELECT IF(COUNT(*) > 0, 'DROP INDEX peers_expires_at ON peers', 'DO 0')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'peers' AND index_name = 'peers_expires_at');
PREPARE btrt_upgrade_003 FROM @btrt_upgrade_003;
EXECUTE btrt_upgrade_003;
DEALLOCATE PREPARE btrt_upgrade_003;

INSERT IGNORE INTO schema_version (version) VALUES (3);

-- btrt database schema for MySQL 5.7+/8 and MariaDB 10.x (schema version 3).
-- Run it in the schema named in database.schema, for example:
--   mysql -hlocalhost -ubtrt -p btrt < /etc/btrt/btrt.db_creation.sql
-- `btrt db init` creates the same objects; running either twice is harmless.

CREATE TABLE IF NOT EXISTS schema_version (
  version INT NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS torrents (
  info_hash CHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,  -- hex
  first_seen BIGINT NOT NULL,                                   -- unix time, s
  last_seen BIGINT NOT NULL,
  completed BIGINT NOT NULL DEFAULT 0,
  origin_url VARCHAR(2048) NULL                                 -- forwarded torrents
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS peers (
  info_hash CHAR(40) CHARACTER SET ascii NOT NULL,
  address VARCHAR(45) CHARACTER SET ascii NOT NULL,
  port INT NOT NULL,
  peer_id CHAR(40) CHARACTER SET ascii NOT NULL,                -- hex
  seeder TINYINT NOT NULL,
  source SMALLINT NOT NULL,                                     -- 0 local, 1 external, 2+ neighbour
  last_seen BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  -- No index on expires_at (schema 3): keeping one up to date on every re-announce cost more
  -- than the rest of the write; btrt purges expired rows by a scan every few minutes.
  PRIMARY KEY (info_hash, address, port)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS stats (
  sampled_at BIGINT NOT NULL PRIMARY KEY,                       -- end of the minute sampled
  announces BIGINT NOT NULL,
  scrapes BIGINT NOT NULL,
  forwarded BIGINT NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS stats_returned (
  sampled_at BIGINT NOT NULL,
  peer_group VARCHAR(255) NOT NULL,
  peers BIGINT NOT NULL,                                        -- peers handed out that minute
  PRIMARY KEY (sampled_at, peer_group)
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version) VALUES (1), (2), (3);

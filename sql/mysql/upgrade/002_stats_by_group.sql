-- Schema version 1 -> 2: peers handed out per peer group, per minute (the localisation
-- ratio over time). Applied by `btrt db upgrade`, or by hand:
--   mysql -hlocalhost -ubtrt -p btrt < /etc/btrt/btrt.db_upgrade_002_stats_by_group.sql

CREATE TABLE IF NOT EXISTS stats_returned (
  sampled_at BIGINT NOT NULL,
  peer_group VARCHAR(255) NOT NULL,
  peers BIGINT NOT NULL,
  PRIMARY KEY (sampled_at, peer_group)
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version) VALUES (2);

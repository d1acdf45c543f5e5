// One conformance suite for the storage interface, run against SQLite (a temporary file) and
// a real MariaDB server (started by scripts/test-mariadb.sh; BTRT_TEST_MYSQL_PORT names it).
#include "storage/database.hpp"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "support/time.hpp"

namespace btrt::storage {
namespace {

using test::unix_at;

enum class Backend { sqlite, mysql };

core::InfoHash hash(std::uint8_t n) {
  core::InfoHash h;
  h.bytes.fill(n);
  h.bytes[0] = 0xAB;
  return h;
}

core::PeerId id_of(std::uint32_t n) {
  core::PeerId id;
  for (int i = 0; i < 4; ++i) id.bytes[i] = static_cast<std::uint8_t>(n >> (8 * i));
  return id;
}

PeerRow peer(std::uint8_t torrent, const char* address, std::uint16_t port, std::int64_t expires,
             bool seeder = false) {
  PeerRow row;
  row.info_hash = hash(torrent);
  row.address = *net::IpAddress::parse(address);
  row.port = port;
  row.peer_id = id_of(port);
  row.seeder = seeder;
  row.source = 0;
  row.last_seen = 1000;
  row.expires_at = expires;
  return row;
}

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    static std::mt19937_64 rng(std::random_device{}());
    name_ = "btrt_test_" + std::to_string(rng() % 1000000000);
    if (GetParam() == Backend::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / name_;
      config_.kind = config::Database::Kind::sqlite;
      config_.location = (dir_ / "sub" / "btrt.db").string();  // a missing directory too
    } else {
      const char* port = std::getenv("BTRT_TEST_MYSQL_PORT");
      ASSERT_NE(port, nullptr) << "BTRT_TEST_MYSQL_PORT is not set: start "
                                  "scripts/test-mariadb.sh (scripts/test.sh does)";
      config_.kind = config::Database::Kind::mysql_tcp;
      config_.location = std::string("127.0.0.1:") + port;
      config_.user = "btrt";
      config_.password = "btrt-test";
      config_.schema = name_;
      admin("CREATE DATABASE " + name_);
    }
  }
  void TearDown() override {
    if (GetParam() == Backend::sqlite) {
      std::filesystem::remove_all(dir_);
    } else if (std::getenv("BTRT_TEST_MYSQL_PORT")) {
      admin("DROP DATABASE IF EXISTS " + name_);
    }
  }
  static std::string mysql_connect(const std::string& schema) {
    return "host=127.0.0.1 port=" + std::string(std::getenv("BTRT_TEST_MYSQL_PORT")) +
           " user=btrt password=btrt-test" + (schema.empty() ? "" : " db=" + schema);
  }
  void admin(const std::string& statement) {
    soci::session sql("mysql", mysql_connect(""));
    sql << statement;
  }
  // A session of the test's own, beside the interface under test.
  std::unique_ptr<soci::session> raw_session() {
    return GetParam() == Backend::mysql
               ? std::make_unique<soci::session>("mysql", mysql_connect(name_))
               : std::make_unique<soci::session>("sqlite3", config_.location);
  }
  std::unique_ptr<Database> fresh() {
    auto db = Database::connect(config_);
    init_schema(*db);
    return db;
  }
  std::map<std::uint16_t, PeerRow> peers_after(Database& db, std::int64_t now) {
    std::map<std::uint16_t, PeerRow> out;
    db.load_peers(unix_at(now), [&](const PeerRow& row) { out[row.port] = row; });
    return out;
  }

  // The schema as first released, from tests/data.
  void load_version_one() {
    std::filesystem::path fixture =
        std::filesystem::path(BTRT_SOURCE_DIR) / "tests" / "data" /
        (GetParam() == Backend::mysql ? "schema_v1_mysql.sql" : "schema_v1_sqlite.sql");
    {
      auto db = Database::connect(config_);  // creates the SQLite file
    }
    std::ifstream in(fixture);
    std::string script((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(script.empty()) << fixture;
    auto session = raw_session();
    auto& sql = *session;
    std::string statement;
    std::istringstream lines(script);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("--", 0) == 0) continue;
      statement += line + "\n";
      if (!line.empty() && line.back() == ';') {
        sql << statement.substr(0, statement.rfind(';'));
        statement.clear();
      }
    }
  }

  config::Database config_;
  std::string name_;
  std::filesystem::path dir_;
};

TEST_P(DatabaseTest, InitCreatesTheSchemaOnceAndIsHarmlessTwice) {
  auto db = Database::connect(config_);
  EXPECT_EQ(db->schema_version(), 0);
  EXPECT_NE(init_schema(*db).find("created schema version 3"), std::string::npos);
  EXPECT_EQ(db->schema_version(), kSchemaVersion);
  EXPECT_NE(init_schema(*db).find("already in place"), std::string::npos);
  EXPECT_NO_THROW(prepare_for_run(*db, false));
}

TEST_P(DatabaseTest, PrepareForRunCreatesOnlyWhenAllowed) {
  auto db = Database::connect(config_);
  try {
    prepare_for_run(*db, false);
    FAIL() << "an empty database must be refused";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("btrt db init"), std::string::npos) << e.what();
  }
  prepare_for_run(*db, true);
  EXPECT_EQ(db->schema_version(), kSchemaVersion);
}

TEST_P(DatabaseTest, PeersRoundTripAndExpiredOnesStayBehind) {
  auto db = fresh();
  Batch batch;
  batch.now = unix_at(1000);
  batch.peers = {peer(1, "10.1.2.3", 6881, 5000, true), peer(1, "2001:db8::7", 6882, 5000),
                 peer(2, "192.0.2.1", 6883, 1500)};
  db->write(batch);
  auto loaded = peers_after(*db, 1200);
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded[6881].address.to_string(), "10.1.2.3");
  EXPECT_TRUE(loaded[6881].seeder);
  EXPECT_EQ(loaded[6881].peer_id, id_of(6881));
  EXPECT_EQ(loaded[6881].info_hash, hash(1));
  EXPECT_EQ(loaded[6882].address.to_string(), "2001:db8::7");
  EXPECT_EQ(loaded[6882].expires_at, 5000);
  EXPECT_EQ(peers_after(*db, 2000).size(), 2u);  // 6883 expired at 1500
}

TEST_P(DatabaseTest, UpsertsReplaceRemovalsDeleteAndExpiredRowsAreCleaned) {
  auto db = fresh();
  Batch first;
  first.now = unix_at(1000);
  first.peers = {peer(1, "10.0.0.1", 1, 5000), peer(1, "10.0.0.2", 2, 5000),
                 peer(1, "10.0.0.3", 3, 1100)};
  db->write(first);
  Batch second;
  second.now = unix_at(1200);  // peer 3 has expired: the flush deletes it
  second.peers = {peer(1, "10.0.0.1", 1, 9000, true)};
  second.removed = {{hash(1), *net::IpAddress::parse("10.0.0.2"), 2}};
  db->write(second);
  auto loaded = peers_after(*db, 0);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(loaded[1].seeder);
  EXPECT_EQ(loaded[1].expires_at, 9000);
  Batch later;  // peer 1 has expired too, but this flush is not a purge
  later.now = unix_at(10000);
  later.purge_expired = false;
  db->write(later);
  EXPECT_EQ(peers_after(*db, 0).size(), 1u);
  later.purge_expired = true;
  db->write(later);
  EXPECT_TRUE(peers_after(*db, 0).empty());
}

TEST_P(DatabaseTest, CompletionCountsAccumulate) {
  auto db = fresh();
  for (std::uint64_t delta : {2u, 0u, 3u}) {
    Batch batch;
    batch.now = unix_at(1000);
    batch.torrents = {{hash(1), delta, 1000, {}}, {hash(2), 0, 1000, {}}};
    db->write(batch);
  }
  std::map<core::InfoHash, std::uint64_t> completed;
  db->load_completed([&](const core::InfoHash& h, std::uint64_t c) { completed[h] = c; });
  ASSERT_EQ(completed.size(), 1u);  // torrents without completions are not listed
  EXPECT_EQ(completed[hash(1)], 5u);
}

TEST_P(DatabaseTest, ManyRowsTakeSeveralStatements) {
  auto db = fresh();
  Batch batch;
  batch.now = unix_at(1000);
  for (std::uint16_t i = 0; i < 1234; ++i) {
    batch.peers.push_back(peer(static_cast<std::uint8_t>(i % 7), "10.9.0.1",
                               static_cast<std::uint16_t>(1000 + i), 5000));
    batch.torrents.push_back({hash(static_cast<std::uint8_t>(i)), 1, 1000, {}});
  }
  db->write(batch);
  EXPECT_EQ(peers_after(*db, 0).size(), 1234u);
  Batch removal;
  removal.now = unix_at(1000);
  for (std::uint16_t i = 0; i < 1000; ++i) {
    removal.removed.push_back({hash(static_cast<std::uint8_t>(i % 7)),
                               *net::IpAddress::parse("10.9.0.1"),
                               static_cast<std::uint16_t>(1000 + i)});
  }
  db->write(removal);
  EXPECT_EQ(peers_after(*db, 0).size(), 234u);
}

TEST_P(DatabaseTest, StatisticsRoundTrip) {
  auto db = fresh();
  Batch batch;
  batch.now = unix_at(1000);
  batch.stats = {{960, 10, 2, 0, {{"local peers", 7}, {"other", 3}}},
                 {1020, 20, 4, 1, {{"local peers", 9}}}};
  db->write(batch);
  auto rows = db->load_stats_since(unix_at(0));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].sampled_at, 960);
  EXPECT_EQ(rows[1].announces, 20u);
  ASSERT_EQ(rows[0].returned_by_group.size(), 2u);
  EXPECT_EQ(rows[0].returned_by_group[0].first, "local peers");
  EXPECT_EQ(rows[0].returned_by_group[0].second, 7u);
}

TEST_P(DatabaseTest, StatisticsSinceATime) {
  auto db = fresh();
  Batch batch;
  batch.now = unix_at(1000);
  batch.stats = {{900, 1, 0, 0, {{"local peers", 1}}},
                 {960, 10, 2, 0, {{"other", 3}, {"local peers", 7}}},
                 {1020, 20, 4, 1, {}},
                 {1080, 30, 6, 2, {{"partner peers", 5}}}};
  db->write(batch);
  auto rows = db->load_stats_since(unix_at(960));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].sampled_at, 960);
  EXPECT_EQ(rows[0].announces, 10u);
  EXPECT_EQ(rows[0].scrapes, 2u);
  ASSERT_EQ(rows[0].returned_by_group.size(), 2u);
  EXPECT_EQ(rows[0].returned_by_group[0],
            (std::pair<std::string, std::uint64_t>{"local peers", 7}));
  EXPECT_EQ(rows[0].returned_by_group[1], (std::pair<std::string, std::uint64_t>{"other", 3}));
  EXPECT_TRUE(rows[1].returned_by_group.empty());
  EXPECT_EQ(rows[2].sampled_at, 1080);
  EXPECT_EQ(rows[2].forwarded, 2u);
  ASSERT_EQ(rows[2].returned_by_group.size(), 1u);
  EXPECT_EQ(rows[2].returned_by_group[0].second, 5u);
  EXPECT_TRUE(db->load_stats_since(unix_at(2000)).empty());
  EXPECT_EQ(db->load_stats_since(unix_at(0)).size(), 4u);
}

TEST_P(DatabaseTest, UpgradeBringsAVersionOneSchemaToTheCurrentOne) {
  const bool mysql = GetParam() == Backend::mysql;
  load_version_one();
  auto db = Database::connect(config_);
  EXPECT_EQ(db->schema_version(), 1);
  try {
    prepare_for_run(*db, true);
    FAIL() << "an old schema must be refused";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("btrt db upgrade"), std::string::npos) << e.what();
  }
  EXPECT_NE(upgrade_schema(*db).find("upgraded schema version 1 to 3"), std::string::npos);
  EXPECT_EQ(db->schema_version(), kSchemaVersion);
  Batch batch;  // the upgrade's table works
  batch.stats = {{60, 1, 0, 0, {{"local peers", 1}}}};
  db->write(batch);
  EXPECT_EQ(db->load_stats_since(unix_at(0)).size(), 1u);
  EXPECT_NE(upgrade_schema(*db).find("is current"), std::string::npos);
  // Version 3 dropped the index on peers.expires_at.
  auto session = raw_session();
  int indexes = -1;
  if (mysql) {
    *session << "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = "
                "DATABASE() AND table_name = 'peers' AND index_name = 'peers_expires_at'",
        soci::into(indexes);
  } else {
    *session << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                "name = 'peers_expires_at'",
        soci::into(indexes);
  }
  EXPECT_EQ(indexes, 0);
}

TEST_P(DatabaseTest, AnInterruptedUpgradeCanBeRerun) {
  // Schema DDL commits at once: an upgrade stopped after 003's DROP INDEX left the index
  // gone and the version unchanged. Running the upgrade again must finish it.
  load_version_one();
  if (GetParam() == Backend::mysql) {
    *raw_session() << "DROP INDEX peers_expires_at ON peers";
  } else {
    *raw_session() << "DROP INDEX peers_expires_at";
  }
  auto db = Database::connect(config_);
  EXPECT_EQ(db->schema_version(), 1);
  EXPECT_NE(upgrade_schema(*db).find("upgraded schema version 1 to 3"), std::string::npos);
  EXPECT_NE(upgrade_schema(*db).find("is current"), std::string::npos);
  EXPECT_NO_THROW(prepare_for_run(*db, false));
}

TEST_P(DatabaseTest, OriginUrlIsWrittenKeptAndMadeStorable) {
  auto db = fresh();
  auto write = [&](std::uint8_t torrent, std::string origin) {
    Batch batch;
    batch.now = unix_at(1000);
    batch.torrents = {{hash(torrent), 0, 1000, std::move(origin)}};
    db->write(batch);
  };
  auto stored = [&](std::uint8_t torrent) {
    std::string url;
    soci::indicator ind = soci::i_ok;
    *raw_session() << "SELECT origin_url FROM torrents WHERE info_hash = '" + hash(torrent).hex() +
                          "'",
        soci::into(url, ind);
    return ind == soci::i_null ? std::string("NULL") : url;
  };
  write(1, "");
  EXPECT_EQ(stored(1), "NULL");  // a torrent never forwarded has none
  write(1, "http://tracker.example/announce");
  write(1, "");  // a local announce later keeps it
  EXPECT_EQ(stored(1), "http://tracker.example/announce");
  write(1, "http://other.example:8080/a");
  EXPECT_EQ(stored(1), "http://other.example:8080/a");
  // Bytes a subscriber may send that a text column refuses (invalid UTF-8), and length.
  write(2, std::string("http://t.example/\xff\x80 x"));
  EXPECT_EQ(stored(2), "http://t.example/%FF%80%20x");
  write(3, "http://t.example/" + std::string(5000, 'a'));
  EXPECT_EQ(stored(3).size(), 2048u);
}

TEST_P(DatabaseTest, NewerSchemaIsRefused) {
  auto db = fresh();
  *raw_session() << "INSERT INTO schema_version (version) VALUES (99)";
  EXPECT_THROW(prepare_for_run(*db, true), SchemaError);
}

TEST_P(DatabaseTest, ANewSqliteFileHasLargePagesAnOldOneKeepsItsOwn) {
  if (GetParam() != Backend::sqlite) GTEST_SKIP() << "a SQLite file's page size";
  auto page_size = [&] {
    int size = 0;
    *raw_session() << "PRAGMA page_size", soci::into(size);
    return size;
  };
  Batch batch;
  batch.now = unix_at(1000);
  batch.peers = {peer(1, "192.0.2.1", 6881, 5000)};
  fresh()->write(batch);
  EXPECT_EQ(page_size(), 65536);

  // A file made before (4 KiB pages, already in WAL mode) is opened and written as it is.
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_ / "sub");
  {
    soci::session old("sqlite3", config_.location);
    old << "PRAGMA page_size=4096";
    old << "PRAGMA journal_mode=WAL";
  }
  {
    auto db = fresh();
    db->write(batch);
    EXPECT_EQ(peers_after(*db, 1200).size(), 1u);
  }
  EXPECT_EQ(page_size(), 4096);
}

TEST(DatabaseConnect, UnreachableServerIsAClearError) {
  config::Database config;
  config.kind = config::Database::Kind::mysql_tcp;
  config.location = "127.0.0.1:1";  // nothing listens on port 1
  try {
    Database::connect(config);
    FAIL();
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("MySQL 127.0.0.1:1"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, ::testing::Values(Backend::sqlite, Backend::mysql),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                           return param.param == Backend::sqlite ? "SQLite" : "MariaDB";
                         });

}  // namespace
}  // namespace btrt::storage

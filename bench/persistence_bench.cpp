// Issue 3: what persistence costs the announce path, and how long a restart with
// 1,000,000 stored peers takes to restore. Runs on SQLite (the embedded default), and on
// MySQL/MariaDB too when BTRT_TEST_MYSQL_PORT names a server (scripts/test-mariadb.sh).
//
//   build-bench/bench/bench_persistence [peers] [torrents]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>

#include "core/swarm_store.hpp"
#include "storage/database.hpp"
#include "storage/write_behind.hpp"

using namespace btrt;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::shared_ptr<const net::Classifier> groups() {
  return std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local peers", 0, {*net::Cidr::parse("10.0.0.0/8")}}});
}

core::PeerAnnounce announce_of(std::uint64_t i, std::size_t torrents, std::uint64_t r) {
  core::PeerAnnounce a;
  std::uint64_t t = i % torrents;
  for (int b = 0; b < 8; ++b) a.info_hash.bytes[b] = static_cast<std::uint8_t>(t >> (8 * b));
  for (int b = 0; b < 8; ++b) a.peer_id.bytes[b] = static_cast<std::uint8_t>(r >> (8 * b));
  a.address = net::IpAddress::from_v4(static_cast<std::uint32_t>(0x0A000000u | (i & 0xFFFFFF)));
  a.port = static_cast<std::uint16_t>(1024 + i / 0x1000000);
  a.seeder = (r & 7) == 0;
  return a;
}

// Announces per second into a store, with change recording off and on; with recording on,
// the changes are taken out every 100,000 announces, as flushes do (counted in the time).
double store_rate(bool recording, std::size_t peers, std::size_t torrents) {
  core::SwarmStore store(groups(), {});
  store.set_recording(recording);
  std::mt19937_64 rng(5);
  std::vector<core::SelectedPeer> out;
  std::vector<core::PeerChange> peer_changes;
  std::vector<core::TorrentChange> torrent_changes;
  auto started = Clock::now();
  // 10,000 announces a second, a take every 10 s.
  core::TimePoint now = core::kStart;
  for (std::size_t round = 0; round < 2; ++round) {  // insert, then update every peer
    for (std::size_t i = 0; i < peers; ++i) {
      if (i % 10'000 == 0) now += core::Duration{1};
      out.clear();
      store.announce(announce_of(i, torrents, rng()), now, std::chrono::hours(1), {50, 0}, out);
      if (recording && i % 100'000 == 99'999) {
        for (std::size_t shard = 0; shard < store.shard_count(); ++shard) {
          peer_changes.clear();
          torrent_changes.clear();
          store.take_changes(shard, now, peer_changes, torrent_changes);
        }
      }
    }
  }
  return static_cast<double>(2 * peers) / seconds_since(started);
}

void restore_run(const char* name, const config::Database& config, std::size_t peers,
                 std::size_t torrents) {
  auto database = storage::Database::connect(config);
  storage::prepare_for_run(*database, true);
  const core::UnixSeconds now{std::chrono::seconds{1'700'000'000}};
  const std::int64_t stored_now = storage::stored_seconds(now);

  // Every peer written once (new rows), then every peer again a flush later (the steady
  // state: a re-announce updates its row).
  auto write_all = [&](std::int64_t seen) {
    std::mt19937_64 rng(9);
    const auto started = Clock::now();
    storage::Batch batch;
    batch.now = now;
    for (std::size_t i = 0; i < peers; ++i) {
      auto a = announce_of(i, torrents, rng());
      batch.peers.push_back({{a.info_hash, a.address, a.port},
                             a.peer_id,
                             a.seeder,
                             core::Source::local.value(),
                             seen,
                             seen + 3600});
      if (batch.peers.size() == 100'000) {  // as flushes of 100,000 changes each
        database->write(batch);
        batch.peers.clear();
      }
    }
    database->write(batch);
    return seconds_since(started);
  };
  const double write_s = write_all(stored_now);
  const double rewrite_s = write_all(stored_now + 1800);

  core::SwarmStore store(groups(), {});
  const auto started = Clock::now();
  const std::size_t restored = storage::restore_swarm(*database, store, core::kStart, now).peers;
  const double restore_s = seconds_since(started);
  std::printf(
      "%-8s write %zu new peers: %.1f s (%.0f rows/s); again (updates): %.1f s (%.0f rows/s); "
      "restore %zu peers: %.1f s (target < 10 s)\n",
      name, peers, write_s, static_cast<double>(peers) / write_s, rewrite_s,
      static_cast<double>(peers) / rewrite_s, restored, restore_s);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::size_t peers = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const std::size_t torrents = argc > 2 ? std::stoul(argv[2]) : 100'000;

  const double off = store_rate(false, peers, torrents);
  const double on = store_rate(true, peers, torrents);
  std::printf(
      "store announces/s, one thread, numwant 50: recording off %.2f M, on %.2f M "
      "(cost %.1f %%)\n",
      off / 1e6, on / 1e6, 100.0 * (off - on) / off);

  auto dir = std::filesystem::temp_directory_path() / "btrt-bench-persistence";
  std::filesystem::remove_all(dir);
  config::Database sqlite;
  sqlite.kind = config::Database::Kind::sqlite;
  sqlite.location = (dir / "btrt.db").string();
  restore_run("SQLite", sqlite, peers, torrents);
  std::filesystem::remove_all(dir);

  if (const char* port = std::getenv("BTRT_TEST_MYSQL_PORT")) {
    config::Database mysql;
    mysql.kind = config::Database::Kind::mysql_tcp;
    mysql.location = std::string("127.0.0.1:") + port;
    mysql.user = "btrt";
    mysql.password = "btrt-test";
    mysql.schema = "btrt";  // scripts/test-mariadb.sh creates it; the bench empties it
    {
      auto db = storage::Database::connect(mysql);
      if (db->schema_version() == 0) db->init();
      storage::Batch none;
      none.now = core::UnixSeconds::max();  // deletes every stored peer
      db->write(none);
    }
    restore_run("MariaDB", mysql, peers, torrents);
  }
  return 0;
}

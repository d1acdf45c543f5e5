#include "storage/write_behind.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "support/time.hpp"

namespace btrt::storage {
namespace {

using namespace std::chrono_literals;
using test::at;

core::InfoHash hash(std::uint8_t n) {
  core::InfoHash h;
  h.bytes.fill(n);
  return h;
}

struct WriteBehindTest : ::testing::Test {
  std::filesystem::path dir;
  clock::ManualClock clock{at(100)};
  core::SwarmStore store{std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{}),
                         {}};

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("btrt-write-behind-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // The flush interval is long: only stop() flushes, so each test decides when.
  config::Database settings(const std::filesystem::path& file) const {
    config::Database c;
    c.kind = config::Database::Kind::sqlite;
    c.location = file.string();
    c.flush_interval = 3600s;
    return c;
  }
  config::Database reachable() const { return settings(dir / "btrt.db"); }
  // A path under a regular file: the database cannot be created there.
  config::Database unreachable() const {
    std::ofstream(dir / "not-a-directory") << "x";
    return settings(dir / "not-a-directory" / "btrt.db");
  }

  std::unique_ptr<WriteBehind> make(const config::Database& c, bool connect) {
    std::unique_ptr<Database> db;
    if (connect) {
      db = Database::connect(c);
      prepare_for_run(*db, true);
    }
    return std::make_unique<WriteBehind>(store, std::move(db), c, clock, [] { return StatsRow{}; });
  }

  void announce(std::uint8_t torrent, std::uint16_t port,
                core::AnnounceEvent event = core::AnnounceEvent::none) {
    core::PeerAnnounce a;
    a.info_hash = hash(torrent);
    a.peer_id.bytes.fill(static_cast<std::uint8_t>(port));
    a.address = *net::IpAddress::parse("198.51.100.1");
    a.port = port;
    a.event = event;
    std::vector<core::SelectedPeer> out;
    store.announce(a, clock.now(), 3600s, {50, 0}, out);
  }

  std::map<std::uint16_t, PeerRow> stored() {
    std::map<std::uint16_t, PeerRow> out;
    auto db = Database::connect(reachable());
    db->load_peers(clock.unix_now(), [&](const PeerRow& row) { out[row.port] = row; });
    return out;
  }
};

TEST_F(WriteBehindTest, ChangesOfOnePeerAreKeptAsOneWhileTheDatabaseIsAway) {
  auto wb = make(unreachable(), false);
  wb->start();
  announce(1, 1001);
  clock.advance(5s);
  announce(1, 1001);  // the same peer again: replaces its pending change
  announce(1, 1002);
  wb->stop();  // one flush attempt, which fails
  EXPECT_FALSE(wb->database_up());
  EXPECT_EQ(wb->pending_peer_changes(), 2u);
  EXPECT_EQ(wb->dropped_peer_changes(), 0u);
}

// A write that fails keeps the changes it took; those taken after it are merged with them,
// one per peer, not added beside them.
TEST_F(WriteBehindTest, ChangesTakenAfterAFailedWriteJoinThoseItKept) {
  auto down = unreachable();
  down.flush_interval = 1s;
  auto wb = make(down, false);
  wb->start();
  announce(1, 1001);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (wb->database_up() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(wb->database_up());
  EXPECT_EQ(wb->pending_peer_changes(), 1u);
  announce(1, 1001);
  announce(1, 1002);
  wb->stop();
  EXPECT_EQ(wb->pending_peer_changes(), 2u);
}

TEST_F(WriteBehindTest, MaxPendingTrimsOnlyDuringAnOutage) {
  auto down = unreachable();
  down.max_pending = 2;
  auto wb = make(down, false);
  wb->restore_when_available(false);  // down since the start: an outage from the first flush
  wb->start();
  for (std::uint16_t port = 1001; port <= 1003; ++port) announce(1, port);
  wb->stop();
  EXPECT_EQ(wb->pending_peer_changes(), 2u);
  EXPECT_EQ(wb->dropped_peer_changes(), 1u);

  auto up = reachable();
  up.max_pending = 2;
  wb = make(up, true);
  wb->start();
  for (std::uint16_t port = 2001; port <= 2003; ++port) announce(2, port);
  wb->stop();
  EXPECT_TRUE(wb->database_up());
  EXPECT_EQ(wb->dropped_peer_changes(), 0u);
  const auto rows = stored();
  for (std::uint16_t port = 2001; port <= 2003; ++port) EXPECT_TRUE(rows.count(port)) << port;
}

TEST_F(WriteBehindTest, ALateRestoreMergesTheStoredSwarmWithWhatMemoryHoldsNow) {
  {
    auto db = Database::connect(reachable());
    prepare_for_run(*db, true);
    Batch batch;
    batch.now = clock.unix_now();
    for (const std::uint16_t port : {std::uint16_t{3001}, std::uint16_t{3002}}) {
      PeerRow row;
      static_cast<core::PeerKey&>(row) = {hash(3), *net::IpAddress::parse("198.51.100.1"), port};
      row.peer_id.bytes.fill(static_cast<std::uint8_t>(port));
      row.last_seen = stored_seconds(clock.unix_now());
      row.expires_at = stored_seconds(clock.unix_now()) + 3600;
      batch.peers.push_back(row);
    }
    db->write(batch);
  }
  // Started without the database; meanwhile 3002 stops and 3003 arrives.
  auto wb = make(reachable(), false);
  wb->restore_when_available(false);
  EXPECT_FALSE(wb->database_up());
  wb->start();
  announce(3, 3002, core::AnnounceEvent::stopped);
  announce(3, 3003);
  wb->stop();  // connects, restores, writes

  EXPECT_TRUE(wb->database_up());
  const auto counts = store.counts(hash(3), clock.now());
  EXPECT_EQ(counts.complete + counts.incomplete, 2u);  // 3001 restored, 3003; not 3002
  const auto rows = stored();
  EXPECT_TRUE(rows.count(3001));
  EXPECT_FALSE(rows.count(3002));
  EXPECT_TRUE(rows.count(3003));
}

}  // namespace
}  // namespace btrt::storage

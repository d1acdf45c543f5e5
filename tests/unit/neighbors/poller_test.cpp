#include "neighbors/poller.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "support/http_server.hpp"
#include "support/time.hpp"

namespace btrt::neighbors {
namespace {

using namespace std::chrono_literals;
using test::at;

using namespace std::chrono_literals;
using test::Received;
using test::Reply;
using test::TestServer;

// Polls `pred` until it holds or `limit` passes (the poller works on its own thread and
// publishes its status every tick, 100 ms).
bool await(const std::function<bool()>& pred, std::chrono::milliseconds limit = 1800ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

core::InfoHash hash(std::uint8_t n) {
  core::InfoHash h;
  h.bytes.fill(n);
  return h;
}

struct PollerTest : ::testing::Test {
  clock::ManualClock clock{at(100)};
  core::SwarmStore store{std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{}),
                         {}};
  Poller poller{store, clock};

  void TearDown() override { poller.stop(); }

  // A local peer announces `torrent`: the poller asks neighbours for it.
  void announce(std::uint8_t torrent) {
    core::PeerAnnounce a;
    a.info_hash = hash(torrent);
    a.peer_id.bytes.fill(torrent);
    a.address = *net::IpAddress::parse("198.51.100.1");
    a.port = 6881;
    std::vector<core::SelectedPeer> out;
    store.announce(a, clock.now(), 3600s, {50, 0}, out);
  }

  static config::Neighbor neighbor(const TestServer& server) {
    config::Neighbor n;
    n.name = "next-door";
    n.announce_request = server.url("/announce?info_hash={info_hash}");
    n.timeout = 1s;
    n.refresh_interval = 3600s;
    return n;
  }

  Poller::Status status() {
    auto all = poller.status();
    return all.empty() ? Poller::Status{} : all.front();
  }
};

TEST_F(PollerTest, PeersANeighbourListsAreStoredUnderItsSource) {
  const std::string peers("\xC0\x00\x02\x05\x1A\xE1", 6);  // 192.0.2.5:6881
  TestServer server([&](const Received&) {
    return Reply{test::ok_reply("d8:intervali1800e5:peers6:" + peers + "e")};
  });
  announce(1);
  poller.start({neighbor(server)});
  ASSERT_TRUE(await([&] { return status().peers_learned == 1; }));
  const auto s = status();
  EXPECT_EQ(s.requests_ok, 1u);
  EXPECT_EQ(s.source, core::Source::neighbor(0));
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_NE(server.received()[0].target.find("info_hash=%01%01"), std::string::npos);
}

TEST_F(PollerTest, RequestsFailingTogetherAreOneBackOffStepAndTheNextRoundWaitsForIt) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::hang}; });
  poller.start({neighbor(server)});
  // New torrents are asked for at once, all in one round; each request times out (1 s).
  for (std::uint8_t t = 1; t <= 3; ++t) announce(t);
  ASSERT_TRUE(await([&] { return status().requests_failed == 3; }));
  auto s = status();
  EXPECT_TRUE(s.backed_off);
  EXPECT_EQ(s.backoff, 1s);  // one step for the round, not three
  EXPECT_EQ(server.received().size(), 3u);

  announce(4);  // asked for once the back-off step (1 s on the tracker's clock) has passed
  clock.advance(1s);
  ASSERT_TRUE(await([&] { return server.received().size() == 4; }));
}

TEST_F(PollerTest, ARefusalIsCountedButNeverBacksOff) {
  TestServer server(
      [](const Received&) { return Reply{test::ok_reply("d14:failure reason12:unknown hashe")}; });
  announce(1);
  poller.start({neighbor(server)});
  ASSERT_TRUE(await([&] { return status().requests_failed == 1; }));
  const auto s = status();
  EXPECT_FALSE(s.backed_off);
  EXPECT_EQ(s.backoff, 0s);
  EXPECT_EQ(s.last_error, "failure reason: unknown hash");
}

}  // namespace
}  // namespace btrt::neighbors

#include "forwarding/forwarder.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "support/http_server.hpp"

namespace btrt::forwarding {
namespace {

using namespace std::chrono_literals;
using test::Received;
using test::Reply;
using test::TestServer;

// Polls `pred` until it holds or `limit` passes (the forwarder works on its own thread).
bool await(const std::function<bool()>& pred, std::chrono::milliseconds limit = 2000ms) {
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

// An origin's answer listing one peer, 192.0.2.1:6881.
std::string answer_with_peer(std::uint32_t interval) {
  const std::string peers("\xC0\x00\x02\x01\x1A\xE1", 6);
  return "d8:intervali" + std::to_string(interval) + "e5:peers6:" + peers + "e";
}

// Outcomes handed to `done`, from whichever thread called it.
struct Outcomes {
  std::mutex mutex;
  std::vector<UpstreamOutcome> list;
  Forwarder::Done collect() {
    return [this](const UpstreamOutcome& o) {
      std::lock_guard lock(mutex);
      list.push_back(o);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return list.size();
  }
  UpstreamOutcome at(std::size_t i) {
    std::lock_guard lock(mutex);
    return list.at(i);
  }
};

// Holds every request until released (bounded: a forgotten release cannot hang the test).
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 2s, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

struct ForwarderTest : ::testing::Test {
  clock::ManualClock clock{100};
  core::SwarmStore store{std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{}),
                         {}};
  config::Tracker tracker;
  std::unique_ptr<Forwarder> forwarder;

  void start(config::Forwarding settings = {}) {
    settings.timeout = 1;
    settings.allowed_destinations = {*net::Cidr::parse("127.0.0.0/8")};
    forwarder = std::make_unique<Forwarder>(store, clock, settings, tracker);
    forwarder->start();
  }
  void TearDown() override {
    if (forwarder) forwarder->stop();
  }

  UpstreamAnnounce announce(const TestServer& origin, std::uint8_t torrent,
                            std::string query = "a=1", bool event = false) {
    UpstreamAnnounce a;
    a.origin = origin.url("/announce");
    a.url = a.origin + "?" + query;
    a.info_hash = hash(torrent);
    a.event = event;
    a.subscriber = *net::IpAddress::parse("198.51.100.7");
    return a;
  }
};

TEST_F(ForwarderTest, ConcurrentAsksForOneTorrentShareOneRequest) {
  Gate gate;
  TestServer origin([&](const Received&) {
    gate.wait();
    return Reply{test::ok_reply(answer_with_peer(1800))};
  });
  start();
  Outcomes outcomes;
  forwarder->ask(announce(origin, 1, "a=1"), outcomes.collect());
  ASSERT_TRUE(await([&] { return origin.received().size() == 1; }));
  // Another subscriber's query for the same torrent while the first request is out: had it
  // been sent, the origin would see it once the first is answered, before its own outcome.
  forwarder->ask(announce(origin, 1, "a=2"), outcomes.collect());
  gate.open();
  ASSERT_TRUE(await([&] { return outcomes.size() == 2; }));
  EXPECT_EQ(origin.received().size(), 1u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(outcomes.at(i).kind, UpstreamOutcome::Kind::answered);
    EXPECT_TRUE(outcomes.at(i).info.has_value());
  }
}

TEST_F(ForwarderTest, WhenNeededAsksAgainOnlyOnceTheCachedAnswerIsStale) {
  TestServer origin([](const Received&) { return Reply{test::ok_reply(answer_with_peer(60))}; });
  start();
  const auto a = announce(origin, 3);
  EXPECT_TRUE(forwarder->lookup(a.origin, a.info_hash, false, clock.now()).ask);
  Outcomes outcomes;
  forwarder->ask(a, outcomes.collect());
  ASSERT_TRUE(await([&] { return outcomes.size() == 1; }));
  ASSERT_EQ(outcomes.at(0).kind, UpstreamOutcome::Kind::answered);

  auto fresh = forwarder->lookup(a.origin, a.info_hash, false, clock.now());
  EXPECT_FALSE(fresh.ask);
  ASSERT_TRUE(fresh.cached.has_value());
  EXPECT_TRUE(forwarder->lookup(a.origin, a.info_hash, /*event=*/true, clock.now()).ask);

  clock.advance(24 * 3600);
  EXPECT_TRUE(forwarder->lookup(a.origin, a.info_hash, false, clock.now()).ask);
}

TEST_F(ForwarderTest, AnOriginFailingThreeTimesIsNotAskedForAWhile) {
  TestServer origin([](const Received&) {
    return Reply{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"};
  });
  start();
  Outcomes outcomes;
  for (std::size_t i = 1; i <= 3; ++i) {
    forwarder->ask(announce(origin, 4), outcomes.collect());
    ASSERT_TRUE(await([&] { return outcomes.size() == i; }));
    EXPECT_EQ(outcomes.at(i - 1).kind, UpstreamOutcome::Kind::unavailable);
  }
  EXPECT_EQ(origin.received().size(), 3u);
  forwarder->ask(announce(origin, 4), outcomes.collect());
  ASSERT_TRUE(await([&] { return outcomes.size() == 4; }));
  EXPECT_EQ(outcomes.at(3).kind, UpstreamOutcome::Kind::unavailable);
  EXPECT_EQ(origin.received().size(), 3u);  // backed off: not asked
  const auto status = forwarder->status(10);
  ASSERT_EQ(status.top.size(), 1u);
  EXPECT_TRUE(status.top[0].backed_off);
  EXPECT_EQ(status.top[0].failed, 3u);
}

TEST_F(ForwarderTest, StopAnswersEveryWaitingSubscriber) {
  TestServer origin([](const Received&) { return Reply{"", Reply::After::hang}; });
  start();
  Outcomes outcomes;
  forwarder->ask(announce(origin, 5), outcomes.collect());
  forwarder->ask(announce(origin, 6, "a=1", /*event=*/true), outcomes.collect());
  ASSERT_TRUE(await([&] { return origin.received().size() == 2; }));
  forwarder->stop();
  EXPECT_EQ(outcomes.size(), 2u);  // answered before stop() returned
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_EQ(outcomes.at(i).kind, UpstreamOutcome::Kind::unavailable);
  }
  forwarder->ask(announce(origin, 5), outcomes.collect());  // after stop: answered at once
  EXPECT_EQ(outcomes.size(), 3u);
}

}  // namespace
}  // namespace btrt::forwarding

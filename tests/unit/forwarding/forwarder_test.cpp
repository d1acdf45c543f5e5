#include "forwarding/forwarder.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "support/http_server.hpp"
#include "support/time.hpp"

namespace btrt::forwarding {
namespace {

using namespace std::chrono_literals;
using test::at;

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
  clock::ManualClock clock{at(100)};
  core::SwarmStore store{std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{}),
                         {}};
  config::Tracker tracker;
  std::unique_ptr<Forwarder> forwarder;

  void start(config::Forwarding settings = {}) {
    settings.timeout = 1s;
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

TEST_F(ForwarderTest, TheFrontEndsGuardFollowsApply) {
  // The front ends check an intercepted request's original destination with the list in
  // force, so a SIGHUP that widens or narrows allowed_destinations reaches them too.
  start();
  const auto loopback = *net::IpAddress::parse("127.0.0.5");
  const auto benchmarking = *net::IpAddress::parse("198.18.0.5");
  const auto documentation = *net::IpAddress::parse("203.0.113.10");
  EXPECT_TRUE(forwarder->destination_allowed(loopback));
  EXPECT_FALSE(forwarder->destination_allowed(benchmarking));
  EXPECT_TRUE(forwarder->destination_allowed(documentation));  // not a special range
  config::Forwarding narrower;
  narrower.allowed_destinations = {*net::Cidr::parse("198.18.0.0/24")};
  forwarder->apply(narrower, tracker);
  EXPECT_FALSE(forwarder->destination_allowed(loopback));
  EXPECT_TRUE(forwarder->destination_allowed(benchmarking));
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

  clock.advance(24h);
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

// A BEP 15 origin on loopback, on a thread of its own: answers connects with its own IDs and
// announces with one peer (192.0.2.1:6881), or with an error; may drop the first announce, and
// holds announce answers until `gate` opens when one is given.
class UdpOrigin {
 public:
  explicit UdpOrigin(Gate* gate = nullptr, std::string error = {}, bool drop_first = false)
      : gate_(gate), error_(std::move(error)), drop_first_(drop_first) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t length = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~UdpOrigin() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  net::Endpoint endpoint() const { return {net::IpAddress::from_v4(0x7F000001), port_}; }
  int connects() const { return connects_; }
  // Announces received, resends included, and the distinct ones (a resend keeps its
  // transaction ID).
  int announces() const { return announces_; }
  std::size_t distinct_announces() {
    std::lock_guard lock(mutex_);
    return transactions_.size();
  }

 private:
  static std::uint32_t read32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
  }
  static void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
  }
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      std::uint8_t in[2048];
      sockaddr_in from{};
      socklen_t length = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, in, sizeof in, 0, reinterpret_cast<sockaddr*>(&from), &length);
      if (n < 16) continue;
      const std::uint32_t action = read32(in + 8), transaction = read32(in + 12);
      std::vector<std::uint8_t> out;
      if (action == 0) {
        ++connects_;
        put32(out, 0);
        put32(out, transaction);
        put32(out, 0x01020304);
        put32(out, 0x05060708);
      } else if (action == 1) {
        {
          std::lock_guard lock(mutex_);
          transactions_.insert(transaction);
        }
        if (++announces_ == 1 && drop_first_) continue;
        if (gate_) gate_->wait();
        put32(out, error_.empty() ? 1 : 3);
        put32(out, transaction);
        if (error_.empty()) {
          for (std::uint32_t v : {1800u, 1u, 5u}) put32(out, v);
          out.insert(out.end(), {192, 0, 2, 1, 0x1A, 0xE1});
        } else {
          out.insert(out.end(), error_.begin(), error_.end());
        }
      }
      ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
    }
  }

  Gate* gate_;
  std::string error_;
  bool drop_first_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connects_{0}, announces_{0};
  std::mutex mutex_;
  std::set<std::uint32_t> transactions_;
  std::thread thread_;
};

// An intercepted BEP 15 announce for `origin`: a 98-byte packet whose IDs btrt replaces.
UpstreamAnnounce udp_announce(const UdpOrigin& origin, std::uint8_t torrent, bool event = false,
                              std::uint8_t key = 1) {
  UpstreamAnnounce a;
  a.destination = origin.endpoint();
  a.origin = "udp://" + a.destination.to_string();
  a.udp_announce.assign(98, 0);
  a.udp_announce[11] = 1;  // action: announce
  std::fill(a.udp_announce.begin() + 16, a.udp_announce.begin() + 36, torrent);
  a.udp_announce[91] = key;
  a.url = a.origin + "\n" + std::string(a.udp_announce.begin() + 16, a.udp_announce.end());
  a.info_hash = hash(torrent);
  a.event = event;
  a.subscriber = *net::IpAddress::parse("198.51.100.7");
  return a;
}

TEST_F(ForwarderTest, UdpOriginsAreAskedOnceForConcurrentAnnouncesWithTheirIdReused) {
  Gate gate;
  UdpOrigin origin(&gate);
  start();
  Outcomes outcomes;
  forwarder->ask(udp_announce(origin, 1), outcomes.collect());
  ASSERT_TRUE(await([&] { return origin.distinct_announces() == 1; }));
  forwarder->ask(udp_announce(origin, 1, false, 2), outcomes.collect());  // another key
  gate.open();
  ASSERT_TRUE(await([&] { return outcomes.size() == 2; }));
  EXPECT_EQ(origin.distinct_announces(), 1u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(outcomes.at(i).kind, UpstreamOutcome::Kind::answered);
    ASSERT_TRUE(outcomes.at(i).info.has_value());
    EXPECT_EQ(outcomes.at(i).info->complete, 5u);
  }
  // An event is never merged and is sent with the origin's connection ID, no new connect.
  forwarder->ask(udp_announce(origin, 1, true), outcomes.collect());
  ASSERT_TRUE(await([&] { return outcomes.size() == 3; }));
  EXPECT_EQ(origin.distinct_announces(), 2u);
  EXPECT_EQ(origin.connects(), 1);
}

TEST_F(ForwarderTest, AUdpOriginsErrorIsRelayedAndALostAnswerIsAskedAgain) {
  UdpOrigin refusing(nullptr, "unregistered torrent");
  UdpOrigin lossy(nullptr, {}, /*drop_first=*/true);
  start();
  Outcomes outcomes;
  forwarder->ask(udp_announce(refusing, 1), outcomes.collect());
  ASSERT_TRUE(await([&] { return outcomes.size() == 1; }));
  EXPECT_EQ(outcomes.at(0).kind, UpstreamOutcome::Kind::failure_reason);
  EXPECT_EQ(outcomes.at(0).failure_reason, "unregistered torrent");
  forwarder->ask(udp_announce(lossy, 2), outcomes.collect());
  ASSERT_TRUE(await([&] { return outcomes.size() == 2; }));
  EXPECT_EQ(outcomes.at(1).kind, UpstreamOutcome::Kind::answered);  // within the 1 s timeout
  EXPECT_GE(lossy.announces(), 2);  // the first was dropped, a resend answered
}

}  // namespace
}  // namespace btrt::forwarding

#include "http/router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <variant>
#include <vector>

#include "clock/clock.hpp"
#include "metrics/counters.hpp"
#include "protocol/bencode.hpp"
#include "support/time.hpp"

namespace btrt::http {
namespace {

using namespace std::chrono_literals;
using test::at;

namespace bencode = protocol::bencode;
using metrics::Counters;

std::string hash_of(char c) {
  return std::string(20, c);
}

std::string escaped(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    constexpr char kHex[] = "0123456789ABCDEF";
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string announce_query(char torrent, char peer, int port, int left = 100) {
  return "info_hash=" + escaped(hash_of(torrent)) + "&peer_id=" + escaped(std::string(20, peer)) +
         "&port=" + std::to_string(port) + "&uploaded=0&downloaded=0&left=" + std::to_string(left);
}

config::Config make_config() {
  config::Config config;
  config.server.trusted_sources = {*net::Cidr::parse("127.0.0.1/32")};
  config.tracker.announce_interval = 1200s;
  config.tracker.min_interval = 600s;
  return config;
}

struct Answer {
  int status = 0;
  std::string body;
  bool deferred = false;

  bencode::Value decoded() const {
    auto v = bencode::decode(body);
    EXPECT_TRUE(std::holds_alternative<bencode::Value>(v)) << body;
    return std::holds_alternative<bencode::Value>(v) ? std::get<bencode::Value>(v)
                                                     : bencode::Value{};
  }
  std::string failure() const {
    const auto v = decoded();
    const auto* reason = v.find("failure reason");
    return reason ? reason->as_string() : std::string();
  }
  // Compact IPv4 peers as "a.b.c.d:port".
  std::vector<std::string> peers() const {
    const auto v = decoded();
    const auto* peers = v.find("peers");
    EXPECT_NE(peers, nullptr) << body;
    std::vector<std::string> out;
    if (!peers) return out;
    const std::string& p = peers->as_string();
    for (std::size_t i = 0; i + 6 <= p.size(); i += 6) {
      const auto* b = reinterpret_cast<const unsigned char*>(p.data() + i);
      out.push_back(std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) +
                    "." + std::to_string(b[3]) + ":" + std::to_string(b[4] << 8 | b[5]));
    }
    return out;
  }
};

// What a proxy in front may add to a request.
struct Headers {
  std::string_view host = "retracker.local";
  std::string_view x_forwarded_for = {};
  std::string_view x_real_ip = {};
};
Headers forwarded_for(std::string_view address) {
  return {"retracker.local", address, {}};
}

// A Router over the real tracker logic and swarm store, time set by hand; no sockets.
struct World {
  config::Config config = make_config();
  std::shared_ptr<const net::Classifier> classifier = std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local", 0, {*net::Cidr::parse("127.1.0.0/16")}}});
  core::SwarmStore store{classifier, {}};
  clock::ManualClock clock;
  tracker::Tracker tracker{store, config, clock};
  Router router{tracker, config};

  // intercepted_to: the original destination of a connection a transparent listener accepted.
  Answer get(std::string_view target, const char* source, Headers headers = Headers(),
             const char* intercepted_to = nullptr) {
    Request request;
    if (intercepted_to) {
      request.intercepted = true;
      request.original_destination = *net::Endpoint::parse(intercepted_to);
    }
    request.method = "GET";
    request.target = target;
    request.host = headers.host;
    request.x_forwarded_for = headers.x_forwarded_for;
    request.x_real_ip = headers.x_real_ip;
    request.source = *net::IpAddress::parse(source);
    std::string body;
    Response response{.body = body};
    router.handle(request, response);
    return {response.status, body, response.deferred};
  }
  Answer announce(char torrent, char peer, int port, const char* source,
                  Headers headers = Headers(), int left = 100) {
    return get("/announce?" + announce_query(torrent, peer, port, left), source, headers);
  }
};

std::uint64_t count(Counters::Id id) {
  return Counters::global().snapshot().events[id];
}

TEST(Router, AnnounceAnswersInBencodeWithTheOtherPeers) {
  World w;
  const auto first = w.announce('a', '1', 6001, "127.1.0.1");
  EXPECT_EQ(first.status, 200);
  const auto v = first.decoded();
  ASSERT_TRUE(v.is_dict()) << first.body;
  EXPECT_EQ(v.find("interval")->as_int(), 1200);
  EXPECT_EQ(v.find("min interval")->as_int(), 600);
  EXPECT_EQ(v.find("incomplete")->as_int(), 1);
  EXPECT_TRUE(first.peers().empty());  // not itself

  const auto second = w.announce('a', '2', 6002, "127.1.0.2");
  EXPECT_EQ(second.decoded().find("incomplete")->as_int(), 2);
  EXPECT_EQ(second.peers(), std::vector<std::string>{"127.1.0.1:6001"});
  // Another torrent's swarm is its own.
  EXPECT_TRUE(w.announce('b', '3', 6003, "127.1.0.3").peers().empty());
}

TEST(Router, PeersExpireByTheTrackersClock) {
  World w;
  w.announce('a', '1', 6001, "127.1.0.1");
  w.clock.advance(w.config.tracker.peer_expiry / 2);
  EXPECT_EQ(w.announce('a', '2', 6002, "127.1.0.2").peers(),
            std::vector<std::string>{"127.1.0.1:6001"});
  w.clock.advance(w.config.tracker.peer_expiry / 2 + 1s);  // the first one's time is up
  EXPECT_EQ(w.announce('a', '3', 6003, "127.1.0.3").peers(),
            std::vector<std::string>{"127.1.0.2:6002"});
}

TEST(Router, BadAnnounceGetsAFailureReasonAndIsCounted) {
  World w;
  const auto before = count(Counters::announce_bad_request);
  const auto answer = w.get("/announce?info_hash=short", "127.1.0.1");
  EXPECT_EQ(answer.status, 200);  // a tracker-level failure, in bencode
  EXPECT_FALSE(answer.failure().empty()) << answer.body;
  EXPECT_EQ(count(Counters::announce_bad_request), before + 1);
}

TEST(Router, ScrapeCountsSeedersAndLeechers) {
  World w;
  w.announce('a', '1', 6001, "127.1.0.1");
  w.announce('a', '2', 6002, "127.1.0.2", Headers(), /*left=*/0);
  const auto answer = w.get("/scrape?info_hash=" + escaped(hash_of('a')), "127.1.0.9");
  const auto v = answer.decoded();
  const auto* files = v.find("files");
  ASSERT_NE(files, nullptr) << answer.body;
  const auto* entry = files->find(hash_of('a'));
  ASSERT_NE(entry, nullptr) << answer.body;
  EXPECT_EQ(entry->find("complete")->as_int(), 1);
  EXPECT_EQ(entry->find("incomplete")->as_int(), 1);
  // Without an info_hash, and full scrape off: a failure reason.
  EXPECT_FALSE(w.get("/scrape", "127.1.0.9").failure().empty());
}

TEST(Router, UnknownPathIs404AndHealthFollowsServing) {
  World w;
  EXPECT_EQ(w.get("/nothing-here", "127.1.0.1").status, 404);
  EXPECT_EQ(w.get("/metrics", "127.1.0.1").status, 404);  // no admin handler set
  auto health = w.get("/health", "127.1.0.1");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  w.router.set_serving(false);
  health = w.get("/health", "127.1.0.1");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body, "stopping\n");
}

TEST(Router, TrustedSourceSpeaksForTheSubscriber) {
  World w;
  // From the trusted proxy: the first X-Forwarded-For address is the subscriber.
  w.announce('a', '1', 6001, "127.0.0.1", forwarded_for("127.1.0.7, 127.0.0.5"));
  // The same header from anyone else is ignored.
  w.announce('a', '2', 6002, "127.1.0.2", forwarded_for("127.1.0.8"));
  // X-Real-IP when there is no X-Forwarded-For.
  w.announce('a', '3', 6003, "127.0.0.1", Headers{"retracker.local", {}, "127.1.0.9"});
  auto peers = w.announce('a', '4', 6004, "127.1.0.4").peers();
  std::sort(peers.begin(), peers.end());
  EXPECT_EQ(peers,
            (std::vector<std::string>{"127.1.0.2:6002", "127.1.0.7:6001", "127.1.0.9:6003"}));
}

TEST(Router, ForwardedAnnounceWithoutAForwarderIsAnsweredFromWhatBtrtKnows) {
  World w;
  w.announce('a', '1', 6001, "127.1.0.1");
  const std::string origin_url =
      "http://tracker.example.org/announce?" + announce_query('a', '2', 6002);
  std::string encoded;
  for (unsigned char c : origin_url) {
    const bool plain = std::isalnum(c) || c == '-' || c == '_' || c == '.';
    encoded += plain ? std::string(1, static_cast<char>(c)) : escaped(std::string(1, c));
  }
  const auto before = count(Counters::forwarded);
  const auto explicit_shape =
      w.get("/forwarded_announce?url=" + encoded, "127.0.0.1", forwarded_for("127.1.0.2"));
  EXPECT_FALSE(explicit_shape.deferred);
  EXPECT_EQ(explicit_shape.peers(), std::vector<std::string>{"127.1.0.1:6001"});
  EXPECT_EQ(count(Counters::forwarded), before + 1);

  // Transparent: the DPI passes the request on with the origin's Host.
  const auto transparent =
      w.announce('a', '3', 6003, "127.0.0.1", Headers{"tracker.example.org", "127.1.0.3", {}});
  auto peers = transparent.peers();
  std::sort(peers.begin(), peers.end());
  EXPECT_EQ(peers, (std::vector<std::string>{"127.1.0.1:6001", "127.1.0.2:6002"}));
  EXPECT_EQ(count(Counters::forwarded), before + 2);
  // The subscribers were registered under their own addresses, with the origin's torrent.
  EXPECT_EQ(w.tracker.counts(core::InfoHash::from(hash_of('a'))).incomplete, 3u);

  // Only a trusted source may forward.
  EXPECT_FALSE(w.get("/forwarded_announce?url=" + encoded, "127.1.0.5").failure().empty());
}

TEST(Router, InterceptedRequestIsAForwardedAnnounceOfItsSourceOrA502) {
  World w;
  w.announce('a', '1', 6001, "127.1.0.1");
  const auto intercepted_before = count(Counters::intercepted_http);
  const auto forwarded_before = count(Counters::forwarded);
  // Any source, any Host (or none): the router diverted it. Headers do not speak for anyone.
  const auto answer = w.get("/announce?" + announce_query('a', '2', 6002), "127.1.0.2",
                            Headers{"", "127.1.0.99", {}}, "203.0.113.10:6969");
  EXPECT_EQ(answer.status, 200);
  EXPECT_FALSE(answer.deferred);  // no forwarder: answered from what btrt knows
  EXPECT_EQ(answer.peers(), std::vector<std::string>{"127.1.0.1:6001"});
  EXPECT_EQ(count(Counters::intercepted_http), intercepted_before + 1);
  EXPECT_EQ(count(Counters::forwarded), forwarded_before + 1);
  auto peers = w.announce('a', '3', 6003, "127.1.0.3").peers();
  std::sort(peers.begin(), peers.end());
  EXPECT_EQ(peers, (std::vector<std::string>{"127.1.0.1:6001", "127.1.0.2:6002"}));

  // Not tracker traffic: 502, also for btrt's own paths, which a diverted request never means.
  const auto not_tracker_before = count(Counters::intercepted_http_not_tracker);
  for (const char* target : {"/", "/health", "/announce"}) {
    const auto refused = w.get(target, "127.1.0.2", Headers{}, "203.0.113.10:80");
    EXPECT_EQ(refused.status, 502) << target;
  }
  EXPECT_EQ(count(Counters::intercepted_http_not_tracker), not_tracker_before + 3);
}

}  // namespace
}  // namespace btrt::http

#include "udp/handler.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "metrics/counters.hpp"

namespace btrt::udp {
namespace {

using Bytes = std::vector<std::uint8_t>;
using metrics::Counters;

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void put64(Bytes& b, std::uint64_t v) {
  put32(b, static_cast<std::uint32_t>(v >> 32));
  put32(b, static_cast<std::uint32_t>(v));
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
std::uint64_t get64(const std::uint8_t* p) {
  return (std::uint64_t{get32(p)} << 32) | get32(p + 4);
}

config::Config make_config(std::uint64_t max_torrents) {
  config::Config config;
  config.server.trusted_sources = {*net::Cidr::parse("127.0.0.1/32")};
  config.tracker.max_torrents = max_torrents;
  return config;
}

struct World {
  explicit World(std::uint64_t max_torrents = 0) : config(make_config(max_torrents)) {}
  config::Config config;
  std::shared_ptr<const net::Classifier> classifier = std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local", 0, {*net::Cidr::parse("127.1.0.0/16")}}});
  core::SwarmStore store{classifier, {}};
  clock::ManualClock clock;
  tracker::Tracker tracker{store, config, clock};
  Handler handler{tracker, {1, 2}};
  std::array<std::uint8_t, kMaxAnswer> out{};

  std::size_t send(const Bytes& packet, const char* source, std::uint16_t port = 5000) {
    return handler.handle(packet, *net::IpAddress::parse(source), port, out);
  }
  std::uint64_t connect(const char* source, std::uint16_t port = 5000) {
    Bytes b;
    put64(b, protocol::udp::kProtocolId);
    put32(b, 0);
    put32(b, 42);
    EXPECT_EQ(send(b, source, port), 16u);
    EXPECT_EQ(get32(out.data()), 0u);
    EXPECT_EQ(get32(out.data() + 4), 42u);
    return get64(out.data() + 8);
  }
};

Bytes announce(std::uint64_t connection_id, std::uint8_t peer, std::uint16_t port,
               std::uint32_t ip = 0, std::int32_t numwant = -1, std::uint8_t torrent = 1) {
  Bytes b;
  put64(b, connection_id);
  put32(b, 1);
  put32(b, 1000u + peer);
  for (int i = 0; i < 20; ++i) b.push_back(torrent);
  for (int i = 0; i < 20; ++i) b.push_back(peer);
  put64(b, 0);
  put64(b, 10);
  put64(b, 0);
  put32(b, 2);
  put32(b, ip);
  put32(b, 0);
  put32(b, static_cast<std::uint32_t>(numwant));
  b.push_back(static_cast<std::uint8_t>(port >> 8));
  b.push_back(static_cast<std::uint8_t>(port));
  return b;
}

std::uint64_t dropped(Counters::Id id) {
  return Counters::global().snapshot().events[id];
}

TEST(UdpHandler, AnnounceAfterConnect) {
  World w;
  const auto id = w.connect("127.1.0.1");
  ASSERT_EQ(w.send(announce(id, 1, 6001), "127.1.0.1"), 20u);
  EXPECT_EQ(get32(w.out.data()), 1u);
  EXPECT_EQ(get32(w.out.data() + 4), 1001u);
  EXPECT_EQ(get32(w.out.data() + 8), w.config.tracker.announce_interval.count());
  EXPECT_EQ(get32(w.out.data() + 12), 1u);  // leechers: itself
  const auto id2 = w.connect("127.1.0.2");
  ASSERT_EQ(w.send(announce(id2, 2, 6002), "127.1.0.2"), 26u);
  EXPECT_EQ(get32(w.out.data() + 20), 0x7f010001u);
  EXPECT_EQ(w.out[24] * 256 + w.out[25], 6001);
}

TEST(UdpHandler, NoAnswerWithoutTheSourcesConnectionId) {
  World w;
  const auto before = dropped(Counters::udp_drop_connection_id);
  const auto id = w.connect("127.1.0.1");
  EXPECT_EQ(w.send(announce(id, 1, 6001), "127.1.0.9"), 0u);        // another address
  EXPECT_EQ(w.send(announce(id, 1, 6001), "127.1.0.1", 5001), 0u);  // another port
  EXPECT_EQ(w.send(announce(id ^ 1, 1, 6001), "127.1.0.1"), 0u);
  EXPECT_EQ(dropped(Counters::udp_drop_connection_id), before + 3);
  EXPECT_EQ(w.store.counts(core::InfoHash{}, w.tracker.now()).incomplete, 0u);
}

TEST(UdpHandler, TrackerFullIsAnErrorOnlyForAConnectedSource) {
  World w(1);
  const auto id = w.connect("127.1.0.1");
  ASSERT_EQ(w.send(announce(id, 1, 6001, 0, -1, 1), "127.1.0.1"), 20u);
  const auto size = w.send(announce(id, 1, 6001, 0, -1, 2), "127.1.0.1");
  ASSERT_GT(size, 8u);
  EXPECT_EQ(get32(w.out.data()), 3u);
  EXPECT_EQ(get32(w.out.data() + 4), 1001u);
  EXPECT_EQ(w.send(announce(0, 1, 6001, 0, -1, 2), "127.1.0.1"), 0u);
}

TEST(UdpHandler, IpFieldOnlyFromTrustedSources) {
  World w;
  const auto trusted = w.connect("127.0.0.1");
  ASSERT_EQ(w.send(announce(trusted, 1, 6001, 0x7f010005), "127.0.0.1"), 20u);
  const auto other = w.connect("127.1.0.7");
  ASSERT_EQ(w.send(announce(other, 2, 6002, 0x7f010006), "127.1.0.7"), 26u);
  EXPECT_EQ(get32(w.out.data() + 20), 0x7f010005u);  // the claimed address was taken
  const auto third = w.connect("127.1.0.8");
  ASSERT_EQ(w.send(announce(third, 3, 6003), "127.1.0.8"), 32u);
  const std::uint32_t a = get32(w.out.data() + 20), b = get32(w.out.data() + 26);
  EXPECT_TRUE(a == 0x7f010007u || b == 0x7f010007u);  // the untrusted claim was not taken
  EXPECT_TRUE(a != 0x7f010006u && b != 0x7f010006u);
}

TEST(UdpHandler, NumwantCappedAndV6AnswersCarryV6Peers) {
  World w;
  w.config.tracker.numwant_max = 3;
  w.tracker.apply(w.config.tracker);
  for (std::uint8_t p = 1; p <= 6; ++p) {
    const std::string source = "127.1.0." + std::to_string(p);
    const auto id = w.connect(source.c_str());
    w.send(announce(id, p, static_cast<std::uint16_t>(6000 + p)), source.c_str());
  }
  const auto id = w.connect("127.1.0.50");
  EXPECT_EQ(w.send(announce(id, 50, 7000, 0, -1), "127.1.0.50"), 20u + 3 * 6);
  EXPECT_EQ(w.send(announce(id, 50, 7000, 0, 2), "127.1.0.50"), 20u + 2 * 6);
  const auto v6 = w.connect("::1");
  EXPECT_EQ(w.send(announce(v6, 60, 7001, 0, 50), "::1"), 20u);  // no IPv6 peer yet
  const auto v6b = w.connect("::2");
  ASSERT_EQ(w.send(announce(v6b, 61, 7002, 0, 50), "::2"), 20u + 18);
  EXPECT_EQ(w.out[20 + 15], 1);
}

TEST(UdpHandler, ScrapeBoundByMaxScrapeHashes) {
  World w;
  const auto id = w.connect("127.1.0.1");
  Bytes scrape;
  put64(scrape, id);
  put32(scrape, 2);
  put32(scrape, 8);
  scrape.resize(16 + 3 * 20, 7);
  ASSERT_EQ(w.send(scrape, "127.1.0.1"), 8u + 3 * 12);
  EXPECT_EQ(get32(w.out.data()), 2u);
  w.config.tracker.max_scrape_hashes = 2;
  w.tracker.apply(w.config.tracker);
  ASSERT_GT(w.send(scrape, "127.1.0.1"), 8u);
  EXPECT_EQ(get32(w.out.data()), 3u);
  EXPECT_EQ(get32(w.out.data() + 4), 8u);
}

TEST(UdpHandler, MalformedCountedByReason) {
  World w;
  const auto before = Counters::global().snapshot().events;
  EXPECT_EQ(w.send(Bytes(10, 0), "127.1.0.1"), 0u);
  Bytes wrong_magic;
  put64(wrong_magic, 1);
  put32(wrong_magic, 0);
  put32(wrong_magic, 0);
  EXPECT_EQ(w.send(wrong_magic, "127.1.0.1"), 0u);
  const auto after = Counters::global().snapshot().events;
  EXPECT_EQ(after[Counters::udp_drop_too_short], before[Counters::udp_drop_too_short] + 1);
  EXPECT_EQ(after[Counters::udp_drop_protocol_id], before[Counters::udp_drop_protocol_id] + 1);
}

}  // namespace
}  // namespace btrt::udp

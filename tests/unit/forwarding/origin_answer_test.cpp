#include "forwarding/origin_answer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace btrt::forwarding {
namespace {

using namespace std::chrono_literals;

std::string compact(std::initializer_list<std::pair<std::uint32_t, std::uint16_t>> peers) {
  std::string s;
  for (auto [a, port] : peers) {
    for (int shift : {24, 16, 8, 0}) s += static_cast<char>((a >> shift) & 255);
    s += static_cast<char>(port >> 8);
    s += static_cast<char>(port & 255);
  }
  return s;
}

std::string answer_with(std::string_view interval, const std::string& peers,
                        std::string_view min_interval = {}) {
  std::string s = "d8:intervali" + std::string(interval) + "e";
  if (!min_interval.empty()) s += "12:min intervali" + std::string(min_interval) + "e";
  return s + "5:peers" + std::to_string(peers.size()) + ":" + peers + "e";
}

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}

net::Endpoint at(const char* text, std::uint16_t port) {
  return {ip(text), port};
}

TEST(OriginAnswer, UnusableAddressesAreDropped) {
  const auto me = ip("10.1.0.5");
  for (const char* bad :
       {"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.9.9.9", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "::", "::1", "ff02::1", "::ffff:127.0.0.1", "10.1.0.5"}) {
    EXPECT_FALSE(usable_peer(at(bad, 6881), me)) << bad;
  }
  EXPECT_FALSE(usable_peer(at("10.1.0.6", 0), me));
  // Unless the operator allows them (a test bed on loopback, an origin on btrt's host).
  const std::vector<net::Cidr> allowed{*net::Cidr::parse("127.0.0.0/8")};
  EXPECT_TRUE(usable_peer(at("127.3.0.1", 6881), me, allowed));
  EXPECT_FALSE(usable_peer(at("224.0.0.1", 6881), me, allowed));
  EXPECT_FALSE(usable_peer(at("127.3.0.1", 0), me, allowed));
  EXPECT_FALSE(usable_peer(at("10.1.0.5", 6881), me, allowed));
  // Private, documentation and benchmark ranges are where subscribers and test networks live.
  for (const char* good :
       {"10.1.0.6", "192.168.1.1", "172.16.0.1", "100.64.0.1", "192.0.2.1", "198.51.100.7",
        "203.0.113.9", "198.18.0.1", "198.19.255.254", "2001:db8::1", "fd00::1", "8.8.8.8"}) {
    EXPECT_TRUE(usable_peer(at(good, 6881), me)) << good;
  }
}

TEST(OriginAnswer, IntervalIsBounded) {
  AnswerLimits limits{1800s, 900s, 200, {}};
  const auto me = ip("10.1.0.5");
  auto interval_of = [&](std::string_view sent) {
    OriginAnswer out;
    EXPECT_EQ(read_origin_answer(answer_with(sent, compact({{0x0A020001u, 1}})), me, limits, out),
              nullptr);
    EXPECT_EQ(out.peers.size(), 1u);
    return out.info.interval;
  };
  EXPECT_EQ(interval_of("2147483648"), kMaxOriginInterval);  // 2^31: no wrap to 0
  EXPECT_EQ(interval_of("4294967296"), kMaxOriginInterval);
  EXPECT_EQ(interval_of("1000000000"), kMaxOriginInterval);
  EXPECT_EQ(interval_of("60"), 900s);
  EXPECT_EQ(interval_of("0"), 1800s);  // none given: the tracker's own
  EXPECT_EQ(interval_of("3600"), 3600s);
  // Twice the bound still fits the peers' lifetime.
  EXPECT_LT(2ull * kMaxOriginInterval.count(), 1ull << 32);
}

TEST(OriginAnswer, AtMostMaxPeersOfTheUsableOnes) {
  AnswerLimits limits{1800s, 900s, 3, {}};
  std::string peers = compact({{0x7F000001u, 1},
                               {0x0A020001u, 2},
                               {0x00000000u, 3},
                               {0x0A020002u, 4},
                               {0xFFFFFFFFu, 5},
                               {0x0A020003u, 6},
                               {0x0A020004u, 7},
                               {0x0A010005u, 8}});
  OriginAnswer out;
  ASSERT_EQ(read_origin_answer(answer_with("1800", peers, "100000"), ip("10.1.0.5"), limits, out),
            nullptr);
  ASSERT_EQ(out.peers.size(), 3u);
  EXPECT_EQ(out.peers[0].port, 2);
  EXPECT_EQ(out.peers[1].port, 4);
  EXPECT_EQ(out.peers[2].port, 6);
  EXPECT_EQ(out.unusable, 4u);              // loopback, 0.0.0.0, broadcast, the subscriber
  EXPECT_EQ(out.info.min_interval, 1800s);  // never above the interval
}

TEST(OriginAnswer, FailureAndWarningAreSetApart) {
  OriginAnswer refused;
  ASSERT_EQ(read_origin_answer("d14:failure reason8:bad passe", ip("10.1.0.5"), {}, refused),
            nullptr);
  EXPECT_EQ(refused.failure_reason, "bad pass");
  OriginAnswer warned;
  ASSERT_EQ(read_origin_answer("d8:intervali1800e5:peers0:15:warning message4:slowe",
                               ip("10.1.0.5"), {}, warned),
            nullptr);
  EXPECT_EQ(warned.warning, "slow");
  EXPECT_FALSE(warned.failure_reason);
  OriginAnswer garbage;
  EXPECT_NE(read_origin_answer("<html>", ip("10.1.0.5"), {}, garbage), nullptr);
}

}  // namespace
}  // namespace btrt::forwarding

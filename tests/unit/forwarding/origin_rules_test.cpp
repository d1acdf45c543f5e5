#include "forwarding/origin_rules.hpp"

#include <gtest/gtest.h>

namespace btrt::forwarding {
namespace {

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}
net::Endpoint endpoint(const char* text) {
  return *net::Endpoint::parse(text);
}

TEST(OwnMark, FoundAmongHops) {
  EXPECT_TRUE(carries_own_mark("1.1 btrt"));
  EXPECT_TRUE(carries_own_mark("1.0 squid, 1.1 BTRT (proxy tracker)"));
  EXPECT_TRUE(carries_own_mark(" 1.1 proxy ,1.1 btrt "));
  EXPECT_FALSE(carries_own_mark(""));
  EXPECT_FALSE(carries_own_mark("1.1 squid"));
  EXPECT_FALSE(carries_own_mark("1.1 btrt-other"));
  EXPECT_FALSE(carries_own_mark("btrt"));  // no protocol field: not a Via element of ours
}

TEST(Destinations, SpecialRangesRefusedUnlessAllowed) {
  for (const char* special :
       {"127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "100.64.0.1", "169.254.1.1", "224.0.0.1", "239.1.1.1", "0.0.0.0", "255.255.255.255", "::1",
        "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_special_destination(ip(special))) << special;
    EXPECT_FALSE(destination_allowed(ip(special), {})) << special;
  }
  for (const char* global : {"8.8.8.8", "93.184.216.34", "172.32.0.1", "2001:4860::8888"}) {
    EXPECT_FALSE(is_special_destination(ip(global))) << global;
    EXPECT_TRUE(destination_allowed(ip(global), {})) << global;
  }
  const std::vector<net::Cidr> allowed{*net::Cidr::parse("127.0.0.0/8")};
  EXPECT_TRUE(destination_allowed(ip("127.0.0.5"), allowed));
  EXPECT_FALSE(destination_allowed(ip("10.0.0.1"), allowed));
}

TEST(ThisTracker, NamesAndListenAddresses) {
  const std::vector<std::string> names{"retracker.local", "localhost"};
  const std::vector<net::Endpoint> listen{endpoint("127.0.0.1:6969"), endpoint("[::1]:80")};
  EXPECT_TRUE(names_this_tracker("", names, listen));
  EXPECT_TRUE(names_this_tracker("retracker.local", names, listen));
  EXPECT_TRUE(names_this_tracker("Retracker.Local:6969", names, listen));
  EXPECT_TRUE(names_this_tracker("retracker.local.", names, listen));
  EXPECT_TRUE(names_this_tracker("127.0.0.1:6969", names, listen));
  EXPECT_TRUE(names_this_tracker("[::1]", names, listen));
  EXPECT_TRUE(names_this_tracker("[::1]:80", names, listen));
  EXPECT_FALSE(names_this_tracker("127.0.0.1", names, listen));  // port 80: not ours
  EXPECT_FALSE(names_this_tracker("127.0.0.2:6969", names, listen));
  EXPECT_FALSE(names_this_tracker("tracker.example.org", names, listen));
  EXPECT_FALSE(names_this_tracker("tracker.example.org:6969", names, listen));
  EXPECT_FALSE(names_this_tracker("127.0.0.1:99999", names, listen));
  EXPECT_TRUE(names_this_tracker("[::1]:", names, listen));  // empty port: the default
  EXPECT_TRUE(names_this_tracker("::1", names, listen));     // bare IPv6: port 80
  EXPECT_TRUE(names_this_tracker(" localhost\t", names, listen));
  EXPECT_FALSE(names_this_tracker("127.0.0.1:69x9", names, listen));
  // A malformed authority is no address of ours, whatever its digits.
  EXPECT_FALSE(names_this_tracker("[::1", names, listen));
  EXPECT_FALSE(names_this_tracker("[::1]junk", names, listen));
  const std::vector<net::Endpoint> wildcard{endpoint("0.0.0.0:6969")};
  EXPECT_TRUE(names_this_tracker("10.1.1.1:6969", names, wildcard));
  EXPECT_FALSE(names_this_tracker("10.1.1.1:80", names, wildcard));
}

TEST(OriginUrl, SplitsHttpOnly) {
  auto o = split_origin_url("http://tracker.example.org:2710/ann/PASSKEY?info_hash=%12&x=1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->origin, "http://tracker.example.org:2710/ann/PASSKEY");
  EXPECT_EQ(o->query, "info_hash=%12&x=1");
  auto bare = split_origin_url("HTTP://t.example?a=1");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->origin, "HTTP://t.example");
  EXPECT_FALSE(split_origin_url("https://t.example/announce?a=1"));
  EXPECT_FALSE(split_origin_url("udp://t.example:80/announce"));
  EXPECT_FALSE(split_origin_url("http://"));
  EXPECT_FALSE(split_origin_url("http:///announce"));
  EXPECT_FALSE(split_origin_url("http://t.example/a b"));
  EXPECT_FALSE(split_origin_url("/announce?a=1"));
  EXPECT_FALSE(split_origin_url(std::string_view("http://t/a?b\0c", 13)));  // found by fuzzing
  EXPECT_FALSE(split_origin_url("http://t/a?b\x7f"));
}

TEST(UpstreamUrl, QueryUnchangedOrWithSubscriberIp) {
  auto o =
      *split_origin_url("http://t.example/announce?info_hash=%AA%bb&passkey=x+y&ip=1.1.1.1&flag");
  EXPECT_EQ(upstream_url(o, ip("10.0.0.7"), false),
            "http://t.example/announce?info_hash=%AA%bb&passkey=x+y&ip=1.1.1.1&flag");
  EXPECT_EQ(upstream_url(o, ip("10.0.0.7"), true),
            "http://t.example/announce?info_hash=%AA%bb&passkey=x+y&flag&ip=10.0.0.7");
  auto v6 = *split_origin_url("http://t.example?a=1");
  EXPECT_EQ(upstream_url(v6, ip("2001:db8::1"), true),
            "http://t.example/?a=1&ip=2001%3Adb8%3A%3A1");
  EXPECT_EQ(upstream_url(v6, ip("2001:db8::1"), false), "http://t.example/?a=1");
}

TEST(OriginServer, HostAndPort) {
  EXPECT_EQ(origin_server("http://t.example:81/a/b"), "t.example:81");
  EXPECT_EQ(origin_server("http://t.example"), "t.example");
}

}  // namespace
}  // namespace btrt::forwarding

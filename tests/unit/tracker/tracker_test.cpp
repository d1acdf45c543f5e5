#include "tracker/tracker.hpp"

#include <gtest/gtest.h>

namespace btrt::tracker {
namespace {

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}

TEST(Tracker, TrustsExactlyTheAddressesOfItsPrefixes) {
  config::Config config;
  config.server.trusted_sources.clear();  // the default trusts 127.0.0.0/8
  for (const char* c : {"127.100.0.0/16", "192.0.2.7/32", "2001:db8:8000::/33", "198.51.100.0/23"})
    config.server.trusted_sources.push_back(*net::Cidr::parse(c));
  auto classifier = std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{});
  core::SwarmStore store{classifier, {}};
  clock::ManualClock clock;
  Tracker tracker{store, config, clock};

  for (const char* a : {"127.100.0.0", "127.100.255.255", "192.0.2.7", "2001:db8:8000::1",
                        "2001:db8:ffff:ffff::", "198.51.100.1", "198.51.101.254"})
    EXPECT_TRUE(tracker.trusted(ip(a))) << a;
  for (const char* a : {"127.101.0.1", "127.99.255.255", "192.0.2.6", "192.0.2.8",
                        "2001:db8:7fff::1", "2001:db9:8000::", "198.51.102.0"})
    EXPECT_FALSE(tracker.trusted(ip(a))) << a;
}

TEST(Tracker, TrustsNobodyWithoutPrefixesAndEverybodyUnderSlashZero) {
  auto classifier = std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{});
  core::SwarmStore store{classifier, {}};
  clock::ManualClock clock;
  config::Config none;
  none.server.trusted_sources.clear();
  EXPECT_FALSE((Tracker{store, none, clock}.trusted(ip("10.0.0.1"))));
  config::Config all;
  all.server.trusted_sources.push_back(*net::Cidr::parse("::/0"));
  Tracker open{store, all, clock};
  EXPECT_TRUE(open.trusted(ip("10.0.0.1")));
  EXPECT_TRUE(open.trusted(ip("2001:db8::1")));
}

}  // namespace
}  // namespace btrt::tracker

#include "hashlist/selection.hpp"

#include <gtest/gtest.h>

#include "core/swarm_store.hpp"
#include "support/time.hpp"

namespace btrt::hashlist {
namespace {

using namespace std::chrono_literals;
using test::at;

core::InfoHash hash(std::uint8_t first, std::uint8_t last = 0) {
  core::InfoHash h;
  h.bytes[0] = first;
  h.bytes[19] = last;
  return h;
}

net::Cidr cidr(const char* text) {
  return *net::Cidr::parse(text);
}

std::shared_ptr<const net::Classifier> classifier() {
  return std::make_shared<const net::Classifier>(std::vector<net::GroupSpec>{
      {"local peers", 0, {cidr("10.0.0.0/8"), cidr("2001:db8::/32")}},
      {"partner peers", 1, {cidr("172.16.0.0/12")}},
  });
}

TEST(HashlistSelection, GroupsNamedIgnoresUnknownNamesAndOther) {
  auto c = classifier();
  const std::vector<std::string> names{"partner peers", "nobody", "other"};
  GroupSet groups = groups_named(*c, names);
  EXPECT_FALSE(groups.test(0));
  EXPECT_TRUE(groups.test(1));
  EXPECT_FALSE(groups.test(c->other()));
  EXPECT_EQ(groups.count(), 1u);
}

TEST(HashlistSelection, SortsBytewiseSumsAndFilters) {
  // 0x80 sorts after 0x7f: bytewise means unsigned.
  std::vector<Candidate> candidates{
      {hash(0x80), 1}, {hash(0x7f), 1}, {hash(0x01, 2), 1}, {hash(0x01, 1), 3},
      {hash(0x7f), 1}, {hash(0xff), 0}, {hash(0x05), 1},
  };
  auto selected = select(candidates, 2);
  EXPECT_EQ(selected, (std::vector<core::InfoHash>{hash(0x01, 1), hash(0x7f)}));

  selected = select(candidates, 1);
  EXPECT_EQ(selected, (std::vector<core::InfoHash>{hash(0x01, 1), hash(0x01, 2), hash(0x05),
                                                   hash(0x7f), hash(0x80)}));
  EXPECT_TRUE(select({}, 1).empty());
}

TEST(HashlistSelection, EncodeIsTwentyBytesPerHash) {
  EXPECT_EQ(encode({}), "");
  std::vector<core::InfoHash> hashes{hash(1, 2), hash(3, 4)};
  std::string bytes = encode(hashes);
  ASSERT_EQ(bytes.size(), 40u);
  EXPECT_EQ(bytes.substr(0, 20), std::string(hash(1, 2).view()));
  EXPECT_EQ(bytes.substr(20), std::string(hash(3, 4).view()));
}

class StoreSelection : public ::testing::Test {
 protected:
  core::SwarmStore store{classifier(), {}, 4};
  std::vector<core::SelectedPeer> out;
  std::uint32_t next_port = 1000;

  void announce(const core::InfoHash& h, const char* address, bool seeder,
                core::TimePoint now = at(0), core::Duration ttl = 100s) {
    core::PeerAnnounce a;
    a.info_hash = h;
    a.address = *net::IpAddress::parse(address);
    a.port = static_cast<std::uint16_t>(next_port++);
    a.seeder = seeder;
    store.announce(a, now, ttl, {}, out);
  }
  std::vector<core::InfoHash> selected(std::vector<std::string> groups, std::uint32_t min,
                                       core::TimePoint now = at(0)) {
    return select_from_store(store, groups, min, now);
  }
};

TEST_F(StoreSelection, CountsLiveSeedersInTheGroupsOnly) {
  announce(hash(1), "10.0.0.1", true);
  announce(hash(2), "10.0.0.2", false);            // a leecher
  announce(hash(3), "192.0.2.1", true);            // other
  announce(hash(4), "172.16.0.1", true);           // partner
  announce(hash(5), "2001:db8::1", true);          // local, IPv6
  announce(hash(6), "10.0.0.3", true, at(0), 5s);  // expires at 5
  EXPECT_EQ(selected({"local peers"}, 1), (std::vector<core::InfoHash>{hash(1), hash(5), hash(6)}));
  EXPECT_EQ(selected({"local peers"}, 1, at(5)), (std::vector<core::InfoHash>{hash(1), hash(5)}));
  EXPECT_EQ(selected({"local peers", "partner peers"}, 1),
            (std::vector<core::InfoHash>{hash(1), hash(4), hash(5), hash(6)}));
  EXPECT_TRUE(selected({"nobody"}, 1).empty());
}

TEST_F(StoreSelection, MinSeedersCountsBothFamilies) {
  announce(hash(1), "10.0.0.1", true);
  announce(hash(1), "2001:db8::1", true);
  announce(hash(1), "192.0.2.1", true);  // not counted
  announce(hash(2), "10.0.0.1", true);
  EXPECT_EQ(selected({"local peers"}, 2), std::vector<core::InfoHash>{hash(1)});
  EXPECT_TRUE(selected({"local peers"}, 3).empty());
}

TEST_F(StoreSelection, FollowsAReload) {
  announce(hash(1), "172.16.0.1", true);
  EXPECT_TRUE(selected({"local peers"}, 1).empty());
  store.apply(std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local peers", 0, {cidr("172.16.0.0/12")}}}));
  EXPECT_EQ(selected({"local peers"}, 1), std::vector<core::InfoHash>{hash(1)});
}

}  // namespace
}  // namespace btrt::hashlist

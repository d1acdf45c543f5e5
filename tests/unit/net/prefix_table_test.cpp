#include "net/prefix_table.hpp"

#include <gtest/gtest.h>

#include "net/classifier.hpp"

namespace btrt::net {
namespace {

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}
Cidr cidr(const char* text) {
  return *Cidr::parse(text);
}

TEST(PrefixTable, LongestPrefixWins) {
  PrefixTable t;
  t.insert(cidr("10.0.0.0/8"), 1, 5);
  t.insert(cidr("10.1.0.0/16"), 2, 5);
  t.insert(cidr("10.1.2.3/32"), 3, 5);
  EXPECT_EQ(t.lookup(ip("10.9.9.9")), 1);
  EXPECT_EQ(t.lookup(ip("10.1.9.9")), 2);
  EXPECT_EQ(t.lookup(ip("10.1.2.3")), 3);
  EXPECT_FALSE(t.lookup(ip("11.0.0.1")));
}

TEST(PrefixTable, ExactTieGoesToTheLowerRank) {
  PrefixTable t;
  t.insert(cidr("10.0.0.0/8"), 1, 3);
  t.insert(cidr("10.0.0.0/8"), 2, 1);
  t.insert(cidr("10.0.0.0/8"), 3, 2);
  EXPECT_EQ(t.lookup(ip("10.0.0.1")), 2);
  EXPECT_EQ(t.size(), 1u);
}

TEST(PrefixTable, ZeroLengthMatchesItsFamilyOnly) {
  PrefixTable t;
  t.insert(cidr("0.0.0.0/0"), 4, 0);
  EXPECT_EQ(t.lookup(ip("203.0.113.1")), 4);
  EXPECT_FALSE(t.lookup(ip("2001:db8::1")));
  t.insert(cidr("::/0"), 6, 0);
  EXPECT_EQ(t.lookup(ip("2001:db8::1")), 6);
  EXPECT_EQ(t.lookup(ip("203.0.113.1")), 4);
  PrefixTable only_v6;
  only_v6.insert(cidr("::/0"), 6, 0);
  EXPECT_FALSE(only_v6.lookup(ip("203.0.113.1")));  // IPv6 prefixes never catch IPv4 peers
}

TEST(PrefixTable, Ipv6And128BitPrefixes) {
  PrefixTable t;
  t.insert(cidr("2001:db8::/32"), 1, 0);
  t.insert(cidr("2001:db8::1/128"), 2, 0);
  t.insert(cidr("2001:db8:0:1::/64"), 3, 0);
  EXPECT_EQ(t.lookup(ip("2001:db8::1")), 2);
  EXPECT_EQ(t.lookup(ip("2001:db8::2")), 1);
  EXPECT_EQ(t.lookup(ip("2001:db8:0:1::9")), 3);
  EXPECT_FALSE(t.lookup(ip("2001:db9::1")));
}

TEST(PrefixTable, Ipv4MappedIpv6ClassifiesAsIpv4) {
  PrefixTable t;
  t.insert(cidr("192.0.2.0/24"), 7, 0);
  EXPECT_EQ(t.lookup(ip("::ffff:192.0.2.10")), 7);
  PrefixTable mapped_prefix;
  mapped_prefix.insert(cidr("::ffff:192.0.2.0/120"), 8, 0);
  EXPECT_EQ(mapped_prefix.lookup(ip("192.0.2.10")), 8);
}

TEST(Classifier, GroupsLevelsAndOther) {
  Classifier c({{"local", 0, {cidr("10.1.0.0/16")}},
                {"partner a", 1, {cidr("10.2.0.0/16")}},
                {"partner b", 1, {cidr("10.3.0.0/16"), cidr("10.1.5.0/24")}},
                {"far", 7, {cidr("10.0.0.0/8")}}});
  EXPECT_EQ(c.classify(ip("10.1.0.1")), 0);
  EXPECT_EQ(c.classify(ip("10.1.5.1")), 2);  // longer prefix beats the lower priority
  EXPECT_EQ(c.classify(ip("10.9.0.1")), 3);
  EXPECT_EQ(c.classify(ip("192.0.2.1")), c.other());
  EXPECT_EQ(c.name_of(c.other()), "other");
  EXPECT_EQ(c.level_of(0), 0);
  EXPECT_EQ(c.level_of(1), 1);
  EXPECT_EQ(c.level_of(2), 1);
  EXPECT_EQ(c.level_of(3), 2);
  EXPECT_EQ(c.level_of(c.other()), 3);
  EXPECT_EQ(c.level_count(), 4u);
}

TEST(Classifier, TieOnTheSamePrefixGoesToTheLowerPriorityNumber) {
  Classifier c({{"b", 2, {cidr("10.0.0.0/8")}}, {"a", 1, {cidr("10.0.0.0/8")}}});
  EXPECT_EQ(c.name_of(c.classify(ip("10.0.0.1"))), "a");
}

TEST(Classifier, WithoutGroupsEverythingIsOther) {
  Classifier c;
  EXPECT_EQ(c.classify(ip("10.0.0.1")), c.other());
  EXPECT_EQ(c.level_count(), 1u);
}

}  // namespace
}  // namespace btrt::net

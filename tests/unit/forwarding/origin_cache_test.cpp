#include "forwarding/origin_cache.hpp"

#include <gtest/gtest.h>

namespace btrt::forwarding {
namespace {

core::InfoHash hash(std::uint8_t b) {
  core::InfoHash h;
  h.bytes.fill(b);
  return h;
}

TEST(OriginCache, FreshForTheOriginsIntervalKeptForTwice) {
  OriginCache cache;
  EXPECT_FALSE(cache.find("http://a/announce", hash(1)));
  OriginInfo info;
  info.interval = 100;
  info.complete = 7;
  cache.store("http://a/announce", hash(1), info, 1000);
  auto entry = cache.find("http://a/announce", hash(1));
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->info.complete, 7u);
  EXPECT_TRUE(entry->fresh(1099));
  EXPECT_FALSE(entry->fresh(1100));
  // Other origin or torrent: nothing.
  EXPECT_FALSE(cache.find("http://b/announce", hash(1)));
  EXPECT_FALSE(cache.find("http://a/announce", hash(2)));
  EXPECT_EQ(cache.expire(1199), 1u);
  EXPECT_EQ(cache.expire(1200), 0u);
  EXPECT_FALSE(cache.find("http://a/announce", hash(1)));
}

TEST(OriginCache, NewerAnswerReplaces) {
  OriginCache cache;
  OriginInfo first;
  first.interval = 60;
  first.incomplete = 1;
  cache.store("http://a/", hash(3), first, 10);
  OriginInfo second;
  second.interval = 30;
  second.incomplete = 5;
  second.min_interval = 15;
  cache.store("http://a/", hash(3), second, 20);
  auto entry = cache.find("http://a/", hash(3));
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->fetched, 20u);
  EXPECT_EQ(entry->info.incomplete, 5u);
  EXPECT_EQ(entry->info.min_interval, 15u);
}

}  // namespace
}  // namespace btrt::forwarding

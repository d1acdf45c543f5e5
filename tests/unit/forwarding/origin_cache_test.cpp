#include "forwarding/origin_cache.hpp"

#include <gtest/gtest.h>

#include "support/time.hpp"

namespace btrt::forwarding {
namespace {

using namespace std::chrono_literals;
using test::at;

core::InfoHash hash(std::uint8_t b) {
  core::InfoHash h;
  h.bytes.fill(b);
  return h;
}

TEST(OriginCache, FreshForTheOriginsIntervalKeptForTwice) {
  OriginCache cache;
  EXPECT_FALSE(cache.find("http://a/announce", hash(1)));
  OriginInfo info;
  info.interval = 100s;
  info.complete = 7;
  cache.store("http://a/announce", hash(1), info, at(1000));
  auto entry = cache.find("http://a/announce", hash(1));
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->info.complete, 7u);
  EXPECT_TRUE(entry->fresh(at(1099)));
  EXPECT_FALSE(entry->fresh(at(1100)));
  // Other origin or torrent: nothing.
  EXPECT_FALSE(cache.find("http://b/announce", hash(1)));
  EXPECT_FALSE(cache.find("http://a/announce", hash(2)));
  EXPECT_EQ(cache.expire(at(1199)), 1u);
  EXPECT_EQ(cache.expire(at(1200)), 0u);
  EXPECT_FALSE(cache.find("http://a/announce", hash(1)));
}

TEST(OriginCache, NewerAnswerReplaces) {
  OriginCache cache;
  OriginInfo first;
  first.interval = 60s;
  first.incomplete = 1;
  cache.store("http://a/", hash(3), first, at(10));
  OriginInfo second;
  second.interval = 30s;
  second.incomplete = 5;
  second.min_interval = 15s;
  cache.store("http://a/", hash(3), second, at(20));
  auto entry = cache.find("http://a/", hash(3));
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->fetched, at(20));
  EXPECT_EQ(entry->info.incomplete, 5u);
  EXPECT_EQ(entry->info.min_interval, 15s);
}

}  // namespace
}  // namespace btrt::forwarding

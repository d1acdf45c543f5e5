#include "core/lru_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace btrt::core {
namespace {

std::vector<std::string> names(const LruMap<int>& map) {
  std::vector<std::string> out;
  map.for_each([&](const std::string& name, int) { out.push_back(name); });
  return out;
}

TEST(LruMap, MakesEntriesOnFirstUseAndFindsThemAgain) {
  LruMap<int> map(3);
  map["a"] = 1;
  ++map["a"];
  EXPECT_EQ(map.size(), 1u);
  ASSERT_NE(map.find("a"), nullptr);
  EXPECT_EQ(*map.find("a"), 2);
  EXPECT_EQ(map.find("b"), nullptr);
  EXPECT_EQ(map.peek("b"), nullptr);
}

TEST(LruMap, EvictsTheLeastRecentlyUsedBeyondItsCapacity) {
  LruMap<int> map(3);
  map["a"] = 1;
  map["b"] = 2;
  map["c"] = 3;
  map.find("a");  // used: now "b" is the oldest
  map["d"] = 4;
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.peek("b"), nullptr);
  EXPECT_EQ(names(map), (std::vector<std::string>{"d", "a", "c"}));
  // Peeking does not count as a use.
  map.peek("c");
  map["e"] = 5;
  EXPECT_EQ(map.peek("c"), nullptr);
  EXPECT_EQ(names(map), (std::vector<std::string>{"e", "d", "a"}));
}

TEST(LruMap, ThousandsOfNamesStayWithinTheCapacity) {
  LruMap<int> map(100);
  for (int i = 0; i < 10000; ++i) map["origin-" + std::to_string(i)] = i;
  EXPECT_EQ(map.size(), 100u);
  ASSERT_NE(map.peek("origin-9999"), nullptr);
  EXPECT_EQ(map.peek("origin-9899"), nullptr);
  EXPECT_EQ(*map.peek("origin-9900"), 9900);
}

TEST(LruMap, EraseForgetsAnEntry) {
  LruMap<int> map(2);
  map["a"] = 1;
  EXPECT_TRUE(map.erase("a"));
  EXPECT_FALSE(map.erase("a"));
  EXPECT_EQ(map.size(), 0u);
  map["a"] = 7;  // made again, value-initialised first
  EXPECT_EQ(*map.peek("a"), 7);
}

}  // namespace
}  // namespace btrt::core

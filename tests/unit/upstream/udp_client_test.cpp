#include "upstream/udp_client.hpp"

#include <gtest/gtest.h>

namespace btrt::upstream {
namespace {

using namespace std::chrono_literals;

TEST(OriginConnectionIds, ReusedForLessThanAMinuteThenForgotten) {
  OriginConnectionIds ids(8);
  const auto t0 = OriginConnectionIds::Clock::time_point{} + 1000s;
  EXPECT_FALSE(ids.find("203.0.113.10:6969", t0));
  ids.store("203.0.113.10:6969", 42, t0);
  EXPECT_EQ(ids.find("203.0.113.10:6969", t0 + 54s), 42u);
  EXPECT_FALSE(ids.find("203.0.113.10:6969", t0 + OriginConnectionIds::kReuseFor));
  EXPECT_EQ(ids.size(), 0u);  // an expired ID is dropped when found
  ids.store("203.0.113.10:6969", 43, t0);
  ids.forget("203.0.113.10:6969");
  EXPECT_FALSE(ids.find("203.0.113.10:6969", t0));
}

TEST(OriginConnectionIds, BoundedInCount) {
  OriginConnectionIds ids(2);
  const auto t0 = OriginConnectionIds::Clock::time_point{} + 1000s;
  ids.store("a", 1, t0);
  ids.store("b", 2, t0);
  ids.store("c", 3, t0);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_FALSE(ids.find("a", t0));
  EXPECT_EQ(ids.find("c", t0), 3u);
}

TEST(ResendAt, DoublingWaitsWithinTheTimeout) {
  EXPECT_EQ(resend_at(0, 5000ms), 0ms);
  EXPECT_EQ(resend_at(1, 5000ms), 625ms);
  EXPECT_EQ(resend_at(2, 5000ms), 625ms + 1250ms);
  EXPECT_EQ(resend_at(3, 5000ms), 625ms + 1250ms + 2500ms);
  EXPECT_FALSE(resend_at(4, 5000ms));     // would come after the timeout
  EXPECT_EQ(resend_at(1, 200ms), 100ms);  // at least 100 ms apart
  EXPECT_FALSE(resend_at(2, 200ms));
}

}  // namespace
}  // namespace btrt::upstream

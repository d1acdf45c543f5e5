#include "log/rate_limited.hpp"

#include <gtest/gtest.h>

namespace btrt::log {
namespace {

TEST(RateLimited, TheFirstOccurrenceIsLoggedAtOnce) {
  RateLimited warning(60);
  ASSERT_TRUE(warning.occurred(1));
  EXPECT_EQ(warning.take(1), 1u);
}

TEST(RateLimited, HoldsBackUntilThePeriodHasPassedAndCountsWhatItHeld) {
  RateLimited warning(60);
  ASSERT_TRUE(warning.occurred(100));
  warning.take(100);
  EXPECT_FALSE(warning.occurred(101));
  EXPECT_FALSE(warning.occurred(159));
  ASSERT_TRUE(warning.occurred(160));
  EXPECT_EQ(warning.take(160), 3u);  // the two held back and this one
  EXPECT_FALSE(warning.occurred(219));
}

TEST(RateLimited, ALineNotTakenKeepsItDue) {
  // The forwarder may refuse a due line (its overall budget): the next occurrence is due too.
  RateLimited warning(60);
  ASSERT_TRUE(warning.occurred(5));
  ASSERT_TRUE(warning.occurred(6));
  EXPECT_EQ(warning.take(6), 2u);
  EXPECT_FALSE(warning.due(7));
}

}  // namespace
}  // namespace btrt::log

#include "log/rate_limited.hpp"

#include <gtest/gtest.h>

#include "support/time.hpp"

namespace btrt::log {
namespace {

using namespace std::chrono_literals;
using test::at;

TEST(RateLimited, TheFirstOccurrenceIsLoggedAtOnce) {
  RateLimited warning(60s);
  ASSERT_TRUE(warning.occurred(at(1)));
  EXPECT_EQ(warning.take(at(1)), 1u);
}

TEST(RateLimited, HoldsBackUntilThePeriodHasPassedAndCountsWhatItHeld) {
  RateLimited warning(60s);
  ASSERT_TRUE(warning.occurred(at(100)));
  warning.take(at(100));
  EXPECT_FALSE(warning.occurred(at(101)));
  EXPECT_FALSE(warning.occurred(at(159)));
  ASSERT_TRUE(warning.occurred(at(160)));
  EXPECT_EQ(warning.take(at(160)), 3u);  // the two held back and this one
  EXPECT_FALSE(warning.occurred(at(219)));
}

TEST(RateLimited, ALineNotTakenKeepsItDue) {
  // The forwarder may refuse a due line (its overall budget): the next occurrence is due too.
  RateLimited warning(60s);
  ASSERT_TRUE(warning.occurred(at(5)));
  ASSERT_TRUE(warning.occurred(at(6)));
  EXPECT_EQ(warning.take(at(6)), 2u);
  EXPECT_FALSE(warning.due(at(7)));
}

}  // namespace
}  // namespace btrt::log

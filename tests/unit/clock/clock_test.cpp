#include "clock/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace btrt::clock {
namespace {

TEST(SteadyClock, StartsAtOneSoThatZeroMeansNever) {
  const SteadyClock clock;
  EXPECT_EQ(clock.now(), 1u);
}

TEST(SteadyClock, CountsWholeSecondsAndNeverGoesBack) {
  const SteadyClock clock;
  core::Seconds last = clock.now();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (clock.now() == 1 && std::chrono::steady_clock::now() < deadline) {
    const core::Seconds now = clock.now();
    EXPECT_GE(now, last);
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(clock.now(), 2u);
}

TEST(SteadyClock, UnixTimeIsTheSystemClock) {
  const SteadyClock clock;
  const auto system = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(std::abs(clock.unix_now() - system), 1);
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(10, 1'000'000);
  const Clock& seen = clock;
  EXPECT_EQ(seen.now(), 10u);
  EXPECT_EQ(seen.unix_now(), 1'000'000);
  clock.advance(5);
  EXPECT_EQ(seen.now(), 15u);
  EXPECT_EQ(seen.unix_now(), 1'000'005);  // both move together
  clock.set(3);
  EXPECT_EQ(seen.now(), 3u);
  EXPECT_EQ(seen.unix_now(), 999'993);
}

}  // namespace
}  // namespace btrt::clock

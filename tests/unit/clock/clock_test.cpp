#include "clock/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/time.hpp"

namespace btrt::clock {
namespace {

using namespace std::chrono_literals;
using test::at;

TEST(SteadyClock, StartsAtOneSoThatZeroMeansNever) {
  const SteadyClock clock;
  EXPECT_EQ(clock.now(), at(1));
  EXPECT_NE(clock.now(), core::kNever);
}

TEST(SteadyClock, CountsWholeSecondsAndNeverGoesBack) {
  const SteadyClock clock;
  core::TimePoint last = clock.now();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (clock.now() == at(1) && std::chrono::steady_clock::now() < deadline) {
    const core::TimePoint now = clock.now();
    EXPECT_GE(now, last);
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(clock.now(), at(2));
}

TEST(SteadyClock, UnixTimeIsTheSystemClock) {
  const SteadyClock clock;
  const auto system = std::chrono::system_clock::now();
  EXPECT_LE(std::chrono::abs(clock.unix_now() - system), 1s);
}

TEST(ManualClock, MovesOnlyWhenTold) {
  const core::UnixSeconds unix_start{1'000'000s};
  ManualClock clock(at(10), unix_start);
  const Clock& seen = clock;
  EXPECT_EQ(seen.now(), at(10));
  EXPECT_EQ(seen.unix_now(), unix_start);
  clock.advance(5s);
  EXPECT_EQ(seen.now(), at(15));
  EXPECT_EQ(seen.unix_now(), unix_start + 5s);  // both move together
  clock.set(at(3));
  EXPECT_EQ(seen.now(), at(3));
  EXPECT_EQ(seen.unix_now(), unix_start - 7s);
}

}  // namespace
}  // namespace btrt::clock

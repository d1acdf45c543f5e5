#include "core/backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace btrt::core {
namespace {

std::vector<std::uint32_t> delays(Backoff& backoff, int failures) {
  std::vector<std::uint32_t> out;
  for (int i = 0; i < failures; ++i) out.push_back(backoff.fail().count());
  return out;
}

TEST(Backoff, DoublesFromTheFirstFailureUpToItsMaximum) {
  Backoff backoff({.initial = Duration{1}, .max = Duration{15}, .after_failures = 1});
  EXPECT_EQ(backoff.delay().count(), 0u);
  EXPECT_EQ(delays(backoff, 7), (std::vector<std::uint32_t>{1, 2, 4, 8, 15, 15, 15}));
  EXPECT_EQ(backoff.delay().count(), 15u);
  EXPECT_EQ(backoff.failures(), 7u);
}

TEST(Backoff, RetriesAtOnceUntilEnoughFailuresInARow) {
  Backoff backoff({.initial = Duration{5}, .max = Duration{300}, .after_failures = 3});
  EXPECT_EQ(delays(backoff, 10),
            (std::vector<std::uint32_t>{0, 0, 5, 10, 20, 40, 80, 160, 300, 300}));
}

TEST(Backoff, ASuccessStartsOver) {
  Backoff backoff({.initial = Duration{5}, .max = Duration{300}, .after_failures = 3});
  delays(backoff, 5);
  backoff.reset();
  EXPECT_EQ(backoff.delay().count(), 0u);
  EXPECT_EQ(backoff.failures(), 0u);
  EXPECT_EQ(delays(backoff, 3), (std::vector<std::uint32_t>{0, 0, 5}));
}

TEST(Backoff, ManyFailuresStayAtTheMaximum) {
  Backoff backoff({.initial = Duration{1}, .max = Duration{300}, .after_failures = 1});
  Duration last{0};
  for (int i = 0; i < 100000; ++i) last = backoff.fail();
  EXPECT_EQ(last, Duration{300});
}

}  // namespace
}  // namespace btrt::core

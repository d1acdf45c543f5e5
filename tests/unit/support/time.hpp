#pragma once

// Times in unit tests, written as numbers: `at(100)` is the tracker's clock 100 s after its
// zero, `unix_at(1000)` a unix time, and durations are std::chrono literals (`60s`).

#include <chrono>
#include <cstdint>

#include "core/time.hpp"

namespace btrt::test {

constexpr core::TimePoint at(std::uint32_t seconds) {
  return core::TimePoint{core::Duration{seconds}};
}

constexpr core::UnixSeconds unix_at(std::int64_t seconds) {
  return core::UnixSeconds{std::chrono::seconds{seconds}};
}

}  // namespace btrt::test

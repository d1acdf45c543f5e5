#pragma once

#include <chrono>
#include <cstdint>
#include <ratio>

namespace btrt::core {

// A span of whole seconds, 32 bits: a peer's time to live, a back-off step, a config duration.
using Duration = std::chrono::duration<std::uint32_t>;

// The tracker's monotonic clock as a type only: seconds since start, counted from 1, so the
// zero point is left free to mean "never". The core never reads it; the caller passes the
// time (src/clock reads it).
struct MonotonicClock {
  using rep = std::uint32_t;
  using period = std::ratio<1>;
  using duration = Duration;
  using time_point = std::chrono::time_point<MonotonicClock, Duration>;
  static constexpr bool is_steady = true;
};

// A moment on that clock, 32 bits as in the peer record. Point + duration and point - point
// are the meaningful operations; a unix time cannot be mixed in (see UnixSeconds).
using TimePoint = MonotonicClock::time_point;

// Unix time in seconds: only for what leaves the process (database rows), never to measure
// time within it.
using UnixSeconds = std::chrono::sys_seconds;

constexpr TimePoint kNever{};
// The clock's first reading.
constexpr TimePoint kStart{Duration{1}};

}  // namespace btrt::core

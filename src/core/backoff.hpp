#pragma once

#include <algorithm>
#include <cstdint>

#include "core/time.hpp"

namespace btrt::core {

// Exponential back-off from a failing remote (an origin, a neighbour, the database): counts
// the failures in a row and says how long to wait before the next try. Pure: the caller keeps
// the time. Not thread-safe; each owner uses its own from one thread.
class Backoff {
 public:
  struct Policy {
    Duration initial{1};  // the first delay
    Duration max{300};    // doubling stops here
    // Failures in a row before the first delay; the ones before it are retried at once.
    unsigned after_failures = 1;
  };

  explicit constexpr Backoff(Policy policy) : policy_(policy) {}

  // Counts one failure; returns the delay before the next try: 0 until `after_failures`
  // failures in a row, then `initial`, doubling with each failure, at most `max`.
  Duration fail() {
    ++failures_;
    if (failures_ < policy_.after_failures) return delay_ = Duration::zero();
    Duration delay = policy_.initial;
    for (unsigned i = policy_.after_failures; i < failures_ && delay < policy_.max; ++i) {
      delay *= 2;
    }
    return delay_ = std::min(delay, policy_.max);
  }
  // After a success: the next failure starts over.
  void reset() {
    failures_ = 0;
    delay_ = Duration::zero();
  }
  // The delay the last failure set; 0 when healthy or not yet backing off.
  Duration delay() const { return delay_; }
  unsigned failures() const { return failures_; }
  const Policy& policy() const { return policy_; }

 private:
  Policy policy_;
  unsigned failures_ = 0;
  Duration delay_{0};
};

}  // namespace btrt::core

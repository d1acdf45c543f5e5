#pragma once

#include <cstdint>

#include "core/time.hpp"

namespace btrt::log {

// One warning that may repeat many times a second (a failing origin, neighbour or database):
// logged at most once per `every`, each line saying how many times it happened since
// the last line. Takes the time from its caller (the tracker's clock). Not thread-safe.
//
//   if (warning.occurred(now)) spdlog::warn("... ({} since the last report)", warning.take(now));
class RateLimited {
 public:
  explicit constexpr RateLimited(core::Duration every) : every_(every) {}

  // Counts one occurrence; true when a line is due: the first ever, or `every` after the last.
  bool occurred(core::TimePoint now) {
    ++count_;
    return due(now);
  }
  bool due(core::TimePoint now) const { return !logged_ || now >= last_ + every_; }
  // Records the line as logged now; returns the occurrences it reports (this one included).
  std::uint64_t take(core::TimePoint now) {
    logged_ = true;
    last_ = now;
    const std::uint64_t count = count_;
    count_ = 0;
    return count;
  }

 private:
  core::Duration every_;
  core::TimePoint last_;
  bool logged_ = false;
  std::uint64_t count_ = 0;
};

}  // namespace btrt::log

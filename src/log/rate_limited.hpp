#pragma once

#include <cstdint>

#include "core/peer.hpp"

namespace btrt::log {

// One warning that may repeat many times a second (a failing origin, neighbour or database):
// logged at most once per `every` seconds, each line saying how many times it happened since
// the last line. Takes the time from its caller (the tracker's clock). Not thread-safe.
//
//   if (warning.occurred(now)) spdlog::warn("... ({} since the last report)", warning.take(now));
class RateLimited {
 public:
  explicit constexpr RateLimited(core::Seconds every) : every_(every) {}

  // Counts one occurrence; true when a line is due: the first ever, or `every` after the last.
  bool occurred(core::Seconds now) {
    ++count_;
    return due(now);
  }
  bool due(core::Seconds now) const { return !logged_ || now >= last_ + every_; }
  // Records the line as logged now; returns the occurrences it reports (this one included).
  std::uint64_t take(core::Seconds now) {
    logged_ = true;
    last_ = now;
    const std::uint64_t count = count_;
    count_ = 0;
    return count;
  }

 private:
  core::Seconds every_;
  core::Seconds last_ = 0;
  bool logged_ = false;
  std::uint64_t count_ = 0;
};

}  // namespace btrt::log

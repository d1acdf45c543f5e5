#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/peer.hpp"

namespace btrt::clock {

// The tracker's one clock, made once by `btrt run` and passed by reference to every part
// that keeps time (router, forwarder, neighbours, write-behind, timers). The pure layers never
// read it: they take the time as a parameter. Unit tests pass a ManualClock instead.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic whole seconds since start, from 1: 0 is left free to mean "never".
  virtual core::Seconds now() const = 0;
  // Unix seconds: only for what leaves the process (database rows), never to measure time.
  virtual std::int64_t unix_now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  core::Seconds now() const override {
    const auto elapsed = std::chrono::steady_clock::now() - epoch_;
    return static_cast<core::Seconds>(
               std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()) +
           1;
  }
  std::int64_t unix_now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

 private:
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
};

// Time that moves only when a test moves it; readable from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(core::Seconds now = 1, std::int64_t unix_now = 1'700'000'000)
      : now_(now), unix_offset_(unix_now - static_cast<std::int64_t>(now)) {}
  core::Seconds now() const override { return now_.load(std::memory_order_relaxed); }
  std::int64_t unix_now() const override { return unix_offset_ + static_cast<std::int64_t>(now()); }
  void advance(core::Seconds by) { now_.fetch_add(by, std::memory_order_relaxed); }
  void set(core::Seconds now) { now_.store(now, std::memory_order_relaxed); }

 private:
  std::atomic<core::Seconds> now_;
  const std::int64_t unix_offset_;
};

}  // namespace btrt::clock

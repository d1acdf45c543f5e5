#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/time.hpp"

namespace btrt::clock {

// The tracker's one clock, made once by `btrt run` and passed by reference to every part
// that keeps time (router, forwarder, neighbours, write-behind, timers). The pure layers never
// read it: they take the time as a parameter. Unit tests pass a ManualClock instead.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic whole seconds since start, from 1: 0 is left free to mean "never".
  virtual core::TimePoint now() const = 0;
  // Unix seconds: only for what leaves the process (database rows), never to measure time.
  virtual core::UnixSeconds unix_now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  core::TimePoint now() const override {
    const auto elapsed = std::chrono::steady_clock::now() - epoch_;
    return core::kStart + std::chrono::duration_cast<core::Duration>(elapsed);
  }
  core::UnixSeconds unix_now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }

 private:
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
};

// Time that moves only when a test moves it; readable from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(core::TimePoint now = core::kStart,
                       core::UnixSeconds unix_now = core::UnixSeconds{std::chrono::seconds{
                           1'700'000'000}})
      : now_(now.time_since_epoch().count()), unix_offset_(unix_now - now.time_since_epoch()) {}
  core::TimePoint now() const override {
    return core::TimePoint{core::Duration{now_.load(std::memory_order_relaxed)}};
  }
  core::UnixSeconds unix_now() const override { return unix_offset_ + now().time_since_epoch(); }
  void advance(core::Duration by) { now_.fetch_add(by.count(), std::memory_order_relaxed); }
  void set(core::TimePoint now) {
    now_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }

 private:
  std::atomic<core::Duration::rep> now_;
  const core::UnixSeconds unix_offset_;
};

}  // namespace btrt::clock

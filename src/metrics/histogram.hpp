#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace btrt::metrics {

// A latency histogram with fixed buckets (seconds). Each thread writes its own slot with
// relaxed stores (no read-modify-write, no lock after a thread's first observation); readers
// sum the slots, so a snapshot may miss an observation in progress but never tears a count.
class Histogram {
 public:
  // Upper bounds of the buckets, in seconds; one more bucket (+Inf) follows.
  static constexpr std::array<double, 11> kBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1.0,  2.5,   5.0,  10.0};
  static constexpr std::size_t kBuckets = kBounds.size() + 1;

  struct Snapshot {
    std::array<std::uint64_t, kBuckets> buckets{};  // per bucket, not cumulative
    std::uint64_t count = 0;
    double sum = 0;  // seconds
  };

  Histogram();
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double seconds);
  Snapshot snapshot() const;

  static std::size_t bucket_of(double seconds);

 private:
  struct Slot {
    std::array<std::atomic<std::uint64_t>, kBuckets> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  Slot& slot();

  // Threads find their slot by this id, never by address: a histogram destroyed and another
  // allocated at the same place must not inherit the old one's slots.
  const std::uint64_t id_;
  mutable std::mutex mutex_;  // guards slots_ (taken once per thread, and by readers)
  std::vector<std::unique_ptr<Slot>> slots_;
};

// The process's named latency histograms.
class Latency {
 public:
  enum Kind { upstream, neighbor, db_flush, kCount };

  static void observe(Kind kind, double seconds) { of(kind).observe(seconds); }
  static Histogram& of(Kind kind);
};

}  // namespace btrt::metrics

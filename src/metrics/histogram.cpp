#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace btrt::metrics {
namespace {

std::uint64_t next_id() {
  static std::atomic<std::uint64_t> ids{0};
  return ids.fetch_add(1) + 1;
}

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

Histogram::Histogram() : id_(next_id()) {}

std::size_t Histogram::bucket_of(double seconds) {
  // Prometheus buckets are "less than or equal": a value on a bound belongs to that bucket.
  return static_cast<std::size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) -
                                  kBounds.begin());
}

Histogram::Slot& Histogram::slot() {
  // Few histograms exist, so a short list per thread beats any map.
  thread_local std::vector<std::pair<std::uint64_t, Slot*>> mine;
  for (const auto& [id, s] : mine) {
    if (id == id_) return *s;
  }
  std::lock_guard lock(mutex_);
  slots_.push_back(std::make_unique<Slot>());
  mine.emplace_back(id_, slots_.back().get());
  return *slots_.back();
}

void Histogram::observe(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // NaN and clock steps backwards count as instant
  Slot& s = slot();
  bump(s.buckets[bucket_of(seconds)], 1);
  bump(s.sum_ns, static_cast<std::uint64_t>(std::min(seconds, 1e9) * 1e9));
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  std::uint64_t sum_ns = 0;
  std::lock_guard lock(mutex_);
  for (const auto& s : slots_) {
    for (std::size_t b = 0; b < kBuckets; ++b) {
      out.buckets[b] += s->buckets[b].load(std::memory_order_relaxed);
    }
    sum_ns += s->sum_ns.load(std::memory_order_relaxed);
  }
  for (auto b : out.buckets) out.count += b;
  out.sum = static_cast<double>(sum_ns) / 1e9;
  return out;
}

Histogram& Latency::of(Kind kind) {
  static std::array<Histogram, kCount> histograms;
  return histograms[kind];
}

}  // namespace btrt::metrics

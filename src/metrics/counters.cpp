#include "metrics/counters.hpp"

namespace btrt::metrics {

Counters& Counters::global() {
  static Counters counters;
  return counters;
}

Counters::Slot& Counters::slot() {
  // One slot per thread and Counters object; slots live as long as the object.
  thread_local const Counters* owner = nullptr;
  thread_local Slot* mine = nullptr;
  if (owner != this) {
    std::lock_guard lock(mutex_);
    slots_.push_back(std::make_unique<Slot>());
    mine = slots_.back().get();
    owner = this;
  }
  return *mine;
}

Counters::Snapshot Counters::snapshot() const {
  Snapshot s;
  std::lock_guard lock(mutex_);
  for (const auto& slot : slots_) {
    for (std::size_t i = 0; i < kCount; ++i)
      s.events[i] += slot->events[i].load(std::memory_order_relaxed);
    for (std::size_t g = 0; g < 256; ++g)
      s.returned_by_group[g] += slot->returned[g].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace btrt::metrics

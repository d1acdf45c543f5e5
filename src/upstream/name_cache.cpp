#include "upstream/name_cache.hpp"

namespace btrt::upstream {

using error_code = boost::system::error_code;

const NameCache::Addresses* NameCache::cached(const std::string& host) {
  auto* entry = cache_.find(host);
  if (entry == nullptr) return nullptr;
  if (entry->expires <= std::chrono::steady_clock::now()) {
    cache_.erase(host);
    return nullptr;
  }
  return &entry->addresses;
}

void NameCache::resolve(const std::string& host, std::chrono::milliseconds timeout, Waiter waiter) {
  auto& slot = lookups_[host];
  if (slot) {
    slot->waiters.push_back(std::move(waiter));
    return;
  }
  auto lookup = std::make_shared<Lookup>(io_);
  slot = lookup;
  lookup->waiters.push_back(std::move(waiter));
  std::weak_ptr<NameCache> weak = weak_from_this();
  lookup->deadline.expires_after(timeout);
  lookup->deadline.async_wait([weak, lookup, host](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->resolved(host, lookup, {});
  });
  resolver_.resolve(host, [weak, lookup, host](Addresses addresses, const char*) {
    if (auto self = weak.lock()) self->resolved(host, lookup, std::move(addresses));
  });
}

void NameCache::cancel() {
  cancelled_ = true;
  for (auto& [host, lookup] : lookups_) {
    lookup->ended = true;
    lookup->deadline.cancel();
  }
  lookups_.clear();
  resolver_.cancel();
}

void NameCache::resolved(const std::string& host, const std::shared_ptr<Lookup>& lookup,
                         Addresses addresses) {
  if (lookup->ended) return;  // timed out, or cancelled: its waiters were told
  lookup->ended = true;
  lookup->deadline.cancel();
  auto it = lookups_.find(host);
  if (it != lookups_.end() && it->second == lookup) lookups_.erase(it);
  if (!addresses.empty() && ttl_.count() > 0 && !cancelled_) {
    cache_[host] = Entry{addresses, std::chrono::steady_clock::now() + ttl_};
  }
  auto waiters = std::move(lookup->waiters);
  for (auto& waiter : waiters) waiter(addresses);
}

}  // namespace btrt::upstream

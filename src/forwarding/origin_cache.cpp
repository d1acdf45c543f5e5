#include "forwarding/origin_cache.hpp"

#include <absl/hash/hash.h>

namespace btrt::forwarding {

OriginCache::Key OriginCache::key_of(std::string_view origin, const core::InfoHash& info_hash) {
  return {absl::HashOf(origin), info_hash};
}

std::optional<OriginCache::Entry> OriginCache::find(std::string_view origin,
                                                    const core::InfoHash& info_hash) const {
  const Shard& shard = shard_of(info_hash);
  const Key key = key_of(origin, info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return std::nullopt;
  return it->second;
}

void OriginCache::store(std::string_view origin, const core::InfoHash& info_hash, OriginInfo info,
                        core::TimePoint now) {
  Shard& shard = shard_of(info_hash);
  const Key key = key_of(origin, info_hash);
  std::lock_guard lock(shard.mutex);
  shard.entries[key] = Entry{std::move(info), now};
}

std::size_t OriginCache::expire(core::TimePoint now) {
  std::size_t remaining = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    absl::erase_if(shard.entries, [now](const auto& item) {
      const Entry& e = item.second;
      return now >= e.fetched + 2 * e.info.interval;
    });
    remaining += shard.entries.size();
  }
  return remaining;
}

}  // namespace btrt::forwarding

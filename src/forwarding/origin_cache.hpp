#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/peer.hpp"
#include "forwarding/origin_answer.hpp"

namespace btrt::forwarding {

// The last answer of each (origin, torrent) and when it came, shared by the worker threads
// (they look up) and the forwarder thread (it stores). Sharded by info-hash; a lookup takes
// one shard lock and allocates nothing. Time is passed in.
class OriginCache {
 public:
  struct Entry {
    OriginInfo info;
    core::TimePoint fetched;
    bool fresh(core::TimePoint now) const { return now < fetched + info.interval; }
  };

  std::optional<Entry> find(std::string_view origin, const core::InfoHash& info_hash) const;
  void store(std::string_view origin, const core::InfoHash& info_hash, OriginInfo info,
             core::TimePoint now);
  // Forgets answers older than twice their interval (their peers are gone from the store by
  // then too). Returns how many remain.
  std::size_t expire(core::TimePoint now);

 private:
  struct Key {
    std::uint64_t origin;  // hash of the origin URL: no string per entry, none per lookup
    core::InfoHash info_hash;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.origin, k.info_hash);
    }
  };
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<Key, Entry> entries;
  };
  static constexpr std::size_t kShards = 64;
  static Key key_of(std::string_view origin, const core::InfoHash& info_hash);
  Shard& shard_of(const core::InfoHash& h) const { return shards_[h.bytes[0] % kShards]; }

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace btrt::forwarding

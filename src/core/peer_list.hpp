#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/peer.hpp"

namespace btrt::core {

// The peers of one address family of one torrent, in one flat array kept sorted by bucket:
// bucket = level * 2 + (leecher ? 1 : 0). A level is thus one contiguous range, and its
// leechers a contiguous tail of it, so selection never scans the swarm. Inserting or
// removing moves at most one record per bucket above the one touched.
//
// Small swarms find a peer by a linear scan of the array; larger ones keep a hash index
// from endpoint to position, built when the swarm grows past kIndexFrom.
template <typename Address>
class PeerList {
 public:
  using Record = PeerRecord<Address>;
  using Levels = std::uint8_t[256];  // group -> level
  static constexpr std::size_t kIndexFrom = 48;

  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const Record& operator[](std::size_t i) const { return records_[i]; }
  Record& operator[](std::size_t i) { return records_[i]; }

  static unsigned bucket_of(const Record& r, const Levels& levels) {
    return levels[r.group] * 2u + (r.seeder() ? 0u : 1u);
  }

  // Position of the peer at address:port, or -1.
  std::ptrdiff_t find(const Address& address, std::uint16_t port) const {
    if (index_) {
      auto it = index_->find(Key{address, port});
      return it == index_->end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
    }
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (records_[i].port == port && records_[i].address == address) {
        return static_cast<std::ptrdiff_t>(i);
      }
    }
    return -1;
  }

  // [begin, end) of the records whose bucket is in [first_bucket, last_bucket].
  std::pair<std::size_t, std::size_t> range(unsigned first_bucket, unsigned last_bucket,
                                            const Levels& levels) const {
    return {lower(first_bucket, levels), lower(last_bucket + 1, levels)};
  }

  // Inserts a record that is not yet present; returns its position.
  std::size_t insert(const Record& record, const Levels& levels) {
    grow_if_full();
    records_.push_back(record);
    std::size_t hole = records_.size() - 1;
    const unsigned bucket = bucket_of(record, levels);
    // Walk down: each bucket above `bucket` gives its first record to its end.
    while (hole > 0) {
      unsigned above = bucket_of(records_[hole - 1], levels);
      if (above <= bucket) break;
      std::size_t first = lower(above, levels, hole);
      move(first, hole);
      hole = first;
    }
    records_[hole] = record;
    if (index_) {
      (*index_)[Key{record.address, record.port}] = static_cast<std::uint32_t>(hole);
    } else if (records_.size() >= kIndexFrom) {
      build_index();
    }
    return hole;
  }

  void erase(std::size_t position, const Levels& levels) {
    if (index_) index_->erase(Key{records_[position].address, records_[position].port});
    std::size_t hole = position;
    // The last record of the hole's bucket fills the hole; then each following bucket
    // gives its last record to the hole left at the end of the bucket before it.
    std::size_t last = lower(bucket_of(records_[hole], levels) + 1, levels) - 1;
    move(last, hole);
    hole = last;
    while (hole + 1 < records_.size()) {
      last = lower(bucket_of(records_[hole + 1], levels) + 1, levels) - 1;
      move(last, hole);
      hole = last;
    }
    records_.pop_back();
    if (index_ && records_.size() < kIndexFrom / 2) index_.reset();
    shrink_if_sparse();
  }

  // Removes every record for which drop(record) is true, keeping bucket order.
  template <typename Drop>
  std::size_t erase_if(Drop drop) {
    auto end = std::remove_if(records_.begin(), records_.end(), drop);
    std::size_t removed = static_cast<std::size_t>(records_.end() - end);
    if (removed == 0) return 0;
    records_.erase(end, records_.end());
    rebuild_index();
    shrink_if_sparse();
    return removed;
  }

  // Recomputes every record's group with classify(record) and restores bucket order.
  template <typename Classify>
  void regroup(Classify classify, const Levels& levels) {
    for (auto& r : records_) r.group = classify(r);
    std::stable_sort(records_.begin(), records_.end(), [&](const Record& a, const Record& b) {
      return bucket_of(a, levels) < bucket_of(b, levels);
    });
    rebuild_index();
  }

  std::size_t memory_bytes() const {
    std::size_t bytes = records_.capacity() * sizeof(Record);
    if (index_) bytes += sizeof(*index_) + index_->capacity() * (sizeof(Key) + 4 + 1);
    return bytes;
  }

  const std::vector<Record>& records() const { return records_; }

 private:
  struct Key {
    Address address;
    std::uint16_t port;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.address, k.port);
    }
  };

  std::size_t lower(unsigned bucket, const Levels& levels, std::size_t end) const {
    auto it =
        std::partition_point(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(end),
                             [&](const Record& r) { return bucket_of(r, levels) < bucket; });
    return static_cast<std::size_t>(it - records_.begin());
  }
  std::size_t lower(unsigned bucket, const Levels& levels) const {
    return lower(bucket, levels, records_.size());
  }

  void move(std::size_t from, std::size_t to) {
    if (from == to) return;
    records_[to] = records_[from];
    if (index_)
      (*index_)[Key{records_[to].address, records_[to].port}] = static_cast<std::uint32_t>(to);
  }

  void build_index() {
    index_ = std::make_unique<absl::flat_hash_map<Key, std::uint32_t>>();
    index_->reserve(records_.size());
    for (std::size_t i = 0; i < records_.size(); ++i) {
      index_->emplace(Key{records_[i].address, records_[i].port}, static_cast<std::uint32_t>(i));
    }
  }
  void rebuild_index() {
    if (records_.size() >= kIndexFrom) {
      build_index();
    } else {
      index_.reset();
    }
  }

  // Small swarms dominate: grow by a quarter, not by doubling, to keep slack low.
  void grow_if_full() {
    if (records_.size() == records_.capacity()) {
      records_.reserve(records_.capacity() + records_.capacity() / 4 + 2);
    }
  }
  void shrink_if_sparse() {
    if (records_.capacity() > 8 && records_.size() < records_.capacity() / 2) {
      records_.shrink_to_fit();
    }
  }

  std::vector<Record> records_;
  std::unique_ptr<absl::flat_hash_map<Key, std::uint32_t>> index_;
};

}  // namespace btrt::core

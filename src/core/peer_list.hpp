#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "core/peer.hpp"

namespace btrt::core {

// A vector of trivially copyable records in one heap block that starts with its size and
// capacity: 8 bytes in the torrent where std::vector takes 24 (a torrent of 10 peers pays its
// table slot as much as a peer record), and the header costs nothing in the block, since
// glibc rounds a request of 32n bytes plus its own 8-byte chunk header up to 32n + 16
// anyway. An empty array points at a shared header of capacity 0 (never written: the first
// insert allocates), so size() reads without a branch.
//
// The block can also carry one pointer after the records, only while it is set (the trailer):
// a rare companion, such as a large swarm's index, then costs a small swarm nothing, not even
// a pointer in the torrent.
template <typename T>
class RecordArray {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 8);

 public:
  RecordArray() = default;
  RecordArray(RecordArray&& other) noexcept : header_(std::exchange(other.header_, &kEmpty)) {}
  RecordArray& operator=(RecordArray&& other) noexcept {
    if (this != &other) {
      release();
      header_ = std::exchange(other.header_, &kEmpty);
    }
    return *this;
  }
  ~RecordArray() { release(); }

  std::size_t size() const { return header_->size; }
  std::size_t capacity() const { return header_->capacity & ~kTrailerBit; }
  bool empty() const { return header_->size == 0; }
  T* begin() { return reinterpret_cast<T*>(header_ + 1); }
  T* end() { return begin() + header_->size; }
  const T* begin() const { return reinterpret_cast<const T*>(header_ + 1); }
  const T* end() const { return begin() + header_->size; }
  T& operator[](std::size_t i) { return begin()[i]; }
  const T& operator[](std::size_t i) const { return begin()[i]; }
  // Bytes of the heap block (the allocator's own chunk header not included).
  std::size_t heap_bytes() const {
    if (header_ == &kEmpty) return 0;
    return has_trailer() ? trailer_offset(capacity()) + sizeof(void*)
                         : sizeof(Header) + capacity() * sizeof(T);
  }

  // (The shared empty header never has one; said first, so that a moved-from array's
  // destruction is seen to read nothing past it.)
  void* trailer() const { return header_ != &kEmpty && has_trailer() ? *trailer_slot() : nullptr; }
  // Setting the first trailer reallocates the block; clearing it keeps the block as it is.
  void set_trailer(void* pointer) {
    if (pointer == nullptr) {
      if (has_trailer()) header_->capacity &= ~kTrailerBit;
      return;
    }
    if (!has_trailer()) reallocate(capacity(), true);
    *trailer_slot() = pointer;
  }

  void push_back(const T& value) {
    if (header_->size == capacity()) reserve(capacity() + capacity() / 4 + 2);
    begin()[header_->size++] = value;
  }
  void pop_back() { --header_->size; }
  // Drops [first, end()).
  void truncate(T* first) {
    if (first != end()) header_->size = static_cast<std::uint32_t>(first - begin());
  }
  void reserve(std::size_t capacity) {
    if (capacity > this->capacity()) reallocate(capacity, has_trailer());
  }
  void shrink_to_fit() {
    if (header_->size < capacity()) reallocate(header_->size, has_trailer());
  }

 private:
  struct Header {
    std::uint32_t size;
    std::uint32_t capacity;
  };
  static inline Header kEmpty{0, 0};
  // In the capacity field: the block has a trailer. No array comes near 2^31 records.
  static constexpr std::uint32_t kTrailerBit = std::uint32_t{1} << 31;

  bool has_trailer() const { return (header_->capacity & kTrailerBit) != 0; }
  static std::size_t trailer_offset(std::size_t capacity) {
    return (sizeof(Header) + capacity * sizeof(T) + alignof(void*) - 1) & ~(alignof(void*) - 1);
  }
  void** trailer_slot() const {
    return reinterpret_cast<void**>(reinterpret_cast<char*>(header_) + trailer_offset(capacity()));
  }

  void reallocate(std::size_t capacity, bool with_trailer) {
    Header* block = &kEmpty;
    if (capacity > 0 || with_trailer) {
      const std::size_t bytes = with_trailer ? trailer_offset(capacity) + sizeof(void*)
                                             : sizeof(Header) + capacity * sizeof(T);
      block = static_cast<Header*>(::operator new(bytes));
      block->size = header_->size;
      block->capacity = static_cast<std::uint32_t>(capacity) | (with_trailer ? kTrailerBit : 0);
      if (header_->size != 0) std::memcpy(block + 1, begin(), size() * sizeof(T));
      if (with_trailer) {
        void* kept = trailer();
        std::memcpy(reinterpret_cast<char*>(block) + trailer_offset(capacity), &kept, sizeof kept);
      }
    }
    release();
    header_ = block;
  }
  void release() {
    if (header_ != &kEmpty) ::operator delete(header_);
  }

  Header* header_ = &kEmpty;
};

// The peers of one address family of one torrent, in one flat array kept sorted by bucket:
// bucket = level * 4 + (learned ? 2 : 0) + (leecher ? 1 : 0). A level is thus one contiguous
// range, its announced peers (source `local`) a contiguous head of it and its learned ones
// (neighbours, origins) the tail, each with its leechers last, so selection never scans the
// swarm. Inserting or removing moves at most one record per bucket above the one touched.
//
// Small swarms find a peer by a linear scan of the array; larger ones keep a hash index
// from endpoint to position, and one from (address, peer id) to the position of an announced
// peer (a client that comes back on a new port), built when the swarm grows past kIndexFrom.
template <typename Address>
class PeerList {
 public:
  using Record = PeerRecord<Address>;
  using Levels = std::uint8_t[256];  // group -> level
  static constexpr std::size_t kIndexFrom = 48;

  PeerList() = default;
  PeerList(PeerList&&) noexcept = default;  // the index travels in the records' block
  PeerList& operator=(PeerList&& other) noexcept {
    if (this != &other) {
      drop_index();
      records_ = std::move(other.records_);
    }
    return *this;
  }
  ~PeerList() { drop_index(); }

  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  bool indexed() const { return index() != nullptr; }
  const Record& operator[](std::size_t i) const { return records_[i]; }
  Record& operator[](std::size_t i) { return records_[i]; }

  static bool learned(const Record& r) { return r.source() != Source::local; }
  static unsigned bucket_of(const Record& r, const Levels& levels) {
    return levels[r.group] * 4u + (learned(r) ? 2u : 0u) + (r.seeder() ? 0u : 1u);
  }
  // First bucket of a level's announced (learned = false) or learned peers; the next
  // bucket holds their leechers.
  static unsigned first_bucket(std::size_t level, bool learned) {
    return static_cast<unsigned>(level * 4 + (learned ? 2 : 0));
  }

  // Position of the peer at address:port, or -1.
  std::ptrdiff_t find(const Address& address, std::uint16_t port) const {
    if (const Index* index = this->index()) {
      auto it = index->endpoints.find(Key{address, port});
      return it == index->endpoints.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
    }
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (records_[i].port == port && records_[i].address == address) {
        return static_cast<std::ptrdiff_t>(i);
      }
    }
    return -1;
  }

  // Position of an announced peer with this address and peer id (on any port), or -1.
  std::ptrdiff_t find_client(const Address& address, const PeerId& peer_id) const {
    if (const Index* index = this->index()) {
      auto it = index->clients.find(ClientKey{address, peer_id});
      return it == index->clients.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
    }
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const Record& r = records_[i];
      if (r.peer_id == peer_id && r.address == address && !learned(r)) {
        return static_cast<std::ptrdiff_t>(i);
      }
    }
    return -1;
  }

  // Learned peers in levels [0, level_count): O(levels x log n).
  std::size_t count_learned(const Levels& levels, std::size_t level_count) const {
    std::size_t n = 0;
    for (std::size_t level = 0; level < level_count; ++level) {
      auto [b, e] = range(first_bucket(level, true), first_bucket(level, true) + 1, levels);
      n += e - b;
    }
    return n;
  }

  // [begin, end) of the records whose bucket is in [first_bucket, last_bucket].
  std::pair<std::size_t, std::size_t> range(unsigned first_bucket, unsigned last_bucket,
                                            const Levels& levels) const {
    return {lower(first_bucket, levels), lower(last_bucket + 1, levels)};
  }

  // Position of the first record in bucket `bucket` or a later one, searched from `from`,
  // which the caller knows to be at or before it (ranges visited in ascending bucket order).
  // A selection walks the buckets in order and most of its ranges are a few records or none:
  // a short scan first, then steps that double and a binary search, so that the cost grows
  // with the range skipped, not with the swarm.
  std::size_t lower_from(unsigned bucket, const Levels& levels, std::size_t from) const {
    const std::size_t size = records_.size();
    for (const std::size_t scanned = std::min(size, from + kScan); from < scanned; ++from) {
      if (bucket_of(records_[from], levels) >= bucket) return from;
    }
    // records_[from - 1] is below `bucket` (or from == size).
    for (std::size_t step = kScan; from < size; step *= 2) {
      const std::size_t next = std::min(size, from + step);
      if (next == size || bucket_of(records_[next], levels) >= bucket) {
        auto it =
            std::partition_point(records_.begin() + static_cast<std::ptrdiff_t>(from),
                                 records_.begin() + static_cast<std::ptrdiff_t>(next),
                                 [&](const Record& r) { return bucket_of(r, levels) < bucket; });
        return static_cast<std::size_t>(it - records_.begin());
      }
      from = next + 1;
    }
    return size;
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
    if (indexed()) {
      note(hole);
    } else if (records_.size() >= kIndexFrom) {
      build_index();
    }
    return hole;
  }

  // Replaces the record at `position` (endpoint, bucket or peer id may change); returns its
  // new position.
  std::size_t replace(std::size_t position, const Record& record, const Levels& levels) {
    const Record& old = records_[position];
    if (old.address == record.address && old.port == record.port && old.peer_id == record.peer_id &&
        learned(old) == learned(record) && bucket_of(old, levels) == bucket_of(record, levels)) {
      records_[position] = record;
      return position;
    }
    erase(position, levels);
    return insert(record, levels);
  }

  void erase(std::size_t position, const Levels& levels) {
    if (indexed()) forget(position);
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
    if (records_.size() < kIndexFrom / 2) drop_index();
    shrink_if_sparse();
  }

  // Removes every record for which drop(record) is true, keeping bucket order.
  template <typename Drop>
  std::size_t erase_if(Drop drop) {
    auto end = std::remove_if(records_.begin(), records_.end(), drop);
    std::size_t removed = static_cast<std::size_t>(records_.end() - end);
    if (removed == 0) return 0;
    records_.truncate(end);
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
    std::size_t bytes = records_.heap_bytes();
    if (const Index* index = this->index()) {
      bytes += sizeof(*index) + index->endpoints.capacity() * (sizeof(Key) + 4 + 1) +
               index->clients.capacity() * (sizeof(ClientKey) + 4 + 1);
    }
    return bytes;
  }

  std::span<const Record> records() const { return {records_.begin(), records_.size()}; }

 private:
  static constexpr std::size_t kScan = 8;  // lower_from's records looked at one by one
  struct Key {
    Address address;
    std::uint16_t port;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.address, k.port);
    }
  };
  struct ClientKey {
    Address address;
    PeerId peer_id;
    friend bool operator==(const ClientKey&, const ClientKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const ClientKey& k) {
      return H::combine(std::move(h), k.address, k.peer_id);
    }
  };
  struct Index {
    absl::flat_hash_map<Key, std::uint32_t> endpoints;
    absl::flat_hash_map<ClientKey, std::uint32_t> clients;  // announced peers only
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
    if (indexed()) note(to);
  }

  // Index entries of the record at `position` point at it.
  void note(std::size_t position) {
    const Record& r = records_[position];
    const auto at = static_cast<std::uint32_t>(position);
    index()->endpoints[Key{r.address, r.port}] = at;
    if (!learned(r)) index()->clients[ClientKey{r.address, r.peer_id}] = at;
  }
  void forget(std::size_t position) {
    const Record& r = records_[position];
    index()->endpoints.erase(Key{r.address, r.port});
    if (!learned(r)) {
      auto it = index()->clients.find(ClientKey{r.address, r.peer_id});
      if (it != index()->clients.end() && it->second == position) index()->clients.erase(it);
    }
  }

  Index* index() const { return static_cast<Index*>(records_.trailer()); }
  void build_index() {
    if (Index* index = this->index()) {
      *index = Index{};  // a rebuild keeps the block and its trailer
    } else {
      auto fresh = std::make_unique<Index>();
      records_.set_trailer(fresh.get());
      fresh.release();
    }
    index()->endpoints.reserve(records_.size());
    for (std::size_t i = 0; i < records_.size(); ++i) note(i);
  }
  void drop_index() {
    delete index();
    records_.set_trailer(nullptr);
  }
  void rebuild_index() {
    if (records_.size() >= kIndexFrom) {
      build_index();
    } else {
      drop_index();
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

  RecordArray<Record> records_;  // its trailer: the index, while there is one
};

}  // namespace btrt::core

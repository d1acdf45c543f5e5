#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "net/cidr.hpp"

namespace btrt::net {

// Longest-prefix match over IPv4 and IPv6 prefixes. One hash table per prefix length:
// a lookup probes the lengths present, longest first, so it costs O(prefix length).
// When the same prefix is inserted twice, the lower `rank` wins (equal: the first).
// IPv4 addresses are matched only against IPv4 prefixes (IPv4-mapped space) and IPv6
// addresses only against the others, so each lookup probes just its own family's lengths.
class PrefixTable {
 public:
  using Value = std::uint16_t;

  void insert(const Cidr& prefix, Value value, std::uint32_t rank);
  std::optional<Value> lookup(const IpAddress& address) const;
  std::size_t size() const { return size_; }

 private:
  struct Key {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.high, k.low);
    }
  };
  struct Entry {
    Value value;
    std::uint32_t rank;
  };
  static Key key_of(const IpAddress& address, unsigned length);

  std::array<absl::flat_hash_map<Key, Entry>, 129> by_length_;
  std::vector<std::uint8_t> v4_lengths_;  // lengths in use, longest first
  std::vector<std::uint8_t> v6_lengths_;
  std::size_t size_ = 0;
};

}  // namespace btrt::net

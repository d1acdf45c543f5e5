#include "net/prefix_table.hpp"

#include <algorithm>
#include <functional>

namespace btrt::net {

PrefixTable::Key PrefixTable::key_of(const IpAddress& address, unsigned length) {
  const auto& b = address.bytes();
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  for (int i = 0; i < 8; ++i) high = (high << 8) | b[i];
  for (int i = 8; i < 16; ++i) low = (low << 8) | b[i];
  if (length <= 64) {
    high = length == 0 ? 0 : high & (~std::uint64_t{0} << (64 - length));
    low = 0;
  } else if (length < 128) {
    low &= ~std::uint64_t{0} << (128 - length);
  }
  return Key{high, low};
}

void PrefixTable::insert(const Cidr& prefix, Value value, std::uint32_t rank) {
  auto& table = by_length_[prefix.length];
  auto& lengths = prefix.length >= 96 && prefix.network.is_v4() ? v4_lengths_ : v6_lengths_;
  if (std::find(lengths.begin(), lengths.end(), prefix.length) == lengths.end()) {
    lengths.push_back(prefix.length);
    std::sort(lengths.begin(), lengths.end(), std::greater<>());
  }
  auto [it, inserted] =
      table.try_emplace(key_of(prefix.network, prefix.length), Entry{value, rank});
  if (inserted) {
    ++size_;
  } else if (rank < it->second.rank) {
    it->second = Entry{value, rank};
  }
}

std::optional<PrefixTable::Value> PrefixTable::lookup(const IpAddress& address) const {
  for (std::uint8_t length : address.is_v4() ? v4_lengths_ : v6_lengths_) {
    const auto& table = by_length_[length];
    auto it = table.find(key_of(address, length));
    if (it != table.end()) return it->second.value;
  }
  return std::nullopt;
}

}  // namespace btrt::net

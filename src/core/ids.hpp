#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace btrt::core {

// A 20-byte identifier (info-hash or peer id), compared bytewise.
template <typename Tag>
struct Id20 {
  std::array<std::uint8_t, 20> bytes{};

  static Id20 from(std::string_view raw) {  // raw.size() must be 20
    Id20 id;
    std::memcpy(id.bytes.data(), raw.data(), id.bytes.size());
    return id;
  }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  static constexpr std::size_t kHexSize = 40;
  // Lower-case hex into out[0..40).
  void write_hex(char* out) const {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      out[2 * i] = kDigits[bytes[i] >> 4];
      out[2 * i + 1] = kDigits[bytes[i] & 15];
    }
  }
  std::string hex() const {
    std::string out(kHexSize, '\0');
    write_hex(out.data());
    return out;
  }
  // The first eight bytes as one number that orders as the bytes do (big-endian): most
  // comparisons of distinct ids end on it.
  std::uint64_t leading_word() const {
    std::uint64_t word;
    std::memcpy(&word, bytes.data(), sizeof word);
    if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
    return word;
  }
  friend std::strong_ordering operator<=>(const Id20& a, const Id20& b) {
    const std::uint64_t x = a.leading_word();
    const std::uint64_t y = b.leading_word();
    if (x != y) return x <=> y;
    return std::memcmp(a.bytes.data() + 8, b.bytes.data() + 8, a.bytes.size() - 8) <=> 0;
  }
  // Three word compares instead of a call to memcmp: every hash-map probe and every peer
  // handed out compares ids.
  friend bool operator==(const Id20& a, const Id20& b) {
    std::uint64_t x[2], y[2];
    std::uint32_t x4, y4;
    std::memcpy(x, a.bytes.data(), 16);
    std::memcpy(y, b.bytes.data(), 16);
    std::memcpy(&x4, a.bytes.data() + 16, 4);
    std::memcpy(&y4, b.bytes.data() + 16, 4);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x4 ^ y4)) == 0;
  }
  // The bytes as three words: one mixing step each where a byte-range hash loops.
  template <typename H>
  friend H AbslHashValue(H h, const Id20& id) {
    std::uint64_t words[2];
    std::uint32_t tail;
    std::memcpy(words, id.bytes.data(), 16);
    std::memcpy(&tail, id.bytes.data() + 16, 4);
    return H::combine(std::move(h), words[0], words[1], tail);
  }
};

using InfoHash = Id20<struct InfoHashTag>;
using PeerId = Id20<struct PeerIdTag>;

}  // namespace btrt::core

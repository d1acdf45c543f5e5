#pragma once

#include <array>
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
  std::string hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (auto b : bytes) {
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    }
    return out;
  }
  friend auto operator<=>(const Id20&, const Id20&) = default;
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
  template <typename H>
  friend H AbslHashValue(H h, const Id20& id) {
    return H::combine_contiguous(std::move(h), id.bytes.data(), id.bytes.size());
  }
};

using InfoHash = Id20<struct InfoHashTag>;
using PeerId = Id20<struct PeerIdTag>;

}  // namespace btrt::core

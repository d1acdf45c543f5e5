#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace btrt::net {

// An IPv4 or IPv6 address. IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d) so that one
// 128-bit space serves both families and a mapped address classifies like its IPv4 form.
// Dotted-quad IPv4 in host order, with inet_pton's strictness; nullopt for anything else.
std::optional<std::uint32_t> parse_dotted_quad(std::string_view text);

class IpAddress {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  IpAddress() = default;
  explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}
  // Inline, like is_v4(): every peer selected is made with it.
  static IpAddress from_v4(std::uint32_t host_order) {
    IpAddress a;
    std::memcpy(a.bytes_.data() + 8, &kMappedMiddle, sizeof kMappedMiddle);
    a.bytes_[12] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes_[13] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes_[14] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes_[15] = static_cast<std::uint8_t>(host_order);
    return a;
  }
  // Accepts dotted IPv4 and textual IPv6 (with or without brackets); nothing else.
  static std::optional<IpAddress> parse(std::string_view text);

  // Inline: every peer selected and encoded asks.
  bool is_v4() const {
    std::uint64_t head;
    std::uint32_t middle;
    std::memcpy(&head, bytes_.data(), sizeof head);
    std::memcpy(&middle, bytes_.data() + sizeof head, sizeof middle);
    return head == 0 && middle == kMappedMiddle;
  }
  std::uint32_t v4() const {  // host order; only meaningful when is_v4()
    return (std::uint32_t{bytes_[12]} << 24) | (std::uint32_t{bytes_[13]} << 16) |
           (std::uint32_t{bytes_[14]} << 8) | std::uint32_t{bytes_[15]};
  }
  const Bytes& bytes() const { return bytes_; }
  std::string to_string() const;

  bool is_loopback() const;
  bool is_unspecified() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine_contiguous(std::move(h), a.bytes_.data(), a.bytes_.size());
  }

 private:
  // Bytes 8..11 of an IPv4-mapped address (00 00 ff ff) read as one native word.
  static constexpr std::uint32_t kMappedMiddle =
      std::endian::native == std::endian::little ? 0xffff0000u : 0x0000ffffu;

  Bytes bytes_{};
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "1.2.3.4:80" or "[::1]:80".
  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace btrt::net

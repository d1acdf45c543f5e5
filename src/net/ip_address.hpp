#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace btrt::net {

// An IPv4 or IPv6 address. IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d) so that one
// 128-bit space serves both families and a mapped address classifies like its IPv4 form.
class IpAddress {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  IpAddress() = default;
  explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}
  static IpAddress from_v4(std::uint32_t host_order);
  // Accepts dotted IPv4 and textual IPv6 (with or without brackets); nothing else.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  std::uint32_t v4() const;  // host order; only meaningful when is_v4()
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

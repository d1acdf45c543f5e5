#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/ip_address.hpp"

namespace btrt::net {

// A network prefix. `length` counts bits in the 128-bit space of IpAddress, so an IPv4
// prefix /n has length 96 + n; host bits are always zero.
struct Cidr {
  IpAddress network;
  std::uint8_t length = 0;

  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Host bits set in the
  // text are cleared. On failure `why` (when given) says what is wrong.
  static std::optional<Cidr> parse(std::string_view text, std::string* why = nullptr);
  static Cidr of(const IpAddress& address, std::uint8_t length);

  bool contains(const IpAddress& address) const;
  // The prefix length as written for its family (0-32 for IPv4).
  unsigned family_length() const;
  std::string to_string() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// The address with every bit after `length` cleared.
IpAddress mask(const IpAddress& address, unsigned length);

}  // namespace btrt::net

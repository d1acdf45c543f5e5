#include "net/cidr.hpp"

#include <charconv>

namespace btrt::net {

IpAddress mask(const IpAddress& address, unsigned length) {
  IpAddress::Bytes b = address.bytes();
  for (unsigned i = 0; i < 16; ++i) {
    unsigned first_bit = i * 8;
    if (first_bit >= length) {
      b[i] = 0;
    } else if (first_bit + 8 > length) {
      b[i] &= static_cast<std::uint8_t>(0xff00u >> (length - first_bit));
    }
  }
  return IpAddress(b);
}

Cidr Cidr::of(const IpAddress& address, std::uint8_t length) {
  return Cidr{mask(address, length), length};
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why) {
  auto fail = [&](std::string message) -> std::optional<Cidr> {
    if (why) *why = std::move(message);
    return std::nullopt;
  };
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return fail("'" + std::string(text.substr(0, slash)) + "' is not an IP address");
  // The text's family decides the meaning of the length: ::ffff:a.b.c.d/120 is IPv6 text.
  const bool ipv4_text = text.substr(0, slash).find(':') == std::string_view::npos;
  unsigned max = ipv4_text ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        length > max) {
      return fail("'" + std::string(digits) + "' is not a prefix length (0-" + std::to_string(max) +
                  ")");
    }
  }
  if (ipv4_text) length += 96;
  return of(*address, static_cast<std::uint8_t>(length));
}

bool Cidr::contains(const IpAddress& address) const {
  return mask(address, length) == network;
}

unsigned Cidr::family_length() const {
  return network.is_v4() && length >= 96 ? length - 96u : length;
}

std::string Cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(family_length());
}

}  // namespace btrt::net

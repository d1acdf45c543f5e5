#include "net/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "text/strings.hpp"
#include "text/url.hpp"

namespace btrt::net {
// IPv4 exactly as inet_pton reads it (four decimal parts of 0..255, no leading zeros, nothing
// else), by hand: every announce's ip= and Host carry one.
std::optional<std::uint32_t> parse_dotted_quad(std::string_view text) {
  const char* at = text.data();
  const char* const end = at + text.size();
  auto digit = [&](unsigned& d) {
    if (at == end) return false;
    d = text::digit_value(*at);
    return d <= 9;
  };
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (at == end || *at != '.') return std::nullopt;
      ++at;
    }
    unsigned number = 0;
    if (!digit(number)) return std::nullopt;
    ++at;
    // Up to two more digits, none after a leading zero ("01" is refused by the '.' or the
    // end expected next).
    unsigned d = 0;
    for (int more = 0; more < 2 && number != 0 && digit(d); ++more, ++at) number = number * 10 + d;
    if (number > 255) return std::nullopt;
    value = value << 8 | number;
  }
  if (at != end) return std::nullopt;
  return value;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // Dotted quads first: the address of nearly every announce.
  if (const auto v4 = parse_dotted_quad(text)) return from_v4(*v4);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    if (const auto v4 = parse_dotted_quad(text)) return from_v4(*v4);
  }
  if (text.find(':') == std::string_view::npos) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  if (text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Bytes b;
  if (inet_pton(AF_INET6, buf, b.data()) != 1) return std::nullopt;
  return IpAddress(b);
}

std::string IpAddress::to_string() const {
  if (is_v4()) {   // by hand: the non-compact answer writes one per peer
    char buf[20];  // "255.255.255.255" is 15
    std::size_t n = 0;
    for (std::size_t i = 12; i < 16; ++i) {
      if (i > 12) buf[n++] = '.';
      const unsigned value = bytes_[i];
      if (value >= 100) buf[n++] = static_cast<char>('0' + value / 100);
      if (value >= 10) buf[n++] = static_cast<char>('0' + value / 10 % 10);
      buf[n++] = static_cast<char>('0' + value % 10);
    }
    return {buf, n};
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return (v4() >> 24) == 127;
  Bytes one{};
  one[15] = 1;
  return bytes_ == one;
}

bool IpAddress::is_unspecified() const {
  if (is_v4()) return v4() == 0;
  return bytes_ == Bytes{};
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  const auto hp = text::split_host_port(text);
  // The port is required (so a bare IPv6 address, which has no port, is refused).
  if (!hp || !hp->port) return std::nullopt;
  auto address = IpAddress::parse(hp->host);
  auto port = text::parse_port(*hp->port);
  if (!address || !port) return std::nullopt;
  return Endpoint{*address, *port};
}

std::string Endpoint::to_string() const {
  if (address.is_v4()) return address.to_string() + ":" + std::to_string(port);
  return "[" + address.to_string() + "]:" + std::to_string(port);
}

}  // namespace btrt::net

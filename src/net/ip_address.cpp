#include "net/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "text/url.hpp"

namespace btrt::net {
namespace {
constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

IpAddress IpAddress::from_v4(std::uint32_t host_order) {
  Bytes b{};
  std::memcpy(b.data(), kMappedPrefix.data(), kMappedPrefix.size());
  b[12] = static_cast<std::uint8_t>(host_order >> 24);
  b[13] = static_cast<std::uint8_t>(host_order >> 16);
  b[14] = static_cast<std::uint8_t>(host_order >> 8);
  b[15] = static_cast<std::uint8_t>(host_order);
  return IpAddress(b);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) != 1) return std::nullopt;
    return from_v4(ntohl(a4.s_addr));
  }
  Bytes b;
  if (inet_pton(AF_INET6, buf, b.data()) != 1) return std::nullopt;
  return IpAddress(b);
}

std::string IpAddress::to_string() const {
  if (is_v4()) {  // by hand: the non-compact answer writes one per peer
    char buf[16];
    char* p = buf;
    for (std::size_t i = 12; i < 16; ++i) {
      if (i > 12) *p++ = '.';
      p = std::to_chars(p, buf + sizeof buf, bytes_[i]).ptr;
    }
    return {buf, p};
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

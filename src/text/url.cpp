#include "text/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "text/strings.hpp"

namespace btrt::text {
namespace {

constexpr std::size_t kMaxHostLength = 253;  // a DNS name's longest text form

bool is_scheme_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

bool is_host_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// Hex digits, ':' and '.' only (no zone id: "%eth0" cannot be sent), and a valid address.
bool is_ipv6_literal(std::string_view host) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (host.find(':') == std::string_view::npos || host.size() >= buf.size()) return false;
  if (!std::all_of(host.begin(), host.end(), is_ipv6_char)) return false;
  std::memcpy(buf.data(), host.data(), host.size());
  std::array<unsigned char, 16> bytes{};
  return inet_pton(AF_INET6, buf.data(), bytes.data()) == 1;
}

}  // namespace

std::optional<UrlParts> split_url(std::string_view url) {
  // Only the scheme's own characters are read before "://": the router asks this of every
  // request target, and an origin-form one ("/announce?...") is refused at its first byte.
  if (url.empty() || !is_alpha(url.front())) return std::nullopt;
  const auto scheme_end = std::find_if_not(url.begin(), url.end(), is_scheme_char);
  const auto colon = static_cast<std::size_t>(scheme_end - url.begin());
  if (!url.substr(colon).starts_with("://")) return std::nullopt;
  UrlParts out;
  out.scheme = url.substr(0, colon);
  const std::string_view rest = url.substr(colon + 3);
  const std::size_t end = rest.find_first_of("/?#");
  out.authority = rest.substr(0, end);
  if (end != std::string_view::npos) out.target = rest.substr(end);
  return out;
}

bool is_http_url(std::string_view url) {
  return starts_with_ci(url, "http://");
}

std::optional<HostPort> split_host_port(std::string_view authority) {
  HostPort out;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    out.bracketed = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      out.port = after.substr(1);
    }
    return out;
  }
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || authority.find(':') != colon) {
    out.host = authority;  // no port, or a bare IPv6 literal
    return out;
  }
  out.host = authority.substr(0, colon);
  out.port = authority.substr(colon + 1);
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  const auto parts = split_url(url);
  if (!parts || !iequals(parts->scheme, "http")) return std::nullopt;
  // Nothing that could end or split the request line, and no fragment.
  for (char c : parts->target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') return std::nullopt;
  }
  const auto hp = split_host_port(parts->authority);
  if (!hp) return std::nullopt;
  if (hp->bracketed) {
    if (!is_ipv6_literal(hp->host)) return std::nullopt;
  } else if (hp->host.empty() || hp->host.size() > kMaxHostLength ||
             !std::all_of(hp->host.begin(), hp->host.end(), is_host_char)) {
    return std::nullopt;  // also userinfo ('@') and a bare IPv6 literal (':')
  }

  HttpUrl out;
  if (hp->port) {
    const auto port = parse_port(*hp->port);
    if (!port || *port == 0) return std::nullopt;
    out.port = *port;
  }
  out.host.assign(hp->host);
  if (parts->target.empty()) {
    out.target = "/";
  } else if (parts->target.front() == '?') {
    out.target = "/";
    out.target.append(parts->target);
  } else {
    out.target.assign(parts->target);
  }
  return out;
}

}  // namespace btrt::text

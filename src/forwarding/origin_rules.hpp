#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/cidr.hpp"
#include "net/ip_address.hpp"

namespace btrt::forwarding {

// The rules of forwarding (docs/dpi-integration.md) that need no I/O: which requests are forwarded,
// where btrt may connect, how the upstream request is built.

// btrt's mark on its own upstream requests (a Via element, RFC 9110 7.6.3).
inline constexpr std::string_view kViaMark = "1.1 btrt";

// True when a Via header names btrt as one of the hops: the request is one of ours coming
// back, and forwarding it again would loop.
bool carries_own_mark(std::string_view via);

// Addresses btrt never connects to for an origin unless allowed by configuration: loopback,
// private (RFC 1918, shared CGN space, IPv6 unique-local), link-local, multicast,
// unspecified, and the reserved/broadcast ranges.
bool is_special_destination(const net::IpAddress& address);
bool destination_allowed(const net::IpAddress& address, const std::vector<net::Cidr>& allowed);

// Whether a Host header means this tracker: one of `hostnames` (any port), or an IP literal
// equal to a listen address (host and port; a wildcard listen address matches any literal
// with its port). An empty Host means this tracker too.
bool names_this_tracker(std::string_view host, const std::vector<std::string>& hostnames,
                        const std::vector<net::Endpoint>& listen);

// An origin announce URL split for forwarding.
struct OriginAnnounce {
  std::string_view origin;  // "http://host[:port]/path": the cache and merge key
  std::string_view query;   // after '?', unchanged (passkeys, statistics)
};
// Accepts "http://..." only (case-insensitive scheme, a non-empty host); nullopt otherwise.
std::optional<OriginAnnounce> split_origin_url(std::string_view url);

// The URL asked upstream: the subscriber's URL unchanged, or with any ip=/ipv4=/ipv6= of the
// subscriber's replaced by ip=<subscriber> when `pass_client_ip`.
std::string upstream_url(const OriginAnnounce& origin, const net::IpAddress& subscriber,
                         bool pass_client_ip);

// "host:port" of an origin URL, the unit of back-off (one server, any path).
std::string_view origin_server(std::string_view origin);

}  // namespace btrt::forwarding

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// URL and authority parsing (RFC 3986 shapes), shared by the router, the forwarding rules, the
// upstream client, the configuration and net::Endpoint. Pure: results are views into the input.
namespace btrt::text {

// "scheme://authority<target>": the components, without judging the authority.
struct UrlParts {
  std::string_view scheme;     // as written (compare with iequals)
  std::string_view authority;  // up to the first '/', '?' or '#' after "://"; may be empty
  std::string_view target;     // the rest from that character on; may be empty
};
// nullopt unless the text starts with a scheme (a letter, then letters, digits, '+', '-', '.')
// followed by "://".
std::optional<UrlParts> split_url(std::string_view url);

// The scheme is "http" in any case ("HTTP://" is the same URL).
bool is_http_url(std::string_view url);

// An authority or a Host header value: "name", "name:81", "1.2.3.4:80", "[::1]", "[::1]:80".
struct HostPort {
  std::string_view host;                 // without the brackets
  bool bracketed = false;                // written as "[...]" (an IPv6 literal)
  std::optional<std::string_view> port;  // the text after ':' when there is one (maybe empty)
};
// An unbracketed host with more than one ':' is taken whole as a bare IPv6 literal without a
// port. nullopt: an unterminated '[', or anything but ":port" after the ']'. The host itself is
// not checked.
std::optional<HostPort> split_host_port(std::string_view authority);

// A port number: one or more decimal digits (leading zeros allowed), at most 65535.
std::optional<std::uint16_t> parse_port(std::string_view digits);

// An URL btrt can send a request to: "http://host[:port][/path][?query]", no userinfo, no
// fragment, nothing in the target that could split the request line.
struct HttpUrl {
  std::string host;  // as written: a name, an IPv4 literal, or an IPv6 literal without brackets
  std::uint16_t port = 80;
  std::string target;  // path and query, at least "/"
};
std::optional<HttpUrl> parse_http_url(std::string_view url);

}  // namespace btrt::text

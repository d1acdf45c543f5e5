#include "forwarding/origin_rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "protocol/percent.hpp"

namespace btrt::forwarding {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::vector<net::Cidr>& special_ranges() {
  static const std::vector<net::Cidr> ranges = [] {
    std::vector<net::Cidr> out;
    for (const char* text :
         {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
          "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
          "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"}) {
      out.push_back(*net::Cidr::parse(text));
    }
    return out;
  }();
  return ranges;
}

// Host and port of a Host header ("name", "name:81", "1.2.3.4:80", "[::1]:80").
struct HostPort {
  std::string_view host;
  std::optional<std::uint32_t> port;  // nullopt: not given; 0x10000: unparsable
};
HostPort split_host(std::string_view header) {
  HostPort out;
  std::string_view port;
  if (!header.empty() && header.front() == '[') {
    auto close = header.find(']');
    if (close == std::string_view::npos) return {header, std::nullopt};
    out.host = header.substr(1, close - 1);
    auto rest = header.substr(close + 1);
    if (rest.size() > 1 && rest.front() == ':') port = rest.substr(1);
  } else {
    auto colon = header.rfind(':');
    // More than one colon without brackets: a bare IPv6 literal, no port.
    if (colon != std::string_view::npos && header.find(':') == colon) {
      out.host = header.substr(0, colon);
      port = header.substr(colon + 1);
    } else {
      out.host = header;
    }
  }
  if (!port.empty()) {
    std::uint32_t value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 0xffff) return {out.host, 0x10000};
      value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    out.port = value;
  }
  return out;
}

}  // namespace

bool carries_own_mark(std::string_view via) {
  // Via: 1.1 proxy-a, 1.0 btrt (comment) -- the second field of an element names the hop.
  while (!via.empty()) {
    auto comma = via.find(',');
    auto element = trim(via.substr(0, comma));
    via = comma == std::string_view::npos ? std::string_view{} : via.substr(comma + 1);
    auto space = element.find(' ');
    if (space == std::string_view::npos) continue;
    auto received_by = trim(element.substr(space + 1));
    received_by = received_by.substr(0, received_by.find(' '));
    if (iequals(received_by, "btrt")) return true;
  }
  return false;
}

bool is_special_destination(const net::IpAddress& address) {
  const auto& ranges = special_ranges();
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const net::Cidr& c) { return c.contains(address); });
}

bool destination_allowed(const net::IpAddress& address, const std::vector<net::Cidr>& allowed) {
  if (std::any_of(allowed.begin(), allowed.end(),
                  [&](const net::Cidr& c) { return c.contains(address); })) {
    return true;
  }
  return !is_special_destination(address);
}

bool names_this_tracker(std::string_view host, const std::vector<std::string>& hostnames,
                        const std::vector<net::Endpoint>& listen) {
  host = trim(host);
  if (host.empty()) return true;
  const HostPort hp = split_host(host);
  if (auto literal = net::IpAddress::parse(hp.host)) {
    const std::uint32_t port = hp.port.value_or(80);
    return std::any_of(listen.begin(), listen.end(), [&](const net::Endpoint& e) {
      return e.port == port && (e.address == *literal || e.address.is_unspecified());
    });
  }
  std::string_view name = hp.host;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "retracker.local."
  return std::any_of(hostnames.begin(), hostnames.end(),
                     [&](const std::string& h) { return iequals(h, name); });
}

std::optional<OriginAnnounce> split_origin_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || !iequals(url.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  auto host_end = url.find_first_of("/?#", kScheme.size());
  if (host_end == kScheme.size()) return std::nullopt;
  // Nothing that could split or end the upstream request line, no fragment.
  if (std::any_of(url.begin(), url.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f || c == '#';
      })) {
    return std::nullopt;
  }
  auto question = url.find('?');
  OriginAnnounce out;
  out.origin = url.substr(0, question);
  if (question != std::string_view::npos) out.query = url.substr(question + 1);
  return out;
}

std::string upstream_url(const OriginAnnounce& origin, const net::IpAddress& subscriber,
                         bool pass_client_ip) {
  std::string url(origin.origin);
  if (url.find('/', std::string_view("http://").size()) == std::string::npos) url += '/';
  if (!pass_client_ip) {
    if (!origin.query.empty()) {
      url += '?';
      url += origin.query;
    }
    return url;
  }
  url += '?';
  bool first = true;
  std::string_view query = origin.query;
  while (!query.empty()) {  // each segment verbatim, whatever its shape
    auto amp = query.find('&');
    auto segment = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto key = segment.substr(0, segment.find('='));
    if (segment.empty() || key == "ip" || key == "ipv4" || key == "ipv6") continue;
    if (!first) url += '&';
    first = false;
    url += segment;
  }
  if (!first) url += '&';
  url += "ip=";
  protocol::percent_encode(subscriber.to_string(), url);
  return url;
}

std::string_view origin_server(std::string_view origin) {
  constexpr std::size_t kSchemeLength = std::string_view("http://").size();
  auto rest = origin.substr(std::min(kSchemeLength, origin.size()));
  return rest.substr(0, rest.find('/'));
}

}  // namespace btrt::forwarding

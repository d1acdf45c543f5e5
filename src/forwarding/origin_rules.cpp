#include "forwarding/origin_rules.hpp"

#include <algorithm>
#include <array>

#include "protocol/percent.hpp"
#include "text/strings.hpp"
#include "text/url.hpp"

namespace btrt::forwarding {

namespace {

const std::vector<net::Cidr>& special_ranges() {
  static const std::vector<net::Cidr> ranges = [] {
    std::vector<net::Cidr> out;
    for (const char* cidr :
         {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
          "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
          "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"}) {
      out.push_back(*net::Cidr::parse(cidr));
    }
    return out;
  }();
  return ranges;
}

}  // namespace

bool carries_own_mark(std::string_view via) {
  // Via: 1.1 proxy-a, 1.0 btrt (comment) -- the second field of an element names the hop.
  while (!via.empty()) {
    auto comma = via.find(',');
    auto element = text::trim(via.substr(0, comma));
    via = comma == std::string_view::npos ? std::string_view{} : via.substr(comma + 1);
    auto space = element.find(' ');
    if (space == std::string_view::npos) continue;
    auto received_by = text::trim(element.substr(space + 1));
    received_by = received_by.substr(0, received_by.find(' '));
    if (text::iequals(received_by, "btrt")) return true;
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
  host = text::trim(host);
  if (host.empty()) return true;
  std::string_view name = host;  // a malformed authority can only be a (foreign) name
  if (const auto hp = text::split_host_port(host)) {
    name = hp->host;
    // Only an address literal can start with a digit or hold a colon; a name such as
    // "retracker.local", the usual Host, skips the parse.
    const bool may_be_literal =
        !name.empty() && (text::is_digit(name.front()) || name.find(':') != std::string_view::npos);
    if (auto literal = may_be_literal ? net::IpAddress::parse(name) : std::nullopt) {
      // "host:" (an empty port) means the default port, as in a URL.
      const auto port = hp->port && !hp->port->empty() ? text::parse_port(*hp->port)
                                                       : std::optional<std::uint16_t>(80);
      if (!port) return false;
      return std::any_of(listen.begin(), listen.end(), [&](const net::Endpoint& e) {
        return e.port == *port && (e.address == *literal || e.address.is_unspecified());
      });
    }
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "retracker.local."
  return std::any_of(hostnames.begin(), hostnames.end(),
                     [&](const std::string& h) { return text::iequals(h, name); });
}

std::optional<OriginAnnounce> split_origin_url(std::string_view url) {
  const auto parts = text::split_url(url);
  if (!parts || !text::iequals(parts->scheme, "http") || parts->authority.empty()) {
    return std::nullopt;
  }
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
  if (const auto parts = text::split_url(url); parts && parts->target.empty()) url += '/';
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
  const auto parts = text::split_url(origin);
  return parts ? parts->authority : std::string_view{};
}

}  // namespace btrt::forwarding

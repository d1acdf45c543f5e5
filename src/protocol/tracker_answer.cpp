#include "protocol/tracker_answer.hpp"

#include <limits>

#include "protocol/bencode.hpp"

namespace btrt::protocol {
namespace {

std::optional<std::uint32_t> as_count(const bencode::Value* v) {
  if (!v || !v->is_int() || v->as_int() < 0) return std::nullopt;
  auto n = v->as_int();
  return static_cast<std::uint32_t>(
      std::min<std::int64_t>(n, std::numeric_limits<std::uint32_t>::max()));
}

std::uint16_t port_at(const std::string& s, std::size_t i) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[i]) << 8) |
                                    static_cast<std::uint8_t>(s[i + 1]));
}

void compact_v4(const std::string& s, std::vector<net::Endpoint>& out) {
  for (std::size_t i = 0; i + 6 <= s.size(); i += 6) {
    std::uint32_t a = 0;
    for (std::size_t b = 0; b < 4; ++b) a = (a << 8) | static_cast<std::uint8_t>(s[i + b]);
    std::uint16_t port = port_at(s, i + 4);
    if (port != 0) out.push_back({net::IpAddress::from_v4(a), port});
  }
}

void compact_v6(const std::string& s, std::vector<net::Endpoint>& out) {
  for (std::size_t i = 0; i + 18 <= s.size(); i += 18) {
    net::IpAddress::Bytes bytes;
    for (std::size_t b = 0; b < 16; ++b) bytes[b] = static_cast<std::uint8_t>(s[i + b]);
    std::uint16_t port = port_at(s, i + 16);
    if (port != 0) out.push_back({net::IpAddress(bytes), port});
  }
}

void dictionary_list(const bencode::List& list, std::vector<net::Endpoint>& out) {
  for (const auto& entry : list) {
    const auto* ip = entry.find("ip");
    const auto* port = entry.find("port");
    if (!ip || !ip->is_string() || !port || !port->is_int()) continue;
    if (port->as_int() <= 0 || port->as_int() > 65535) continue;
    auto address = net::IpAddress::parse(ip->as_string());
    if (!address) continue;  // a host name: btrt hands out addresses only
    out.push_back({*address, static_cast<std::uint16_t>(port->as_int())});
  }
}

}  // namespace

const char* parse_tracker_answer(std::string_view body, TrackerAnswer& out) {
  auto decoded = bencode::decode(body);
  if (std::holds_alternative<bencode::DecodeError>(decoded)) return "not bencoded";
  const auto& root = std::get<bencode::Value>(decoded);
  if (!root.is_dict()) return "not a dictionary";

  if (const auto* failure = root.find("failure reason")) {
    if (!failure->is_string()) return "failure reason is not a string";
    out.failure_reason = failure->as_string();
    return nullptr;
  }
  if (const auto* warning = root.find("warning message"); warning && warning->is_string()) {
    out.warning = warning->as_string();
  }
  out.interval = as_count(root.find("interval"));
  out.min_interval = as_count(root.find("min interval"));
  out.complete = as_count(root.find("complete"));
  out.incomplete = as_count(root.find("incomplete"));

  const auto* peers = root.find("peers");
  const auto* peers6 = root.find("peers6");
  if (!peers && !peers6) return "no peers";
  if (peers) {
    if (peers->is_string()) {
      compact_v4(peers->as_string(), out.peers);
    } else if (peers->is_list()) {
      dictionary_list(peers->as_list(), out.peers);
    } else {
      return "peers is neither a string nor a list";
    }
  }
  if (peers6 && peers6->is_string()) compact_v6(peers6->as_string(), out.peers);
  return nullptr;
}

}  // namespace btrt::protocol

#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/ids.hpp"
#include "net/ip_address.hpp"
#include "protocol/failure_reason.hpp"

namespace btrt::protocol {

enum class Event : std::uint8_t { none, started, completed, stopped, paused };

struct AnnounceRequest {
  core::InfoHash info_hash;
  core::PeerId peer_id;
  std::uint16_t port = 0;
  std::uint64_t uploaded = 0;
  std::uint64_t downloaded = 0;
  std::uint64_t left = 0;
  bool left_present = false;  // a missing `left` counts as a leecher
  Event event = Event::none;
  bool compact = true;
  bool no_peer_id = false;
  std::optional<std::uint32_t> numwant;
  // From ip=, ipv4= or ipv6= (the last valid one); the caller decides whether to trust it.
  std::optional<net::IpAddress> ip;

  bool is_seeder() const { return left_present && left == 0; }
};

// Parses the query string of GET /announce (BEP 3, 7, 23). Returns null on success, or the
// failure reason naming the first bad or missing parameter.
// Unknown parameters are ignored; `key` and `trackerid` are accepted and not used.
FailureReason parse_announce(std::string_view query, AnnounceRequest& out);

}  // namespace btrt::protocol

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/ip_address.hpp"

namespace btrt::protocol {

// What another tracker (a neighbour, or an origin of a forwarded announce) answered.
struct TrackerAnswer {
  std::optional<std::string> failure_reason;
  std::string warning;
  std::optional<std::uint32_t> interval;
  std::optional<std::uint32_t> min_interval;
  std::optional<std::uint32_t> complete;
  std::optional<std::uint32_t> incomplete;
  std::vector<net::Endpoint> peers;  // from `peers` (compact or a list) and `peers6`
};

// Parses an untrusted bencoded announce answer (at most 1 MiB, bounded depth). Returns
// nullptr on success or a short description of what is wrong. Peers that make no sense
// (port 0, unparsable address, a compact string whose length is not a multiple of the
// entry size) are skipped, not fatal: one bad entry must not hide the others.
const char* parse_tracker_answer(std::string_view body, TrackerAnswer& out);

}  // namespace btrt::protocol

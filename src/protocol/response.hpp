#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/selected_peer.hpp"

namespace btrt::protocol {

struct AnnounceAnswer {
  std::uint32_t interval = 0;
  std::uint32_t min_interval = 0;
  std::uint32_t complete = 0;
  std::uint32_t incomplete = 0;
  std::span<const core::SelectedPeer> peers;  // in answer order
  bool compact = true;
  bool no_peer_id = false;
  std::string_view warning;  // "warning message" when not empty
};

// Bencoded announce answer, appended to `out`. Compact: IPv4 peers in `peers` (6 bytes
// each), IPv6 in `peers6` (18 bytes each), both always present. Non-compact: one `peers`
// list of dicts {ip, peer id (unless no_peer_id), port}.
void encode_announce(const AnnounceAnswer& answer, std::string& out);

void encode_failure(std::string_view reason, std::string& out);

struct ScrapeEntry {
  core::InfoHash info_hash;
  std::uint32_t complete = 0;
  std::uint32_t incomplete = 0;
  std::uint32_t downloaded = 0;
};
// d5:filesd<hash>d8:completei..e10:downloadedi..e10:incompletei..eee...e, hashes sorted.
void encode_scrape(std::span<const ScrapeEntry> entries, std::string& out);

}  // namespace btrt::protocol

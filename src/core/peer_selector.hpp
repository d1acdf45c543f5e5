#pragma once

#include <cstdint>
#include <vector>

#include "core/peer.hpp"
#include "core/selected_peer.hpp"

namespace btrt::core {

struct Torrent;
struct SelectOptions;

// Who asks: never handed back to itself, and a seeder gets no seeders.
struct Requester {
  PeerId peer_id;
  net::IpAddress address;
  std::uint16_t port = 0;
  bool seeder = false;
};

// Fills `out` level by level (docs/design.md, "The swarm store"): inside a level the
// announced peers in random order, then the learned ones in random order; the locality
// cutoff checked before each next level, the whole cut at numwant. Costs O(numwant) plus
// a binary search per level, whatever the swarm's size.
void select_peers(const Torrent& torrent, const std::uint8_t (&levels)[256],
                  std::size_t level_count, const Requester& requester, const SelectOptions& options,
                  TimePoint now, std::vector<SelectedPeer>& out);

}  // namespace btrt::core

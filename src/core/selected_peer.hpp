#pragma once

#include <cstdint>

#include "core/ids.hpp"
#include "net/ip_address.hpp"

namespace btrt::core {

// One peer of an announce answer, copied out of the swarm so that encoding needs no lock.
struct SelectedPeer {
  net::IpAddress address;
  std::uint16_t port = 0;
  PeerId peer_id;
};

}  // namespace btrt::core

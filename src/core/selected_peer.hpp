#pragma once

#include <cstdint>

#include "core/ids.hpp"
#include "net/classifier.hpp"
#include "net/ip_address.hpp"

namespace btrt::core {

// One peer of an announce answer, copied out of the swarm so that encoding needs no lock.
struct SelectedPeer {
  net::IpAddress address;
  std::uint16_t port = 0;
  net::GroupId group = 0;  // for the statistics of peers handed out per group
  PeerId peer_id;
};

}  // namespace btrt::core

#pragma once

#include <bitset>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/peer.hpp"
#include "net/classifier.hpp"

namespace btrt::core {
class SwarmStore;
}

namespace btrt::hashlist {

// Which torrents hashlist.bin lists (docs/dpi-integration.md, "Selection"). Pure: no I/O, no clock.

using GroupSet = std::bitset<256>;  // indexed by net::GroupId

// The configured groups among `names`. A name that is no configured group selects nothing:
// the default ["local peers"] is valid even when no group has that name, and the implicit
// `other` is never a "local" group.
GroupSet groups_named(const net::Classifier& classifier, std::span<const std::string> names);

struct Candidate {
  core::InfoHash info_hash;
  std::uint32_t seeders = 0;  // live seeders in the hashlist's groups
};

// The info-hashes whose seeders reach `min_seeders`, ascending bytewise, each once.
// Candidates of one info-hash are summed, so one candidate per stored seeder works as well
// as one per torrent.
std::vector<core::InfoHash> select(std::vector<Candidate> candidates, std::uint32_t min_seeders);

// The file's contents: the 20-byte info-hashes one after another, nothing else.
std::string encode(std::span<const core::InfoHash> hashes);

// Selection from the swarm in memory. Every live seeder counts whatever its source (in
// practice only peers that announced to btrt are known to be seeders: other trackers do
// not say which of their peers are).
std::vector<core::InfoHash> select_from_store(const core::SwarmStore& store,
                                              std::span<const std::string> group_names,
                                              std::uint32_t min_seeders, core::TimePoint now);

}  // namespace btrt::hashlist

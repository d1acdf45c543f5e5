#include "hashlist/selection.hpp"

#include <algorithm>

#include "core/swarm_store.hpp"

namespace btrt::hashlist {

GroupSet groups_named(const net::Classifier& classifier, std::span<const std::string> names) {
  GroupSet groups;
  for (std::size_t g = 0; g < classifier.other(); ++g) {
    const auto& name = classifier.name_of(static_cast<net::GroupId>(g));
    if (std::find(names.begin(), names.end(), name) != names.end()) groups.set(g);
  }
  return groups;
}

std::vector<core::InfoHash> select(std::vector<Candidate> candidates, std::uint32_t min_seeders) {
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.info_hash < b.info_hash; });
  std::vector<core::InfoHash> out;
  for (std::size_t i = 0; i < candidates.size();) {
    std::uint64_t seeders = 0;
    std::size_t j = i;
    for (; j < candidates.size() && candidates[j].info_hash == candidates[i].info_hash; ++j) {
      seeders += candidates[j].seeders;
    }
    if (seeders >= min_seeders) out.push_back(candidates[i].info_hash);
    i = j;
  }
  return out;
}

std::string encode(std::span<const core::InfoHash> hashes) {
  std::string out;
  out.reserve(hashes.size() * 20);
  for (const auto& h : hashes) out.append(h.view());
  return out;
}

std::vector<core::InfoHash> select_from_store(const core::SwarmStore& store,
                                              std::span<const std::string> group_names,
                                              std::uint32_t min_seeders, core::TimePoint now) {
  std::vector<Candidate> candidates;
  store.count_seeders(
      now, [&](const net::Classifier& c) { return groups_named(c, group_names); },
      [&](const core::InfoHash& hash, std::uint32_t seeders) {
        if (seeders >= min_seeders) candidates.push_back({hash, seeders});
      });
  return select(std::move(candidates), min_seeders);
}

}  // namespace btrt::hashlist

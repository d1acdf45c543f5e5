#include "net/classifier.hpp"

#include <algorithm>
#include <stdexcept>

namespace btrt::net {

Classifier::Classifier() : names_{"other"}, levels_{0} {}

Classifier::Classifier(std::vector<GroupSpec> groups) {
  if (groups.size() > kMaxGroups) throw std::invalid_argument("too many peer groups");
  std::vector<std::uint32_t> priorities;
  for (const auto& g : groups) priorities.push_back(g.priority);
  std::sort(priorities.begin(), priorities.end());
  priorities.erase(std::unique(priorities.begin(), priorities.end()), priorities.end());

  for (std::size_t id = 0; id < groups.size(); ++id) {
    auto& g = groups[id];
    names_.push_back(std::move(g.name));
    auto level =
        std::lower_bound(priorities.begin(), priorities.end(), g.priority) - priorities.begin();
    levels_.push_back(static_cast<std::uint8_t>(level));
    for (const auto& prefix : g.prefixes) {
      table_.insert(prefix, static_cast<PrefixTable::Value>(id), g.priority);
    }
  }
  names_.push_back("other");
  levels_.push_back(static_cast<std::uint8_t>(priorities.size()));
  level_count_ = priorities.size() + 1;
}

GroupId Classifier::classify(const IpAddress& address) const {
  auto group = table_.lookup(address);
  return group ? static_cast<GroupId>(*group) : other();
}

}  // namespace btrt::net

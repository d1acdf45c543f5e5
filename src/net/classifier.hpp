#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/cidr.hpp"
#include "net/prefix_table.hpp"

namespace btrt::net {

// Index of a peer group in configuration order; the implicit group `other` is the last.
using GroupId = std::uint8_t;
inline constexpr std::size_t kMaxGroups = 254;  // `other` takes one more id

struct GroupSpec {
  std::string name;
  std::uint32_t priority = 0;
  std::vector<Cidr> prefixes;
};

// Maps an address to its peer group (longest prefix; on a tie the lower priority) and a
// group to its level: groups of one priority share a level, `other` is the last level.
class Classifier {
 public:
  Classifier();  // no groups: everything is `other`
  explicit Classifier(std::vector<GroupSpec> groups);

  GroupId classify(const IpAddress& address) const;
  std::uint8_t level_of(GroupId group) const { return levels_[group]; }
  std::size_t level_count() const { return level_count_; }
  std::size_t group_count() const { return names_.size(); }  // including `other`
  GroupId other() const { return static_cast<GroupId>(names_.size() - 1); }
  const std::string& name_of(GroupId group) const { return names_[group]; }
  std::size_t prefix_count() const { return table_.size(); }

 private:
  PrefixTable table_;
  std::vector<std::string> names_;
  std::vector<std::uint8_t> levels_;
  std::size_t level_count_ = 1;
};

}  // namespace btrt::net

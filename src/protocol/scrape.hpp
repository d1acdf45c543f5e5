#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/ids.hpp"

namespace btrt::protocol {

// Collects every info_hash parameter of a scrape query (duplicates kept once, in order).
// Returns nullptr on success (possibly with no hashes), or a failure reason when a hash is
// not 20 bytes, is badly encoded, or there are more than max_hashes.
const char* parse_scrape(std::string_view query, std::size_t max_hashes,
                         std::vector<core::InfoHash>& out);

}  // namespace btrt::protocol

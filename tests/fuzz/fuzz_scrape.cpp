// Parses arbitrary bytes as a scrape query; on success the hashes are unique and within the
// limit, which the first byte chooses.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "protocol/scrape.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max_hashes = data[0] % 16;
  std::string_view query(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<btrt::core::InfoHash> hashes;
  const char* err = btrt::protocol::parse_scrape(query, max_hashes, hashes);
  if (err != nullptr) {
    if (*err == '\0' || !hashes.empty()) std::abort();
    return 0;
  }
  if (hashes.size() > max_hashes) std::abort();
  auto sorted = hashes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) std::abort();
  return 0;
}

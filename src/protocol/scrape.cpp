#include "protocol/scrape.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "protocol/percent.hpp"

namespace btrt::protocol {

const char* parse_scrape(std::string_view query, std::size_t max_hashes,
                         std::vector<core::InfoHash>& out) {
  out.clear();
  const char* error = nullptr;
  for_each_param(query, [&](std::string_view key, std::string_view value) {
    if (error) return;
    std::array<std::uint8_t, 16> key_buf;
    if (percent_escaped(key)) {
      auto n = percent_decode_to(key, key_buf);
      if (n < 0) return;  // not a key we know
      key = {reinterpret_cast<const char*>(key_buf.data()), static_cast<std::size_t>(n)};
    }
    if (key != "info_hash") return;
    core::InfoHash hash;
    const auto n = percent_decode_into(value, hash.bytes);
    if (n < 0) {
      error = "malformed percent-encoding in info_hash";
      return;
    }
    if (n != 20) {
      error = "invalid info_hash: must be 20 bytes";
      return;
    }
    if (std::find(out.begin(), out.end(), hash) != out.end()) return;
    if (out.size() >= max_hashes) {
      error = "too many info_hash parameters";
      return;
    }
    out.push_back(hash);
  });
  if (error) out.clear();
  return error;
}

}  // namespace btrt::protocol

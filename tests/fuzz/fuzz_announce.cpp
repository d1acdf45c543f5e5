// Parses arbitrary bytes as an announce query and checks what a success promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "protocol/announce.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view query(reinterpret_cast<const char*>(data), size);
  btrt::protocol::AnnounceRequest req;
  const char* err = btrt::protocol::parse_announce(query, req);
  if (err != nullptr) {
    if (std::strlen(err) == 0) std::abort();
    return 0;
  }
  if (req.port == 0) std::abort();
  if (query.find("info_hash") == std::string_view::npos &&
      query.find('%') == std::string_view::npos) {
    std::abort();  // a required parameter cannot come from nowhere
  }
  if (req.is_seeder() && !req.left_present) std::abort();
  if (req.ip) (void)req.ip->to_string();
  return 0;
}

// Upstream and neighbour answers are untrusted: parse anything without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/tracker_answer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  btrt::protocol::TrackerAnswer answer;
  btrt::protocol::parse_tracker_answer({reinterpret_cast<const char*>(data), size}, answer);
  for (const auto& peer : answer.peers) {
    if (peer.port == 0) __builtin_trap();
  }
  return 0;
}

// An origin's answer as btrt handles it (parse, bound, filter, cap): whatever the origin
// sends, what reaches the store and the subscriber stays within the limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "forwarding/origin_answer.hpp"

using btrt::forwarding::AnswerLimits;
using btrt::forwarding::kMaxOriginInterval;
using btrt::forwarding::OriginAnswer;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first 8 bytes choose the limits and the subscriber (10.0.0.x or ::ffff:x), the rest
  // is the body.
  if (size < 8) return 0;
  AnswerLimits limits;
  limits.default_interval = btrt::core::Duration{1u + (data[0] << 8 | data[1])};
  limits.min_interval =
      btrt::core::Duration{static_cast<std::uint32_t>(data[2] << 16 | data[3] << 8 | data[4])};
  limits.max_peers = data[5];
  const auto subscriber = btrt::net::IpAddress::from_v4(0x0A000000u | data[6]);
  const std::string_view body(reinterpret_cast<const char*>(data) + 8, size - 8);

  OriginAnswer answer;
  if (btrt::forwarding::read_origin_answer(body, subscriber, limits, answer) != nullptr) return 0;
  if (answer.failure_reason) {
    if (!answer.peers.empty()) __builtin_trap();
    return 0;
  }
  const auto& info = answer.info;
  if (info.interval == btrt::core::Duration::zero() || info.interval > kMaxOriginInterval)
    __builtin_trap();
  if (info.interval < limits.min_interval && limits.min_interval <= kMaxOriginInterval) {
    __builtin_trap();
  }
  if (info.min_interval > info.interval) __builtin_trap();
  if (answer.peers.size() > limits.max_peers) __builtin_trap();
  for (const auto& peer : answer.peers) {
    if (!btrt::forwarding::usable_peer(peer, subscriber, limits.allowed)) __builtin_trap();
    if (peer.port == 0 || peer.address == subscriber) __builtin_trap();
    if (peer.address.is_v4()) {
      const std::uint32_t first = peer.address.v4() >> 24;
      if (first == 0 || first == 127 || first >= 224) {
        // 240/4 is usable except its last address; multicast and loopback never.
        if (first < 240 || peer.address.v4() == 0xFFFFFFFFu) __builtin_trap();
      }
    } else if (peer.address.is_loopback() || peer.address.is_unspecified() ||
               peer.address.bytes()[0] == 0xFF) {
      __builtin_trap();
    }
  }
  return 0;
}

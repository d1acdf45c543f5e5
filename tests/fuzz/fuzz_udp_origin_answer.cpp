// A BEP 15 origin's datagram as btrt handles it (the answer to its connect, announce or
// scrape; parse, bound, filter, cap): whatever the origin sends, what reaches the store and
// the subscriber stays within the limits.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "forwarding/origin_answer.hpp"
#include "protocol/udp.hpp"

using btrt::forwarding::AnswerLimits;
using btrt::forwarding::kMaxOriginInterval;
using btrt::forwarding::OriginAnswer;
namespace wire = btrt::protocol::udp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first 8 bytes choose the limits, the family and the subscriber; the rest is the
  // datagram.
  if (size < 8) return 0;
  AnswerLimits limits;
  limits.default_interval = btrt::core::Duration{1u + (data[0] << 8 | data[1])};
  limits.min_interval =
      btrt::core::Duration{static_cast<std::uint32_t>(data[2] << 16 | data[3] << 8 | data[4])};
  limits.max_peers = data[5];
  const bool v6 = (data[7] & 1) != 0;
  const auto subscriber = btrt::net::IpAddress::from_v4(0x0A000000u | data[6]);
  const std::span<const std::uint8_t> datagram(data + 8, size - 8);

  (void)wire::read_connect_answer(datagram);
  std::array<wire::ScrapeEntry, wire::kMaxScrapeHashes> entries;
  if (wire::parse_scrape_answer(datagram, entries) > entries.size()) __builtin_trap();

  OriginAnswer answer;
  if (btrt::forwarding::read_udp_origin_answer(datagram, v6, subscriber, limits, answer)) {
    return 0;
  }
  if (answer.failure_reason) {
    if (!answer.peers.empty() || answer.failure_reason->size() > 1024) __builtin_trap();
    return 0;
  }
  const auto& info = answer.info;
  if (info.interval == btrt::core::Duration::zero() || info.interval > kMaxOriginInterval)
    __builtin_trap();
  if (info.interval < limits.min_interval && limits.min_interval <= kMaxOriginInterval) {
    __builtin_trap();
  }
  if (answer.peers.size() > limits.max_peers) __builtin_trap();
  for (const auto& peer : answer.peers) {
    if (!btrt::forwarding::usable_peer(peer, subscriber, limits.allowed)) __builtin_trap();
    // 6-byte entries are IPv4 (18-byte ones may be IPv4-mapped, which count as IPv4).
    if (!v6 && !peer.address.is_v4()) __builtin_trap();
  }
  return 0;
}

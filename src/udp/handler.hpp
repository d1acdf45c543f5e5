#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/selected_peer.hpp"
#include "net/ip_address.hpp"
#include "protocol/udp.hpp"
#include "tracker/tracker.hpp"

namespace btrt::udp {

// Bytes an answer may need: an announce's header and its peers (capped to fit), a scrape of
// 74 hashes, an error.
constexpr std::size_t kMaxAnswer = 1500;

// One BEP 15 request in, its answer (or none) out; no sockets, so that tests and the fuzzer
// drive it directly. A source gets an answer only once it has proven it receives at its address:
// a connect is answered (same size as the request, no amplification), anything else only with
// a connection ID this tracker gave that address. Thread-safe; each thread uses its own scratch.
class Handler {
 public:
  // The connection IDs' key comes from the kernel's random source.
  explicit Handler(tracker::Tracker& tracker);
  Handler(tracker::Tracker& tracker, const protocol::udp::ConnectionIds::Key& key);

  // Returns the answer's size in `out` (kMaxAnswer bytes), 0 for no answer.
  std::size_t handle(std::span<const std::uint8_t> packet, const net::IpAddress& source,
                     std::uint16_t port, std::span<std::uint8_t> out);

  // handle()'s first step, shared with the interception proxy: parses `in` into `packet`,
  // answers a connect into `out` and returns its size, or returns 0 for a packet dropped
  // (counted), or kAdmitted for an announce or a scrape with a connection ID this tracker gave
  // the source.
  static constexpr std::size_t kAdmitted = static_cast<std::size_t>(-1);
  std::size_t admit(std::span<const std::uint8_t> in, const net::IpAddress& source,
                    std::uint16_t port, core::TimePoint now, protocol::udp::Packet& packet,
                    std::span<std::uint8_t> out);
  // A scrape answered from btrt's own counts.
  std::size_t scrape(const protocol::udp::Packet& packet, std::span<std::uint8_t> out);

  // The tracker's clock.
  core::TimePoint now() const { return tracker_.now(); }

  // One-minute slots of the tracker's clock.
  static constexpr core::Duration kSlot{60};

 private:
  std::size_t announce(const protocol::udp::Packet& packet, const net::IpAddress& source,
                       core::TimePoint now, std::span<std::uint8_t> out);

  tracker::Tracker& tracker_;
  const protocol::udp::ConnectionIds ids_;
};

}  // namespace btrt::udp

#include "forwarding/origin_answer.hpp"

#include <algorithm>

#include "protocol/tracker_answer.hpp"

namespace btrt::forwarding {

namespace {

bool nobody(const net::IpAddress& a) {
  if (a.is_v4()) {
    const std::uint32_t v4 = a.v4();
    const std::uint32_t first = v4 >> 24;
    return first == 0 || first == 127 || (first & 0xF0) == 0xE0 || v4 == 0xFFFFFFFFu;
  }
  return a.is_unspecified() || a.is_loopback() || a.bytes()[0] == 0xFF;
}

}  // namespace

bool usable_peer(const net::Endpoint& peer, const net::IpAddress& subscriber,
                 std::span<const net::Cidr> allowed) {
  if (peer.port == 0 || peer.address == subscriber) return false;
  if (!nobody(peer.address)) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const net::Cidr& c) { return c.contains(peer.address); });
}

const char* read_origin_answer(std::string_view body, const net::IpAddress& subscriber,
                               const AnswerLimits& limits, OriginAnswer& out) {
  protocol::TrackerAnswer answer;
  if (const char* bad = protocol::parse_tracker_answer(body, answer)) return bad;
  if (answer.failure_reason) {
    out.failure_reason = std::move(answer.failure_reason);
    return nullptr;
  }
  out.warning = std::move(answer.warning);

  // An interval of 2^31 would wrap the peers' lifetime (twice the interval) to nothing, and
  // 10^9 would keep them for decades.
  const std::uint32_t floor = std::min(limits.min_interval, kMaxOriginInterval);
  std::uint32_t interval = answer.interval.value_or(0);
  if (interval == 0) interval = limits.default_interval;
  out.info.interval = std::clamp(interval, std::max(floor, 1u), kMaxOriginInterval);
  out.info.min_interval = std::min(answer.min_interval.value_or(0), out.info.interval);
  out.info.complete = answer.complete.value_or(0);
  out.info.incomplete = answer.incomplete.value_or(0);

  out.peers.clear();
  for (const auto& peer : answer.peers) {
    if (!usable_peer(peer, subscriber, limits.allowed)) {
      ++out.unusable;
    } else if (out.peers.size() < limits.max_peers) {
      out.peers.push_back(peer);
    }
  }
  return nullptr;
}

}  // namespace btrt::forwarding

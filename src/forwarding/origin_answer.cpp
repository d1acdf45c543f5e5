#include "forwarding/origin_answer.hpp"

#include <algorithm>

#include "protocol/tracker_answer.hpp"
#include "protocol/udp.hpp"

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

AnswerFigures with_origin(AnswerFigures own, const OriginInfo* origin) {
  if (!origin) return own;
  AnswerFigures out;
  out.interval = std::max(origin->interval, own.min_interval);
  out.min_interval = std::min(std::max(origin->min_interval, own.min_interval), out.interval);
  out.complete = std::max(own.complete, origin->complete);
  out.incomplete = std::max(own.incomplete, origin->incomplete);
  return out;
}

bool usable_peer(const net::Endpoint& peer, const net::IpAddress& subscriber,
                 std::span<const net::Cidr> allowed) {
  if (peer.port == 0 || peer.address == subscriber) return false;
  if (!nobody(peer.address)) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const net::Cidr& c) { return c.contains(peer.address); });
}

namespace {

// The limits applied to an answer parsed from either protocol.
void judge(protocol::TrackerAnswer& answer, const net::IpAddress& subscriber,
           const AnswerLimits& limits, OriginAnswer& out) {
  if (answer.failure_reason) {
    out.failure_reason = std::move(answer.failure_reason);
    return;
  }
  out.warning = std::move(answer.warning);

  // An interval of 2^31 would wrap the peers' lifetime (twice the interval) to nothing, and
  // 10^9 would keep them for decades.
  const core::Duration floor = std::min(limits.min_interval, kMaxOriginInterval);
  core::Duration interval{answer.interval.value_or(0)};
  if (interval == core::Duration::zero()) interval = limits.default_interval;
  out.info.interval = std::clamp(interval, std::max(floor, core::Duration{1}), kMaxOriginInterval);
  out.info.min_interval =
      std::min(core::Duration{answer.min_interval.value_or(0)}, out.info.interval);
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
}

}  // namespace

const char* read_origin_answer(std::string_view body, const net::IpAddress& subscriber,
                               const AnswerLimits& limits, OriginAnswer& out) {
  protocol::TrackerAnswer answer;
  if (const char* bad = protocol::parse_tracker_answer(body, answer)) return bad;
  judge(answer, subscriber, limits, out);
  return nullptr;
}

const char* read_udp_origin_answer(std::span<const std::uint8_t> datagram, bool v6,
                                   const net::IpAddress& subscriber, const AnswerLimits& limits,
                                   OriginAnswer& out) {
  protocol::TrackerAnswer answer;
  if (const char* bad = protocol::udp::parse_announce_answer(datagram, v6, answer)) return bad;
  judge(answer, subscriber, limits, out);
  return nullptr;
}

}  // namespace btrt::forwarding

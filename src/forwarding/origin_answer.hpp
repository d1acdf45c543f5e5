#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "net/cidr.hpp"
#include "net/ip_address.hpp"

namespace btrt::forwarding {

// What an origin last said about a torrent, besides its peers (those live in the store).
// Shared by every subscriber of the torrent, so nothing addressed to one subscriber (a
// failure reason, a warning) belongs here.
struct OriginInfo {
  core::Duration interval{};  // the origin's own, bounded; never 0 once stored
  core::Duration min_interval{};
  std::uint32_t complete = 0;
  std::uint32_t incomplete = 0;
};

// What a subscriber is told when btrt answers for an origin, from either protocol: the
// origin's pace, never faster than btrt's own (tracker.min_interval), and the larger counts,
// since each side may know peers the other does not.
struct AnswerFigures {
  core::Duration interval{};
  core::Duration min_interval{};
  std::uint32_t complete = 0;
  std::uint32_t incomplete = 0;
};
AnswerFigures with_origin(AnswerFigures own, const OriginInfo* origin);

// Longest origin interval honoured (a day): it also decides how long the origin's peers and
// its cached answer are kept (twice the interval).
inline constexpr core::Duration kMaxOriginInterval{86400};

struct AnswerLimits {
  core::Duration default_interval{1800};  // when the origin sends none (tracker.announce_interval)
  core::Duration min_interval{900};       // tracker.min_interval
  std::uint32_t max_peers = 200;          // tracker.numwant_max: peers taken from one answer
  std::span<const net::Cidr> allowed;     // forwarding.allowed_destinations (see usable_peer)
};

// An origin's answer once judged: the shared part, what is for the asking subscriber only,
// and the peers worth storing.
struct OriginAnswer {
  std::optional<std::string> failure_reason;  // for the subscriber whose query was sent
  std::string warning;                        // likewise
  OriginInfo info;
  std::vector<net::Endpoint> peers;  // usable ones, at most limits.max_peers, in answer order
  std::size_t unusable = 0;          // listed but dropped (see usable_peer)
};

// Whether a peer an origin lists may be handed out: not port 0, not the asking subscriber's
// own address, and not unspecified (0.0.0.0/8, ::), loopback, multicast or the IPv4
// broadcast address unless the operator listed it in `allowed` (an origin on btrt's own
// host, a test bed on loopback). Private, documentation and benchmark ranges stay usable:
// subscribers and test networks live there.
bool usable_peer(const net::Endpoint& peer, const net::IpAddress& subscriber,
                 std::span<const net::Cidr> allowed = {});

// Parses an untrusted origin answer (the body as received, at most 1 MiB) and applies the
// limits: interval bounded to [min_interval, kMaxOriginInterval], min interval to
// [0, interval], unusable peers dropped, the rest cut at max_peers. Returns nullptr on
// success or a short description of what is wrong with the answer.
const char* read_origin_answer(std::string_view body, const net::IpAddress& subscriber,
                               const AnswerLimits& limits, OriginAnswer& out);
// The same for a BEP 15 origin's datagram (an announce answer or an error): `v6` when the
// origin was asked over IPv6 (its peers are then 18-byte entries).
const char* read_udp_origin_answer(std::span<const std::uint8_t> datagram, bool v6,
                                   const net::IpAddress& subscriber, const AnswerLimits& limits,
                                   OriginAnswer& out);

}  // namespace btrt::forwarding

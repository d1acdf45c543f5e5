#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "net/classifier.hpp"
#include "net/ip_address.hpp"

namespace btrt::core {

// How btrt learned of a peer: it announced here (local), an origin's answer listed it
// (external), or a neighbour did (one value per neighbour). Six bits in the peer record.
class Source {
 public:
  static const Source local;
  static const Source external;
  static constexpr std::uint8_t kCount = 64;  // values that fit the record's six bits
  static constexpr std::uint8_t kNeighbors = kCount - 2;
  static constexpr Source neighbor(std::uint8_t index) {
    return Source(static_cast<std::uint8_t>(2 + index));
  }
  // The stored number (database rows, census index): the inverse of value().
  static constexpr Source from_value(std::uint8_t value) { return Source(value); }
  constexpr std::uint8_t value() const { return value_; }
  constexpr Source() = default;
  friend constexpr auto operator<=>(Source, Source) = default;

 private:
  explicit constexpr Source(std::uint8_t value) : value_(value) {}
  std::uint8_t value_ = 0;
};
inline constexpr Source Source::local{0};
inline constexpr Source Source::external{1};

// One peer as stored: address, port, group (computed once, when stored), flags, expiry and
// peer id. 32 bytes for IPv4, 44 for IPv6; no heap node per peer.
template <typename Address>
struct PeerRecord {
  static constexpr std::uint8_t kSeeder = 1;
  static constexpr std::uint8_t kCompleted = 2;  // `downloaded` already counted for this peer

  Address address;
  std::uint16_t port;
  net::GroupId group;
  std::uint8_t flags;  // kSeeder | kCompleted | source << 2
  TimePoint expires_at;
  PeerId peer_id;

  bool seeder() const { return flags & kSeeder; }
  Source source() const { return Source::from_value(static_cast<std::uint8_t>(flags >> 2)); }
  void set_source(Source source) {
    flags = static_cast<std::uint8_t>((flags & 3) | (source.value() << 2));
  }
};

// Which peer of which torrent: the identity that the store's change log, the write-behind and
// the database key a peer by (the same client on another port is another key).
struct PeerKey {
  InfoHash info_hash;
  net::IpAddress address;
  std::uint16_t port = 0;

  friend bool operator==(const PeerKey&, const PeerKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const PeerKey& k) {
    return H::combine(std::move(h), k.info_hash, k.address, k.port);
  }
};

using Ipv6Bytes = std::array<std::uint8_t, 16>;
using PeerV4 = PeerRecord<std::uint32_t>;
using PeerV6 = PeerRecord<Ipv6Bytes>;
static_assert(sizeof(PeerV4) == 32);
static_assert(sizeof(PeerV6) == 44);

inline net::IpAddress to_ip(std::uint32_t v4) {
  return net::IpAddress::from_v4(v4);
}
inline net::IpAddress to_ip(const Ipv6Bytes& v6) {
  return net::IpAddress(v6);
}

}  // namespace btrt::core

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/selected_peer.hpp"
#include "net/ip_address.hpp"
#include "protocol/announce.hpp"
#include "protocol/tracker_answer.hpp"

// BEP 15 (UDP tracker protocol) and BEP 41 (its URL data option): packets in, answers out,
// into buffers the caller owns. No I/O, no clock, nothing allocated.
namespace btrt::protocol::udp {

constexpr std::uint64_t kProtocolId = 0x41727101980;
constexpr std::size_t kConnectSize = 16;
constexpr std::size_t kAnnounceSize = 98;  // BEP 41 options may follow
constexpr std::size_t kScrapeHeaderSize = 16;
constexpr std::size_t kMaxScrapeHashes = 74;
// Larger requests are not BEP 15's (the largest is a scrape of 74 hashes): dropped unread.
constexpr std::size_t kMaxPacket = kScrapeHeaderSize + 20 * kMaxScrapeHashes;

enum class Action : std::uint32_t { connect = 0, announce = 1, scrape = 2, error = 3 };

// Why a packet gets no answer; each is counted.
enum class Drop : std::uint8_t {
  none,
  too_short,       // shorter than a connect
  oversized,       // longer than kMaxPacket
  wrong_length,    // a connect or scrape whose length does not fit its action
  protocol_id,     // a connect without BEP 15's magic number
  unknown_action,  // not connect, announce or scrape
  bad_options,     // BEP 41 options running past the packet's end
  connection_id,   // not one this tracker gave the source (or no longer accepted)
  kCount
};
std::string_view drop_name(Drop drop);

struct Packet {
  std::uint64_t connection_id = 0;  // the protocol id for a connect
  Action action = Action::connect;
  std::uint32_t transaction_id = 0;

  // announce
  AnnounceRequest announce;  // numwant absent for a negative num_want; ip for a non-zero field
  std::uint32_t key = 0;
  // BEP 41 URL data (path and query of the announce URL), the options concatenated. Points into
  // the packet when one option carries it all, else into url_storage.
  std::string_view url_data;
  std::array<char, kMaxPacket> url_storage;

  // scrape: `hash_count` info-hashes of 20 bytes, in the packet
  const std::uint8_t* hashes = nullptr;
  std::size_t hash_count = 0;
  core::InfoHash hash(std::size_t i) const;
};

// Reads one datagram. The connection id is not checked here (ConnectionIds).
Drop parse(std::span<const std::uint8_t> in, Packet& out);

// Answers; each returns the bytes written. `out` must hold kMaxAnswer bytes for an announce
// with peers capped by max_peers(), 8 + 12 * hashes for a scrape, 16 for a connect.
constexpr std::size_t kAnswerHeaderSize = 20;
std::size_t encode_connect(std::uint32_t transaction_id, std::uint64_t connection_id,
                           std::span<std::uint8_t> out);
struct AnnounceAnswer {
  std::uint32_t transaction_id = 0;
  std::uint32_t interval = 0;
  std::uint32_t leechers = 0;
  std::uint32_t seeders = 0;
  bool v6 = false;  // 18-byte peers (IPv6 only) instead of 6-byte (IPv4 only)
  std::span<const core::SelectedPeer> peers;
};
// Peers of the other family are left out; as many as fit in `out`.
std::size_t encode_announce(const AnnounceAnswer& answer, std::span<std::uint8_t> out);
struct ScrapeEntry {
  std::uint32_t seeders = 0, completed = 0, leechers = 0;
};
std::size_t encode_scrape(std::uint32_t transaction_id, std::span<const ScrapeEntry> entries,
                          std::span<std::uint8_t> out);
std::size_t encode_error(std::uint32_t transaction_id, std::string_view message,
                         std::span<std::uint8_t> out);

// Stateless connection IDs: a keyed hash (SipHash-2-4) of the source address and port and a
// time slot. An ID is accepted in its own slot and the next `kSlotsAccepted - 1` ones, so with
// one-minute slots it lives between two and three minutes; no table per client. The ID's two
// low bits carry the slot's, so that checking one costs one hash whatever its age.
class ConnectionIds {
 public:
  static constexpr std::uint32_t kSlotsAccepted = 3;
  static constexpr std::uint64_t kSlotBits = 3;  // kSlotsAccepted must fit
  static_assert(kSlotsAccepted <= kSlotBits + 1);
  using Key = std::array<std::uint64_t, 2>;

  explicit ConnectionIds(const Key& key) : key_(key) {}
  std::uint64_t issue(const net::IpAddress& address, std::uint16_t port, std::uint64_t slot) const;
  bool accepts(std::uint64_t id, const net::IpAddress& address, std::uint16_t port,
               std::uint64_t slot) const;

 private:
  Key key_;
};

std::uint64_t siphash24(const ConnectionIds::Key& key, std::span<const std::uint8_t> data);

// The other side: btrt asking an origin over BEP 15 for an intercepted announce. The requests
// are the subscriber's own packets, readdressed; the origin's answers are untrusted input.

// A connect request (16 bytes) into `out`.
std::size_t encode_connect_request(std::uint32_t transaction_id, std::span<std::uint8_t> out);
// Puts the origin's connection ID and btrt's transaction ID into an announce `packet` (at
// least kAnnounceSize bytes), the rest unchanged: the subscriber's key, peer id, event and
// BEP 41 URL data reach the origin as sent.
void readdress(std::span<std::uint8_t> packet, std::uint64_t connection_id,
               std::uint32_t transaction_id);
// Sets the announce's `ip` field (IPv4 only; BEP 15 has no room for an IPv6 one).
void set_announce_ip(std::span<std::uint8_t> packet, std::uint32_t v4);

struct AnswerHead {
  std::uint32_t action = 0;  // not necessarily a known Action
  std::uint32_t transaction_id = 0;
};
// The head of an origin's datagram; false when it is shorter than 8 bytes.
bool read_answer_head(std::span<const std::uint8_t> in, AnswerHead& out);
// The connection ID of a connect answer (16 bytes or more, action connect).
std::optional<std::uint64_t> read_connect_answer(std::span<const std::uint8_t> in);
// An origin's answer to an announce, as a tracker answer: an error (action 3) becomes its
// failure reason (the message, cut at 1 KiB, invalid bytes kept); an announce answer its
// interval, counts (seeders: complete, leechers: incomplete) and peers, 18-byte entries when
// `v6`, else 6-byte (a trailing partial entry is ignored, port 0 skipped). Returns nullptr or
// what is wrong (too short, another action).
const char* parse_announce_answer(std::span<const std::uint8_t> in, bool v6, TrackerAnswer& out);
// An origin's scrape answer: up to `out.size()` entries; returns how many it holds, 0 for an
// error or anything else.
std::size_t parse_scrape_answer(std::span<const std::uint8_t> in, std::span<ScrapeEntry> out);

}  // namespace btrt::protocol::udp

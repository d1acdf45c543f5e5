#include "udp/handler.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "metrics/counters.hpp"

namespace btrt::udp {

namespace {

using metrics::Counters;
namespace wire = protocol::udp;

wire::ConnectionIds::Key random_key() {
  wire::ConnectionIds::Key key{};
  auto* bytes = reinterpret_cast<char*>(key.data());
  std::size_t got = 0;
  while (got < sizeof key) {
    const ssize_t n = ::getrandom(bytes + got, sizeof key - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed: no key for UDP connection IDs");
    }
    got += static_cast<std::size_t>(n);
  }
  return key;
}

void count_drop(wire::Drop drop) {
  Counters::global().add(
      static_cast<Counters::Id>(Counters::udp_drop_too_short + static_cast<std::size_t>(drop) - 1));
}

constexpr std::string_view kTooManyHashes = "too many info_hash (tracker.max_scrape_hashes)";

}  // namespace

static_assert(static_cast<std::size_t>(wire::Drop::kCount) - 1 ==
                  Counters::udp_drop_connection_id - Counters::udp_drop_too_short + 1,
              "one counter per drop reason");

Handler::Handler(tracker::Tracker& tracker) : Handler(tracker, random_key()) {}

Handler::Handler(tracker::Tracker& tracker, const wire::ConnectionIds::Key& key)
    : tracker_(tracker), ids_(key) {}

std::size_t Handler::handle(std::span<const std::uint8_t> in, const net::IpAddress& source,
                            std::uint16_t port, std::span<std::uint8_t> out) {
  thread_local wire::Packet packet;
  const core::TimePoint now = tracker_.now();
  if (const std::size_t size = admit(in, source, port, now, packet, out); size != kAdmitted) {
    return size;
  }
  if (packet.action == wire::Action::announce) return announce(packet, source, now, out);
  return scrape(packet, out);
}

std::size_t Handler::admit(std::span<const std::uint8_t> in, const net::IpAddress& source,
                           std::uint16_t port, core::TimePoint now, wire::Packet& packet,
                           std::span<std::uint8_t> out) {
  if (const auto drop = wire::parse(in, packet); drop != wire::Drop::none) {
    count_drop(drop);
    return 0;
  }
  const std::uint64_t slot = now.time_since_epoch() / kSlot;
  auto& counters = Counters::global();
  if (packet.action == wire::Action::connect) {
    counters.add(Counters::udp_connects);
    return wire::encode_connect(packet.transaction_id, ids_.issue(source, port, slot), out);
  }
  if (!ids_.accepts(packet.connection_id, source, port, slot)) {
    count_drop(wire::Drop::connection_id);
    return 0;
  }
  return kAdmitted;
}

std::size_t Handler::announce(const wire::Packet& packet, const net::IpAddress& source,
                              core::TimePoint now, std::span<std::uint8_t> out) {
  auto& counters = Counters::global();
  counters.add(Counters::udp_announces);
  const auto& parsed = packet.announce;
  // A proxy in server.trusted_sources speaks for the subscriber.
  const bool claimed = parsed.ip && tracker_.trusted(source);
  tracker::Announce request;
  request.peer = tracker::peer_of(parsed, claimed ? *parsed.ip : source);
  request.numwant = parsed.numwant;
  request.now = now;
  const bool v6 = !request.peer.address.is_v4();
  request.family = v6 ? core::SelectOptions::Family::v6 : core::SelectOptions::Family::v4;

  thread_local std::vector<core::SelectedPeer> peers;
  peers.clear();
  const auto result = tracker_.announce(request, peers);
  if (result.tracker_full) {
    counters.add(Counters::udp_announce_torrent_limit);
    return wire::encode_error(packet.transaction_id, tracker::kTrackerFull, out);
  }
  wire::AnnounceAnswer answer;
  answer.transaction_id = packet.transaction_id;
  answer.interval = result.interval.count();
  answer.leechers = result.counts.incomplete;
  answer.seeders = result.counts.complete;
  answer.v6 = v6;
  answer.peers = peers;
  const std::size_t size = wire::encode_announce(answer, out);
  const std::size_t sent = (size - wire::kAnswerHeaderSize) / (v6 ? 18 : 6);
  // Peers come ranked, so groups come in runs: one counter update per run, not per peer.
  const std::size_t counted = std::min(sent, peers.size());
  for (std::size_t i = 0; i < counted;) {
    std::size_t run = i + 1;
    while (run < counted && peers[run].group == peers[i].group) ++run;
    counters.returned(peers[i].group, run - i);
    i = run;
  }
  return size;
}

std::size_t Handler::scrape(const wire::Packet& packet, std::span<std::uint8_t> out) {
  auto& counters = Counters::global();
  counters.add(Counters::udp_scrapes);
  if (packet.hash_count > tracker_.max_scrape_hashes()) {
    counters.add(Counters::udp_scrape_bad_request);
    return wire::encode_error(packet.transaction_id, kTooManyHashes, out);
  }
  std::array<wire::ScrapeEntry, wire::kMaxScrapeHashes> entries;
  for (std::size_t i = 0; i < packet.hash_count; ++i) {
    const auto c = tracker_.counts(packet.hash(i));
    entries[i] = {c.complete, c.downloaded, c.incomplete};
  }
  return wire::encode_scrape(packet.transaction_id, {entries.data(), packet.hash_count}, out);
}

}  // namespace btrt::udp

#include "udp/interceptor.hpp"

#include <array>
#include <optional>
#include <string>

#include "forwarding/origin_answer.hpp"
#include "forwarding/origin_rules.hpp"
#include "metrics/counters.hpp"

namespace btrt::udp {

namespace {

using metrics::Counters;
namespace wire = protocol::udp;

bool is_event(protocol::Event e) {
  return e == protocol::Event::started || e == protocol::Event::completed ||
         e == protocol::Event::stopped;
}

// The ranked answer, with the origin's figures when btrt has them.
std::size_t encode(std::uint32_t transaction_id, const tracker::Tracker& tracker,
                   const core::SwarmCounts& counts, std::span<const core::SelectedPeer> peers,
                   const forwarding::OriginInfo* origin, bool v6, std::span<std::uint8_t> out) {
  const auto figures = forwarding::with_origin(
      {tracker.interval(), tracker.min_interval(), counts.complete, counts.incomplete}, origin);
  wire::AnnounceAnswer answer;
  answer.transaction_id = transaction_id;
  answer.interval = figures.interval.count();
  answer.leechers = figures.incomplete;
  answer.seeders = figures.complete;
  answer.v6 = v6;
  answer.peers = peers;
  const std::size_t size = wire::encode_announce(answer, out);
  const std::size_t sent = (size - wire::kAnswerHeaderSize) / (v6 ? 18 : 6);
  auto& counters = Counters::global();
  for (std::size_t i = 0; i < sent && i < peers.size(); ++i) counters.returned(peers[i].group);
  return size;
}

}  // namespace

Interceptor::Interceptor(Handler& handler, tracker::Tracker& tracker, const config::Config& config)
    : handler_(handler), tracker_(tracker), spoof_source_(config.interception.spoof_source) {}

std::size_t Interceptor::handle(std::span<const std::uint8_t> in, const Intercepted& from,
                                std::span<std::uint8_t> out, LaterSender& later) {
  thread_local wire::Packet packet;
  const std::size_t size = handler_.admit(in, from.subscriber.address, from.subscriber.port,
                                          tracker_.now(), packet, out);
  if (size == 0) return 0;
  Counters::global().add(Counters::intercepted_udp);
  if (size != Handler::kAdmitted) return size;  // a connect
  if (packet.action == wire::Action::scrape) return scrape(packet, in, from, out, later);
  return announce(packet, in, from, out, later);
}

forwarding::Forwarder* Interceptor::may_ask(const net::Endpoint& origin) const {
  auto* forwarder = forwarder_.load();
  if (!forwarder || !forwarder->enabled()) return nullptr;
  // The destination guard holds for original destinations too: a subscriber's packet to a
  // private address is answered from what btrt knows, the address is never asked.
  if (!forwarder->destination_allowed(origin.address)) {
    Counters::global().add(Counters::upstream_refused);
    return nullptr;
  }
  return forwarder;
}

std::size_t Interceptor::scrape(const wire::Packet& packet, std::span<const std::uint8_t> raw,
                                const Intercepted& from, std::span<std::uint8_t> out,
                                LaterSender& later) {
  auto* forwarder = may_ask(from.origin);
  if (!forwarder || packet.hash_count > tracker_.max_scrape_hashes()) {
    return handler_.scrape(packet, out);
  }
  std::vector<core::InfoHash> hashes(packet.hash_count);
  for (std::size_t i = 0; i < hashes.size(); ++i) hashes[i] = packet.hash(i);
  std::optional<net::IpAddress> source;
  if (spoof_source_) source = from.subscriber.address;
  forwarder->scrape(
      from.origin, {raw.begin(), raw.end()}, source,
      [this, &later, from, transaction = packet.transaction_id,
       hashes = std::move(hashes)](std::span<const std::uint8_t> answer) {
        std::vector<std::uint8_t> datagram(answer.begin(), answer.end());
        later.send_later(from, [this, transaction, hashes,
                                datagram = std::move(datagram)](std::span<std::uint8_t> reply) {
          Counters::global().add(Counters::udp_scrapes);
          std::array<wire::ScrapeEntry, wire::kMaxScrapeHashes> entries;
          const std::span<wire::ScrapeEntry> wanted(entries.data(), hashes.size());
          // The origin's counts only when they cover every hash asked; else btrt's own.
          if (wire::parse_scrape_answer(datagram, wanted) != hashes.size()) {
            for (std::size_t i = 0; i < hashes.size(); ++i) {
              const auto c = tracker_.counts(hashes[i]);
              entries[i] = {c.complete, c.downloaded, c.incomplete};
            }
          }
          return wire::encode_scrape(transaction, wanted, reply);
        });
      });
  return 0;
}

std::size_t Interceptor::announce(const wire::Packet& packet, std::span<const std::uint8_t> raw,
                                  const Intercepted& from, std::span<std::uint8_t> out,
                                  LaterSender& later) {
  auto& counters = Counters::global();
  const auto& parsed = packet.announce;
  // The router diverted the subscriber's own packet: its source is the subscriber, whatever
  // the ip field claims.
  const core::PeerAnnounce peer = tracker::peer_of(parsed, from.subscriber.address);
  const bool v6 = !peer.address.is_v4();
  const std::string origin = "udp://" + from.origin.to_string();
  const core::TimePoint now = tracker_.now();

  auto* forwarder = may_ask(from.origin);
  forwarding::Forwarder::Lookup lookup;
  if (forwarder) {
    lookup = forwarder->lookup(origin, parsed.info_hash, is_event(parsed.event), now);
    if (!lookup.ask) counters.add(Counters::upstream_cached);
  }

  core::SelectOptions options = tracker_.select_options(parsed.numwant);
  options.family = v6 ? core::SelectOptions::Family::v6 : core::SelectOptions::Family::v4;
  core::SelectOptions now_options = options;
  // When the origin is asked, the peers are picked once its answer has arrived.
  if (lookup.ask) now_options.numwant = 0;
  thread_local std::vector<core::SelectedPeer> peers;
  peers.clear();
  core::PeerAnnounce registered = peer;
  registered.origin_url = origin;
  const auto outcome =
      tracker_.store().announce(registered, now, tracker_.peer_expiry(), now_options, peers);
  if (outcome.status == core::AnnounceOutcome::Status::torrent_limit) {
    counters.add(Counters::intercepted_udp_torrent_limit);
    return wire::encode_error(packet.transaction_id, tracker::kTrackerFull, out);
  }
  if (!lookup.ask) {
    return encode(packet.transaction_id, tracker_, outcome.counts, peers,
                  lookup.cached ? &*lookup.cached : nullptr, v6, out);
  }

  forwarding::UpstreamAnnounce upstream;
  upstream.origin = origin;
  upstream.udp_announce.assign(raw.begin(), raw.end());
  if (forwarder->pass_client_ip() && !v6) {
    wire::set_announce_ip(upstream.udp_announce, peer.address.v4());
  }
  // The announce after its connection and transaction IDs: what makes two queries identical.
  upstream.url = origin;
  upstream.url.push_back('\n');
  upstream.url.append(upstream.udp_announce.begin() + 16, upstream.udp_announce.end());
  upstream.destination = from.origin;
  upstream.info_hash = parsed.info_hash;
  upstream.event = is_event(parsed.event);
  upstream.subscriber = peer.address;
  upstream.from_subscriber = spoof_source_;
  forwarder->ask(
      std::move(upstream), [this, &later, from, transaction = packet.transaction_id, peer, options,
                            v6](const forwarding::UpstreamOutcome& result) {
        later.send_later(from,
                         [this, transaction, peer, options, v6,
                          result](std::span<std::uint8_t> answer) -> std::size_t {
                           if (result.kind == forwarding::UpstreamOutcome::Kind::failure_reason) {
                             Counters::global().add(Counters::intercepted_udp_failure_reason);
                             return wire::encode_error(transaction, result.failure_reason, answer);
                           }
                           thread_local std::vector<core::SelectedPeer> selected;
                           selected.clear();
                           const core::SwarmCounts counts =
                               tracker_.select_registered(peer, options, selected);
                           return encode(transaction, tracker_, counts, selected,
                                         result.info ? &*result.info : nullptr, v6, answer);
                         });
      });
  return 0;
}

}  // namespace btrt::udp

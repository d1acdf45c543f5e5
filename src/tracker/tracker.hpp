#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "clock/clock.hpp"
#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "net/cidr.hpp"
#include "protocol/announce.hpp"

namespace btrt::tracker {

// The peer a parsed announce (HTTP or UDP) registers from `address`. "paused" (BEP 21) is an
// ordinary announce to the store.
inline core::PeerAnnounce peer_of(const protocol::AnnounceRequest& parsed,
                                  const net::IpAddress& address) {
  core::PeerAnnounce peer;
  peer.info_hash = parsed.info_hash;
  peer.peer_id = parsed.peer_id;
  peer.port = parsed.port;
  peer.seeder = parsed.is_seeder();
  switch (parsed.event) {
    case protocol::Event::started:
      peer.event = core::AnnounceEvent::started;
      break;
    case protocol::Event::completed:
      peer.event = core::AnnounceEvent::completed;
      break;
    case protocol::Event::stopped:
      peer.event = core::AnnounceEvent::stopped;
      break;
    default:
      peer.event = core::AnnounceEvent::none;
  }
  peer.address = address;
  return peer;
}

// The failure reason of a new torrent refused by tracker.max_torrents, in either protocol.
inline constexpr std::string_view kTrackerFull =
    "tracker is full: no new torrents accepted (tracker.max_torrents)";

// What one announce asks of the tracker, whatever protocol carried it.
struct Announce {
  core::PeerAnnounce peer;               // address: the subscriber's (trusted claims applied)
  std::optional<std::uint32_t> numwant;  // absent: tracker.numwant_default
  core::SelectOptions::Family family = core::SelectOptions::Family::any;
  core::TimePoint now = core::kNever;  // kNever: the clock's; a caller that read it passes it
};

struct AnnounceResult {
  bool tracker_full = false;  // a new torrent refused by tracker.max_torrents
  core::SwarmCounts counts;
  core::Duration interval{};
  core::Duration min_interval{};
};

// The tracker's own answers, shared by the HTTP and the UDP front ends: the reloadable
// settings of the tracker section, who is trusted, announce and scrape against the store, and
// the one clock of the request path. Thread-safe, no lock of its own.
class Tracker {
 public:
  Tracker(core::SwarmStore& store, const config::Config& config, const clock::Clock& clock);

  // Takes the reloadable settings (the tracker section) from a new configuration.
  void apply(const config::Tracker& tracker);

  // The store's and the connection IDs' time.
  core::TimePoint now() const { return clock_.now(); }
  // From server.trusted_sources: may speak for a subscriber (headers, the ip field).
  bool trusted(const net::IpAddress& address) const;

  // Registers the peer and fills `peers` with the ranked selection for it.
  AnnounceResult announce(const Announce& request, std::vector<core::SelectedPeer>& peers);
  core::SelectOptions select_options(std::optional<std::uint32_t> numwant) const;
  core::SwarmCounts counts(const core::InfoHash& hash) { return store_.counts(hash, now()); }
  // The selection for a peer registered earlier (a forwarded announce whose origin has now
  // answered): its counts, and `peers` filled unless the peer stopped.
  core::SwarmCounts select_registered(const core::PeerAnnounce& peer,
                                      const core::SelectOptions& options,
                                      std::vector<core::SelectedPeer>& peers) {
    if (peer.event == core::AnnounceEvent::stopped) return counts(peer.info_hash);
    return store_.select(peer, now(), options, peers);
  }

  core::Duration interval() const { return settings_.interval.load(kRelaxed); }
  core::Duration min_interval() const { return settings_.min_interval.load(kRelaxed); }
  core::Duration peer_expiry() const { return settings_.peer_expiry.load(kRelaxed); }
  std::uint32_t max_scrape_hashes() const { return settings_.max_scrape_hashes.load(kRelaxed); }
  bool full_scrape() const { return settings_.full_scrape.load(kRelaxed); }
  core::SwarmStore& store() { return store_; }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;

  // A trusted prefix as two 64-bit halves of network and mask: trusted() runs on every
  // announce that claims an address, which from a proxy is every one.
  struct Prefix {
    std::uint64_t network[2];
    std::uint64_t mask[2];
  };
  static std::vector<Prefix> prefixes_of(const std::vector<net::Cidr>& cidrs);

  core::SwarmStore& store_;
  const std::vector<Prefix> trusted_sources_;
  const clock::Clock& clock_;

  struct Settings {
    std::atomic<core::Duration> interval, min_interval, peer_expiry;
    std::atomic<std::uint32_t> numwant_default, numwant_max, locality_cutoff, locality_seeders,
        max_scrape_hashes;
    std::atomic<bool> full_scrape;
  } settings_;
};

}  // namespace btrt::tracker

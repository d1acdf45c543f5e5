#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "net/cidr.hpp"

namespace btrt::tracker {

// What one announce asks of the tracker, whatever protocol carried it.
struct Announce {
  core::PeerAnnounce peer;               // address: the subscriber's (trusted claims applied)
  std::optional<std::uint32_t> numwant;  // absent: tracker.numwant_default
  core::SelectOptions::Family family = core::SelectOptions::Family::any;
};

struct AnnounceResult {
  bool tracker_full = false;  // a new torrent refused by tracker.max_torrents
  core::SwarmCounts counts;
  std::uint32_t interval = 0;
  std::uint32_t min_interval = 0;
};

// The tracker's own answers, shared by the HTTP and the UDP front ends: the reloadable
// settings of the tracker section, who is trusted, announce and scrape against the store, and
// the one clock of the request path. Thread-safe, no lock of its own.
class Tracker {
 public:
  Tracker(core::SwarmStore& store, const config::Config& config);

  // Takes the reloadable settings (the tracker section) from a new configuration.
  void apply(const config::Tracker& tracker);

  // Seconds since start (from 1): the store's and the connection IDs' time.
  core::Seconds now() const;
  // From server.trusted_sources: may speak for a subscriber (headers, the ip field).
  bool trusted(const net::IpAddress& address) const;

  // Registers the peer and fills `peers` with the ranked selection for it.
  AnnounceResult announce(const Announce& request, std::vector<core::SelectedPeer>& peers);
  core::SelectOptions select_options(std::optional<std::uint32_t> numwant) const;
  core::SwarmCounts counts(const core::InfoHash& hash) { return store_.counts(hash, now()); }

  std::uint32_t interval() const { return settings_.interval.load(kRelaxed); }
  std::uint32_t min_interval() const { return settings_.min_interval.load(kRelaxed); }
  std::uint32_t peer_expiry() const { return settings_.peer_expiry.load(kRelaxed); }
  std::uint32_t max_scrape_hashes() const { return settings_.max_scrape_hashes.load(kRelaxed); }
  bool full_scrape() const { return settings_.full_scrape.load(kRelaxed); }
  core::SwarmStore& store() { return store_; }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;

  core::SwarmStore& store_;
  const std::vector<net::Cidr> trusted_sources_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();

  struct Settings {
    std::atomic<std::uint32_t> interval, min_interval, peer_expiry, numwant_default, numwant_max,
        locality_cutoff, max_scrape_hashes;
    std::atomic<bool> full_scrape;
  } settings_;
};

}  // namespace btrt::tracker

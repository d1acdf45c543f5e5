#include "tracker/tracker.hpp"

#include <algorithm>

namespace btrt::tracker {

Tracker::Tracker(core::SwarmStore& store, const config::Config& config, const clock::Clock& clock)
    : store_(store), trusted_sources_(config.server.trusted_sources), clock_(clock) {
  apply(config.tracker);
}

void Tracker::apply(const config::Tracker& t) {
  settings_.interval.store(t.announce_interval);
  settings_.min_interval.store(t.min_interval);
  settings_.peer_expiry.store(t.peer_expiry);
  settings_.numwant_default.store(t.numwant_default);
  settings_.numwant_max.store(t.numwant_max);
  settings_.locality_cutoff.store(t.locality_cutoff);
  settings_.locality_seeders.store(t.locality_seeders);
  settings_.max_scrape_hashes.store(t.max_scrape_hashes);
  settings_.full_scrape.store(t.full_scrape);
  store_.set_limits({t.max_torrents, t.max_peers_per_torrent, core::learned_limit(t.numwant_max)});
}

bool Tracker::trusted(const net::IpAddress& address) const {
  return std::any_of(trusted_sources_.begin(), trusted_sources_.end(),
                     [&](const net::Cidr& c) { return c.contains(address); });
}

core::SelectOptions Tracker::select_options(std::optional<std::uint32_t> numwant) const {
  core::SelectOptions options;
  options.numwant = std::min(numwant.value_or(settings_.numwant_default.load(kRelaxed)),
                             settings_.numwant_max.load(kRelaxed));
  options.locality_cutoff = settings_.locality_cutoff.load(kRelaxed);
  options.locality_seeders = settings_.locality_seeders.load(kRelaxed);
  return options;
}

AnnounceResult Tracker::announce(const Announce& request, std::vector<core::SelectedPeer>& peers) {
  AnnounceResult result;
  auto options = select_options(request.numwant);
  options.family = request.family;
  auto outcome = store_.announce(request.peer, now(), peer_expiry(), options, peers);
  result.tracker_full = outcome.status == core::AnnounceOutcome::Status::torrent_limit;
  result.counts = outcome.counts;
  result.interval = interval();
  result.min_interval = min_interval();
  return result;
}

}  // namespace btrt::tracker

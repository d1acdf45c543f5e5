#include "tracker/tracker.hpp"

#include <algorithm>
#include <cstring>

namespace btrt::tracker {

namespace {

void halves(const net::IpAddress& address, std::uint64_t (&out)[2]) {
  std::memcpy(out, address.bytes().data(), sizeof out);
}

}  // namespace

std::vector<Tracker::Prefix> Tracker::prefixes_of(const std::vector<net::Cidr>& cidrs) {
  std::vector<Prefix> out;
  net::IpAddress::Bytes ones;
  ones.fill(0xff);
  for (const auto& c : cidrs) {
    Prefix& p = out.emplace_back();
    halves(c.network, p.network);
    halves(net::mask(net::IpAddress(ones), c.length), p.mask);
  }
  return out;
}

Tracker::Tracker(core::SwarmStore& store, const config::Config& config, const clock::Clock& clock)
    : store_(store), trusted_sources_(prefixes_of(config.server.trusted_sources)), clock_(clock) {
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
  store_.apply(core::StoreLimits{t.max_torrents, t.max_peers_per_torrent,
                                 core::learned_limit(t.numwant_max)});
}

bool Tracker::trusted(const net::IpAddress& address) const {
  std::uint64_t a[2];
  halves(address, a);
  return std::any_of(trusted_sources_.begin(), trusted_sources_.end(), [&](const Prefix& p) {
    return (a[0] & p.mask[0]) == p.network[0] && (a[1] & p.mask[1]) == p.network[1];
  });
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
  const core::TimePoint at = request.now != core::kNever ? request.now : now();
  auto outcome = store_.announce(request.peer, at, peer_expiry(), options, peers);
  result.tracker_full = outcome.status == core::AnnounceOutcome::Status::torrent_limit;
  result.counts = outcome.counts;
  result.interval = interval();
  result.min_interval = min_interval();
  return result;
}

}  // namespace btrt::tracker

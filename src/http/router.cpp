#include "http/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "metrics/counters.hpp"
#include "protocol/announce.hpp"
#include "protocol/response.hpp"
#include "protocol/scrape.hpp"

namespace btrt::http {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

core::AnnounceEvent to_store_event(protocol::Event e) {
  switch (e) {
    case protocol::Event::started:
      return core::AnnounceEvent::started;
    case protocol::Event::completed:
      return core::AnnounceEvent::completed;
    case protocol::Event::stopped:
      return core::AnnounceEvent::stopped;
    default:
      return core::AnnounceEvent::none;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The first address of an X-Forwarded-For list ("client, proxy1, proxy2").
std::optional<net::IpAddress> first_forwarded(std::string_view header) {
  return net::IpAddress::parse(trim(header.substr(0, header.find(','))));
}

void failure(Response& response, std::string_view reason) {
  protocol::encode_failure(reason, response.body);
}

}  // namespace

Router::Router(core::SwarmStore& store, const config::Config& config)
    : store_(store), trusted_sources_(config.server.trusted_sources) {
  apply(config.tracker);
}

void Router::apply(const config::Tracker& t) {
  settings_.interval.store(t.announce_interval);
  settings_.min_interval.store(t.min_interval);
  settings_.peer_expiry.store(t.peer_expiry);
  settings_.numwant_default.store(t.numwant_default);
  settings_.numwant_max.store(t.numwant_max);
  settings_.locality_cutoff.store(t.locality_cutoff);
  settings_.max_scrape_hashes.store(t.max_scrape_hashes);
  settings_.full_scrape.store(t.full_scrape);
  store_.set_limits({t.max_torrents, t.max_peers_per_torrent});
}

core::Seconds Router::now() const {
  auto elapsed = std::chrono::steady_clock::now() - epoch_;
  return static_cast<core::Seconds>(
             std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()) +
         1;
}

bool Router::trusted(const net::IpAddress& address) const {
  return std::any_of(trusted_sources_.begin(), trusted_sources_.end(),
                     [&](const net::Cidr& c) { return c.contains(address); });
}

void Router::handle(const Request& request, Response& response) {
  std::string_view target = request.target;
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("{} {} from {}", request.method, request.target, request.source.to_string());
  }
  if (path == "/announce") return announce(request, query, response);
  if (path == "/scrape") return scrape(query, response);
  if (path == "/health") {
    bool serving = serving_.load(kRelaxed);
    response.status = serving ? 200 : 503;
    response.body = serving ? "ok\n" : "stopping\n";
    return;
  }
  if (admin_ && (path == "/metrics" || path == "/stats")) return admin_->handle(request, response);
  response.status = 404;
  response.body = "not found\n";
}

void Router::announce(const Request& request, std::string_view query, Response& response) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::announces);
  protocol::AnnounceRequest parsed;
  if (const char* why = protocol::parse_announce(query, parsed)) {
    counters.add(metrics::Counters::failures);
    counters.add(metrics::Counters::announce_bad_request);
    return failure(response, why);
  }

  core::PeerAnnounce peer;
  peer.info_hash = parsed.info_hash;
  peer.peer_id = parsed.peer_id;
  peer.port = parsed.port;
  peer.seeder = parsed.is_seeder();
  peer.event = to_store_event(parsed.event);
  peer.address = request.source;
  if (trusted(request.source)) {
    // A DPI or proxy speaks for the subscriber: its headers first, then the client's ip=.
    std::optional<net::IpAddress> claimed;
    if (!request.x_forwarded_for.empty()) claimed = first_forwarded(request.x_forwarded_for);
    if (!claimed && !request.x_real_ip.empty()) {
      claimed = net::IpAddress::parse(trim(request.x_real_ip));
    }
    if (!claimed) claimed = parsed.ip;
    if (claimed && !claimed->is_unspecified()) peer.address = *claimed;
  }

  core::SelectOptions options;
  options.numwant = std::min(parsed.numwant.value_or(settings_.numwant_default.load(kRelaxed)),
                             settings_.numwant_max.load(kRelaxed));
  options.locality_cutoff = settings_.locality_cutoff.load(kRelaxed);

  thread_local std::vector<core::SelectedPeer> peers;
  peers.clear();
  auto outcome = store_.announce(peer, now(), settings_.peer_expiry.load(kRelaxed), options, peers);
  if (outcome.status == core::AnnounceOutcome::Status::torrent_limit) {
    counters.add(metrics::Counters::failures);
    counters.add(metrics::Counters::announce_torrent_limit);
    return failure(response, "tracker is full: no new torrents accepted (tracker.max_torrents)");
  }
  for (const auto& p : peers) counters.returned(p.group);

  protocol::AnnounceAnswer answer;
  answer.interval = settings_.interval.load(kRelaxed);
  answer.min_interval = settings_.min_interval.load(kRelaxed);
  answer.complete = outcome.counts.complete;
  answer.incomplete = outcome.counts.incomplete;
  answer.peers = peers;
  answer.compact = parsed.compact;
  answer.no_peer_id = parsed.no_peer_id;
  protocol::encode_announce(answer, response.body);
}

void Router::scrape(std::string_view query, Response& response) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::scrapes);
  thread_local std::vector<core::InfoHash> hashes;
  thread_local std::vector<protocol::ScrapeEntry> entries;
  hashes.clear();
  entries.clear();
  if (const char* why =
          protocol::parse_scrape(query, settings_.max_scrape_hashes.load(kRelaxed), hashes)) {
    counters.add(metrics::Counters::scrape_bad_request);
    return failure(response, why);
  }
  if (hashes.empty()) {
    if (!settings_.full_scrape.load(kRelaxed)) {
      counters.add(metrics::Counters::scrape_without_hash);
      return failure(response, "scrape needs info_hash (full scrape is disabled)");
    }
    store_.for_each_torrent([&](const core::InfoHash& hash, const core::SwarmCounts& c) {
      entries.push_back({hash, c.complete, c.incomplete, c.downloaded});
    });
  } else {
    for (const auto& hash : hashes) {
      auto c = store_.counts(hash);
      entries.push_back({hash, c.complete, c.incomplete, c.downloaded});
    }
  }
  protocol::encode_scrape(entries, response.body);
}

}  // namespace btrt::http

#include "http/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "forwarding/origin_rules.hpp"
#include "metrics/counters.hpp"
#include "protocol/announce.hpp"
#include "protocol/percent.hpp"
#include "protocol/response.hpp"
#include "protocol/scrape.hpp"
#include "text/strings.hpp"
#include "text/url.hpp"

namespace btrt::http {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// The first address of an X-Forwarded-For list ("client, proxy1, proxy2").
std::optional<net::IpAddress> first_forwarded(std::string_view header) {
  return net::IpAddress::parse(text::trim(header.substr(0, header.find(','))));
}

void failure(Response& response, std::string_view reason) {
  protocol::encode_failure(reason, response.body);
}

// A tracker-level refusal, counted by its reason.
void refuse(Response& response, metrics::Counters::Id reason, std::string_view text) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::failures);
  counters.add(reason);
  failure(response, text);
}

// The DPI passes announces on, and an announce always names its torrent; anything else with a
// foreign Host (a health check, a stray request) is served as ours.
bool names_a_torrent(std::string_view target) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return false;
  auto query = target.substr(question);
  return query.find("?info_hash=") != std::string_view::npos ||
         query.find("&info_hash=") != std::string_view::npos;
}

// BEP 48: a tracker's scrape URL is its announce URL with "announce" replaced by "scrape".
bool is_scrape_path(std::string_view origin) {
  auto last = origin.substr(origin.rfind('/') + 1);
  return last.substr(0, 6) == "scrape";
}

bool is_event(protocol::Event e) {
  return e == protocol::Event::started || e == protocol::Event::completed ||
         e == protocol::Event::stopped;
}

// The subscriber behind a trusted source: the first X-Forwarded-For address, else
// X-Real-IP, else the TCP source.
// An intercepted request's subscriber is the TCP source: whatever its headers claim.
net::IpAddress subscriber_address(const Request& request) {
  if (request.intercepted) return request.source;
  std::optional<net::IpAddress> claimed;
  if (!request.x_forwarded_for.empty()) claimed = first_forwarded(request.x_forwarded_for);
  if (!claimed && !request.x_real_ip.empty()) {
    claimed = net::IpAddress::parse(text::trim(request.x_real_ip));
  }
  return claimed && !claimed->is_unspecified() ? *claimed : request.source;
}

}  // namespace

Router::Router(tracker::Tracker& tracker, const config::Config& config)
    : tracker_(tracker),
      store_(tracker.store()),
      hostnames_(config.server.hostnames),
      listen_(config.server.listen),
      spoof_source_(config.interception.spoof_source) {}

void Router::handle(const Request& request, Response& response) {
  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("{} {} from {} (Host {})", request.method, request.target,
                  request.source.to_string(), request.host);
  }
  if (request.intercepted) return intercepted(request, response);
  std::string_view target = request.target;
  const bool from_trusted = tracker_.trusted(request.source);
  if (const auto absolute = text::split_url(target);
      absolute && text::iequals(absolute->scheme, "http")) {
    // Absolute form, as a client sends it to its HTTP proxy.
    if (from_trusted && names_a_torrent(target) &&
        !forwarding::names_this_tracker(absolute->authority, hostnames_, listen_)) {
      return forwarded(request, target, response, true);
    }
    target = absolute->target.empty() ? std::string_view("/") : absolute->target;
  } else if (from_trusted && names_a_torrent(target) &&
             !forwarding::names_this_tracker(request.host, hostnames_, listen_)) {
    // Transparent: the DPI passed the subscriber's request on as it was.
    thread_local std::string url;
    url.assign("http://");
    url.append(text::trim(request.host));
    url.append(target);
    return forwarded(request, url, response, true);
  }
  route_local(request, target, response);
}

// The router diverted the subscriber's connection to btrt: every request on it is meant for the
// original destination, never for btrt itself.
void Router::intercepted(const Request& request, Response& response) {
  using metrics::Counters;
  auto& counters = Counters::global();
  counters.add(Counters::intercepted_http);
  std::string_view target = request.target;
  if (const auto absolute = text::split_url(target)) {
    target = absolute->target.empty() ? std::string_view("/") : absolute->target;
  }
  if (!names_a_torrent(target)) {
    counters.add(Counters::intercepted_http_not_tracker);
    {
      std::lock_guard lock(not_tracker_log_mutex_);
      if (not_tracker_log_.occurred(now())) {
        spdlog::warn(
            "intercepted request without info_hash from {} for {} answered 502: divert only "
            "tracker traffic to interception.tcp_listen ({} since the last report)",
            request.source.to_string(), request.original_destination.to_string(),
            not_tracker_log_.take(now()));
      }
    }
    response.status = 502;
    response.body = "btrt intercepts tracker announces only\n";
    return;
  }
  thread_local std::string url;
  url.assign("http://");
  const std::string_view host = text::trim(request.host);
  if (!host.empty()) {
    url.append(host);
  } else {
    url.append(request.original_destination.to_string());
  }
  url.append(target);
  // The destination guard holds for the address the subscriber really went to, whatever its
  // Host says: answered from what btrt knows, the origin is not asked.
  const bool allowed =
      !forwarder_ || forwarder_->destination_allowed(request.original_destination.address);
  forwarded(request, url, response, true, allowed);
}

void Router::route_local(const Request& request, std::string_view target, Response& response) {
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  if (path == "/announce") return announce(request, query, response);
  if (path == "/scrape") return scrape(query, response);
  if (path == "/health") {
    bool serving = serving_.load(kRelaxed);
    response.status = serving ? 200 : 503;
    response.body = serving ? "ok\n" : "stopping\n";
    return;
  }
  if (admin_ && (path == "/metrics" || path == "/stats")) return admin_->handle(request, response);
  if (path == "/forwarded_announce") {
    metrics::Counters::global().add(metrics::Counters::forwarded);
    if (!tracker_.trusted(request.source)) {
      return refuse(response, metrics::Counters::forwarded_bad_request,
                    "forwarded announces are accepted only from trusted sources");
    }
    std::string_view encoded;
    protocol::for_each_param(query, [&](std::string_view key, std::string_view value) {
      if (key == "url") encoded = value;
    });
    thread_local std::string url;
    url.clear();
    if (encoded.empty() || !protocol::percent_decode(encoded, url)) {
      return refuse(response, metrics::Counters::forwarded_bad_request,
                    "forwarded_announce needs url=<percent-encoded announce URL>");
    }
    return forwarded(request, url, response, false);
  }
  response.status = 404;
  response.body = "not found\n";
}

void Router::answer(const protocol::AnnounceRequest& parsed, const core::SwarmCounts& counts,
                    std::span<const core::SelectedPeer> peers, const forwarding::OriginInfo* origin,
                    Response& response, std::string_view warning) const {
  auto& counters = metrics::Counters::global();
  for (const auto& p : peers) counters.returned(p.group);
  protocol::AnnounceAnswer a;
  const auto figures = forwarding::with_origin(
      {tracker_.interval(), tracker_.min_interval(), counts.complete, counts.incomplete}, origin);
  a.interval = figures.interval.count();
  a.min_interval = figures.min_interval.count();
  a.complete = figures.complete;
  a.incomplete = figures.incomplete;
  a.warning = warning;
  a.peers = peers;
  a.compact = parsed.compact;
  a.no_peer_id = parsed.no_peer_id;
  protocol::encode_announce(a, response.body);
}

void Router::announce(const Request& request, std::string_view query, Response& response) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::announces);
  protocol::AnnounceRequest parsed;
  if (const char* why = protocol::parse_announce(query, parsed)) {
    return refuse(response, metrics::Counters::announce_bad_request, why);
  }

  core::PeerAnnounce peer = tracker::peer_of(parsed, request.source);
  if (tracker_.trusted(request.source)) {
    // A DPI or proxy speaks for the subscriber: its headers first, then the client's ip=.
    std::optional<net::IpAddress> claimed;
    if (!request.x_forwarded_for.empty()) claimed = first_forwarded(request.x_forwarded_for);
    if (!claimed && !request.x_real_ip.empty()) {
      claimed = net::IpAddress::parse(text::trim(request.x_real_ip));
    }
    if (!claimed) claimed = parsed.ip;
    if (claimed && !claimed->is_unspecified()) peer.address = *claimed;
  }

  thread_local std::vector<core::SelectedPeer> peers;
  peers.clear();
  auto result = tracker_.announce({peer, parsed.numwant}, peers);
  if (result.tracker_full) {
    return refuse(response, metrics::Counters::announce_torrent_limit, tracker::kTrackerFull);
  }
  answer(parsed, result.counts, peers, nullptr, response);
}

void Router::forwarded(const Request& request, std::string_view url, Response& response, bool count,
                       bool may_ask) {
  using metrics::Counters;
  auto origin = forwarding::split_origin_url(url);
  // A client behind the DPI or the proxy scrapes its tracker too: btrt's own counts answer.
  if (origin && is_scrape_path(origin->origin)) return scrape(origin->query, response);
  if (count) Counters::global().add(Counters::forwarded);
  if (!origin) {
    return refuse(response, Counters::forwarded_bad_request,
                  "forwarded announce: the origin must be an http:// URL");
  }
  protocol::AnnounceRequest parsed;
  if (const char* why = protocol::parse_announce(origin->query, parsed)) {
    return refuse(response, Counters::forwarded_bad_request, why);
  }
  const core::PeerAnnounce peer = tracker::peer_of(parsed, subscriber_address(request));
  forwarding::Forwarder::Lookup lookup;
  if (may_ask) {
    lookup = consult_forwarder(request, origin->origin, parsed);
  } else {
    Counters::global().add(Counters::upstream_refused);
  }

  // Registered now in any case; when the origin is asked, the peers are picked once its
  // answer has arrived.
  const core::SelectOptions options = tracker_.select_options(parsed.numwant);
  core::SelectOptions now_options = options;
  if (lookup.ask) now_options.numwant = 0;
  thread_local std::vector<core::SelectedPeer> peers;
  peers.clear();
  core::PeerAnnounce registered = peer;
  registered.origin_url = origin->origin;  // stored with the torrent (torrents.origin_url)
  auto outcome = store_.announce(registered, now(), tracker_.peer_expiry(), now_options, peers);
  if (outcome.status == core::AnnounceOutcome::Status::torrent_limit) {
    return refuse(response, Counters::forwarded_torrent_limit, tracker::kTrackerFull);
  }
  if (!lookup.ask) {
    return answer(parsed, outcome.counts, peers, lookup.cached ? &*lookup.cached : nullptr,
                  response);
  }
  ask_origin(request, *origin, parsed, peer, options, response);
}

forwarding::Forwarder::Lookup Router::consult_forwarder(const Request& request,
                                                        std::string_view origin,
                                                        const protocol::AnnounceRequest& parsed) {
  using metrics::Counters;
  auto& counters = Counters::global();
  // A request that went through btrt already is one of ours coming back: answer it like a
  // local announce and never send it on again.
  const bool loop = forwarding::carries_own_mark(request.via);
  forwarding::Forwarder::Lookup lookup;
  if (!forwarder_ || !forwarder_->enabled()) return lookup;
  if (loop) {
    counters.add(Counters::upstream_refused);
    return lookup;
  }
  lookup = forwarder_->lookup(origin, parsed.info_hash, is_event(parsed.event), now());
  if (!lookup.ask) counters.add(Counters::upstream_cached);
  return lookup;
}

void Router::ask_origin(const Request& request, const forwarding::OriginAnnounce& origin,
                        const protocol::AnnounceRequest& parsed, const core::PeerAnnounce& peer,
                        const core::SelectOptions& options, Response& response) {
  forwarding::UpstreamAnnounce upstream;
  upstream.origin = origin.origin;
  upstream.url = forwarding::upstream_url(origin, peer.address, forwarder_->pass_client_ip());
  upstream.info_hash = parsed.info_hash;
  upstream.event = is_event(parsed.event);
  upstream.user_agent = request.user_agent;
  upstream.subscriber = peer.address;
  upstream.from_subscriber = request.intercepted && spoof_source_;
  auto pending = response.defer();
  forwarder_->ask(std::move(upstream), [this, pending, parsed, peer,
                                        options](const forwarding::UpstreamOutcome& result) {
    pending->complete([this, parsed, peer, options, result](Response& r) {
      answer_from_origin(parsed, peer, options, result, r);
    });
  });
}

void Router::answer_from_origin(const protocol::AnnounceRequest& parsed,
                                const core::PeerAnnounce& peer, const core::SelectOptions& options,
                                const forwarding::UpstreamOutcome& result,
                                Response& response) const {
  if (result.kind == forwarding::UpstreamOutcome::Kind::failure_reason) {
    return failure(response, result.failure_reason);
  }
  thread_local std::vector<core::SelectedPeer> selected;
  selected.clear();
  const core::SwarmCounts counts = tracker_.select_registered(peer, options, selected);
  answer(parsed, counts, selected, result.info ? &*result.info : nullptr, response, result.warning);
}

void Router::scrape(std::string_view query, Response& response) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::scrapes);
  thread_local std::vector<core::InfoHash> hashes;
  thread_local std::vector<protocol::ScrapeEntry> entries;
  hashes.clear();
  entries.clear();
  if (const char* why = protocol::parse_scrape(query, tracker_.max_scrape_hashes(), hashes)) {
    counters.add(metrics::Counters::scrape_bad_request);
    return failure(response, why);
  }
  if (hashes.empty()) {
    if (!tracker_.full_scrape()) {
      counters.add(metrics::Counters::scrape_without_hash);
      return failure(response, "scrape needs info_hash (full scrape is disabled)");
    }
    store_.for_each_torrent(now(), [&](const core::InfoHash& hash, const core::SwarmCounts& c) {
      entries.push_back({hash, c.complete, c.incomplete, c.downloaded});
    });
  } else {
    for (const auto& hash : hashes) {
      auto c = tracker_.counts(hash);
      entries.push_back({hash, c.complete, c.incomplete, c.downloaded});
    }
  }
  protocol::encode_scrape(entries, response.body);
}

}  // namespace btrt::http

#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "forwarding/forwarder.hpp"
#include "forwarding/origin_rules.hpp"
#include "http/server.hpp"
#include "log/rate_limited.hpp"
#include "protocol/announce.hpp"
#include "tracker/tracker.hpp"

namespace btrt::http {

// The tracker's HTTP endpoints: /announce, /scrape, /health, and forwarded announces
// (/forwarded_announce, a foreign Host, an absolute-form target, each from a trusted source:
// docs/dpi-integration.md). Parses requests for the tracker logic and encodes its answers in
// bencode; thread-safe, no lock of its own. The service pages (/metrics, /stats) go to the admin
// handler, when one is set.
class Router : public Handler {
 public:
  Router(tracker::Tracker& tracker, const config::Config& config);

  void handle(const Request& request, Response& response) override;

  void set_serving(bool serving) { serving_.store(serving); }
  // Forwarded announces are answered from what btrt knows until a forwarder is set.
  void set_forwarder(forwarding::Forwarder* forwarder) { forwarder_ = forwarder; }
  // Before the server starts: who answers /metrics and /stats (404 without one).
  void set_admin(Handler* admin) { admin_ = admin; }

 private:
  void announce(const Request& request, std::string_view query, Response& response);
  void scrape(std::string_view query, Response& response);
  // `count`: not counted yet as a forwarded request (the explicit shape counts itself).
  // `may_ask`: false when the destination guard refuses the origin before any lookup.
  void forwarded(const Request& request, std::string_view url, Response& response, bool count,
                 bool may_ask = true);
  void intercepted(const Request& request, Response& response);
  // The steps of a forwarded announce: whether to ask its origin (or take a cached answer),
  // asking it, and answering once it has.
  forwarding::Forwarder::Lookup consult_forwarder(const Request& request, std::string_view origin,
                                                  const protocol::AnnounceRequest& parsed);
  void ask_origin(const Request& request, const forwarding::OriginAnnounce& origin,
                  const protocol::AnnounceRequest& parsed, const core::PeerAnnounce& peer,
                  const core::SelectOptions& options, Response& response);
  void answer_from_origin(const protocol::AnnounceRequest& parsed, const core::PeerAnnounce& peer,
                          const core::SelectOptions& options,
                          const forwarding::UpstreamOutcome& result, Response& response) const;
  void route_local(const Request& request, std::string_view target, Response& response);
  void answer(const protocol::AnnounceRequest& parsed, const core::SwarmCounts& counts,
              std::span<const core::SelectedPeer> peers, const forwarding::OriginInfo* origin,
              Response& response, std::string_view warning = {}) const;
  core::TimePoint now() const { return tracker_.now(); }

  tracker::Tracker& tracker_;
  core::SwarmStore& store_;
  const std::vector<std::string> hostnames_;
  const std::vector<net::Endpoint> listen_;
  const bool spoof_source_;
  std::mutex not_tracker_log_mutex_;
  log::RateLimited not_tracker_log_{core::Duration{60}};
  forwarding::Forwarder* forwarder_ = nullptr;
  std::atomic<bool> serving_{true};
  Handler* admin_ = nullptr;
};

}  // namespace btrt::http

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "forwarding/forwarder.hpp"
#include "http/server.hpp"
#include "protocol/announce.hpp"

namespace btrt::http {

// The tracker's HTTP endpoints: /announce, /scrape, /health, and forwarded announces
// (/forwarded_announce, a foreign Host, an absolute-form target, each from a trusted source:
// docs/dpi-integration.md). Turns requests into store operations and bencoded answers; thread-safe,
// no lock of its own. The service pages (/metrics, /stats) go to the admin handler, when one is
// set.
class Router : public Handler {
 public:
  Router(core::SwarmStore& store, const config::Config& config);

  void handle(const Request& request, Response& response) override;

  // Takes the reloadable settings (the tracker section) from a new configuration.
  void apply(const config::Tracker& tracker);
  void set_serving(bool serving) { serving_.store(serving); }
  // Forwarded announces are answered from what btrt knows until a forwarder is set.
  void set_forwarder(forwarding::Forwarder* forwarder) { forwarder_ = forwarder; }
  // Before the server starts: who answers /metrics and /stats (404 without one).
  void set_admin(Handler* admin) { admin_ = admin; }
  core::Seconds now() const;

 private:
  void announce(const Request& request, std::string_view query, Response& response);
  void scrape(std::string_view query, Response& response);
  // `count`: not counted yet as a forwarded request (the explicit shape counts itself).
  void forwarded(const Request& request, std::string_view url, Response& response, bool count);
  void route_local(const Request& request, std::string_view target, Response& response);
  void answer(const protocol::AnnounceRequest& parsed, const core::SwarmCounts& counts,
              std::span<const core::SelectedPeer> peers, const forwarding::OriginInfo* origin,
              Response& response, std::string_view warning = {}) const;
  core::SelectOptions select_options(const protocol::AnnounceRequest& parsed) const;
  bool trusted(const net::IpAddress& address) const;

  core::SwarmStore& store_;
  const std::vector<net::Cidr> trusted_sources_;
  const std::vector<std::string> hostnames_;
  const std::vector<net::Endpoint> listen_;
  forwarding::Forwarder* forwarder_ = nullptr;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::atomic<bool> serving_{true};
  Handler* admin_ = nullptr;

  struct Settings {
    std::atomic<std::uint32_t> interval, min_interval, peer_expiry, numwant_default, numwant_max,
        locality_cutoff, locality_seeders, max_scrape_hashes;
    std::atomic<bool> full_scrape;
  } settings_;
};

}  // namespace btrt::http

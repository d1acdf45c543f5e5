#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "http/server.hpp"

namespace btrt::http {

// The tracker's HTTP endpoints: /announce, /scrape, /health. Turns requests into store
// operations and bencoded answers; thread-safe, no lock of its own. The service pages
// (/metrics, /stats) go to the admin handler, when one is set.
class Router : public Handler {
 public:
  Router(core::SwarmStore& store, const config::Config& config);

  void handle(const Request& request, Response& response) override;

  // Takes the reloadable settings (the tracker section) from a new configuration.
  void apply(const config::Tracker& tracker);
  void set_serving(bool serving) { serving_.store(serving); }
  // Before the server starts: who answers /metrics and /stats (404 without one).
  void set_admin(Handler* admin) { admin_ = admin; }
  core::Seconds now() const;

 private:
  void announce(const Request& request, std::string_view query, Response& response);
  void scrape(std::string_view query, Response& response);
  bool trusted(const net::IpAddress& address) const;

  core::SwarmStore& store_;
  const std::vector<net::Cidr> trusted_sources_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::atomic<bool> serving_{true};
  Handler* admin_ = nullptr;

  struct Settings {
    std::atomic<std::uint32_t> interval, min_interval, peer_expiry, numwant_default, numwant_max,
        locality_cutoff, max_scrape_hashes;
    std::atomic<bool> full_scrape;
  } settings_;
};

}  // namespace btrt::http

#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/snapshot.hpp"
#include "core/swarm_store.hpp"
#include "http/server.hpp"
#include "net/cidr.hpp"
#include "net/classifier.hpp"

namespace btrt::admin {

// The service pages /metrics and /stats (docs/operations.md, "Metrics and the stats page"),
// for server.admin_allow only (others get 403). The router hands these paths here; everything else
// of the process is reached through providers, so that this layer knows no storage, neighbour or
// server type. A provider left empty shows as nothing (or zero). Thread-safe: every call gathers a
// fresh snapshot.
class AdminHandler : public http::Handler {
 public:
  struct Providers {
    std::function<std::shared_ptr<const net::Classifier>()> classifier;
    std::function<std::vector<NeighborState>()> neighbors;
    // Sources of peers learned from neighbours: neighbour name by core::Source id.
    std::function<std::vector<std::pair<core::Source, std::string>>()> neighbor_sources;
    std::function<std::vector<OriginState>()> origins;  // the most asked ones only
    std::function<std::uint64_t()> origins_total;       // all origins known
    std::function<DatabaseState()> database;
    std::function<std::vector<HistorySample>()> history;  // oldest first
    std::function<std::uint64_t()> open_connections;
  };

  AdminHandler(const core::SwarmStore& store, std::vector<net::Cidr> admin_allow,
               Providers providers);

  void handle(const http::Request& request, http::Response& response) override;

  bool allowed(const net::IpAddress& address) const;
  Snapshot snapshot() const;

 private:
  const core::SwarmStore& store_;
  const std::vector<net::Cidr> admin_allow_;
  const Providers providers_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// Resident memory of this process (from /proc/self/statm); 0 where it cannot be read.
std::uint64_t resident_memory_bytes();

}  // namespace btrt::admin

#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "metrics/counters.hpp"
#include "metrics/histogram.hpp"

namespace btrt::admin {

// Everything /metrics and /stats show, gathered at one moment. Plain data, so that the pages
// are pure functions of it (and unit-tested without a running tracker).

struct GroupFigures {
  std::string name;
  bool local = false;          // counts as "local" in the locality share (best priority)
  std::uint64_t returned = 0;  // peers handed out since start
};

struct PeerCount {
  std::string group;
  std::string source;  // local, external, neighbor:<name>
  std::uint64_t peers = 0;
};

struct NeighborState {
  std::string name;
  std::uint64_t requests_ok = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t peers_learned = 0;
  bool backed_off = false;
  std::uint32_t backoff_seconds = 0;  // the current back-off step, 0 when healthy
  std::string last_error;             // empty when none since start
};

struct OriginState {
  std::string origin;
  std::string state;
  std::uint64_t errors = 0;
};

struct DatabaseState {
  bool up = true;
  std::uint64_t pending_changes = 0;
  std::uint64_t dropped_changes = 0;
};

// Peers handed out in one statistics period (a minute) by group, as the database keeps them.
struct HistorySample {
  std::int64_t sampled_at = 0;  // unix seconds
  std::vector<std::pair<std::string, std::uint64_t>> returned_by_group;
};

// The locality of one period: how many of the peers handed out were local.
struct LocalitySample {
  std::int64_t sampled_at = 0;
  std::uint64_t returned = 0;
  std::uint64_t local = 0;
};

struct Snapshot {
  std::string version;
  std::int64_t now = 0;  // unix seconds
  std::uint64_t uptime_seconds = 0;
  std::array<std::uint64_t, metrics::Counters::kCount> events{};
  std::uint64_t torrents = 0;
  std::vector<GroupFigures> groups;  // configuration order, `other` last
  std::vector<PeerCount> peers;
  std::vector<NeighborState> neighbors;
  std::vector<OriginState> origins;  // the most asked ones (forwarding)
  std::uint64_t origins_total = 0;   // every origin whose state is kept
  std::array<metrics::Histogram::Snapshot, metrics::Latency::kCount> latency{};
  DatabaseState database;
  std::uint64_t resident_memory_bytes = 0;
  std::uint64_t open_connections = 0;
  std::vector<LocalitySample> locality;  // oldest first
};

// Local share of each sample: peers handed out in the groups named `local_groups`.
std::vector<LocalitySample> locality_of(const std::vector<HistorySample>& history,
                                        const std::vector<std::string>& local_groups);

// The Prometheus text exposition format, version 0.0.4.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
void render_metrics(const Snapshot& snapshot, std::string& out);

// /stats: the same figures as JSON, and the self-contained HTML page that shows them.
void render_stats_json(const Snapshot& snapshot, std::string& out);
void render_stats_html(const Snapshot& snapshot, std::string& out);

}  // namespace btrt::admin

// /metrics: the snapshot in the Prometheus text exposition format (version 0.0.4).
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <vector>

#include "admin/snapshot.hpp"

namespace btrt::admin {
namespace {

using C = metrics::Counters;

std::string label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  // labels: name/value pairs, values escaped here.
  template <typename Value>
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              Value value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", key, label_value(v));
      }
      out_ += '}';
    }
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

 private:
  std::string& out_;
};

struct Kind {
  std::string_view label;
  std::string_view protocol;
  C::Id total;
  std::vector<std::pair<std::string_view, C::Id>> failures;  // reason, counter
};

// Where the tracker answers with a failure reason (HTTP) or an error (UDP), by request kind.
const Kind kKinds[] = {
    {"announce",
     "http",
     C::announces,
     {{"bad_request", C::announce_bad_request}, {"torrent_limit", C::announce_torrent_limit}}},
    {"announce", "udp", C::udp_announces, {{"torrent_limit", C::udp_announce_torrent_limit}}},
    {"scrape",
     "http",
     C::scrapes,
     {{"bad_request", C::scrape_bad_request}, {"scrape_without_hash", C::scrape_without_hash}}},
    {"scrape", "udp", C::udp_scrapes, {{"bad_request", C::udp_scrape_bad_request}}},
    {"connect", "udp", C::udp_connects, {}},
    {"forwarded",
     "http",
     C::forwarded,
     {{"bad_request", C::forwarded_bad_request}, {"torrent_limit", C::forwarded_torrent_limit}}},
};

const std::pair<std::string_view, C::Id> kUdpDrops[] = {
    {"too_short", C::udp_drop_too_short},           {"oversized", C::udp_drop_oversized},
    {"wrong_length", C::udp_drop_wrong_length},     {"protocol_id", C::udp_drop_protocol_id},
    {"unknown_action", C::udp_drop_unknown_action}, {"bad_options", C::udp_drop_bad_options},
    {"connection_id", C::udp_drop_connection_id},
};

const std::pair<std::string_view, C::Id> kUpstream[] = {
    {"ok", C::upstream_ok},
    {"failure_reason", C::upstream_failure_reason},
    {"failed", C::upstream_failed},
    {"refused", C::upstream_refused},
    {"backed_off", C::upstream_backed_off},
    {"cached", C::upstream_cached},
    {"merged", C::upstream_merged},
};

struct HistogramInfo {
  metrics::Latency::Kind kind;
  std::string_view name;
  std::string_view help;
};
const HistogramInfo kHistograms[] = {
    {metrics::Latency::upstream, "btrt_upstream_request_duration_seconds",
     "Time to an origin tracker's answer (forwarded announces)."},
    {metrics::Latency::neighbor, "btrt_neighbor_request_duration_seconds",
     "Time to a neighbour's answer, failures included."},
    {metrics::Latency::db_flush, "btrt_database_flush_duration_seconds",
     "Time to write one batch of changes to the database."},
};

std::uint64_t minus(std::uint64_t a, std::uint64_t b) {
  return a > b ? a - b : 0;  // counters are read slot by slot, not atomically together
}

}  // namespace

void render_metrics(const Snapshot& s, std::string& out) {
  Writer w(out);
  const auto& e = s.events;

  w.family("btrt_requests_total", "counter",
           "Requests by kind, protocol (http, udp) and result (failure: answered with a failure "
           "reason or an error, or refused).");
  for (const auto& kind : kKinds) {
    std::uint64_t failed = 0;
    for (const auto& [reason, id] : kind.failures) failed += e[id];
    w.sample("btrt_requests_total",
             {{"kind", kind.label}, {"protocol", kind.protocol}, {"result", "ok"}},
             minus(e[kind.total], failed));
    w.sample("btrt_requests_total",
             {{"kind", kind.label}, {"protocol", kind.protocol}, {"result", "failure"}}, failed);
  }
  w.sample("btrt_requests_total", {{"kind", "admin"}, {"protocol", "http"}, {"result", "ok"}},
           minus(e[C::admin], e[C::admin_forbidden]));
  w.sample("btrt_requests_total", {{"kind", "admin"}, {"protocol", "http"}, {"result", "failure"}},
           e[C::admin_forbidden]);

  w.family("btrt_udp_dropped_total", "counter",
           "UDP packets dropped without an answer, by reason (docs/udp.md).");
  for (const auto& [reason, id] : kUdpDrops) {
    w.sample("btrt_udp_dropped_total", {{"reason", reason}}, e[id]);
  }

  w.family("btrt_tracker_failures_total", "counter",
           "Tracker answers with a failure reason (HTTP) or an error (UDP), by request kind, "
           "protocol and reason.");
  for (const auto& kind : kKinds) {
    for (const auto& [reason, id] : kind.failures) {
      w.sample("btrt_tracker_failures_total",
               {{"kind", kind.label}, {"protocol", kind.protocol}, {"reason", reason}}, e[id]);
    }
  }

  w.family("btrt_torrents", "gauge", "Torrents in memory.");
  w.sample("btrt_torrents", {}, s.torrents);

  w.family("btrt_peers", "gauge",
           "Peers in memory by peer group and source (local, external, neighbor:<name>).");
  for (const auto& p : s.peers) {
    w.sample("btrt_peers", {{"group", p.group}, {"source", p.source}}, p.peers);
  }

  w.family("btrt_returned_peers_total", "counter",
           "Peers handed out in announce answers, by peer group (the localisation ratio).");
  for (const auto& g : s.groups)
    w.sample("btrt_returned_peers_total", {{"group", g.name}}, g.returned);

  w.family("btrt_upstream_requests_total", "counter",
           "Forwarded announces by what happened upstream.");
  for (const auto& [result, id] : kUpstream) {
    w.sample("btrt_upstream_requests_total", {{"result", result}}, e[id]);
  }

  w.family("btrt_neighbor_requests_total", "counter", "Requests to neighbours by result.");
  for (const auto& n : s.neighbors) {
    w.sample("btrt_neighbor_requests_total", {{"neighbor", n.name}, {"result", "ok"}},
             n.requests_ok);
    w.sample("btrt_neighbor_requests_total", {{"neighbor", n.name}, {"result", "failed"}},
             n.requests_failed);
  }
  w.family("btrt_neighbor_peers_learned_total", "counter", "New peers learned from neighbours.");
  for (const auto& n : s.neighbors) {
    w.sample("btrt_neighbor_peers_learned_total", {{"neighbor", n.name}}, n.peers_learned);
  }
  w.family("btrt_neighbor_backed_off", "gauge",
           "1 while a neighbour is backed off after failures.");
  for (const auto& n : s.neighbors) {
    w.sample("btrt_neighbor_backed_off", {{"neighbor", n.name}}, n.backed_off ? 1 : 0);
  }

  for (const auto& h : kHistograms) {
    const auto& snap = s.latency[h.kind];
    w.family(h.name, "histogram", h.help);
    const std::string bucket = std::string(h.name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < metrics::Histogram::kBuckets; ++b) {
      cumulative += snap.buckets[b];
      const std::string le = b < metrics::Histogram::kBounds.size()
                                 ? fmt::format("{}", metrics::Histogram::kBounds[b])
                                 : std::string("+Inf");
      w.sample(bucket, {{"le", le}}, cumulative);
    }
    w.sample(std::string(h.name) + "_sum", {}, snap.sum);
    w.sample(std::string(h.name) + "_count", {}, cumulative);
  }

  w.family("btrt_database_up", "gauge", "1 while the database accepts writes.");
  w.sample("btrt_database_up", {}, s.database.up ? 1 : 0);
  w.family("btrt_database_pending_changes", "gauge",
           "Peer changes taken for the database and not yet written (grows while it is down).");
  w.sample("btrt_database_pending_changes", {}, s.database.pending_changes);
  w.family("btrt_database_dropped_changes_total", "counter",
           "Peer changes dropped over database.max_pending during an outage.");
  w.sample("btrt_database_dropped_changes_total", {}, s.database.dropped_changes);

  w.family("btrt_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  w.sample("btrt_process_resident_memory_bytes", {}, s.resident_memory_bytes);
  w.family("btrt_open_connections", "gauge", "Open HTTP connections.");
  w.sample("btrt_open_connections", {}, s.open_connections);
  w.family("btrt_uptime_seconds", "gauge", "Seconds since the tracker started.");
  w.sample("btrt_uptime_seconds", {}, s.uptime_seconds);
  w.family("btrt_build_info", "gauge", "The running version.");
  w.sample("btrt_build_info", {{"version", s.version}}, 1);
}

std::vector<LocalitySample> locality_of(const std::vector<HistorySample>& history,
                                        const std::vector<std::string>& local_groups) {
  const std::set<std::string_view> local(local_groups.begin(), local_groups.end());
  std::vector<LocalitySample> out;
  out.reserve(history.size());
  for (const auto& h : history) {
    LocalitySample sample;
    sample.sampled_at = h.sampled_at;
    for (const auto& [group, peers] : h.returned_by_group) {
      sample.returned += peers;
      if (local.count(group)) sample.local += peers;
    }
    out.push_back(sample);
  }
  return out;
}

}  // namespace btrt::admin

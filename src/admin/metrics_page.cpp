// /metrics: the snapshot in the Prometheus text exposition format (version 0.0.4).
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <vector>

#include "admin/snapshot.hpp"
#include "metrics/catalog.hpp"

namespace btrt::admin {
namespace {

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

// Calls `f` with the rows shown as `shown`, kind by kind in the order a kind first appears.
template <typename F>
void by_kind(metrics::Shown shown, F f) {
  const auto& rows = metrics::kCounterRows;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto first_of_kind =
        std::none_of(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(i),
                     [&](const auto& r) { return r.kind == rows[i].kind; });
    if (rows[i].kind.empty() || !first_of_kind) continue;
    for (const auto& row : rows) {
      if (row.kind == rows[i].kind && row.shown == shown) f(row);
    }
  }
}

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

  const auto& requests = metrics::kRequestsFamily;
  w.family(requests.name, "counter", requests.help);
  by_kind(metrics::Shown::request_total, [&](const metrics::CounterRow& total) {
    const auto failed = metrics::failures_of(total, e);
    const std::pair<std::string_view, std::uint64_t> results[] = {
        {"ok", minus(e[total.id], failed)}, {"failure", failed}};
    for (const auto& [result, n] : results) {
      w.sample(requests.name,
               {{"kind", total.kind}, {"protocol", total.protocol}, {requests.label, result}}, n);
    }
  });

  const auto& dropped = metrics::kUdpDroppedFamily;
  w.family(dropped.name, "counter", dropped.help);
  for (const auto& row : metrics::kCounterRows) {
    if (row.shown == metrics::Shown::udp_drop) {
      w.sample(dropped.name, {{dropped.label, row.label}}, e[row.id]);
    }
  }

  const auto& failures = metrics::kTrackerFailuresFamily;
  w.family(failures.name, "counter", failures.help);
  by_kind(metrics::Shown::tracker_failure, [&](const metrics::CounterRow& row) {
    w.sample(failures.name,
             {{"kind", row.kind}, {"protocol", row.protocol}, {failures.label, row.label}},
             e[row.id]);
  });

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

  const auto& upstream = metrics::kUpstreamFamily;
  w.family(upstream.name, "counter", upstream.help);
  for (const auto& row : metrics::kCounterRows) {
    if (row.shown == metrics::Shown::upstream) {
      w.sample(upstream.name, {{upstream.label, row.label}}, e[row.id]);
    }
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

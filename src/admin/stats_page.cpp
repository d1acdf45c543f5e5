// /stats: the snapshot as JSON, and the page (src/admin/stats.html, compiled in) that shows it.
#include <fmt/format.h>

#include <string_view>
#include <type_traits>

#include "admin/snapshot.hpp"
#include "admin/stats_html.hpp"
#include "metrics/catalog.hpp"

namespace btrt::admin {
namespace {

// JSON text, escaped so that it can also stand inside an HTML <script> element: '<', '>' and
// '&' are written as \u escapes (a neighbour's error text must not close the script).
void string_value(std::string_view text, std::string& out) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '<':
      case '>':
      case '&':
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

class Json {
 public:
  explicit Json(std::string& out) : out_(out) {}

  Json& open(char bracket) {
    comma();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  Json& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  Json& key(std::string_view name) {
    comma();
    string_value(name, out_);
    out_ += ':';
    first_ = true;  // the value follows without a comma
    return *this;
  }
  Json& value(std::string_view text) {
    comma();
    string_value(text, out_);
    return *this;
  }
  Json& value(const char* text) { return value(std::string_view(text)); }
  Json& value(bool b) {
    comma();
    out_ += b ? "true" : "false";
    return *this;
  }
  template <typename Number>
  requires std::is_arithmetic_v<Number> Json& value(Number n) {
    comma();
    fmt::format_to(std::back_inserter(out_), "{}", n);
    return *this;
  }
  template <typename V>
  Json& field(std::string_view name, V v) {
    return key(name).value(v);
  }

 private:
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

void histogram(Json& j, std::string_view name, const metrics::Histogram::Snapshot& h) {
  j.key(name).open('{').field("count", h.count).field("sum", h.sum);
  j.key("buckets").open('[');
  for (std::size_t b = 0; b < metrics::Histogram::kBuckets; ++b) {
    j.open('{');
    if (b < metrics::Histogram::kBounds.size()) {
      j.field("le", metrics::Histogram::kBounds[b]);
    } else {
      j.field("le", "+Inf");
    }
    j.field("count", h.buckets[b]).close('}');
  }
  j.close(']').close('}');
}

void requests(Json& j, std::string_view kind, std::uint64_t total, std::uint64_t failed) {
  j.key(kind).open('{').field("ok", total > failed ? total - failed : 0).field("failure", failed);
  j.close('}');
}

}  // namespace

void render_stats_json(const Snapshot& s, std::string& out) {
  const auto& e = s.events;
  Json j(out);
  j.open('{');
  j.field("version", s.version).field("now", s.now).field("uptime", s.uptime_seconds);
  j.field("torrents", s.torrents);

  // HTTP before UDP, each in the order of the rows.
  j.key("requests").open('{');
  for (const std::string_view protocol : {"http", "udp"}) {
    for (const auto& total : metrics::kCounterRows) {
      if (total.shown != metrics::Shown::request_total || total.protocol != protocol) continue;
      requests(j, total.label, e[total.id], metrics::failures_of(total, e));
    }
  }
  j.close('}');
  // Unanswered: malformed, or without a connection ID this tracker gave (docs/udp.md).
  j.field("udp_dropped", metrics::sum_of(metrics::Shown::udp_drop, e));

  std::uint64_t peers = 0;
  for (const auto& p : s.peers) peers += p.peers;
  j.field("peers", peers);
  j.key("groups").open('[');
  for (const auto& g : s.groups) {
    j.open('{').field("name", g.name).field("local", g.local).field("returned", g.returned);
    std::uint64_t in_group = 0;
    j.key("peers").open('{');
    for (const auto& p : s.peers) {
      if (p.group != g.name) continue;
      j.field(p.source, p.peers);
      in_group += p.peers;
    }
    j.close('}').field("peers_total", in_group).close('}');
  }
  j.close(']');

  j.key("locality").open('[');
  for (const auto& l : s.locality) {
    j.open('{').field("at", l.sampled_at).field("returned", l.returned).field("local", l.local);
    j.close('}');
  }
  j.close(']');

  j.key("neighbors").open('[');
  for (const auto& n : s.neighbors) {
    j.open('{').field("name", n.name).field("state", n.backed_off ? "backing off" : "ok");
    j.field("backoff", n.backoff_seconds).field("requests_ok", n.requests_ok);
    j.field("requests_failed", n.requests_failed).field("peers_learned", n.peers_learned);
    j.field("last_error", n.last_error).close('}');
  }
  j.close(']');

  j.key("origins").open('[');
  for (const auto& o : s.origins) {
    j.open('{').field("origin", o.origin).field("state", o.state).field("errors", o.errors);
    j.close('}');
  }
  j.close(']');
  j.field("origins_total", s.origins_total);

  j.key("upstream").open('{');
  for (const auto& row : metrics::kCounterRows) {
    if (row.shown == metrics::Shown::upstream) j.field(row.label, e[row.id]);
  }
  j.close('}');

  j.key("latency").open('{');
  histogram(j, "upstream", s.latency[metrics::Latency::upstream]);
  histogram(j, "neighbor", s.latency[metrics::Latency::neighbor]);
  histogram(j, "db_flush", s.latency[metrics::Latency::db_flush]);
  j.close('}');

  j.key("database").open('{').field("up", s.database.up);
  j.field("pending_changes", s.database.pending_changes);
  j.field("dropped_changes", s.database.dropped_changes).close('}');
  j.field("memory_bytes", s.resident_memory_bytes);
  j.field("open_connections", s.open_connections);
  j.close('}');
}

void render_stats_html(const Snapshot& s, std::string& out) {
  // The page is static; its script draws everything from the figures put in its place.
  constexpr std::string_view kSlot = "/*BTRT_STATS_JSON*/null";
  const std::string_view page = kStatsHtml;
  const auto at = page.find(kSlot);
  if (at == std::string_view::npos) {  // a broken build step, not a runtime condition
    out += page;
    return;
  }
  out += page.substr(0, at);
  render_stats_json(s, out);
  out += page.substr(at + kSlot.size());
}

}  // namespace btrt::admin

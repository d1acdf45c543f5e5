// /stats: the snapshot as JSON, and the page (src/admin/stats.html, compiled in) that shows it.
#include <fmt/format.h>

#include <string_view>
#include <type_traits>

#include "admin/snapshot.hpp"
#include "admin/stats_html.hpp"

namespace btrt::admin {
namespace {

using C = metrics::Counters;

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

  j.key("requests").open('{');
  requests(j, "announce", e[C::announces],
           e[C::announce_bad_request] + e[C::announce_torrent_limit]);
  requests(j, "scrape", e[C::scrapes], e[C::scrape_bad_request] + e[C::scrape_without_hash]);
  requests(j, "forwarded", e[C::forwarded],
           e[C::forwarded_bad_request] + e[C::forwarded_torrent_limit]);
  requests(j, "admin", e[C::admin], e[C::admin_forbidden]);
  requests(j, "udp connect", e[C::udp_connects], 0);
  requests(j, "udp announce", e[C::udp_announces], e[C::udp_announce_torrent_limit]);
  requests(j, "udp scrape", e[C::udp_scrapes], e[C::udp_scrape_bad_request]);
  j.close('}');
  // Unanswered: malformed, or without a connection ID this tracker gave (docs/udp.md).
  std::uint64_t dropped = 0;
  for (std::size_t id = C::udp_drop_too_short; id <= C::udp_drop_connection_id; ++id) {
    dropped += e[id];
  }
  j.field("udp_dropped", dropped);

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
  j.field("ok", e[C::upstream_ok]).field("failure_reason", e[C::upstream_failure_reason]);
  j.field("failed", e[C::upstream_failed]).field("refused", e[C::upstream_refused]);
  j.field("backed_off", e[C::upstream_backed_off]).field("cached", e[C::upstream_cached]);
  j.field("merged", e[C::upstream_merged]).close('}');

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

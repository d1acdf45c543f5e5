#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "admin/admin_handler.hpp"
#include "admin/snapshot.hpp"
#include "metrics/catalog.hpp"
#include "support/time.hpp"

namespace btrt::admin {
namespace {

using namespace std::chrono_literals;

using C = metrics::Counters;

Snapshot sample_snapshot() {
  Snapshot s;
  s.version = "9.9.9";
  s.now = 1'700'000'000;
  s.uptime_seconds = 42;
  s.events[C::announces] = 10;
  s.events[C::announce_bad_request] = 1;
  s.events[C::announce_torrent_limit] = 2;
  s.events[C::scrapes] = 4;
  s.events[C::scrape_without_hash] = 1;
  s.events[C::upstream_cached] = 6;
  s.events[C::admin] = 3;
  s.events[C::admin_forbidden] = 1;
  s.events[C::udp_connects] = 8;
  s.events[C::udp_announces] = 5;
  s.events[C::udp_announce_torrent_limit] = 1;
  s.events[C::udp_drop_connection_id] = 4;
  s.events[C::udp_drop_protocol_id] = 2;
  s.torrents = 2;
  s.groups = {{"local peers", true, 30}, {"odd \"name\" \\ here", false, 5}, {"other", false, 7}};
  s.peers = {{"local peers", "local", 3}, {"local peers", "neighbor:partner", 1}};
  s.neighbors = {{"partner", 5, 2, 9, true, 4, "timeout"}};
  s.latency[metrics::Latency::neighbor].buckets[0] = 2;  // two under 5 ms
  s.latency[metrics::Latency::neighbor].buckets[7] = 1;  // one under 1 s
  s.latency[metrics::Latency::neighbor].count = 3;
  s.latency[metrics::Latency::neighbor].sum = 0.75;
  s.database = {false, 17, 4};
  s.resident_memory_bytes = 1 << 20;
  s.open_connections = 5;
  return s;
}

std::string metrics_text(const Snapshot& s) {
  std::string out;
  render_metrics(s, out);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST(MetricsPage, FollowsTheTextFormat) {
  const std::string text = metrics_text(sample_snapshot());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  // Every sample belongs to the family whose HELP and TYPE came just before; no family twice.
  const std::regex sample(
      R"re(([a-z_]+)(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf))re");
  std::set<std::string> families;
  std::string family;
  std::string type;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(family).second) << family;
      EXPECT_EQ(family.rfind("btrt_", 0), 0u) << family;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      words >> name >> type;
      EXPECT_EQ(name, family);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      if (type == "counter") {
        EXPECT_NE(name.find("_total"), std::string::npos) << name;
      }
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    const std::string name = m[1];
    if (type == "histogram") {
      EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" ||
                  name == family + "_count")
          << line;
    } else {
      EXPECT_EQ(name, family) << line;
    }
  }
  for (const char* f :
       {"btrt_requests_total", "btrt_tracker_failures_total", "btrt_torrents", "btrt_peers",
        "btrt_returned_peers_total", "btrt_udp_dropped_total", "btrt_upstream_requests_total",
        "btrt_neighbor_requests_total", "btrt_upstream_request_duration_seconds",
        "btrt_neighbor_request_duration_seconds", "btrt_database_flush_duration_seconds",
        "btrt_database_pending_changes", "btrt_process_resident_memory_bytes",
        "btrt_open_connections"}) {
    EXPECT_TRUE(families.count(f)) << f;
  }
}

TEST(MetricsPage, Figures) {
  const std::string text = metrics_text(sample_snapshot());
  for (
      const char* line : {
          R"(btrt_requests_total{kind="announce",protocol="http",result="ok"} 7)",
          R"(btrt_requests_total{kind="announce",protocol="http",result="failure"} 3)",
          R"(btrt_requests_total{kind="scrape",protocol="http",result="ok"} 3)",
          R"(btrt_requests_total{kind="scrape",protocol="http",result="failure"} 1)",
          R"(btrt_requests_total{kind="admin",protocol="http",result="ok"} 2)",
          R"(btrt_requests_total{kind="admin",protocol="http",result="failure"} 1)",
          R"(btrt_tracker_failures_total{kind="announce",protocol="http",reason="bad_request"} 1)",
          R"(btrt_tracker_failures_total{kind="announce",protocol="http",reason="torrent_limit"} 2)",
          R"(btrt_tracker_failures_total{kind="scrape",protocol="http",reason="scrape_without_hash"} 1)",
          R"(btrt_requests_total{kind="announce",protocol="udp",result="ok"} 4)",
          R"(btrt_requests_total{kind="announce",protocol="udp",result="failure"} 1)",
          R"(btrt_requests_total{kind="connect",protocol="udp",result="ok"} 8)",
          R"(btrt_tracker_failures_total{kind="announce",protocol="udp",reason="torrent_limit"} 1)",
          R"(btrt_udp_dropped_total{reason="connection_id"} 4)",
          R"(btrt_udp_dropped_total{reason="protocol_id"} 2)",
          R"(btrt_udp_dropped_total{reason="too_short"} 0)",
          R"(btrt_torrents 2)",
          R"(btrt_peers{group="local peers",source="local"} 3)",
          R"(btrt_peers{group="local peers",source="neighbor:partner"} 1)",
          R"(btrt_returned_peers_total{group="local peers"} 30)",
          R"(btrt_returned_peers_total{group="odd \"name\" \\ here"} 5)",
          R"(btrt_upstream_requests_total{result="cached"} 6)",
          R"(btrt_upstream_requests_total{result="ok"} 0)",
          R"(btrt_neighbor_requests_total{neighbor="partner",result="ok"} 5)",
          R"(btrt_neighbor_requests_total{neighbor="partner",result="failed"} 2)",
          R"(btrt_neighbor_backed_off{neighbor="partner"} 1)",
          R"(btrt_neighbor_request_duration_seconds_bucket{le="0.005"} 2)",
          R"(btrt_neighbor_request_duration_seconds_bucket{le="0.5"} 2)",
          R"(btrt_neighbor_request_duration_seconds_bucket{le="1"} 3)",
          R"(btrt_neighbor_request_duration_seconds_bucket{le="+Inf"} 3)",
          R"(btrt_neighbor_request_duration_seconds_sum 0.75)",
          R"(btrt_neighbor_request_duration_seconds_count 3)",
          R"(btrt_upstream_request_duration_seconds_count 0)",
          R"(btrt_database_up 0)",
          R"(btrt_database_pending_changes 17)",
          R"(btrt_database_dropped_changes_total 4)",
          R"(btrt_process_resident_memory_bytes 1048576)",
          R"(btrt_open_connections 5)",
          R"(btrt_build_info{version="9.9.9"} 1)",
      }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n---\n" << text;
  }
}

// Every counter the catalog shows reaches both pages under its row's labels, each with its own
// value: a new row needs nothing else.
TEST(Pages, EveryCounterOfTheCatalogIsShown) {
  Snapshot s;
  for (std::size_t id = 0; id < C::kCount; ++id) s.events[id] = 1000 + id * 7;
  for (const auto& row : metrics::kCounterRows) {
    if (row.shown == metrics::Shown::request_total) s.events[row.id] += 100'000;  // > failures
  }
  const std::string text = metrics_text(s);
  std::string json;
  render_stats_json(s, json);
  std::uint64_t dropped = 0;
  for (const auto& row : metrics::kCounterRows) {
    const std::string value = std::to_string(s.events[row.id]);
    const std::string label(row.label);
    switch (row.shown) {
      case metrics::Shown::tracker_failure:
        EXPECT_TRUE(has_line(
            text,
            fmt::format(R"(btrt_tracker_failures_total{{kind="{}",protocol="{}",reason="{}"}} {})",
                        row.kind, row.protocol, label, value)))
            << label;
        break;
      case metrics::Shown::request_total: {
        const auto failed = metrics::failures_of(row, s.events);
        EXPECT_TRUE(has_line(
            text,
            fmt::format(R"(btrt_requests_total{{kind="{}",protocol="{}",result="failure"}} {})",
                        row.kind, row.protocol, failed)))
            << label;
        EXPECT_NE(json.find(fmt::format(R"("{}":{{"ok":{},"failure":{}}})", label,
                                        s.events[row.id] - failed, failed)),
                  std::string::npos)
            << label;
        break;
      }
      case metrics::Shown::udp_drop:
        dropped += s.events[row.id];
        EXPECT_TRUE(has_line(
            text, fmt::format(R"(btrt_udp_dropped_total{{reason="{}"}} {})", label, value)))
            << label;
        break;
      case metrics::Shown::upstream:
        EXPECT_TRUE(has_line(
            text, fmt::format(R"(btrt_upstream_requests_total{{result="{}"}} {})", label, value)))
            << label;
        EXPECT_NE(json.find(fmt::format(R"("{}":{})", label, value)), std::string::npos) << label;
        break;
      case metrics::Shown::refused:  // among its request total's failures, checked there
        break;
      case metrics::Shown::not_shown:
        EXPECT_EQ(text.find(" " + value + "\n"), std::string::npos) << row.id;
        break;
    }
  }
  EXPECT_NE(json.find(fmt::format(R"("udp_dropped":{})", dropped)), std::string::npos);
}

TEST(Locality, CountsTheLocalGroupsOfEachSample) {
  std::vector<HistorySample> history{
      {60, {{"local peers", 3}, {"partner", 1}, {"other", 4}}},
      {120, {}},
      {180, {{"gone group", 2}, {"local peers", 2}}},
  };
  auto out = locality_of(history, {"local peers"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sampled_at, 60);
  EXPECT_EQ(out[0].returned, 8u);
  EXPECT_EQ(out[0].local, 3u);
  EXPECT_EQ(out[1].returned, 0u);
  EXPECT_EQ(out[2].returned, 4u);
  EXPECT_EQ(out[2].local, 2u);
}

TEST(StatsPage, JsonHasTheFiguresAndCannotCloseTheScript) {
  Snapshot s = sample_snapshot();
  s.neighbors[0].last_error = "failure reason: </script><b>x</b> & \"q\"\n";
  s.locality = {{60, 8, 3}};
  std::string json;
  render_stats_json(s, json);
  EXPECT_EQ(json.find('<'), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_error":"failure reason: \u003c/script\u003e\u003cb\u003ex)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"(\u0026 \"q\"\n")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("torrents":2,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("announce":{"ok":7,"failure":3})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("udp announce":{"ok":4,"failure":1})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("udp_dropped":6,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("locality":[{"at":60,"returned":8,"local":3}])"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"name":"local peers","local":true,"returned":30,"peers":{"local":3,)"
                      R"("neighbor:partner":1},"peers_total":4})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("origins":[],"origins_total":0,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("state":"backing off")"), std::string::npos) << json;
  // Balanced brackets outside strings: a cheap well-formedness check.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
}

TEST(StatsPage, HtmlCarriesTheFiguresInline) {
  std::string html;
  render_stats_html(sample_snapshot(), html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("BTRT_STATS_JSON"), std::string::npos);
  EXPECT_NE(html.find(R"(const data = {"version":"9.9.9")"), std::string::npos);
  // Self-contained: nothing loaded from elsewhere.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
  for (auto at = html.find("http:"); at != std::string::npos; at = html.find("http:", at + 1)) {
    EXPECT_EQ(html.compare(at, 26, "http://www.w3.org/2000/svg"), 0);  // a name, not a fetch
  }
}

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}

TEST(AdminHandler, OnlyAdminAllowGetsThePages) {
  auto classifier = std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local peers", 0, {*net::Cidr::parse("10.1.0.0/16")}}});
  core::SwarmStore store(classifier, {}, 4);
  std::vector<core::SelectedPeer> out;
  for (std::uint16_t port = 1; port <= 3; ++port) {
    core::PeerAnnounce a;
    a.info_hash.bytes.fill(7);
    a.peer_id.bytes.fill(static_cast<std::uint8_t>(port));
    a.address = ip(port == 3 ? "192.0.2.1" : "10.1.0.1");
    a.port = port;
    store.announce(a, test::at(100), 60s, {}, out);
  }
  AdminHandler::Providers providers;
  providers.classifier = [classifier] { return classifier; };
  providers.open_connections = [] { return std::uint64_t{9}; };
  AdminHandler admin(store, {*net::Cidr::parse("127.0.0.1/32")}, providers);

  std::string body;
  http::Request request;
  request.method = "GET";
  request.target = "/metrics";
  request.source = ip("127.0.0.2");
  http::Response refused{200, "text/plain", body};
  admin.handle(request, refused);
  EXPECT_EQ(refused.status, 403);

  body.clear();
  request.source = ip("127.0.0.1");
  http::Response metrics{200, "text/plain", body};
  admin.handle(request, metrics);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, kMetricsContentType);
  EXPECT_TRUE(has_line(body, R"(btrt_peers{group="local peers",source="local"} 2)")) << body;
  EXPECT_TRUE(has_line(body, R"(btrt_peers{group="other",source="local"} 1)")) << body;
  EXPECT_TRUE(has_line(body, R"(btrt_peers{group="other",source="external"} 0)")) << body;
  EXPECT_TRUE(has_line(body, "btrt_torrents 1")) << body;
  EXPECT_TRUE(has_line(body, "btrt_open_connections 9")) << body;

  body.clear();
  request.target = "/stats?x=1&format=json";
  http::Response json{200, "text/plain", body};
  admin.handle(request, json);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_EQ(body.front(), '{');

  body.clear();
  request.target = "/stats";
  http::Response page{200, "text/plain", body};
  admin.handle(request, page);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(body.find("\"torrents\":1"), std::string::npos);
}

}  // namespace
}  // namespace btrt::admin

#include "admin/admin_handler.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/peer.hpp"

namespace btrt::admin {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "format=json" among the query's parameters.
bool wants_json(std::string_view query) {
  while (!query.empty()) {
    auto amp = query.find('&');
    if (query.substr(0, amp) == "format=json") return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

}  // namespace

std::uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

AdminHandler::AdminHandler(const core::SwarmStore& store, std::vector<net::Cidr> admin_allow,
                           Providers providers)
    : store_(store), admin_allow_(std::move(admin_allow)), providers_(std::move(providers)) {}

bool AdminHandler::allowed(const net::IpAddress& address) const {
  return std::any_of(admin_allow_.begin(), admin_allow_.end(),
                     [&](const net::Cidr& c) { return c.contains(address); });
}

void AdminHandler::handle(const http::Request& request, http::Response& response) {
  auto& counters = metrics::Counters::global();
  counters.add(metrics::Counters::admin);
  if (!allowed(request.source)) {
    counters.add(metrics::Counters::admin_forbidden);
    response.status = 403;
    response.body = "forbidden: not in server.admin_allow\n";
    return;
  }
  std::string_view target = request.target;
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  if (path == "/metrics") {
    response.content_type = kMetricsContentType;
    render_metrics(snapshot(), response.body);
  } else if (path == "/stats" && wants_json(query)) {
    response.content_type = "application/json";
    render_stats_json(snapshot(), response.body);
  } else if (path == "/stats") {
    response.content_type = "text/html; charset=utf-8";
    render_stats_html(snapshot(), response.body);
  } else {
    response.status = 404;
    response.body = "not found\n";
  }
}

Snapshot AdminHandler::snapshot() const {
  Snapshot s;
  s.version = BTRT_VERSION;
  s.now = unix_now();
  s.uptime_seconds = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count());
  const auto counters = metrics::Counters::global().snapshot();
  s.events = counters.events;
  for (std::size_t k = 0; k < metrics::Latency::kCount; ++k) {
    s.latency[k] = metrics::Latency::of(static_cast<metrics::Latency::Kind>(k)).snapshot();
  }

  auto classifier =
      providers_.classifier ? providers_.classifier() : std::make_shared<net::Classifier>();
  std::vector<std::string> local_groups;
  for (std::size_t g = 0; g < classifier->group_count(); ++g) {
    const auto id = static_cast<net::GroupId>(g);
    GroupFigures figures;
    figures.name = classifier->name_of(id);
    // "Local" is the best level of the operator's own groups: what the ranking prefers.
    figures.local = id != classifier->other() && classifier->level_of(id) == 0;
    figures.returned = counters.returned_by_group[g];
    if (figures.local) local_groups.push_back(figures.name);
    s.groups.push_back(std::move(figures));
  }

  std::vector<std::pair<core::Source, std::string>> sources = {
      {core::Source::local, "local"}, {core::Source::external, "external"}};
  if (providers_.neighbor_sources) {
    for (auto& [source, name] : providers_.neighbor_sources()) {
      sources.emplace_back(source, "neighbor:" + name);
    }
  }
  const auto census = store_.census();
  s.torrents = census.torrents;
  for (std::size_t g = 0; g < census.group_count; ++g) {
    const auto id = static_cast<net::GroupId>(g);
    const std::string group =
        g < classifier->group_count() ? classifier->name_of(id) : "group " + std::to_string(g);
    for (std::size_t src = 0; src < core::PeerCensus::kSources; ++src) {
      const auto source = core::Source::from_value(static_cast<std::uint8_t>(src));
      auto known = std::find_if(sources.begin(), sources.end(),
                                [&](const auto& p) { return p.first == source; });
      const std::uint64_t peers = census.at(id, source);
      // Known sources always (steady series); a neighbour just removed only while it has peers.
      if (known != sources.end()) {
        s.peers.push_back({group, known->second, peers});
      } else if (peers != 0) {
        s.peers.push_back({group, "neighbor:#" + std::to_string(src), peers});
      }
    }
  }

  if (providers_.neighbors) s.neighbors = providers_.neighbors();
  if (providers_.origins) s.origins = providers_.origins();
  if (providers_.origins_total) s.origins_total = providers_.origins_total();
  if (providers_.database) s.database = providers_.database();
  if (providers_.history) s.locality = locality_of(providers_.history(), local_groups);
  if (providers_.open_connections) s.open_connections = providers_.open_connections();
  s.resident_memory_bytes = resident_memory_bytes();
  return s;
}

}  // namespace btrt::admin

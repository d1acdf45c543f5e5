#include "app/tracker.hpp"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "admin/admin_handler.hpp"
#include "app/commands.hpp"
#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "forwarding/forwarder.hpp"
#include "hashlist/file_writer.hpp"
#include "hashlist/selection.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "log/logging.hpp"
#include "metrics/counters.hpp"
#include "neighbors/poller.hpp"
#include "storage/database.hpp"
#include "storage/write_behind.hpp"
#include "tracker/tracker.hpp"
#include "udp/handler.hpp"
#include "udp/server.hpp"

namespace btrt::app {
namespace {

namespace asio = boost::asio;

// Origins /stats lists (the most asked): a page for a person, not a dump of every name.
constexpr std::size_t kOriginsShown = 50;

void log_summary(const config::Config& config, const net::Classifier& classifier) {
  std::string listen;
  for (const auto& e : config.server.listen) listen += (listen.empty() ? "" : ", ") + e.to_string();
  spdlog::info("configuration {}: listening on {}", config.file, listen);
  if (!config.server.udp_listen.empty()) {
    std::string udp;
    for (const auto& e : config.server.udp_listen) udp += (udp.empty() ? "" : ", ") + e.to_string();
    spdlog::info("UDP tracker on {}", udp);
  }
  spdlog::info("database: {}", config.database.url);
  for (std::size_t g = 0; g + 1 < classifier.group_count(); ++g) {
    const auto& group = config.peer_groups[g];
    spdlog::info("peer group '{}': priority {}, {} prefixes", group.name, group.priority,
                 group.cidrs.size());
  }
  for (const auto& n : config.neighbors) {
    spdlog::info("neighbour '{}': every {} s", n.name, n.refresh_interval);
  }
}

// Sweeps expired peers a few shards at a time, so that the whole store is covered about
// every `pass` seconds without ever locking more than one shard.
class ExpirySweeper {
 public:
  ExpirySweeper(asio::io_context& io, core::SwarmStore& store, const tracker::Tracker& tracker)
      : timer_(io), store_(store), tracker_(tracker) {}

  void start(std::uint32_t peer_expiry) {
    pass_ = std::clamp<std::uint32_t>(peer_expiry / 8, 1, 30);
    schedule();
  }

 private:
  static constexpr std::chrono::milliseconds kTick{100};
  void schedule() {
    timer_.expires_after(kTick);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      const std::size_t ticks_per_pass = pass_ * 1000 / kTick.count();
      const std::size_t per_tick = (store_.shard_count() + ticks_per_pass - 1) / ticks_per_pass;
      const auto now = tracker_.now();
      for (std::size_t i = 0; i < per_tick; ++i) store_.expire_shard(next_++, now);
      schedule();
    });
  }

  asio::steady_timer timer_;
  core::SwarmStore& store_;
  const tracker::Tracker& tracker_;
  std::uint32_t pass_ = 30;
  std::size_t next_ = 0;
};

// Writes hashlist.bin from the swarm in memory every hashlist.interval seconds
// (docs/dpi-integration.md), on the control thread: a pass locks one shard at a time, as the
// sweeper does.
class HashlistTimer {
 public:
  HashlistTimer(asio::io_context& io, const core::SwarmStore& store,
                const tracker::Tracker& tracker)
      : timer_(io), store_(store), tracker_(tracker) {}

  // Puts `settings` in force (at start and on reload); a first file is written at once, so
  // that the DPI has a current list right after a (re)start.
  void apply(const config::Hashlist& settings) {
    settings_ = settings;
    timer_.cancel();
    if (settings_.interval == 0) return;
    write();
    schedule();
  }

 private:
  void schedule() {
    timer_.expires_after(std::chrono::seconds(settings_.interval));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      write();
      schedule();
    });
  }

  void write() {
    const auto hashes = hashlist::select_from_store(store_, settings_.groups, settings_.min_seeders,
                                                    tracker_.now());
    try {
      hashlist::write_atomically(settings_.path, hashlist::encode(hashes));
      spdlog::info("hashlist: {} torrents written to {}", hashes.size(), settings_.path);
    } catch (const hashlist::WriteError& e) {
      spdlog::error("hashlist: {}", e.what());
    }
  }

  asio::steady_timer timer_;
  const core::SwarmStore& store_;
  const tracker::Tracker& tracker_;
  config::Hashlist settings_;
};

}  // namespace

std::shared_ptr<const net::Classifier> make_classifier(const config::Config& config) {
  std::vector<net::GroupSpec> groups;
  for (const auto& g : config.peer_groups) groups.push_back({g.name, g.priority, g.cidrs});
  return std::make_shared<const net::Classifier>(std::move(groups));
}

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Puts the unexpired peers and their torrents' completion counts back into the store.
void restore(storage::Database& database, core::SwarmStore& store, core::Seconds now) {
  const auto started = std::chrono::steady_clock::now();
  auto result = storage::restore_swarm(database, store, now, wall_now());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info(
      "restored {} peers in {} torrents from {} in {:.2f} s{}", result.peers,
      store.totals().torrents, database.describe(), seconds,
      result.refused ? fmt::format(" ({} kept out by limits)", result.refused) : std::string());
}

int run_tracker(const std::string& config_path) {
  // Large blocks (the write-behind's change batches, the shards' pending maps after a burst)
  // come from mmap and go back to the system when freed. glibc would otherwise raise this
  // threshold after the first such free and serve later batches from the heap, where they
  // leave holes between the long-lived peer arrays: tens of bytes per peer kept for good.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  auto loaded = config::load_file(config_path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return kBadUsage;
  }
  config::Config config = std::move(*loaded.config);
  try {
    log::init(config.logging);
  } catch (const std::exception& e) {
    std::cerr << "btrt: " << e.what() << "\n";
    return kRuntimeFailure;
  }

  // Signals are caught from here on (a stop asked for during the restore is kept for later),
  // before anything listens: an early SIGTERM must never kill the process half-way.
  asio::io_context control(1);
  asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  // Every thread started below inherits these signals blocked, so the kernel always hands
  // them to this thread, which serves `control`; it takes them once everything runs.
  sigset_t stop_signals;
  sigset_t previous_mask;
  sigemptyset(&stop_signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous_mask);

  auto classifier = make_classifier(config);
  core::SwarmStore store(classifier,
                         {config.tracker.max_torrents, config.tracker.max_peers_per_torrent,
                          core::learned_limit(config.tracker.numwant_max)});
  tracker::Tracker tracker(store, config);
  http::Router router(tracker, config);

  http::ServerOptions options;
  options.listen = config.server.listen;
  options.threads = config.server.threads != 0 ? config.server.threads
                                               : std::max(1u, std::thread::hardware_concurrency());
  options.max_connections = config.server.max_connections;
  options.request_timeout = config.server.request_timeout;
  options.keepalive_timeout = config.server.keepalive_timeout;
  http::Server server(options, router);
  udp::Handler udp_handler(tracker);
  udp::Server udp_server(config.server.udp_listen, udp_handler);
  if (!config.server.udp_listen.empty()) server.add_service(udp_server);

  spdlog::info("btrt {} starting", BTRT_VERSION);
  log_summary(config, *classifier);

  const bool create_schema = config.database.kind == config::Database::Kind::sqlite;
  std::unique_ptr<storage::Database> database;
  try {
    database = storage::Database::connect(config.database);
    storage::prepare_for_run(*database, create_schema);
    restore(*database, store, tracker.now());
  } catch (const storage::SchemaError& e) {
    // Reachable, but an operator's step is missing: serving would write nowhere for good.
    spdlog::critical("{}", e.what());
    log::shutdown();
    return kRuntimeFailure;
  } catch (const storage::DatabaseError& e) {
    // A maintenance window of the database must not take local retracking away: serve from
    // an empty swarm and let the write-behind restore and merge once it is there.
    spdlog::error(
        "database not available at start, serving from an empty swarm; it is retried, and "
        "what it holds is restored (merged with what is announced meanwhile) once it is "
        "there: {}",
        e.what());
    database.reset();
  }
  const bool database_missing = database == nullptr;
  std::atomic<std::shared_ptr<const net::Classifier>> current_classifier{classifier};
  storage::WriteBehind write_behind(
      store, std::move(database), config.database, {[&tracker] { return tracker.now(); }, wall_now},
      [&current_classifier] {
        auto snapshot = metrics::Counters::global().snapshot();
        auto groups = current_classifier.load();
        storage::StatsRow row;
        row.announces = snapshot.events[metrics::Counters::announces] +
                        snapshot.events[metrics::Counters::udp_announces];
        row.scrapes = snapshot.events[metrics::Counters::scrapes] +
                      snapshot.events[metrics::Counters::udp_scrapes];
        row.forwarded = snapshot.events[metrics::Counters::forwarded];
        for (std::size_t g = 0; g < groups->group_count(); ++g) {
          row.returned_by_group.emplace_back(groups->name_of(static_cast<net::GroupId>(g)),
                                             snapshot.returned_by_group[g]);
        }
        return row;
      });
  if (database_missing) write_behind.restore_when_available(create_schema);
  write_behind.start();
  neighbors::Poller poller(store, [&tracker] { return tracker.now(); });
  poller.start(config.neighbors);
  forwarding::Forwarder forwarder(
      store, [&tracker] { return tracker.now(); }, config.forwarding,
      config.tracker.announce_interval);
  forwarder.limit_answers(config.tracker.min_interval, config.tracker.numwant_max);
  forwarder.start();
  router.set_forwarder(&forwarder);

  admin::AdminHandler::Providers providers;
  providers.classifier = [&current_classifier] { return current_classifier.load(); };
  providers.neighbors = [&poller] {
    std::vector<admin::NeighborState> out;
    for (auto& n : poller.status()) {
      out.push_back({std::move(n.name), n.requests_ok, n.requests_failed, n.peers_learned,
                     n.backed_off, n.backoff, std::move(n.last_error)});
    }
    return out;
  };
  providers.neighbor_sources = [&poller] {
    std::vector<std::pair<std::uint8_t, std::string>> out;
    for (auto& n : poller.status()) out.emplace_back(n.source, std::move(n.name));
    return out;
  };
  providers.database = [&write_behind] {
    return admin::DatabaseState{write_behind.database_up(), write_behind.pending_peer_changes(),
                                write_behind.dropped_peer_changes()};
  };
  providers.history = [&write_behind] {
    std::vector<admin::HistorySample> out;
    for (auto& row : write_behind.history()) {
      out.push_back({row.sampled_at, std::move(row.returned_by_group)});
    }
    return out;
  };
  providers.open_connections = [&server] { return server.open_connections(); };
  providers.origins = [&forwarder] {
    std::vector<admin::OriginState> out;
    for (auto& o : forwarder.status(kOriginsShown).top) {
      std::string state = o.backed_off ? "backed off" : "ok";
      if (!o.last_error.empty()) state += " (last error: " + o.last_error + ")";
      out.push_back({std::move(o.server), std::move(state), o.failed});
    }
    return out;
  };
  providers.origins_total = [&forwarder] { return forwarder.origin_count(); };
  admin::AdminHandler admin_handler(store, config.server.admin_allow, std::move(providers));
  router.set_admin(&admin_handler);
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    forwarder.stop();  // these log: end them while the logger still exists
    poller.stop();
    write_behind.stop();
    log::shutdown();
    return kRuntimeFailure;
  }
  spdlog::info("serving with {} threads", options.threads);

  ExpirySweeper sweeper(control, store, tracker);
  sweeper.start(config.tracker.peer_expiry);
  HashlistTimer hashlist_timer(control, store, tracker);
  hashlist_timer.apply(config.hashlist);

  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal != SIGHUP) {
        spdlog::info("signal {}: stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        control.stop();
        return;
      }
      auto reloaded = config::load_file(config_path);
      if (!reloaded.errors.empty()) {
        for (const auto& e : reloaded.errors) spdlog::error("reload: {}", e.to_string());
        spdlog::error("reload rejected: the previous configuration stays in force");
      } else {
        const config::Config& next = *reloaded.config;
        log::set_level(next.logging.level);
        auto next_classifier = make_classifier(next);
        store.set_classifier(next_classifier);
        current_classifier.store(next_classifier);
        tracker.apply(next.tracker);
        forwarder.apply(next.forwarding, next.tracker.announce_interval);
        forwarder.limit_answers(next.tracker.min_interval, next.tracker.numwant_max);
        poller.reconfigure(next.neighbors);
        hashlist_timer.apply(next.hashlist);
        spdlog::info("configuration reloaded (server and database settings apply at restart)");
        log_summary(next, *next_classifier);
      }
      wait_for_signal();
    });
  };
  wait_for_signal();
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);  // pending ones arrive now
  control.run();

  router.set_serving(false);
  // First: subscribers waiting for an origin are answered at once, and later forwarded
  // announces without the origin, so no connection holds the server's stop for an origin.
  forwarder.stop();
  poller.stop();
  server.stop();
  write_behind.stop();
  spdlog::info("stopped");
  log::shutdown();
  return kSuccess;
}

}  // namespace btrt::app

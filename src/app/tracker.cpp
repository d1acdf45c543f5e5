#include "app/tracker.hpp"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include "admin/admin_handler.hpp"
#include "app/commands.hpp"
#include "clock/clock.hpp"
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
  if (!config.interception.udp_listen.empty()) {
    std::string udp;
    for (const auto& e : config.interception.udp_listen) {
      udp += (udp.empty() ? "" : ", ") + e.to_string();
    }
    spdlog::info("UDP interception on {}", udp);
  }
  spdlog::info("database: {}", config.database.url);
  for (std::size_t g = 0; g + 1 < classifier.group_count(); ++g) {
    const auto& group = config.peer_groups[g];
    spdlog::info("peer group '{}': priority {}, {} prefixes", group.name, group.priority,
                 group.cidrs.size());
  }
  for (const auto& n : config.neighbors) {
    spdlog::info("neighbour '{}': every {} s", n.name, n.refresh_interval.count());
  }
}

// Sweeps expired peers a few shards at a time, so that the whole store is covered about
// every `pass` without ever locking more than one shard.
class ExpirySweeper {
 public:
  ExpirySweeper(asio::io_context& io, core::SwarmStore& store, const clock::Clock& clock)
      : timer_(io), store_(store), clock_(clock) {}

  void start(core::Duration peer_expiry) {
    pass_ = std::clamp(peer_expiry / 8, core::Duration{1}, core::Duration{30});
    schedule();
  }

 private:
  static constexpr std::chrono::milliseconds kTick{100};
  void schedule() {
    timer_.expires_after(kTick);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      const std::size_t ticks_per_pass = pass_ / kTick;
      const std::size_t per_tick = (store_.shard_count() + ticks_per_pass - 1) / ticks_per_pass;
      const auto now = clock_.now();
      for (std::size_t i = 0; i < per_tick; ++i) store_.expire_shard(next_++, now);
      schedule();
    });
  }

  asio::steady_timer timer_;
  core::SwarmStore& store_;
  const clock::Clock& clock_;
  core::Duration pass_{30};
  std::size_t next_ = 0;
};

// Writes hashlist.bin from the swarm in memory every hashlist.interval seconds
// (docs/dpi-integration.md), on the control thread: a pass locks one shard at a time, as the
// sweeper does.
class HashlistTimer {
 public:
  HashlistTimer(asio::io_context& io, const core::SwarmStore& store, const clock::Clock& clock)
      : timer_(io), store_(store), clock_(clock) {}

  // Puts `settings` in force (at start and on reload); a first file is written at once, so
  // that the DPI has a current list right after a (re)start.
  void apply(const config::Hashlist& settings) {
    settings_ = settings;
    timer_.cancel();
    if (settings_.interval == core::Duration::zero()) return;
    write();
    schedule();
  }

 private:
  void schedule() {
    timer_.expires_after(settings_.interval);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      write();
      schedule();
    });
  }

  void write() {
    const auto hashes =
        hashlist::select_from_store(store_, settings_.groups, settings_.min_seeders, clock_.now());
    try {
      hashlist::write_atomically(settings_.path, hashlist::encode(hashes));
      spdlog::info("hashlist: {} torrents written to {}", hashes.size(), settings_.path);
    } catch (const hashlist::WriteError& e) {
      spdlog::error("hashlist: {}", e.what());
    }
  }

  asio::steady_timer timer_;
  const core::SwarmStore& store_;
  const clock::Clock& clock_;
  config::Hashlist settings_;
};

}  // namespace

std::shared_ptr<const net::Classifier> make_classifier(const config::Config& config) {
  std::vector<net::GroupSpec> groups;
  for (const auto& g : config.peer_groups) groups.push_back({g.name, g.priority, g.cidrs});
  return std::make_shared<const net::Classifier>(std::move(groups));
}

// Puts the unexpired peers and their torrents' completion counts back into the store.
void restore(storage::Database& database, core::SwarmStore& store, const clock::Clock& clock) {
  const auto started = std::chrono::steady_clock::now();
  auto result = storage::restore_swarm(database, store, clock.now(), clock.unix_now());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info(
      "restored {} peers in {} torrents from {} in {:.2f} s{}", result.peers,
      store.totals().torrents, database.describe(), seconds,
      result.refused ? fmt::format(" ({} kept out by limits)", result.refused) : std::string());
}

namespace {

// Start-up, first: the configuration and the logger. nullopt once the reason is told, with the
// exit status in `status`.
std::optional<config::Config> load_configuration(const std::string& path, int& status) {
  auto loaded = config::load_file(path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    status = kBadUsage;
    return std::nullopt;
  }
  try {
    log::init(loaded.config->logging);
  } catch (const std::exception& e) {
    std::cerr << "btrt: " << e.what() << "\n";
    status = kRuntimeFailure;
    return std::nullopt;
  }
  return std::move(*loaded.config);
}

// The control thread: SIGTERM and SIGINT stop, SIGHUP reloads; the sweeper and the hashlist
// timer run on its loop too. Built before anything listens: a stop asked for during the
// restore is kept for later, and an early SIGTERM never kills the process half-way.
class Control {
 public:
  Control() {
    // Every thread started after this inherits these signals blocked, so the kernel always
    // hands them to this thread, which serves `io`; it takes them once everything runs.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous_mask_);
  }

  asio::io_context& io() { return io_; }

  // Serves until SIGTERM or SIGINT, calling `reload` on each SIGHUP.
  void run(std::function<void()> reload) {
    reload_ = std::move(reload);
    wait_for_signal();
    pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);  // pending ones arrive now
    io_.run();
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal != SIGHUP) {
        spdlog::info("signal {}: stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        io_.stop();
        return;
      }
      reload_();
      wait_for_signal();
    });
  }

  asio::io_context io_{1};
  asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  sigset_t previous_mask_;
  std::function<void()> reload_;
};

// The swarm in memory and the tracker logic over it, with the peer groups a reload replaces.
struct Swarm {
  Swarm(const config::Config& config, const clock::Clock& clock)
      : classifier(make_classifier(config)),
        store(classifier.load(), {config.tracker.max_torrents, config.tracker.max_peers_per_torrent,
                                  core::learned_limit(config.tracker.numwant_max)}),
        tracker(store, config, clock) {}

  std::atomic<std::shared_ptr<const net::Classifier>> classifier;
  core::SwarmStore store;
  tracker::Tracker tracker;
};

http::ServerOptions server_options(const config::Config& config) {
  http::ServerOptions options;
  options.listen = config.server.listen;
  options.intercept_listen = config.interception.tcp_listen;
  options.threads = config.server.threads != 0 ? config.server.threads
                                               : std::max(1u, std::thread::hardware_concurrency());
  options.max_connections = config.server.max_connections;
  options.request_timeout = config.server.request_timeout;
  options.keepalive_timeout = config.server.keepalive_timeout;
  return options;
}

// What answers subscribers: the HTTP router and server, and the UDP tracker on its workers.
struct Front {
  Front(const config::Config& config, tracker::Tracker& tracker)
      : router(tracker, config),
        options(server_options(config)),
        server(options, router),
        udp_handler(tracker),
        udp_interceptor(udp_handler, tracker, config),
        udp_server(config.server.udp_listen, udp_handler, config.interception.udp_listen,
                   &udp_interceptor) {
    if (!config.server.udp_listen.empty() || !config.interception.udp_listen.empty()) {
      server.add_service(udp_server);
    }
  }

  http::Router router;
  const http::ServerOptions options;
  http::Server server;
  udp::Handler udp_handler;
  udp::Interceptor udp_interceptor;
  udp::Server udp_server;
};

// Start-up, last: the database, prepared, and what it holds put back into the store. nullptr
// when it is not reachable: a maintenance window of the database must not take local
// retracking away, so btrt serves from an empty swarm and the write-behind restores and merges
// once it is there. A storage::SchemaError (reachable, but an operator's step is missing) goes
// up: serving would write nowhere for good.
std::unique_ptr<storage::Database> open_database(const config::Config& config, Swarm& swarm,
                                                 const clock::Clock& clock) {
  try {
    auto database = storage::Database::connect(config.database);
    storage::prepare_for_run(*database, config.database.kind == config::Database::Kind::sqlite);
    restore(*database, swarm.store, clock);
    return database;
  } catch (const storage::SchemaError&) {
    throw;
  } catch (const storage::DatabaseError& e) {
    spdlog::error(
        "database not available at start, serving from an empty swarm; it is retried, and "
        "what it holds is restored (merged with what is announced meanwhile) once it is "
        "there: {}",
        e.what());
    return nullptr;
  }
}

// The per-minute statistics row the write-behind keeps, from the counters.
storage::WriteBehind::StatsSource statistics_of(const Swarm& swarm) {
  return [&swarm] {
    auto snapshot = metrics::Counters::global().snapshot();
    auto groups = swarm.classifier.load();
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
  };
}

// What runs behind the front: the database's write-behind, the neighbour poller, the
// forwarder of announces to their origins, and the service pages that show them all.
struct Behind {
  Behind(const config::Config& config, Swarm& swarm, Front& front, const clock::Clock& clock,
         std::unique_ptr<storage::Database> database)
      : database_missing(database == nullptr),
        write_behind(swarm.store, std::move(database), config.database, clock,
                     statistics_of(swarm)),
        poller(swarm.store, clock, config.interception.mark),
        forwarder(swarm.store, clock, config.forwarding, config.tracker, config.interception.mark),
        admin(swarm.store, config.server.admin_allow, providers(swarm, front)) {
    if (database_missing) {
      write_behind.restore_when_available(config.database.kind == config::Database::Kind::sqlite);
    }
    write_behind.start();
    poller.start(config.neighbors);
    forwarder.start();
    front.router.set_forwarder(&forwarder);
    front.udp_interceptor.set_forwarder(&forwarder);
    front.router.set_admin(&admin);
  }

  // Each part's figures, as the service pages ask for them.
  admin::AdminHandler::Providers providers(Swarm& swarm, Front& front);

  const bool database_missing;
  storage::WriteBehind write_behind;
  neighbors::Poller poller;
  forwarding::Forwarder forwarder;
  admin::AdminHandler admin;
};

admin::AdminHandler::Providers Behind::providers(Swarm& swarm, Front& front) {
  admin::AdminHandler::Providers p;
  p.classifier = [&swarm] { return swarm.classifier.load(); };
  p.neighbors = [this] {
    std::vector<admin::NeighborState> out;
    for (auto& n : poller.status()) {
      out.push_back({std::move(n.name), n.requests_ok, n.requests_failed, n.peers_learned,
                     n.backed_off, n.backoff.count(), std::move(n.last_error)});
    }
    return out;
  };
  p.neighbor_sources = [this] {
    std::vector<std::pair<core::Source, std::string>> out;
    for (auto& n : poller.status()) out.emplace_back(n.source, std::move(n.name));
    return out;
  };
  p.database = [this] {
    return admin::DatabaseState{write_behind.database_up(), write_behind.pending_peer_changes(),
                                write_behind.dropped_peer_changes()};
  };
  p.history = [this] {
    std::vector<admin::HistorySample> out;
    for (auto& row : write_behind.history()) {
      out.push_back({row.sampled_at, std::move(row.returned_by_group)});
    }
    return out;
  };
  p.open_connections = [&front] { return front.server.open_connections(); };
  p.origins = [this] {
    std::vector<admin::OriginState> out;
    for (auto& o : forwarder.status(kOriginsShown).top) {
      std::string state = o.backed_off ? "backed off" : "ok";
      if (!o.last_error.empty()) state += " (last error: " + o.last_error + ")";
      out.push_back({std::move(o.server), std::move(state), o.failed});
    }
    return out;
  };
  p.origins_total = [this] { return forwarder.origin_count(); };
  return p;
}

// SIGHUP: the configuration read again and put in force where it can be without a restart;
// a configuration with errors changes nothing.
void reload(const std::string& config_path, Swarm& swarm, Behind& behind,
            HashlistTimer& hashlist_timer) {
  auto reloaded = config::load_file(config_path);
  if (!reloaded.errors.empty()) {
    for (const auto& e : reloaded.errors) spdlog::error("reload: {}", e.to_string());
    spdlog::error("reload rejected: the previous configuration stays in force");
    return;
  }
  const config::Config& next = *reloaded.config;
  log::apply(next.logging);
  auto next_classifier = make_classifier(next);
  swarm.store.apply(next_classifier);
  swarm.classifier.store(next_classifier);
  swarm.tracker.apply(next.tracker);
  behind.forwarder.apply(next.forwarding, next.tracker);
  behind.poller.apply(next.neighbors);
  hashlist_timer.apply(next.hashlist);
  spdlog::info("configuration reloaded (server and database settings apply at restart)");
  log_summary(next, *next_classifier);
}

// The orderly stop. First: subscribers waiting for an origin are answered at once, and later
// forwarded announces without the origin, so no connection holds the server's stop for an
// origin. The write-behind goes last, with every change the server's threads made.
void stop_in_order(Front& front, Behind& behind) {
  front.router.set_serving(false);
  behind.forwarder.stop();
  behind.poller.stop();
  front.server.stop();
  behind.write_behind.stop();
  spdlog::info("stopped");
  log::shutdown();
}

}  // namespace

int run_tracker(const std::string& config_path) {
  // Large blocks (the write-behind's change batches, the shards' change maps after a burst)
  // come from mmap and go back to the system when freed. glibc would otherwise raise this
  // threshold after the first such free and serve later batches from the heap, where they
  // leave holes between the long-lived peer arrays: tens of bytes per peer kept for good.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  int status = kSuccess;
  const auto config = load_configuration(config_path, status);
  if (!config) return status;
  Control control;

  const clock::SteadyClock clock;  // the one clock every part keeps time by
  Swarm swarm(*config, clock);
  Front front(*config, swarm.tracker);
  spdlog::info("btrt {} starting", BTRT_VERSION);
  log_summary(*config, *swarm.classifier.load());
  std::unique_ptr<storage::Database> database;
  try {
    database = open_database(*config, swarm, clock);
  } catch (const storage::SchemaError& e) {
    spdlog::critical("{}", e.what());
    log::shutdown();
    return kRuntimeFailure;
  }
  Behind behind(*config, swarm, front, clock, std::move(database));
  try {
    front.server.start();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    behind.forwarder.stop();  // these log: end them while the logger still exists
    behind.poller.stop();
    behind.write_behind.stop();
    log::shutdown();
    return kRuntimeFailure;
  }
  spdlog::info("serving with {} threads", front.options.threads);

  ExpirySweeper sweeper(control.io(), swarm.store, clock);
  sweeper.start(config->tracker.peer_expiry);
  HashlistTimer hashlist_timer(control.io(), swarm.store, clock);
  hashlist_timer.apply(config->hashlist);
  control.run([&] { reload(config_path, swarm, behind, hashlist_timer); });

  stop_in_order(front, behind);
  return kSuccess;
}

}  // namespace btrt::app

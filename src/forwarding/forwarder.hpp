#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "core/lru_map.hpp"
#include "core/swarm_store.hpp"
#include "forwarding/origin_cache.hpp"
#include "http/client.hpp"

namespace btrt::forwarding {

// One announce to pass to its origin.
struct UpstreamAnnounce {
  std::string origin;  // "http://host:port/path"
  std::string url;     // what is sent: origin, '?', the subscriber's query (+ ip=)
  core::InfoHash info_hash;
  bool event = false;         // started, completed or stopped: never merged, always sent
  std::string user_agent;     // the subscriber's, passed on (private trackers check it)
  net::IpAddress subscriber;  // never taken as a peer from the origin's answer
};

// What became of it.
struct UpstreamOutcome {
  enum class Kind {
    answered,        // the origin answered; `info` is fresh, its peers are in the store
    failure_reason,  // the origin refused the announce: relay `failure_reason`
    unavailable,     // no answer (failed, backed off, refused, stopping): answer without it
  } kind = Kind::unavailable;
  std::optional<OriginInfo> info;  // answered: the new one; unavailable: the cached one
  std::string failure_reason;
  // The origin's warning message. It and a failure reason answer the query that was sent:
  // a subscriber merged into the request with another query gets neither.
  std::string warning;
};

// Passes forwarded announces to their origins on its own thread, with one asynchronous HTTP
// client: a waiting subscriber holds no thread. Keeps the origin cache, merges identical
// concurrent requests, limits requests in flight (in all, and per origin), refuses special
// destinations, backs off from failing origins and logs their failures at most once a
// minute each and kWarningsPerMinute in all. The state kept per origin is bounded:
// kMaxOrigins, the least recently used forgotten first. Peers learned are stored with
// source `external` for twice the origin's interval.
class Forwarder {
 public:
  using Clock = std::function<core::Seconds()>;
  Forwarder(core::SwarmStore& store, Clock now, const config::Forwarding& settings,
            std::uint32_t default_interval);
  ~Forwarder();

  void start();
  // Answers every waiting subscriber from what btrt knows (events included: nothing waits
  // for an origin past this), then ends the thread. Requests asked afterwards are answered
  // at once without the origin.
  void stop();
  // Takes reloaded settings (SIGHUP). Thread-safe.
  void apply(const config::Forwarding& settings, std::uint32_t default_interval);
  // The tracker settings an origin's answer is held to (min_interval, numwant_max).
  // Thread-safe; call it before start() and on every reload.
  void limit_answers(std::uint32_t min_interval, std::uint32_t max_peers);

  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  bool pass_client_ip() const { return pass_client_ip_.load(std::memory_order_relaxed); }

  // On a worker thread: what is known of the origin's view of the torrent, and whether the
  // origin has to be asked (mode, event, age of the cached answer).
  struct Lookup {
    bool ask = false;
    std::optional<OriginInfo> cached;
  };
  Lookup lookup(std::string_view origin, const core::InfoHash& info_hash, bool event,
                core::Seconds now) const;

  // Sends (or joins an identical request in flight, or declines); `done` runs once, at the
  // latest `timeout` after the request was sent: on the forwarder's thread, or at once on the
  // caller's once stop() has begun.
  using Done = std::function<void(const UpstreamOutcome&)>;
  void ask(UpstreamAnnounce request, Done done);

  struct OriginStatus {
    std::string server;  // host:port
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    bool backed_off = false;
    std::string last_error;
  };
  struct Origins {
    std::vector<OriginStatus> top;  // the most asked (ok + failed), at most `count`
    std::size_t total = 0;          // origins known
  };
  Origins status(std::size_t count) const;
  std::size_t origin_count() const;

  // Origins whose state (back-off, statistics) is kept; the least recently used go first.
  static constexpr std::size_t kMaxOrigins = 10000;
  // Origin failures logged per minute, all origins together; the rest are counted in a line
  // of their own.
  static constexpr unsigned kWarningsPerMinute = 10;
  // Requests in flight to one origin (host:port) and to one of its addresses: at most this
  // share of max_concurrent, so that one origin that never answers cannot hold every slot.
  static constexpr std::size_t kPerOriginShare = 8;

 private:
  struct Flight;
  // Back-off and warning state of one origin server (host:port).
  struct Server {
    unsigned consecutive_failures = 0;
    std::chrono::steady_clock::time_point backed_off_until{};
    std::chrono::steady_clock::time_point last_warning{};
    std::uint64_t unreported = 0;
    std::size_t in_flight = 0;  // upstream requests
  };
  void send(UpstreamAnnounce request, Done done);
  void answered(const std::shared_ptr<Flight>& flight, const std::string& server_name,
                http::ClientError error, std::string_view body);
  void finish(const std::shared_ptr<Flight>& flight, const UpstreamOutcome& outcome);
  void failed(Server& server, const std::string& server_name, const std::string& why);
  bool may_warn(std::chrono::steady_clock::time_point now);
  void report_unlogged(std::chrono::steady_clock::time_point now);
  std::size_t per_origin_limit() const {
    return std::max<std::size_t>(1, settings_.max_concurrent / kPerOriginShare);
  }
  void schedule_expiry();
  Done for_another_query(const UpstreamAnnounce& request, Done done);

  core::SwarmStore& store_;
  const Clock now_;
  OriginCache cache_;
  std::atomic<bool> enabled_{true};
  std::atomic<bool> always_{false};
  std::atomic<bool> pass_client_ip_{false};

  // Forwarder thread only.
  struct Settings {
    std::chrono::milliseconds timeout{5000};
    std::size_t max_concurrent = 512;
    std::uint32_t default_interval = 1800;
    std::uint32_t min_interval = 900;
    std::uint32_t max_peers = 200;
    std::vector<net::Cidr> allowed_destinations;
  } settings_;
  boost::asio::io_context io_{1};
  std::unique_ptr<http::Client> client_;
  boost::asio::steady_timer expiry_timer_{io_};
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // by merge key
  // Every flight whose upstream request has not completed, merged or not (events are never
  // in flights_): what stop() has to answer.
  std::unordered_set<std::shared_ptr<Flight>> active_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  core::LruMap<Server> servers_{kMaxOrigins};  // by host:port
  std::chrono::steady_clock::time_point warning_window_{};
  unsigned warnings_in_window_ = 0;
  std::uint64_t unlogged_failures_ = 0;  // not logged in this window: over the overall limit
  std::thread thread_;

  // Set by stop() before it posts its own work: an ask() that sees it clear has posted before
  // that work, so stop() answers it; one that sees it set answers itself.
  std::mutex ask_mutex_;
  bool closed_ = false;

  mutable std::mutex status_mutex_;
  core::LruMap<OriginStatus> status_{kMaxOrigins};  // by host:port
};

}  // namespace btrt::forwarding

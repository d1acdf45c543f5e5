#pragma once

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
#include <vector>

#include "config/config.hpp"
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

// Passes forwarded announces to their origins (spec 6.3) on its own thread, with one
// asynchronous HTTP client: a waiting subscriber holds no thread. Keeps the origin cache,
// merges identical concurrent requests, limits requests in flight, refuses special
// destinations, backs off from failing origins and logs their failures at most once a
// minute each. Peers learned are stored with source `external` for twice the origin's
// interval.
class Forwarder {
 public:
  using Clock = std::function<core::Seconds()>;
  Forwarder(core::SwarmStore& store, Clock now, const config::Forwarding& settings,
            std::uint32_t default_interval);
  ~Forwarder();

  void start();
  // Answers every waiting subscriber (without the origin), then ends the thread.
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

  // Sends (or joins an identical request in flight, or declines); `done` runs once on the
  // forwarder's thread, at the latest `timeout` after the request was sent.
  using Done = std::function<void(const UpstreamOutcome&)>;
  void ask(UpstreamAnnounce request, Done done);

  struct OriginStatus {
    std::string server;  // host:port
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    bool backed_off = false;
    std::string last_error;
  };
  std::vector<OriginStatus> status() const;

 private:
  struct Flight;
  struct Server;
  void send(UpstreamAnnounce request, Done done);
  void answered(const std::shared_ptr<Flight>& flight, const std::string& server_name,
                http::ClientError error, std::string_view body);
  void finish(const std::shared_ptr<Flight>& flight, const UpstreamOutcome& outcome);
  void failed(Server& server, const std::string& server_name, const std::string& why);
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
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::unordered_map<std::string, std::unique_ptr<Server>> servers_;  // by host:port
  std::thread thread_;

  mutable std::mutex status_mutex_;
  std::unordered_map<std::string, OriginStatus> status_;  // by host:port
};

}  // namespace btrt::forwarding

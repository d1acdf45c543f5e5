#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.hpp"
#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "forwarding/origin_cache.hpp"

namespace btrt::forwarding {

// One announce to pass to its origin.
struct UpstreamAnnounce {
  std::string origin;  // "http://host:port/path", or "udp://address:port" (udp_announce)
  // What is sent: origin, '?', the subscriber's query (+ ip=). For a BEP 15 origin, what
  // identifies the query (the origin and the announce after its IDs): what "identical" means
  // for merging and for whom a failure reason is.
  std::string url;
  // A BEP 15 origin (an intercepted UDP announce): the subscriber's announce packet, asked of
  // `destination` with btrt's own connect. Empty for an http:// origin.
  std::vector<std::uint8_t> udp_announce;
  net::Endpoint destination;
  core::InfoHash info_hash;
  bool event = false;         // started, completed or stopped: never merged, always sent
  std::string user_agent;     // the subscriber's, passed on (private trackers check it)
  net::IpAddress subscriber;  // never taken as a peer from the origin's answer
  // interception.spoof_source: sent from the subscriber's address (transparent bind). Merged
  // requests leave from the address of the first.
  bool from_subscriber = false;
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
  // mark: interception.mark, set on every upstream connection and datagram (0: none).
  Forwarder(core::SwarmStore& store, const clock::Clock& clock, const config::Forwarding& settings,
            const config::Tracker& tracker, std::uint32_t mark = 0);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  void start();
  // Answers every waiting subscriber from what btrt knows (events included: nothing waits
  // for an origin past this), then ends the thread. Requests asked afterwards are answered
  // at once without the origin.
  void stop();
  // Takes reloaded settings (SIGHUP): the forwarding section, and from the tracker section
  // the announce interval and the limits an origin's answer is held to (min_interval,
  // numwant_max). Thread-safe.
  void apply(const config::Forwarding& settings, const config::Tracker& tracker);

  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  bool pass_client_ip() const { return pass_client_ip_.load(std::memory_order_relaxed); }
  // Whether forwarding.allowed_destinations, as last applied, lets `address` be asked: the
  // front ends check an intercepted request's original destination before any lookup, on
  // their own threads.
  bool destination_allowed(const net::IpAddress& address) const;

  // On a worker thread: what is known of the origin's view of the torrent, and whether the
  // origin has to be asked (mode, event, age of the cached answer).
  struct Lookup {
    bool ask = false;
    std::optional<OriginInfo> cached;
  };
  Lookup lookup(std::string_view origin, const core::InfoHash& info_hash, bool event,
                core::TimePoint now) const;

  // Sends (or joins an identical request in flight, or declines); `done` runs once, at the
  // latest `timeout` after the request was sent: on the forwarder's thread, or at once on the
  // caller's once stop() has begun.
  using Done = std::function<void(const UpstreamOutcome&)>;
  void ask(UpstreamAnnounce request, Done done);

  // An intercepted BEP 15 scrape: the subscriber's packet asked of `destination` (btrt's own
  // connect, the origin's connection ID reused), from `source` when given (spoof_source).
  // `done` gets the origin's answer datagram (a scrape answer or an error, unparsed), or an
  // empty one when there is none within `timeout` (backed off, refused, failed, stopping);
  // it runs like ask()'s, except that a scrape in flight when stop() begins is dropped (a
  // subscriber asks again; nothing is registered by a scrape). Never merged or cached: the
  // counts are the origin's of the moment.
  using ScrapeDone = std::function<void(std::span<const std::uint8_t>)>;
  void scrape(const net::Endpoint& destination, std::vector<std::uint8_t> packet,
              std::optional<net::IpAddress> source, ScrapeDone done);

  struct OriginStatus {
    std::string server;  // host:port, or udp://host:port for a BEP 15 origin
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
  // The event loop, its thread, the upstream client and everything they touch: kept out of
  // this header so that the router, which includes it, compiles no Asio.
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // Read on every forwarded announce, from the workers' threads: no call into Impl.
  std::atomic<bool> enabled_{true};
  std::atomic<bool> pass_client_ip_{false};
  mutable std::mutex allowed_mutex_;
  std::vector<net::Cidr> allowed_destinations_;  // guarded by allowed_mutex_
};

}  // namespace btrt::forwarding

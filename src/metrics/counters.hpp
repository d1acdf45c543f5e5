#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "net/classifier.hpp"

namespace btrt::metrics {

// Event counters of the request path. Each thread writes its own slot (a relaxed store, no
// read-modify-write, no lock); readers sum the slots. How the service pages show each counter
// is one row of metrics/catalog.hpp.
class Counters {
 public:
  enum Id : std::size_t {
    announces,
    scrapes,
    forwarded,
    failures,
    neighbor_ok,
    neighbor_failed,
    // Forwarded announces (docs/dpi-integration.md), by what happened upstream.
    upstream_ok,              // the origin answered with peers
    upstream_failure_reason,  // the origin answered with a failure reason (relayed)
    upstream_failed,          // timeout, refused, reset, garbage or oversized answer
    upstream_refused,         // never sent: destination guard, loop guard, not http://
    upstream_backed_off,      // not sent: the origin is backed off after failures
    upstream_cached,          // not sent: a fresh enough answer was cached (when_needed)
    upstream_merged,          // joined an identical request already in flight
    // Tracker failures (a bencoded failure reason) by request kind and reason; `failures`
    // above stays the announce total. Each one is exported as one reason label (docs/operations.md,
    // "Metrics").
    announce_bad_request,     // the query did not parse (missing or bad parameter)
    announce_torrent_limit,   // tracker.max_torrents reached for a new torrent
    scrape_bad_request,       // the query did not parse, or too many info_hash
    scrape_without_hash,      // no info_hash while full_scrape is off
    forwarded_bad_request,    // a forwarded announce whose original query did not parse
    forwarded_torrent_limit,  // a forwarded announce refused by tracker.max_torrents
    // Connections a router diverted to interception.tcp_listen (docs/interception.md).
    intercepted_http,              // each request on them, also counted as forwarded when it is one
    intercepted_http_not_tracker,  // no info_hash in the query: answered 502
    intercepted_udp,               // each request admitted on them (connect, announce, scrape)
    intercepted_udp_torrent_limit,   // answered with an error: tracker.max_torrents reached
    intercepted_udp_failure_reason,  // the origin's error relayed to the subscriber
    // UDP (BEP 15) requests answered or refused with an error, apart from the HTTP ones above.
    udp_connects,
    udp_announces,
    udp_scrapes,
    udp_announce_torrent_limit,  // answered with an error: tracker.max_torrents reached
    udp_scrape_bad_request,      // answered with an error: more than tracker.max_scrape_hashes
    // UDP packets dropped unanswered, in the order of protocol::udp::Drop (from too_short).
    udp_drop_too_short,
    udp_drop_oversized,
    udp_drop_wrong_length,
    udp_drop_protocol_id,
    udp_drop_unknown_action,
    udp_drop_bad_options,
    udp_drop_connection_id,
    // /metrics and /stats: all requests, and those refused (not in server.admin_allow).
    admin,
    admin_forbidden,
    kCount
  };

  struct Snapshot {
    std::array<std::uint64_t, kCount> events{};
    std::array<std::uint64_t, 256> returned_by_group{};  // peers handed out, by GroupId
  };

  void add(Id id, std::uint64_t n = 1) { bump(slot().events[id], n); }
  void returned(net::GroupId group, std::uint64_t n = 1) { bump(slot().returned[group], n); }
  Snapshot snapshot() const;

  static Counters& global();

 private:
  struct Slot {
    std::array<std::atomic<std::uint64_t>, kCount> events{};
    std::array<std::atomic<std::uint64_t>, 256> returned{};
  };
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  Slot& slot();

  mutable std::mutex mutex_;  // guards slots_ (taken once per thread, and by readers)
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace btrt::metrics

#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "metrics/counters.hpp"

namespace btrt::metrics {

// How /metrics and /stats (src/admin) show each event counter, in one table that both pages are
// drawn from: a new counter is one enum value in Counters and one row here.

enum class Shown {
  request_total,    // btrt_requests_total{kind,protocol}; /stats "requests" under `label`
  tracker_failure,  // btrt_tracker_failures_total{kind,protocol,reason=label}, and a failure
                    // of the request total with the same kind and protocol
  refused,          // a failure of its request total without a failure reason (not exported alone)
  udp_drop,         // btrt_udp_dropped_total{reason=label}; /stats sums them as "udp_dropped"
  upstream,         // btrt_upstream_requests_total{result=label}; /stats "upstream" under `label`
  not_shown,        // counted for the logs and tests only
};

struct CounterRow {
  Counters::Id id;
  Shown shown;
  std::string_view kind;      // request kind (request totals and their failures)
  std::string_view protocol;  // http or udp (request totals and their failures)
  std::string_view label;     // see Shown
};

// Order matters to both pages: /metrics lists the request totals and failures kind by kind (in
// the order a kind first appears), /stats lists the HTTP request totals before the UDP ones;
// everything else follows the rows.
inline constexpr std::array<CounterRow, Counters::kCount> kCounterRows{{
    {Counters::announces, Shown::request_total, "announce", "http", "announce"},
    {Counters::announce_bad_request, Shown::tracker_failure, "announce", "http", "bad_request"},
    {Counters::announce_torrent_limit, Shown::tracker_failure, "announce", "http", "torrent_limit"},
    {Counters::scrapes, Shown::request_total, "scrape", "http", "scrape"},
    {Counters::scrape_bad_request, Shown::tracker_failure, "scrape", "http", "bad_request"},
    {Counters::scrape_without_hash, Shown::tracker_failure, "scrape", "http",
     "scrape_without_hash"},
    {Counters::udp_connects, Shown::request_total, "connect", "udp", "udp connect"},
    {Counters::udp_announces, Shown::request_total, "announce", "udp", "udp announce"},
    {Counters::udp_announce_torrent_limit, Shown::tracker_failure, "announce", "udp",
     "torrent_limit"},
    {Counters::udp_scrapes, Shown::request_total, "scrape", "udp", "udp scrape"},
    {Counters::udp_scrape_bad_request, Shown::tracker_failure, "scrape", "udp", "bad_request"},
    {Counters::forwarded, Shown::request_total, "forwarded", "http", "forwarded"},
    {Counters::forwarded_bad_request, Shown::tracker_failure, "forwarded", "http", "bad_request"},
    {Counters::forwarded_torrent_limit, Shown::tracker_failure, "forwarded", "http",
     "torrent_limit"},
    {Counters::intercepted_http, Shown::request_total, "intercepted", "http", "intercepted"},
    {Counters::intercepted_http_not_tracker, Shown::tracker_failure, "intercepted", "http",
     "not_tracker_traffic"},
    {Counters::intercepted_udp, Shown::request_total, "intercepted", "udp", "udp intercepted"},
    {Counters::intercepted_udp_torrent_limit, Shown::tracker_failure, "intercepted", "udp",
     "torrent_limit"},
    {Counters::intercepted_udp_failure_reason, Shown::tracker_failure, "intercepted", "udp",
     "origin_failure"},
    {Counters::admin, Shown::request_total, "admin", "http", "admin"},
    {Counters::admin_forbidden, Shown::refused, "admin", "http", "forbidden"},
    {Counters::udp_drop_too_short, Shown::udp_drop, "", "udp", "too_short"},
    {Counters::udp_drop_oversized, Shown::udp_drop, "", "udp", "oversized"},
    {Counters::udp_drop_wrong_length, Shown::udp_drop, "", "udp", "wrong_length"},
    {Counters::udp_drop_protocol_id, Shown::udp_drop, "", "udp", "protocol_id"},
    {Counters::udp_drop_unknown_action, Shown::udp_drop, "", "udp", "unknown_action"},
    {Counters::udp_drop_bad_options, Shown::udp_drop, "", "udp", "bad_options"},
    {Counters::udp_drop_connection_id, Shown::udp_drop, "", "udp", "connection_id"},
    {Counters::upstream_ok, Shown::upstream, "", "http", "ok"},
    {Counters::upstream_failure_reason, Shown::upstream, "", "http", "failure_reason"},
    {Counters::upstream_failed, Shown::upstream, "", "http", "failed"},
    {Counters::upstream_refused, Shown::upstream, "", "http", "refused"},
    {Counters::upstream_backed_off, Shown::upstream, "", "http", "backed_off"},
    {Counters::upstream_cached, Shown::upstream, "", "http", "cached"},
    {Counters::upstream_merged, Shown::upstream, "", "http", "merged"},
    {Counters::failures, Shown::not_shown, "announce", "http", ""},
    {Counters::neighbor_ok, Shown::not_shown, "", "http", ""},
    {Counters::neighbor_failed, Shown::not_shown, "", "http", ""},
}};

// The Prometheus families the rows feed (the pages' other figures are not event counters).
struct CounterFamily {
  std::string_view name;
  std::string_view label;  // the label that tells the samples apart (requests: ok or failure)
  std::string_view help;
};
inline constexpr CounterFamily kRequestsFamily{
    "btrt_requests_total", "result",
    "Requests by kind, protocol (http, udp) and result (failure: answered with a failure reason "
    "or an error, or refused)."};
inline constexpr CounterFamily kTrackerFailuresFamily{
    "btrt_tracker_failures_total", "reason",
    "Tracker answers with a failure reason (HTTP) or an error (UDP), by request kind, protocol "
    "and reason."};
inline constexpr CounterFamily kUdpDroppedFamily{
    "btrt_udp_dropped_total", "reason",
    "UDP packets dropped without an answer, by reason (docs/udp.md)."};
inline constexpr CounterFamily kUpstreamFamily{"btrt_upstream_requests_total", "result",
                                               "Forwarded announces by what happened upstream."};

using Events = std::array<std::uint64_t, Counters::kCount>;

// The failures of a request total: its tracker failures and refusals.
constexpr std::uint64_t failures_of(const CounterRow& total, const Events& events) {
  std::uint64_t sum = 0;
  for (const auto& row : kCounterRows) {
    if ((row.shown == Shown::tracker_failure || row.shown == Shown::refused) &&
        row.kind == total.kind && row.protocol == total.protocol) {
      sum += events[row.id];
    }
  }
  return sum;
}

constexpr std::uint64_t sum_of(Shown shown, const Events& events) {
  std::uint64_t sum = 0;
  for (const auto& row : kCounterRows) {
    if (row.shown == shown) sum += events[row.id];
  }
  return sum;
}

namespace detail {
constexpr bool every_counter_once() {
  std::array<int, Counters::kCount> seen{};
  for (const auto& row : kCounterRows) ++seen[row.id];
  for (int n : seen) {
    if (n != 1) return false;
  }
  return true;
}
constexpr bool every_failure_has_its_total() {
  for (const auto& failure : kCounterRows) {
    if (failure.shown != Shown::tracker_failure && failure.shown != Shown::refused) continue;
    bool found = false;
    for (const auto& total : kCounterRows) {
      found = found || (total.shown == Shown::request_total && total.kind == failure.kind &&
                        total.protocol == failure.protocol);
    }
    if (!found) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::every_counter_once(), "each Counters::Id needs exactly one row");
static_assert(detail::every_failure_has_its_total(), "a failure row without its request total");

}  // namespace btrt::metrics

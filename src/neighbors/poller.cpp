#include "neighbors/poller.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <set>

#include "core/backoff.hpp"
#include "log/rate_limited.hpp"
#include "metrics/counters.hpp"
#include "metrics/histogram.hpp"
#include "protocol/percent.hpp"
#include "protocol/tracker_answer.hpp"

namespace btrt::neighbors {
namespace {

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr double kTicksPerSecond = 10.0;
// An unreachable neighbour is retried after 1, 2, 4 ... s, at most 300 s apart.
constexpr core::Backoff::Policy kNeighborBackoff{
    .initial = core::Duration{1}, .max = core::Duration{300}, .after_failures = 1};
constexpr core::Duration kErrorLogEvery{60};
constexpr std::size_t kMaxNeighbors = core::Source::kNeighbors;

}  // namespace

struct Poller::Neighbor {
  config::Neighbor config;
  core::Source source;
  bool alive = true;
  std::deque<core::InfoHash> due;     // this cycle's torrents, paced
  std::deque<core::InfoHash> urgent;  // new torrents: asked for at once
  double credit = 0;                  // requests the pace allows now
  double per_tick = 0;
  core::TimePoint cycle_started;
  bool cycle_begun = false;
  std::uint32_t in_flight = 0;
  core::Backoff backoff{kNeighborBackoff};  // delay() 0: healthy
  core::TimePoint backed_off_until;
  // Requests carry the round they were sent in; a back-off step starts a new round. Failures
  // of requests sent before the last step belong to a round already counted: 32 requests
  // timing out together are one failure of the neighbour, not 32.
  std::uint64_t round = 0;
  log::RateLimited failure_log{kErrorLogEvery};
  // The neighbour's refusals of single torrents and malformed answers: logged apart, at
  // most once a minute, so that they never hide a transport failure's report.
  log::RateLimited refusal_log{kErrorLogEvery};
  Status status;
};

Poller::Poller(core::SwarmStore& store, const clock::Clock& clock, std::uint32_t mark)
    : store_(store), clock_(clock), mark_(mark) {}

Poller::~Poller() {
  stop();
}

void Poller::start(const std::vector<config::Neighbor>& neighbors) {
  upstream::ClientOptions options;
  options.mark = mark_;
  client_ = std::make_unique<upstream::Client>(io_, options);
  update(neighbors);  // starts the ticks if there is a neighbour
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "btrt-neighbors");
    io_.run();
  });
}

void Poller::apply(const std::vector<config::Neighbor>& neighbors) {
  boost::asio::post(io_, [this, neighbors] { update(neighbors); });
}

void Poller::stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    stopping_ = true;  // a tick already queued (cancel() cannot reach it) must not re-arm
    timer_.cancel();
    work_.reset();
    client_->shutdown();
    for (auto& [name, n] : neighbors_) n->alive = false;
  });
  // Handlers of requests in flight still run (with an error) before the loop ends.
  thread_.join();
  client_.reset();
}

std::vector<Poller::Status> Poller::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void Poller::update(const std::vector<config::Neighbor>& configured) {
  std::set<std::string> names;
  for (const auto& c : configured) names.insert(c.name);
  for (auto it = neighbors_.begin(); it != neighbors_.end();) {
    if (names.count(it->first)) {
      ++it;
      continue;
    }
    it->second->alive = false;
    std::size_t removed = store_.remove_source(it->second->source);
    spdlog::info("neighbour '{}' removed; {} of its peers dropped", it->first, removed);
    it = neighbors_.erase(it);
  }
  for (const auto& c : configured) {
    auto& slot = neighbors_[c.name];
    if (slot) {
      slot->config = c;  // changed settings apply from its next request
      continue;
    }
    std::set<core::Source> taken;
    for (const auto& [name, n] : neighbors_) {
      if (n) taken.insert(n->source);
    }
    std::uint8_t index = 0;
    while (index < kMaxNeighbors && taken.count(core::Source::neighbor(index))) ++index;
    if (index == kMaxNeighbors) {
      spdlog::error("neighbour '{}' ignored: at most {} neighbours are supported", c.name,
                    kMaxNeighbors);
      neighbors_.erase(c.name);
      continue;
    }
    slot = std::make_shared<Neighbor>();
    slot->config = c;
    slot->source = core::Source::neighbor(index);
    slot->status.name = c.name;
    slot->status.source = slot->source;
    spdlog::info("neighbour '{}': every {} s, at most {} requests at once", c.name,
                 c.refresh_interval.count(), c.max_concurrent);
  }
  store_.set_track_new_torrents(!neighbors_.empty());
  if (!neighbors_.empty() && !ticking_ && !stopping_) schedule_tick();
}

void Poller::schedule_tick() {
  ticking_ = true;
  timer_.expires_after(kTick);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) {
      ticking_ = false;
      return;
    }
    tick();
    // Without neighbours (the usual single retracker) the thread sleeps until a reload adds
    // one, instead of waking ten times a second for nothing.
    if (neighbors_.empty()) {
      ticking_ = false;
      return;
    }
    schedule_tick();
  });
}

void Poller::tick() {
  const core::TimePoint now = clock_.now();
  std::vector<core::InfoHash> fresh;
  store_.take_new_torrents(fresh);
  std::vector<core::InfoHash> active;
  bool active_taken = false;

  for (auto& [name, n] : neighbors_) {
    for (const auto& hash : fresh) n->urgent.push_back(hash);
    if (!n->cycle_begun || now >= n->cycle_started + n->config.refresh_interval) {
      if (!active_taken) {
        store_.active_torrents(active);
        active_taken = true;
      }
      // A new cycle: every active torrent once, paced over the interval.
      // (torrents new in this tick are asked for at once, below, not twice)
      n->due.clear();
      for (const auto& hash : active) {
        if (std::find(fresh.begin(), fresh.end(), hash) == fresh.end()) n->due.push_back(hash);
      }
      n->per_tick = static_cast<double>(active.size()) /
                    (n->config.refresh_interval.count() * kTicksPerSecond);
      n->credit = 1;  // each torrent's slot begins with its request: the last one is due
                      // well before the next cycle
      n->cycle_started = now;
      n->cycle_begun = true;
    }
    if (now < n->backed_off_until) continue;
    n->credit = std::min(n->credit + n->per_tick, static_cast<double>(n->config.max_concurrent));
    while (n->in_flight < n->config.max_concurrent && !n->urgent.empty()) {
      send(n, n->urgent.front());
      n->urgent.pop_front();
    }
    while (n->in_flight < n->config.max_concurrent && !n->due.empty() && n->credit >= 1) {
      n->credit -= 1;
      send(n, n->due.front());
      n->due.pop_front();
    }
  }

  std::lock_guard lock(status_mutex_);
  status_.clear();
  for (const auto& [name, n] : neighbors_) {
    n->status.backed_off = now < n->backed_off_until;
    n->status.backoff = n->backoff.delay();
    status_.push_back(n->status);
  }
}

void Poller::send(const std::shared_ptr<Neighbor>& n, const core::InfoHash& info_hash) {
  auto counts = store_.counts(info_hash, clock_.now());
  if (counts.complete + counts.incomplete == 0) return;  // no live local peer any more

  std::string encoded;
  protocol::percent_encode(info_hash.view(), encoded);
  std::string url = n->config.announce_request;
  for (auto at = url.find("{info_hash}"); at != std::string::npos;
       at = url.find("{info_hash}", at + encoded.size())) {
    url.replace(at, 11, encoded);
  }
  upstream::ClientRequest request;
  request.url = std::move(url);
  request.timeout = n->config.timeout;
  ++n->in_flight;
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t round = n->round;
  client_->get(std::move(request),
               [this, n, info_hash, t0, round](upstream::ClientError error,
                                               upstream::ClientResponse response) {
                 --n->in_flight;
                 if (!n->alive) return;
                 const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
                 metrics::Latency::observe(metrics::Latency::neighbor, took.count());
                 if (error != upstream::ClientError::none) {
                   std::string why = upstream::to_string(error);
                   if (response.status != 0)
                     why += " (HTTP " + std::to_string(response.status) + ")";
                   return failed(*n, why, round);
                 }
                 // The neighbour answered: whatever it says about this torrent (it may not know
                 // it), it is reachable, so nothing here backs it off.
                 protocol::TrackerAnswer answer;
                 if (const char* why = protocol::parse_tracker_answer(response.body, answer)) {
                   return refused(*n, std::string("malformed answer: ") + why);
                 }
                 if (answer.failure_reason)
                   return refused(*n, "failure reason: " + *answer.failure_reason);
                 const core::TimePoint now = clock_.now();
                 n->status.peers_learned += store_.add_foreign_peers(
                     info_hash, answer.peers, n->source, now, n->config.peers_expiry_interval);
                 ++n->status.requests_ok;
                 metrics::Counters::global().add(metrics::Counters::neighbor_ok);
                 if (n->backoff.delay() != core::Duration::zero() && round == n->round) {
                   spdlog::info("neighbour '{}' answers again", n->config.name);
                   n->backoff.reset();
                 }
               });
}

void Poller::refused(Neighbor& n, const std::string& why) {
  ++n.status.requests_failed;
  n.status.last_error = why;
  metrics::Counters::global().add(metrics::Counters::neighbor_failed);
  const core::TimePoint now = clock_.now();
  if (n.refusal_log.occurred(now)) {
    spdlog::warn("neighbour '{}': {} ({} such answers since the last report; ignored)",
                 n.config.name, why, n.refusal_log.take(now));
  }
}

void Poller::failed(Neighbor& n, const std::string& why, std::uint64_t round) {
  ++n.status.requests_failed;
  n.status.last_error = why;
  metrics::Counters::global().add(metrics::Counters::neighbor_failed);
  const core::TimePoint now = clock_.now();
  if (round == n.round) {
    n.backed_off_until = now + n.backoff.fail();
    ++n.round;
  }
  if (n.failure_log.occurred(now)) {
    spdlog::warn("neighbour '{}': {} ({} failures since the last report; retrying in {} s)",
                 n.config.name, why, n.failure_log.take(now), n.backoff.delay().count());
  }
}

}  // namespace btrt::neighbors

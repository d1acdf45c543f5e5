#include "forwarding/forwarder.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/backoff.hpp"
#include "core/lru_map.hpp"
#include "forwarding/origin_rules.hpp"
#include "log/rate_limited.hpp"
#include "metrics/counters.hpp"
#include "metrics/histogram.hpp"
#include "protocol/tracker_answer.hpp"
#include "upstream/client.hpp"
#include "upstream/udp_client.hpp"

namespace btrt::forwarding {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using metrics::Counters;

namespace {

// A failing origin is retried at once twice, then after 5, 10, 20 ... s, at most 300 s apart.
constexpr core::Backoff::Policy kOriginBackoff{
    .initial = core::Duration{5}, .max = core::Duration{300}, .after_failures = 3};
constexpr std::chrono::seconds kWarningEvery{60};
constexpr std::chrono::seconds kCacheSweepEvery{60};

// One upstream request and every subscriber waiting for it.
struct Flight {
  std::string key;
  std::string origin;
  std::string url;  // as sent: whose query a failure reason or warning answers
  net::IpAddress subscriber;
  core::InfoHash info_hash;
  std::vector<Forwarder::Done> waiting;
  SteadyClock::time_point sent;
  bool finished = false;
};

// Back-off and warning state of one origin server (host:port).
struct Server {
  core::Backoff backoff{kOriginBackoff};
  SteadyClock::time_point backed_off_until{};
  log::RateLimited warning{kWarningEvery};
  std::size_t in_flight = 0;  // upstream requests
};

// The unit of back-off and of the origins' statistics: host:port for HTTP, udp://host:port
// for BEP 15, so that the two trackers one host may run are told apart (on /stats too).
std::string server_of(const UpstreamAnnounce& request) {
  if (!request.udp_announce.empty()) return request.origin;
  return std::string(origin_server(request.origin));
}

}  // namespace

struct Forwarder::Impl {
  Impl(core::SwarmStore& store, const clock::Clock& clock, const config::Forwarding& settings,
       const config::Tracker& tracker, std::uint32_t mark);

  void start();
  void stop();
  void apply(const config::Forwarding& settings, const config::Tracker& tracker);
  // Forwarder thread only (or before start()).
  void take(const config::Forwarding& settings, const config::Tracker& tracker);
  Lookup lookup(std::string_view origin, const core::InfoHash& info_hash, bool event,
                core::TimePoint now) const;
  void ask(UpstreamAnnounce request, Done done);
  void scrape(const net::Endpoint& destination, std::vector<std::uint8_t> packet,
              std::optional<net::IpAddress> source, ScrapeDone done);
  Origins status(std::size_t count) const;
  std::size_t origin_count() const;

  void send(UpstreamAnnounce request, Done done);
  // Reads the answer into OriginAnswer: nullptr or what is wrong with it.
  using Reader = std::function<const char*(const AnswerLimits&, OriginAnswer&)>;
  // The upstream request's end, HTTP or BEP 15: false when the flight is answered already.
  bool completed(const std::shared_ptr<Flight>& flight, const std::string& server_name,
                 upstream::ClientError error);
  void answered(const std::shared_ptr<Flight>& flight, const std::string& server_name,
                upstream::ClientError error, const Reader& read);
  void finish(const std::shared_ptr<Flight>& flight, const UpstreamOutcome& outcome);
  void failed(Server& server, const std::string& server_name, const std::string& why);
  bool may_warn(SteadyClock::time_point now);
  void report_unlogged(SteadyClock::time_point now);
  std::size_t per_origin_limit() const {
    return std::max<std::size_t>(1, settings_.max_concurrent / kPerOriginShare);
  }
  void schedule_expiry();
  Done for_another_query(const UpstreamAnnounce& request, Done done);

  core::SwarmStore& store_;
  const clock::Clock& clock_;
  OriginCache cache_;
  std::atomic<bool> always_{false};

  // Forwarder thread only.
  struct Settings {
    std::chrono::milliseconds timeout{5000};
    std::size_t max_concurrent = 512;
    core::Duration default_interval{1800};
    core::Duration min_interval{900};
    std::uint32_t max_peers = 200;
    std::vector<net::Cidr> allowed_destinations;
  } settings_;
  asio::io_context io_{1};
  std::unique_ptr<upstream::Client> client_;
  std::unique_ptr<upstream::UdpClient> udp_client_;
  asio::steady_timer expiry_timer_{io_};
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // by merge key
  // Every flight whose upstream request has not completed, merged or not (events are never
  // in flights_): what stop() has to answer.
  std::unordered_set<std::shared_ptr<Flight>> active_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  core::LruMap<Server> servers_{kMaxOrigins};  // by host:port
  SteadyClock::time_point warning_window_{};
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

Forwarder::Forwarder(core::SwarmStore& store, const clock::Clock& clock,
                     const config::Forwarding& settings, const config::Tracker& tracker,
                     std::uint32_t mark)
    : impl_(std::make_unique<Impl>(store, clock, settings, tracker, mark)) {
  enabled_.store(settings.enabled);
  pass_client_ip_.store(settings.pass_client_ip);
  allowed_destinations_ = settings.allowed_destinations;
}

Forwarder::~Forwarder() {
  impl_->stop();
}

void Forwarder::start() {
  impl_->start();
}

void Forwarder::stop() {
  impl_->stop();
}

void Forwarder::apply(const config::Forwarding& settings, const config::Tracker& tracker) {
  enabled_.store(settings.enabled);
  pass_client_ip_.store(settings.pass_client_ip);
  {
    const std::lock_guard lock(allowed_mutex_);
    allowed_destinations_ = settings.allowed_destinations;
  }
  impl_->apply(settings, tracker);
}

bool Forwarder::destination_allowed(const net::IpAddress& address) const {
  const std::lock_guard lock(allowed_mutex_);
  return forwarding::destination_allowed(address, allowed_destinations_);
}

Forwarder::Lookup Forwarder::lookup(std::string_view origin, const core::InfoHash& info_hash,
                                    bool event, core::TimePoint now) const {
  return impl_->lookup(origin, info_hash, event, now);
}

void Forwarder::ask(UpstreamAnnounce request, Done done) {
  impl_->ask(std::move(request), std::move(done));
}

void Forwarder::scrape(const net::Endpoint& destination, std::vector<std::uint8_t> packet,
                       std::optional<net::IpAddress> source, ScrapeDone done) {
  impl_->scrape(destination, std::move(packet), source, std::move(done));
}

Forwarder::Origins Forwarder::status(std::size_t count) const {
  return impl_->status(count);
}

std::size_t Forwarder::origin_count() const {
  return impl_->origin_count();
}

Forwarder::Impl::Impl(core::SwarmStore& store, const clock::Clock& clock,
                      const config::Forwarding& settings, const config::Tracker& tracker,
                      std::uint32_t mark)
    : store_(store), clock_(clock) {
  always_.store(settings.mode == config::Forwarding::Mode::always);
  take(settings, tracker);
  upstream::ClientOptions options;
  options.dns_servers = settings.dns_servers;
  options.dns_timeout = settings_.timeout;
  options.max_dns_entries = kMaxOrigins;
  options.max_per_address = per_origin_limit();
  options.mark = mark;
  // Runs on this thread only, like every other use of settings_.
  options.guard = [this](const net::IpAddress& address) {
    return forwarding::destination_allowed(address, settings_.allowed_destinations);
  };
  upstream::UdpClientOptions udp_options;
  udp_options.guard = options.guard;
  udp_options.mark = mark;
  udp_options.max_ids = kMaxOrigins;
  client_ = std::make_unique<upstream::Client>(io_, std::move(options));
  udp_client_ = std::make_unique<upstream::UdpClient>(io_, std::move(udp_options));
}

void Forwarder::Impl::start() {
  schedule_expiry();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "btrt-forward");
    io_.run();
  });
}

void Forwarder::Impl::stop() {
  {
    std::lock_guard lock(ask_mutex_);
    closed_ = true;
  }
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    flights_.clear();
    // Events are in no merge table, and the client's own cancellation would complete them
    // only after this loop has stopped: each flight is answered here, from what btrt knows.
    auto active = std::move(active_);
    for (const auto& flight : active) {
      UpstreamOutcome outcome;
      if (auto entry = cache_.find(flight->origin, flight->info_hash)) outcome.info = entry->info;
      finish(flight, outcome);
    }
    expiry_timer_.cancel();
    client_->shutdown();
    udp_client_->shutdown();
    io_.stop();
  });
  thread_.join();
  client_.reset();  // drops handlers still queued: nobody waits for them any more
  udp_client_.reset();
}

void Forwarder::Impl::apply(const config::Forwarding& settings, const config::Tracker& tracker) {
  always_.store(settings.mode == config::Forwarding::Mode::always);
  asio::post(io_, [this, settings, tracker] {
    take(settings, tracker);
    client_->set_max_per_address(per_origin_limit());
  });
}

void Forwarder::Impl::take(const config::Forwarding& settings, const config::Tracker& tracker) {
  settings_.timeout = settings.timeout;
  settings_.max_concurrent = settings.max_concurrent;
  settings_.default_interval = tracker.announce_interval;
  settings_.min_interval = tracker.min_interval;
  settings_.max_peers = tracker.numwant_max;
  settings_.allowed_destinations = settings.allowed_destinations;
}

Forwarder::Lookup Forwarder::Impl::lookup(std::string_view origin, const core::InfoHash& info_hash,
                                          bool event, core::TimePoint now) const {
  Lookup out;
  if (auto entry = cache_.find(origin, info_hash)) {
    out.ask = event || always_.load(std::memory_order_relaxed) || !entry->fresh(now);
    out.cached = std::move(entry->info);
  } else {
    out.ask = true;
  }
  return out;
}

void Forwarder::Impl::ask(UpstreamAnnounce request, Done done) {
  {
    std::lock_guard lock(ask_mutex_);
    if (!closed_) {
      asio::post(io_, [this, request = std::move(request), done = std::move(done)]() mutable {
        send(std::move(request), std::move(done));
      });
      return;
    }
  }
  // Stopping: the forwarder's loop may be gone already, so nothing posted to it would run.
  Counters::global().add(Counters::upstream_backed_off);
  UpstreamOutcome outcome;
  if (auto entry = cache_.find(request.origin, request.info_hash)) outcome.info = entry->info;
  done(outcome);
}

void Forwarder::Impl::scrape(const net::Endpoint& destination, std::vector<std::uint8_t> packet,
                             std::optional<net::IpAddress> source, ScrapeDone done) {
  {
    std::lock_guard lock(ask_mutex_);
    if (!closed_) {
      asio::post(io_, [this, destination, packet = std::move(packet), source,
                       done = std::move(done)]() mutable {
        // The same limits as an announce: a backed-off origin is not asked, nor one past the
        // requests in flight.
        auto* server = servers_.find("udp://" + destination.to_string());
        if (stopping_ || in_flight_ >= settings_.max_concurrent ||
            (server && (SteadyClock::now() < server->backed_off_until ||
                        server->in_flight >= per_origin_limit()))) {
          return done({});
        }
        ++in_flight_;
        upstream::UdpRequest upstream;
        upstream.destination = destination;
        upstream.packet = std::move(packet);
        upstream.timeout = settings_.timeout;
        upstream.source = source;
        udp_client_->ask(std::move(upstream),
                         [this, done = std::move(done)](upstream::ClientError error,
                                                        std::vector<std::uint8_t> datagram) {
                           --in_flight_;
                           if (error != upstream::ClientError::none) datagram.clear();
                           done(datagram);
                         });
      });
      return;
    }
  }
  done({});
}

void Forwarder::Impl::send(UpstreamAnnounce request, Done done) {
  auto& counters = Counters::global();
  auto unavailable = [&](Counters::Id why) {
    counters.add(why);
    UpstreamOutcome outcome;
    if (auto entry = cache_.find(request.origin, request.info_hash)) outcome.info = entry->info;
    done(outcome);
  };
  if (stopping_) return unavailable(Counters::upstream_backed_off);

  const std::string server_name(server_of(request));
  auto& server = servers_[server_name];
  if (SteadyClock::now() < server.backed_off_until) {
    return unavailable(Counters::upstream_backed_off);
  }

  // Events are never merged; `always` merges only a byte-identical repeat, so that every
  // subscriber's announce still reaches the origin.
  std::string key;
  if (!request.event) {
    if (always_.load(std::memory_order_relaxed)) {
      key = request.url;
    } else {
      key = request.origin;
      key.push_back('\n');
      key.append(request.info_hash.view());
    }
    if (auto it = flights_.find(key); it != flights_.end()) {
      counters.add(Counters::upstream_merged);
      if (request.url != it->second->url) done = for_another_query(request, std::move(done));
      it->second->waiting.push_back(std::move(done));
      return;
    }
  }
  if (in_flight_ >= settings_.max_concurrent || server.in_flight >= per_origin_limit()) {
    return unavailable(Counters::upstream_backed_off);
  }

  auto flight = std::make_shared<Flight>();
  flight->origin = request.origin;
  flight->url = request.url;
  flight->subscriber = request.subscriber;
  flight->info_hash = request.info_hash;
  flight->waiting.push_back(std::move(done));
  flight->sent = SteadyClock::now();
  if (!key.empty()) {
    flight->key = key;
    flights_.emplace(std::move(key), flight);
  }
  ++in_flight_;
  ++server.in_flight;
  active_.insert(flight);

  if (!request.udp_announce.empty()) {
    upstream::UdpRequest upstream;
    upstream.destination = request.destination;
    upstream.packet = std::move(request.udp_announce);
    upstream.timeout = settings_.timeout;
    if (request.from_subscriber) upstream.source = request.subscriber;
    const bool v6 = !request.destination.address.is_v4();
    udp_client_->ask(std::move(upstream), [this, flight, server_name, v6](
                                              upstream::ClientError error,
                                              std::vector<std::uint8_t> datagram) {
      if (!completed(flight, server_name, error)) return;
      answered(flight, server_name, error, [&](const AnswerLimits& limits, OriginAnswer& answer) {
        return read_udp_origin_answer(datagram, v6, flight->subscriber, limits, answer);
      });
    });
    return;
  }
  upstream::ClientRequest upstream;
  upstream.url = std::move(request.url);
  upstream.timeout = settings_.timeout;
  if (request.from_subscriber) upstream.source = request.subscriber;
  upstream.headers.emplace_back("Via", std::string(kViaMark));
  upstream.headers.emplace_back(
      "User-Agent", request.user_agent.empty() ? "btrt/" BTRT_VERSION : request.user_agent);
  client_->get(std::move(upstream), [this, flight, server_name](upstream::ClientError error,
                                                                upstream::ClientResponse response) {
    if (!completed(flight, server_name, error)) return;
    answered(flight, server_name, error, [&](const AnswerLimits& limits, OriginAnswer& answer) {
      return read_origin_answer(response.body, flight->subscriber, limits, answer);
    });
  });
}

bool Forwarder::Impl::completed(const std::shared_ptr<Flight>& flight,
                                const std::string& server_name, upstream::ClientError error) {
  --in_flight_;
  active_.erase(flight);
  if (auto* origin = servers_.find(server_name); origin && origin->in_flight) {
    --origin->in_flight;
  }
  if (flight->finished) return false;
  if (error == upstream::ClientError::address_busy) {
    // btrt's own limit, not the origin's failure: answered without it.
    Counters::global().add(Counters::upstream_backed_off);
    UpstreamOutcome outcome;
    if (auto entry = cache_.find(flight->origin, flight->info_hash)) outcome.info = entry->info;
    finish(flight, outcome);
    return false;
  }
  return true;
}

void Forwarder::Impl::answered(const std::shared_ptr<Flight>& flight,
                               const std::string& server_name, upstream::ClientError error,
                               const Reader& read) {
  metrics::Latency::observe(
      metrics::Latency::upstream,
      std::chrono::duration<double>(SteadyClock::now() - flight->sent).count());
  auto& counters = Counters::global();
  auto& server = servers_[server_name];
  UpstreamOutcome outcome;
  // Never sent (the guard, a URL the client cannot send): not the origin's fault.
  const bool refused = error == upstream::ClientError::destination_refused ||
                       error == upstream::ClientError::bad_url;
  std::string why;
  OriginAnswer answer;
  const AnswerLimits limits{settings_.default_interval, settings_.min_interval, settings_.max_peers,
                            settings_.allowed_destinations};
  if (refused) {
    counters.add(Counters::upstream_refused);
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("origin {}: not contacted ({})", server_name, upstream::to_string(error));
    }
  } else if (error != upstream::ClientError::none) {
    why = upstream::to_string(error);
  } else if (const char* bad = read(limits, answer)) {
    why = std::string("unusable answer: ") + bad;
  } else if (answer.failure_reason) {
    counters.add(Counters::upstream_failure_reason);
    outcome.kind = UpstreamOutcome::Kind::failure_reason;
    outcome.failure_reason = std::move(*answer.failure_reason);
    server.backoff.reset();
  } else {
    counters.add(Counters::upstream_ok);
    server.backoff.reset();
    const core::TimePoint now = clock_.now();
    store_.add_foreign_peers(flight->info_hash, answer.peers, core::Source::external, now,
                             2 * answer.info.interval);
    cache_.store(flight->origin, flight->info_hash, answer.info, now);
    outcome.kind = UpstreamOutcome::Kind::answered;
    outcome.info = answer.info;
    outcome.warning = std::move(answer.warning);
  }
  const bool failure = outcome.kind == UpstreamOutcome::Kind::unavailable && !refused;
  if (failure) {
    counters.add(Counters::upstream_failed);
    failed(server, server_name, why);
  }
  if (outcome.kind == UpstreamOutcome::Kind::unavailable) {
    if (auto entry = cache_.find(flight->origin, flight->info_hash)) outcome.info = entry->info;
  }
  {
    std::lock_guard lock(status_mutex_);
    auto& status = status_[server_name];
    status.server = server_name;
    if (failure) {
      ++status.failed;
      status.last_error = why;
    } else if (!refused) {
      ++status.ok;
    }
    status.backed_off = SteadyClock::now() < server.backed_off_until;
  }
  finish(flight, outcome);
}

void Forwarder::Impl::finish(const std::shared_ptr<Flight>& flight,
                             const UpstreamOutcome& outcome) {
  if (flight->finished) return;
  flight->finished = true;
  if (!flight->key.empty()) {
    auto it = flights_.find(flight->key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  for (auto& done : flight->waiting) done(outcome);
  flight->waiting.clear();
}

Forwarder::Done Forwarder::Impl::for_another_query(const UpstreamAnnounce& request, Done done) {
  return [this, origin = request.origin, info_hash = request.info_hash,
          done = std::move(done)](const UpstreamOutcome& outcome) {
    if (outcome.kind == UpstreamOutcome::Kind::failure_reason) {
      // Another subscriber's passkey or account was refused, not this one's.
      UpstreamOutcome known;
      if (auto entry = cache_.find(origin, info_hash)) known.info = entry->info;
      return done(known);
    }
    if (outcome.warning.empty()) return done(outcome);
    UpstreamOutcome shared = outcome;
    shared.warning.clear();
    done(shared);
  };
}

void Forwarder::Impl::failed(Server& server, const std::string& server_name,
                             const std::string& why) {
  const auto now = SteadyClock::now();
  const core::Duration backoff = server.backoff.fail();
  if (backoff != core::Duration::zero()) server.backed_off_until = now + backoff;
  const core::TimePoint at = clock_.now();
  if (server.warning.occurred(at) && may_warn(now)) {
    spdlog::warn("origin {}: {} ({} failures since the last report){}; answering without it",
                 server_name, why, server.warning.take(at),
                 backoff != core::Duration::zero()
                     ? fmt::format(", not asked for {} s", backoff.count())
                     : std::string());
  }
}

// Origin failures are logged kWarningsPerMinute a minute at most, all origins together:
// thousands of failing names must not mean thousands of lines.
bool Forwarder::Impl::may_warn(SteadyClock::time_point now) {
  report_unlogged(now);
  if (warnings_in_window_ < kWarningsPerMinute) {
    ++warnings_in_window_;
    return true;
  }
  ++unlogged_failures_;
  return false;
}

void Forwarder::Impl::report_unlogged(SteadyClock::time_point now) {
  if (now - warning_window_ < kWarningEvery) return;
  if (unlogged_failures_ > 0) {
    spdlog::warn(
        "origins: {} more failures in the last minute not logged (at most {} lines a minute)",
        unlogged_failures_, kWarningsPerMinute);
  }
  warning_window_ = now;
  warnings_in_window_ = 0;
  unlogged_failures_ = 0;
}

void Forwarder::Impl::schedule_expiry() {
  expiry_timer_.expires_after(kCacheSweepEvery);
  expiry_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    report_unlogged(SteadyClock::now());
    cache_.expire(clock_.now());
    schedule_expiry();
  });
}

std::size_t Forwarder::Impl::origin_count() const {
  std::lock_guard lock(status_mutex_);
  return status_.size();
}

Forwarder::Origins Forwarder::Impl::status(std::size_t count) const {
  Origins out;
  {
    std::lock_guard lock(status_mutex_);
    out.total = status_.size();
    out.top.reserve(status_.size());
    status_.for_each([&](const std::string&, const OriginStatus& s) { out.top.push_back(s); });
  }
  const auto most_asked = [](const OriginStatus& a, const OriginStatus& b) {
    if (a.ok + a.failed != b.ok + b.failed) return a.ok + a.failed > b.ok + b.failed;
    return a.server < b.server;
  };
  const std::size_t shown = std::min(count, out.top.size());
  std::partial_sort(out.top.begin(), out.top.begin() + static_cast<std::ptrdiff_t>(shown),
                    out.top.end(), most_asked);
  out.top.resize(shown);
  return out;
}

}  // namespace btrt::forwarding

#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "upstream/client.hpp"

namespace btrt::neighbors {

// Asks every configured neighbour (an adjacent retracker of a partner) for the peers of each
// torrent that has a live local peer, once per refresh_interval, spread evenly over the
// interval, at most max_concurrent in flight per neighbour. A torrent new here is asked for
// at once. Peers learned get source `neighbor:<name>` and live peers_expiry_interval unless
// listed again. A neighbour that cannot be reached is logged (rate-limited), counted and
// backed off, one step per round of requests (not per request); one that refuses a torrent
// or answers garbage is logged (rate-limited) and counted, never backed off. Nothing here
// delays an announce: all of this runs on the poller's own thread.
class Poller {
 public:
  // mark: interception.mark, set on every request to a neighbour (0: none), so that a router
  // diverting tracker ports never sends btrt's own polls back to it.
  Poller(core::SwarmStore& store, const clock::Clock& clock, std::uint32_t mark = 0);
  ~Poller();

  void start(const std::vector<config::Neighbor>& neighbors);
  // Takes a new list (SIGHUP): added ones start, removed ones stop and their peers go,
  // changed ones take their new settings. Thread-safe.
  void apply(const std::vector<config::Neighbor>& neighbors);
  void stop();

  struct Status {
    std::string name;
    core::Source source;  // of the peers it lists
    std::uint64_t requests_ok = 0;
    std::uint64_t requests_failed = 0;
    std::uint64_t peers_learned = 0;
    bool backed_off = false;
    core::Duration backoff{};  // the current back-off step, 0 when healthy
    std::string last_error;    // the latest failure since start, empty when none
  };
  // A copy taken at the poller's last tick (every 100 ms); callable from any thread.
  std::vector<Status> status() const;

 private:
  struct Neighbor;
  void update(const std::vector<config::Neighbor>& neighbors);  // on the poller thread
  void schedule_tick();
  void tick();
  void send(const std::shared_ptr<Neighbor>& neighbor, const core::InfoHash& info_hash);
  // A transport failure (no connection, timeout, not HTTP 200) of a request sent in `round`.
  void failed(Neighbor& neighbor, const std::string& why, std::uint64_t round);
  // An answer without peers for one torrent: a failure reason or a malformed body.
  void refused(Neighbor& neighbor, const std::string& why);

  core::SwarmStore& store_;
  const clock::Clock& clock_;
  const std::uint32_t mark_;
  boost::asio::io_context io_{1};
  std::unique_ptr<upstream::Client> client_;
  boost::asio::steady_timer timer_{io_};
  // Keeps the loop waiting for a reload while there is no neighbour and so no tick.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  bool stopping_ = false;  // poller thread only
  bool ticking_ = false;   // poller thread only; no neighbour, no tick
  std::thread thread_;
  std::map<std::string, std::shared_ptr<Neighbor>> neighbors_;  // by name; poller thread only
  mutable std::mutex status_mutex_;
  std::vector<Status> status_;
};

}  // namespace btrt::neighbors

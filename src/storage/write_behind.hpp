#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "clock/clock.hpp"
#include "config/config.hpp"
#include "core/backoff.hpp"
#include "core/swarm_store.hpp"
#include "storage/database.hpp"

namespace btrt::storage {

struct RestoreResult {
  std::size_t peers = 0;    // put back
  std::size_t refused = 0;  // kept out by limits
  std::size_t newer = 0;    // left as they are: they announced since, or stopped
};

// Puts the unexpired peers of the database and their torrents' completion counts back into
// the store (prepare_for_run first). `skip` names peers whose newer change is pending (a
// stop during an outage): they stay as memory has them. Completion counts are added only
// after everything was read, so that a restore that fails half-way can simply be repeated.
RestoreResult restore_swarm(Database& database, core::SwarmStore& store, core::TimePoint now,
                            core::UnixSeconds wall_now,
                            const std::function<bool(const core::PeerKey&)>& skip = {});

// Makes the in-memory swarm durable without ever making an announce wait: every
// flush_interval it takes the changes the store recorded (coalesced per peer and per
// torrent), and writes them in one batched transaction. While the database is away it
// keeps them (bounded by max_pending: peer updates dropped first, oldest first, removals
// only when they alone exceed it; completion counts never), logs the outage once and the
// recovery once, and retries with back-off. While the database is up nothing is dropped.
class WriteBehind {
 public:
  // Cumulative figures since start (the write-behind stores per-minute differences).
  using StatsSource = std::function<StatsRow()>;

  // `clock`: the store's (monotonic seconds) and the database's (unix seconds) time.
  WriteBehind(core::SwarmStore& store, std::unique_ptr<Database> database, config::Database config,
              const clock::Clock& clock, StatsSource stats);
  ~WriteBehind();

  // When the database could not be used at start: the store serves from what is announced
  // meanwhile; at the first successful connection the write-behind prepares the schema,
  // restores the stored swarm into the store (merged: what memory holds is newer), then
  // writes the pending changes. Call before start().
  void restore_when_available(bool create_schema);

  void start();
  // Flushes what is pending (one attempt) and ends the thread.
  void stop();

  // The statistics samples of the last 24 hours, oldest first: those the database held at
  // start(), then one a minute (the /stats page draws them).
  std::vector<StatsRow> history() const;

  std::size_t pending_peer_changes() const;
  std::uint64_t dropped_peer_changes() const { return dropped_.load(); }
  bool database_up() const { return !outage_.load(); }

 private:
  void run();
  void restore_late();
  void collect();
  void merge_fresh();
  void trim();
  void sample_stats(core::UnixSeconds now, bool force);
  bool flush();

  core::SwarmStore& store_;
  std::unique_ptr<Database> database_;
  const config::Database config_;
  const clock::Clock& clock_;
  const StatsSource stats_source_;

  std::thread thread_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;

  // Changes taken from the store and not yet written; only the flush thread touches them.
  // While the database is up and nothing older waits, the peer changes stay as they were
  // taken (fresh_: one per peer already, since the store coalesces them and its shards hold
  // disjoint torrents); they are merged into peers_, which coalesces, only when they must
  // wait: a failed write, an outage.
  std::vector<core::PeerChange> fresh_;
  std::size_t taken_ = 0;  // how many peer changes the last collect() took
  absl::flat_hash_map<core::PeerKey, core::PeerState> peers_;
  absl::flat_hash_map<core::InfoHash, core::TorrentChange> torrents_;
  std::vector<StatsRow> stats_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> dropped_{0};

  mutable std::mutex history_mutex_;
  std::deque<StatsRow> history_;

  StatsRow last_stats_;
  core::UnixSeconds last_sample_;
  core::UnixSeconds last_purge_;  // the last purge of expired peers
  bool restore_pending_ = false;
  bool create_schema_ = false;
  bool schema_reported_ = false;
  std::atomic<bool> outage_{false};
  core::UnixSeconds outage_since_;
  // After a failed write: retry after 1, 2, 4 ... s, at most 15 s apart.
  core::Backoff backoff_{
      {.initial = core::Duration{1}, .max = core::Duration{15}, .after_failures = 1}};
};

}  // namespace btrt::storage

#include "storage/write_behind.hpp"

#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "metrics/histogram.hpp"

namespace btrt::storage {
namespace {

constexpr std::chrono::seconds kStatsPeriod{60};   // between statistics samples
constexpr std::chrono::seconds kPurgePeriod{300};  // between purges of expired peers
constexpr std::size_t kMaxStatsRows = 24 * 60;     // kept through an outage: a day
constexpr std::chrono::hours kHistorySpan{24};     // of samples kept for /stats

}  // namespace

RestoreResult restore_swarm(Database& database, core::SwarmStore& store, core::TimePoint now,
                            core::UnixSeconds wall_now,
                            const std::function<bool(const core::PeerKey&)>& skip) {
  RestoreResult result;
  database.load_peers(wall_now, [&](const PeerRow& row) {
    if (skip && skip(row)) {
      ++result.newer;
      return;
    }
    const core::PeerChange peer{
        row,
        {/*removed=*/false, row.seeder, core::Source::from_value(row.source), row.peer_id,
         /*seen=*/now,
         now + core::Duration{
                   static_cast<std::uint32_t>(row.expires_at - stored_seconds(wall_now))}}};
    if (store.restore_peer(peer)) {
      ++result.peers;
    } else {
      ++result.refused;
    }
  });
  std::vector<std::pair<core::InfoHash, std::uint64_t>> completed;
  database.load_completed([&](const core::InfoHash& hash, std::uint64_t count) {
    completed.emplace_back(hash, count);
  });
  for (const auto& [hash, count] : completed) {
    store.restore_completed(hash, static_cast<std::uint32_t>(count));
  }
  return result;
}

WriteBehind::WriteBehind(core::SwarmStore& store, std::unique_ptr<Database> database,
                         config::Database config, const clock::Clock& clock, StatsSource stats)
    : store_(store),
      database_(std::move(database)),
      config_(std::move(config)),
      clock_(clock),
      stats_source_(std::move(stats)) {
  last_stats_ = stats_source_();
  last_sample_ = clock_.unix_now();
}

WriteBehind::~WriteBehind() {
  stop();
}

void WriteBehind::restore_when_available(bool create_schema) {
  restore_pending_ = true;
  create_schema_ = create_schema;
  outage_.store(true);
  outage_since_ = clock_.unix_now();
}

void WriteBehind::start() {
  if (database_) {
    try {
      auto rows = database_->load_stats_since(clock_.unix_now() - kHistorySpan);
      std::lock_guard lock(history_mutex_);
      history_.assign(std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    } catch (const DatabaseError& e) {
      // Only the /stats chart misses its past; nothing to stop for.
      spdlog::warn("database: statistics of the last day not loaded: {}", e.what());
    }
  }
  store_.set_recording(true);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "btrt-db");
    run();
  });
}

void WriteBehind::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<StatsRow> WriteBehind::history() const {
  std::lock_guard lock(history_mutex_);
  return {history_.begin(), history_.end()};
}

std::size_t WriteBehind::pending_peer_changes() const {
  return pending_.load();
}

void WriteBehind::run() {
  std::chrono::seconds wait = config_.flush_interval;
  while (true) {
    bool stopping;
    {
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, wait, [&] { return stopping_; });
      stopping = stopping_;
    }
    collect();
    sample_stats(clock_.unix_now(), stopping);  // a stop records its partial minute too
    const bool written = flush();
    if (stopping) {
      if (!written) {
        spdlog::error("database: stopping with {} peer changes and {} torrent changes unwritten",
                      peers_.size(), torrents_.size());
      }
      return;
    }
    wait = written ? config_.flush_interval : backoff_.fail();
  }
}

void WriteBehind::collect() {
  // Empty here: the last flush wrote what it took or merged it. Sized for what the last
  // take brought and a little more: a flush's memory is fresh pages each time (given back
  // after it), and their faults are most of its system time; grown by doubling, the vector
  // would touch twice what it keeps.
  fresh_.reserve(taken_ + taken_ / 8 + 64);
  std::vector<core::TorrentChange> torrents;
  const core::TimePoint now = clock_.now();
  for (std::size_t shard = 0; shard < store_.shard_count(); ++shard) {
    torrents.clear();
    store_.take_changes(shard, now, fresh_, torrents);
    for (const auto& change : torrents) {
      auto [it, inserted] = torrents_.try_emplace(change.info_hash, change);
      if (!inserted) {
        it->second.completed_delta += change.completed_delta;
        it->second.seen = std::max(it->second.seen, change.seen);
        if (!change.origin_url.empty()) it->second.origin_url = change.origin_url;
      }
    }
  }
  taken_ = fresh_.size();

  // restore_late() and trim() look the pending changes up by peer.
  if (outage_.load() || !peers_.empty()) merge_fresh();
  // The bound is for an outage only: while the database is up every change is written at the
  // next flush, whatever their number (a restart's first flush holds the whole swarm).
  if (outage_.load() && peers_.size() > config_.max_pending) trim();
  pending_.store(peers_.size() + fresh_.size());
}

void WriteBehind::merge_fresh() {
  peers_.reserve(peers_.size() + fresh_.size());
  for (const auto& change : fresh_) {
    peers_[static_cast<const core::PeerKey&>(change)] = change;
  }
  std::vector<core::PeerChange>().swap(fresh_);  // a vector's `= {}` keeps its capacity
}

void WriteBehind::trim() {
  // Drops peer updates first, oldest first: a peer that announces again is written then, one
  // that does not expires. A removal goes only when removals alone exceed the bound (oldest
  // first); dropping one before an update would bring a stopped peer back after a restart.
  // Completion counts are never dropped.
  std::vector<std::tuple<bool, core::TimePoint, core::PeerKey>> order;  // updates sort first
  order.reserve(peers_.size());
  for (const auto& [key, change] : peers_) order.emplace_back(change.removed, change.seen, key);
  const std::size_t excess = peers_.size() - config_.max_pending;
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(excess), order.end(),
                   [](const auto& a, const auto& b) {
                     return std::tie(std::get<0>(a), std::get<1>(a)) <
                            std::tie(std::get<0>(b), std::get<1>(b));
                   });
  std::size_t removals = 0;
  for (std::size_t i = 0; i < excess; ++i) {
    if (std::get<0>(order[i])) ++removals;
    peers_.erase(std::get<2>(order[i]));
  }
  dropped_ += excess;
  spdlog::warn(
      "database: {} pending peer changes exceed database.max_pending ({}) during the outage; "
      "dropped the {} oldest ({} of them removals; {} dropped in all)",
      peers_.size() + excess, config_.max_pending, excess, removals, dropped_.load());
}

void WriteBehind::sample_stats(core::UnixSeconds now, bool force) {
  if (now - last_sample_ < kStatsPeriod && !force) return;
  StatsRow current = stats_source_();
  StatsRow row;
  row.sampled_at = stored_seconds(now);
  row.announces = current.announces - last_stats_.announces;
  row.scrapes = current.scrapes - last_stats_.scrapes;
  row.forwarded = current.forwarded - last_stats_.forwarded;
  for (const auto& [group, peers] : current.returned_by_group) {
    std::uint64_t before = 0;
    for (const auto& [old_group, old_peers] : last_stats_.returned_by_group) {
      if (old_group == group) before = old_peers;
    }
    row.returned_by_group.emplace_back(group, peers >= before ? peers - before : peers);
  }
  last_stats_ = std::move(current);
  last_sample_ = now;
  {
    std::lock_guard lock(history_mutex_);
    history_.push_back(row);
    while (!history_.empty() && (history_.front().sampled_at < stored_seconds(now - kHistorySpan) ||
                                 history_.size() > 2 * kMaxStatsRows)) {
      history_.pop_front();
    }
  }
  stats_.push_back(std::move(row));
  if (stats_.size() > kMaxStatsRows) stats_.erase(stats_.begin());
}

void WriteBehind::restore_late() {
  const auto started = std::chrono::steady_clock::now();
  prepare_for_run(*database_, create_schema_);
  // A peer with a pending change (announced or stopped during the outage) is newer than
  // its stored row; collect() ran just before, so the pending map holds every such change.
  auto result = restore_swarm(*database_, store_, clock_.now(), clock_.unix_now(),
                              [this](const core::PeerKey& key) { return peers_.contains(key); });
  restore_pending_ = false;
  spdlog::info(
      "restored {} peers from {} in {:.2f} s, merged with those announced since the start "
      "({} newer in memory{})",
      result.peers, database_->describe(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
      result.newer,
      result.refused ? fmt::format(", {} kept out by limits", result.refused) : std::string());
}

bool WriteBehind::flush() {
  if (peers_.empty() && fresh_.empty() && torrents_.empty() && stats_.empty() &&
      !restore_pending_) {
    return true;
  }
  const core::UnixSeconds wall_now = clock_.unix_now();
  const core::TimePoint mono_now = clock_.now();
  // A time on the monotonic clock as the unix time it falls on; signed arithmetic, since the
  // times lie before and after now.
  auto to_wall = [&](core::TimePoint t) {
    return stored_seconds(wall_now - mono_now.time_since_epoch() + t.time_since_epoch());
  };

  Batch batch;
  batch.now = wall_now;
  batch.purge_expired = wall_now - last_purge_ >= kPurgePeriod;
  for (const auto& [hash, change] : torrents_) {
    batch.torrents.push_back(
        {hash, change.completed_delta, to_wall(change.seen), change.origin_url});
  }
  const std::size_t peer_changes = peers_.size() + fresh_.size();
  batch.peers.reserve(peer_changes);
  auto add = [&](const core::PeerKey& key, const core::PeerState& change) {
    if (change.removed) {
      batch.removed.push_back(key);
    } else {
      batch.peers.push_back({key, change.peer_id, change.seeder, change.source.value(),
                             to_wall(change.seen), to_wall(change.expires_at)});
    }
  };
  for (const auto& [key, state] : peers_) add(key, state);
  for (const auto& change : fresh_) add(change, change);
  batch.stats = stats_;

  const auto started = std::chrono::steady_clock::now();
  try {
    if (!database_) database_ = Database::connect(config_);
    if (restore_pending_) restore_late();
    database_->write(batch);
  } catch (const DatabaseError& e) {
    const bool schema = dynamic_cast<const SchemaError*>(&e) != nullptr;
    if (schema && !schema_reported_) {
      // Reachable now, but the operator has a step to take; said once, retried meanwhile.
      spdlog::error("database reachable but not usable, still serving from memory: {}", e.what());
    }
    schema_reported_ = schema;
    if (!outage_.exchange(true)) {
      outage_since_ = wall_now;
      spdlog::error("database unavailable, serving from memory and keeping changes: {}", e.what());
    }
    database_.reset();  // reconnect on the next attempt
    merge_fresh();
    return false;
  }

  if (outage_.exchange(false)) {
    spdlog::info("database available again after {} s: wrote {} peer and {} torrent changes",
                 (wall_now - outage_since_).count(), peer_changes, torrents_.size());
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics::Latency::observe(metrics::Latency::db_flush, took);
  spdlog::debug("database: wrote {} peer and {} torrent changes in {:.2f} s", peer_changes,
                torrents_.size(), took);
  backoff_.reset();
  if (batch.purge_expired) last_purge_ = wall_now;
  // Give the memory back, not just the entries: a burst (a restart's first flush, the end of
  // an outage) and the database's page cache must not stay resident between flushes.
  peers_ = {};
  std::vector<core::PeerChange>().swap(fresh_);  // a vector's `= {}` keeps its capacity
  torrents_ = {};
  stats_.clear();
  pending_.store(0);
  batch = {};
  malloc_trim(0);
  return true;
}

}  // namespace btrt::storage

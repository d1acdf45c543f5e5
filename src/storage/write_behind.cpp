#include "storage/write_behind.hpp"

#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "metrics/histogram.hpp"

namespace btrt::storage {
namespace {

constexpr std::int64_t kStatsPeriod = 60;       // s between statistics samples
constexpr std::int64_t kPurgePeriod = 300;      // s between purges of expired peers
constexpr std::size_t kMaxStatsRows = 24 * 60;  // kept through an outage: a day
constexpr std::chrono::seconds kMaxBackoff{15};
constexpr std::int64_t kHistorySpan = 24 * 3600;  // s of samples kept for /stats

}  // namespace

WriteBehind::WriteBehind(core::SwarmStore& store, std::unique_ptr<Database> database,
                         config::Database config, Clock clock, StatsSource stats)
    : store_(store),
      database_(std::move(database)),
      config_(std::move(config)),
      clock_(std::move(clock)),
      stats_source_(std::move(stats)) {
  last_stats_ = stats_source_();
  last_sample_ = clock_.wall();
}

WriteBehind::~WriteBehind() {
  stop();
}

void WriteBehind::start() {
  if (database_) {
    try {
      auto rows = database_->load_stats_since(clock_.wall() - kHistorySpan);
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
  auto wait = std::chrono::seconds(config_.flush_interval);
  while (true) {
    bool stopping;
    {
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, wait, [&] { return stopping_; });
      stopping = stopping_;
    }
    collect();
    sample_stats(clock_.wall(), stopping);  // a stop records its partial minute too
    const bool written = flush();
    if (stopping) {
      if (!written) {
        spdlog::error("database: stopping with {} peer changes and {} torrent changes unwritten",
                      peers_.size(), torrents_.size());
      }
      return;
    }
    // After a failure: retry after 1, 2, 4 ... s, at most kMaxBackoff apart.
    wait = written ? std::chrono::seconds(config_.flush_interval) : backoff_;
    if (!written) backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }
}

void WriteBehind::collect() {
  std::vector<core::PeerChange> peers;
  std::vector<core::TorrentChange> torrents;
  for (std::size_t shard = 0; shard < store_.shard_count(); ++shard) {
    peers.clear();
    torrents.clear();
    store_.take_changes(shard, peers, torrents);
    for (const auto& change : peers) {
      peers_[PeerKey{change.info_hash, change.address, change.port}] = change;
    }
    for (const auto& change : torrents) {
      auto [it, inserted] = torrents_.try_emplace(change.info_hash, change);
      if (!inserted) {
        it->second.completed_delta += change.completed_delta;
        it->second.seen = std::max(it->second.seen, change.seen);
      }
    }
  }

  if (peers_.size() > config_.max_pending) {
    // Over the bound (a long outage): drop the oldest peer updates; a peer that announces
    // again is written then. Completion counts are never dropped.
    std::vector<std::pair<core::Seconds, PeerKey>> by_age;
    by_age.reserve(peers_.size());
    for (const auto& [key, change] : peers_) by_age.emplace_back(change.seen, key);
    const std::size_t excess = peers_.size() - config_.max_pending;
    std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(excess),
                     by_age.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < excess; ++i) peers_.erase(by_age[i].second);
    dropped_ += excess;
    spdlog::warn(
        "database: {} pending peer changes exceed database.max_pending ({}); dropped "
        "the {} oldest ({} dropped in all)",
        peers_.size() + excess, config_.max_pending, excess, dropped_.load());
  }
  pending_.store(peers_.size());
}

void WriteBehind::sample_stats(std::int64_t now, bool force) {
  if (now - last_sample_ < kStatsPeriod && !force) return;
  StatsRow current = stats_source_();
  StatsRow row;
  row.sampled_at = now;
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
    while (!history_.empty() && (history_.front().sampled_at < now - kHistorySpan ||
                                 history_.size() > 2 * kMaxStatsRows)) {
      history_.pop_front();
    }
  }
  stats_.push_back(std::move(row));
  if (stats_.size() > kMaxStatsRows) stats_.erase(stats_.begin());
}

bool WriteBehind::flush() {
  if (peers_.empty() && torrents_.empty() && stats_.empty()) return true;
  const std::int64_t wall_now = clock_.wall();
  const core::Seconds mono_now = clock_.monotonic();
  auto to_wall = [&](core::Seconds t) {
    return wall_now - static_cast<std::int64_t>(mono_now) + static_cast<std::int64_t>(t);
  };

  Batch batch;
  batch.now = wall_now;
  batch.purge_expired = wall_now - last_purge_ >= kPurgePeriod;
  for (const auto& [hash, change] : torrents_) {
    batch.torrents.push_back({hash, change.completed_delta, to_wall(change.seen)});
  }
  for (const auto& [key, change] : peers_) {
    if (change.removed) {
      batch.removed.push_back({change.info_hash, change.address, change.port});
    } else {
      batch.peers.push_back({change.info_hash, change.address, change.port, change.peer_id,
                             change.seeder, change.source, to_wall(change.seen),
                             to_wall(change.expires_at)});
    }
  }
  batch.stats = stats_;

  const auto started = std::chrono::steady_clock::now();
  try {
    if (!database_) database_ = Database::connect(config_);
    database_->write(batch);
  } catch (const DatabaseError& e) {
    if (!outage_.exchange(true)) {
      outage_since_ = wall_now;
      spdlog::error("database unavailable, serving from memory and keeping changes: {}", e.what());
    }
    database_.reset();  // reconnect on the next attempt
    return false;
  }

  if (outage_.exchange(false)) {
    spdlog::info("database available again after {} s: wrote {} peer and {} torrent changes",
                 wall_now - outage_since_, peers_.size(), torrents_.size());
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics::Latency::observe(metrics::Latency::db_flush, took);
  spdlog::debug("database: wrote {} peer and {} torrent changes in {:.2f} s", peers_.size(),
                torrents_.size(), took);
  backoff_ = std::chrono::seconds(1);
  if (batch.purge_expired) last_purge_ = wall_now;
  // Give the memory back, not just the entries: a burst (a restart's first flush, the end of
  // an outage) must not stay resident for the life of the process.
  const bool large = peers_.size() > 10000;
  peers_ = {};
  torrents_ = {};
  stats_.clear();
  pending_.store(0);
  batch = {};
  if (large) malloc_trim(0);
  return true;
}

}  // namespace btrt::storage

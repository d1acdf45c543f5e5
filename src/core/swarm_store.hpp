#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/peer.hpp"
#include "core/peer_list.hpp"
#include "core/selected_peer.hpp"
#include "net/classifier.hpp"

namespace btrt::core {

struct Torrent {
  PeerList<std::uint32_t> v4;
  std::unique_ptr<PeerList<Ipv6Bytes>> v6;  // most swarms have no IPv6 peer
  std::uint32_t downloaded = 0;
  std::uint32_t seeders = 0;   // of source `local`
  std::uint32_t leechers = 0;  // of source `local`
  // No record expires before this (a lower bound): until then the counts above are exact
  // and nothing needs sweeping.
  TimePoint next_expiry = TimePoint::max();

  std::size_t peer_count() const { return v4.size() + (v6 ? v6->size() : 0); }
};
// With its info-hash, one slot of a shard's torrent table: at ~10 peers per torrent, every
// 8 bytes here cost about 1 byte per peer (docs/design.md, "The swarm store").
static_assert(sizeof(std::pair<const InfoHash, Torrent>) == 56);

enum class AnnounceEvent : std::uint8_t { none, started, completed, stopped };

// What one announce tells the store about the announcing peer.
struct PeerAnnounce {
  InfoHash info_hash;
  PeerId peer_id;
  net::IpAddress address;
  std::uint16_t port = 0;
  bool seeder = false;
  AnnounceEvent event = AnnounceEvent::none;
  Source source = Source::local;
  // A forwarded announce's origin ("http://host:port/path", no query): recorded with the
  // torrent's change for the database. Valid during the call only.
  std::string_view origin_url;
};

struct SelectOptions {
  std::uint32_t numwant = 50;
  // tracker.locality_cutoff (docs/local-retracking.md); 0 = fill to numwant in rank order
  std::uint32_t locality_cutoff = 0;
  // tracker.locality_seeders: the answer is also complete before a next level once it holds
  // this many seeders; 0 = off
  std::uint32_t locality_seeders = 0;
  // Only peers of one family: a UDP answer carries one address size (BEP 15).
  enum class Family : std::uint8_t { any, v4, v6 } family = Family::any;
};

struct SwarmCounts {
  std::uint32_t complete = 0;    // seeders
  std::uint32_t incomplete = 0;  // leechers
  std::uint32_t downloaded = 0;
};

struct AnnounceOutcome {
  enum class Status { ok, torrent_limit } status = Status::ok;
  SwarmCounts counts;
  bool stored = true;  // false when max_peers_per_torrent kept a new peer out
};

// What the database is to learn of one peer: its state after an announce, or its removal.
// Apart from the key, so that the write-behind's map coalescing changes per peer (during an
// outage) does not hold the key twice: 72 bytes a slot instead of 112.
struct PeerState {
  bool removed = false;
  bool seeder = false;
  Source source = Source::local;
  PeerId peer_id;
  TimePoint seen;        // when it announced
  TimePoint expires_at;  // when it expires if silent
};

static_assert(sizeof(std::pair<const PeerKey, PeerState>) == 72);

// A change to persist (write-behind): which peer, and what became of it.
struct PeerChange : PeerKey, PeerState {};

struct TorrentChange {
  InfoHash info_hash;
  std::uint32_t completed_delta = 0;  // completions since the last change was taken
  TimePoint seen;
  std::string origin_url;  // the latest forwarded announce's origin; empty: none since
};

struct StoreLimits {
  std::uint64_t max_torrents = 0;             // 0 = no limit
  std::uint32_t max_peers_per_torrent = 0;    // 0 = no limit
  std::uint32_t max_learned_per_torrent = 0;  // neighbours' and origins' peers; 0 = no limit
};

// Learned peers kept per torrent: this many times tracker.numwant_max (docs/operations.md).
// Enough for a few full answers of every source, while an origin that lists 100,000 peers
// cannot grow a torrent without bound.
inline constexpr std::uint32_t kLearnedPerNumwant = 5;
inline std::uint32_t learned_limit(std::uint32_t numwant_max) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(
      std::uint64_t{kLearnedPerNumwant} * numwant_max, std::numeric_limits<std::uint32_t>::max()));
}

struct StoreTotals {
  std::uint64_t torrents = 0;
  std::uint64_t peers = 0;
  std::uint64_t seeders = 0;
  std::vector<std::uint64_t> peers_by_group;  // indexed by GroupId, `other` last
  std::size_t memory_bytes = 0;               // peer arrays, indexes and torrent tables
  std::uint64_t dormant_torrents = 0;         // not in memory, completed count kept
};

// Stored peers counted by group and source (the service pages' figures).
struct PeerCensus {
  static constexpr std::size_t kSources = Source::kCount;
  std::uint64_t torrents = 0;
  std::size_t group_count = 0;       // GroupIds seen, `other` included
  std::vector<std::uint64_t> peers;  // [group * kSources + source]

  std::uint64_t at(net::GroupId group, Source source) const {
    return peers[group * kSources + source.value()];
  }
};

// All torrents and their peers, in memory, sharded by info-hash so that announces of
// different torrents take different locks. Time is passed in; nothing here does I/O.
class SwarmStore {
 public:
  static constexpr std::size_t kDefaultShards = 256;

  SwarmStore(std::shared_ptr<const net::Classifier> classifier, StoreLimits limits,
             std::size_t shards = kDefaultShards);

  // Registers (or updates, or with `stopped` removes) the peer, then fills `out` with the
  // peers to hand back, best ranked first (docs/design.md, "The swarm store"), unless it is
  // `stopped`. `ttl` is how long the peer lives.
  AnnounceOutcome announce(const PeerAnnounce& peer, TimePoint now, Duration ttl,
                           const SelectOptions& options, std::vector<SelectedPeer>& out);

  // The peers announce() would hand back, without registering anything: for an answer
  // given later than its announce (a forwarded one, once the origin answered).
  SwarmCounts select(const PeerAnnounce& peer, TimePoint now, const SelectOptions& options,
                     std::vector<SelectedPeer>& out) const;

  // Counts without the peers expired at `now` (also those the sweeper has not reached yet).
  SwarmCounts counts(const InfoHash& info_hash, TimePoint now) const;

  // Drops expired peers (and emptied torrents) of one shard; call it for each shard in
  // turn so that no sweep stops the world. A torrent dropped keeps its completed count
  // (in a small table of torrents not in memory) for when it comes back.
  std::size_t expire_shard(std::size_t shard, TimePoint now);
  std::size_t shard_count() const { return shards_.size(); }

  // Puts a new classifier in force and regroups every stored peer, shard by shard.
  void apply(std::shared_ptr<const net::Classifier> classifier);
  // Puts new limits in force for what comes next (nothing stored is dropped for them).
  void apply(StoreLimits limits);

  StoreTotals totals() const;
  // O(peers), one shard locked at a time: for a scrape of /metrics, not for a hot path.
  PeerCensus census() const;

  // Write-behind: when on, every announce marks its torrent as changed, and take_changes()
  // (under the same shard lock) hands out, one per peer, the state of every peer announced
  // since the shard's last take and the removal of every peer stopped or moved since, with
  // the torrents' changes. `now`: the time of the take (the store's clock).
  void set_recording(bool on) { recording_.store(on); }
  void take_changes(std::size_t shard, TimePoint now, std::vector<PeerChange>& peers,
                    std::vector<TorrentChange>& torrents);

  // Peers another tracker listed (a neighbour, an origin): added with `source` and kept for
  // `ttl` unless listed again; a peer that announced itself here is left as it is. Only for
  // a torrent in memory, and only while it holds fewer than max_learned_per_torrent learned
  // peers (those already known are refreshed in any case). Returns how many were new.
  std::size_t add_foreign_peers(const InfoHash& info_hash, std::span<const net::Endpoint> peers,
                                Source source, TimePoint now, Duration ttl);
  // Drops every peer learned from `source` (a neighbour removed from the configuration).
  std::size_t remove_source(Source source);
  // Torrents with at least one live local peer.
  void active_torrents(std::vector<InfoHash>& out) const;
  // When on, torrents created by a local announce are remembered until taken (so that
  // neighbours are asked for them at once).
  void set_track_new_torrents(bool on) { track_new_.store(on); }
  void take_new_torrents(std::vector<InfoHash>& out);

  // Restore (at start, or when the database comes back later): puts a stored peer back
  // without recording it, unless the peer is in memory already (it announced since, and
  // what it said is newer). Returns false when a limit kept it out.
  bool restore_peer(const PeerChange& peer);
  // Adds stored completions to a torrent, in memory or not (then kept for when it comes).
  void restore_completed(const InfoHash& info_hash, std::uint32_t completed);

  // Calls f(info_hash, counts at `now`) for every torrent in memory, one shard locked at a
  // time.
  template <typename F>
  void for_each_torrent(TimePoint now, F&& f) const {
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      for (const auto& [hash, t] : shard->torrents) f(hash, live_counts(t, now));
    }
  }

  // Calls f(info_hash, n) for every torrent with n > 0 live seeders (any source) in the
  // groups that groups_of(classifier) selects, one shard locked at a time. The groups are
  // resolved per shard with the classifier its peers were grouped by, so a reload running
  // at the same time cannot mix the ids of two configurations.
  template <typename GroupsOf, typename F>
  void count_seeders(TimePoint now, GroupsOf&& groups_of, F&& f) const {
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      const auto groups = groups_of(*shard->classifier);
      if (groups.none()) continue;
      for (const auto& [hash, t] : shard->torrents) {
        std::uint32_t n = count_live_seeders(t.v4, groups, now);
        if (t.v6) n += count_live_seeders(*t.v6, groups, now);
        if (n != 0) f(hash, n);
      }
    }
  }

 private:
  template <typename Address, typename Groups>
  static std::uint32_t count_live_seeders(const PeerList<Address>& list, const Groups& groups,
                                          TimePoint now) {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& r = list[i];
      // Not yet swept is not alive: the sweeper may be up to a pass behind.
      if (r.seeder() && r.expires_at > now && groups.test(r.group)) ++n;
    }
    return n;
  }

  using PendingKey = PeerKey;
  struct PendingTorrent {
    std::uint32_t completed_delta = 0;
    TimePoint seen;
    std::string origin_url;
  };
  static SwarmCounts live_counts(const Torrent& t, TimePoint now);

  struct Shard {
    mutable std::mutex mutex;
    // Recorded since the last take (docs/design.md, "Recording marks the torrent"): the torrents
    // announced; the peers a walk of those torrents cannot tell (stopped, moved to another
    // port, announced with a time before taken_until); the shortest `ttl` of those announces.
    // A local record announced at or after taken_until expires at or after taken_until +
    // shortest_ttl, and was announced at expires_at - shortest_ttl (exactly, while the peer
    // expiry stays as configured).
    absl::flat_hash_map<InfoHash, PendingTorrent> pending_torrents;
    absl::flat_hash_set<PendingKey> touched;
    Duration shortest_ttl = Duration::max();
    TimePoint taken_until = kNever;  // one second after the last take
    // How many torrents the last take_changes() took: the size the next map is made for.
    std::size_t torrents_taken = 0;
    std::vector<InfoHash> new_torrents;
    absl::flat_hash_map<InfoHash, Torrent> torrents;
    // Completed counts of torrents dropped from memory (no peer left), until they return.
    absl::flat_hash_map<InfoHash, std::uint32_t> dormant;
    std::shared_ptr<const net::Classifier> classifier;
    std::uint8_t levels[256] = {};
  };
  Shard& shard_of(const InfoHash& info_hash);
  const Shard& shard_of(const InfoHash& info_hash) const;
  static void set_levels(Shard& shard);
  using TorrentIt = absl::flat_hash_map<InfoHash, Torrent>::iterator;
  void drop(Shard& shard, TorrentIt it);
  static std::uint32_t dormant_downloaded(const Shard& shard, const InfoHash& info_hash);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> torrent_count_{0};
  std::atomic<std::uint64_t> max_torrents_;
  std::atomic<std::uint32_t> max_peers_per_torrent_;
  std::atomic<std::uint32_t> max_learned_per_torrent_;
  std::atomic<bool> recording_{false};
  std::atomic<bool> track_new_{false};
};

}  // namespace btrt::core

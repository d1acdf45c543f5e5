#include "core/swarm_store.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "core/peer_selector.hpp"

namespace btrt::core {
namespace {

template <typename Address>
Address address_of(const net::IpAddress& ip);
template <>
std::uint32_t address_of<std::uint32_t>(const net::IpAddress& ip) {
  return ip.v4();
}
template <>
Ipv6Bytes address_of<Ipv6Bytes>(const net::IpAddress& ip) {
  return ip.bytes();
}

void count(Torrent& t, bool seeder, int delta) {
  auto& counter = seeder ? t.seeders : t.leechers;
  counter = static_cast<std::uint32_t>(static_cast<int>(counter) + delta);
}

// `complete` and `incomplete` count the peers btrt knows first-hand: source `local`.
template <typename Record>
void count_record(Torrent& t, const Record& r, int delta) {
  if (r.source() == Source::local) count(t, r.seeder(), delta);
}

// Registers, refreshes or (on `stopped`) removes the announcing peer in one family's list.
// Returns false when the peer limit kept a new peer out. `replaced_port` is set when the
// announcing client was listed on another port (same address and peer id): that entry is
// the one updated, so that a client is never listed twice.
template <typename Address>
bool update_peer(Torrent& t, PeerList<Address>& list, const PeerAnnounce& a,
                 const net::Classifier& classifier, const std::uint8_t (&levels)[256],
                 TimePoint expires_at, std::uint32_t max_peers,
                 std::optional<std::uint16_t>& replaced_port) {
  using Record = PeerRecord<Address>;
  const Address address = address_of<Address>(a.address);
  std::ptrdiff_t found = list.find(address, a.port);
  if (found < 0 && a.source == Source::local) {
    found = list.find_client(address, a.peer_id);
    if (found >= 0) replaced_port = list[static_cast<std::size_t>(found)].port;
  } else if (found >= 0 && a.source == Source::local &&
             list[static_cast<std::size_t>(found)].peer_id != a.peer_id) {
    // The client took a port another client of this address left: its old entry goes.
    const std::ptrdiff_t old = list.find_client(address, a.peer_id);
    if (old >= 0) {
      replaced_port = list[static_cast<std::size_t>(old)].port;
      count_record(t, list[static_cast<std::size_t>(old)], -1);
      list.erase(static_cast<std::size_t>(old), levels);
      found = list.find(address, a.port);
    }
  }

  if (a.event == AnnounceEvent::stopped) {
    if (found >= 0) {
      count_record(t, list[static_cast<std::size_t>(found)], -1);
      list.erase(static_cast<std::size_t>(found), levels);
    }
    return true;
  }

  if (found >= 0) {
    Record r = list[static_cast<std::size_t>(found)];
    count_record(t, r, -1);
    r.port = a.port;
    r.expires_at = expires_at;
    r.peer_id = a.peer_id;
    // A peer that announced itself stays `local` whatever a neighbour or origin says of it.
    if (a.source == Source::local || r.source() != Source::local) r.set_source(a.source);
    if (a.event == AnnounceEvent::completed && !(r.flags & Record::kCompleted)) {
      r.flags |= Record::kCompleted;
      ++t.downloaded;
    }
    r.flags = static_cast<std::uint8_t>(a.seeder ? r.flags | Record::kSeeder
                                                 : r.flags & ~Record::kSeeder);
    list.replace(static_cast<std::size_t>(found), r, levels);
    count_record(t, r, +1);
    t.next_expiry = std::min(t.next_expiry, expires_at);
    return true;
  }

  if (max_peers != 0 && t.peer_count() >= max_peers) return false;
  Record r{};
  r.address = address;
  r.port = a.port;
  r.group = classifier.classify(a.address);
  r.flags = a.seeder ? Record::kSeeder : 0;
  r.set_source(a.source);
  if (a.event == AnnounceEvent::completed) {
    r.flags |= Record::kCompleted;
    ++t.downloaded;
  }
  r.expires_at = expires_at;
  r.peer_id = a.peer_id;
  list.insert(r, levels);
  count_record(t, r, +1);
  t.next_expiry = std::min(t.next_expiry, expires_at);
  return true;
}

// Adds or refreshes peers another tracker listed; never touches a peer that announced
// itself here. A new peer takes one of `room` (learned peers the torrent may still get).
// Returns how many were new.
template <typename Address>
std::size_t merge_foreign(Torrent& t, PeerList<Address>& list, const net::Endpoint& peer,
                          Source source, const net::Classifier& classifier,
                          const std::uint8_t (&levels)[256], TimePoint expires_at,
                          std::uint32_t max_peers, std::size_t& room) {
  using Record = PeerRecord<Address>;
  const Address address = address_of<Address>(peer.address);
  const std::ptrdiff_t found = list.find(address, peer.port);
  if (found >= 0) {
    Record& r = list[static_cast<std::size_t>(found)];
    if (r.source() != Source::local) {
      r.set_source(source);  // learned either way: the bucket stays
      r.expires_at = expires_at;
      t.next_expiry = std::min(t.next_expiry, expires_at);
    }
    return 0;
  }
  if (room == 0) return 0;
  if (max_peers != 0 && t.peer_count() >= max_peers) return 0;
  Record r{};
  r.address = address;
  r.port = peer.port;
  r.group = classifier.classify(peer.address);
  r.set_source(source);  // seeder or not is unknown: a leecher, handed to seeders too
  r.expires_at = expires_at;
  list.insert(r, levels);
  t.next_expiry = std::min(t.next_expiry, expires_at);
  --room;
  return 1;
}

// Drops the records expired at `now` from one family's list; returns how many went and
// lowers `next` to the earliest expiry of those that stay.
template <typename Address>
std::size_t expire_list(Torrent& t, PeerList<Address>& list, TimePoint now,
                        const std::uint8_t (&levels)[256], TimePoint& next) {
  std::size_t expired = 0;
  for (const auto& r : list.records()) {
    if (r.expires_at <= now) {
      ++expired;
    } else {
      next = std::min(next, r.expires_at);
    }
  }
  if (expired == 0) return 0;
  if (!list.indexed() || expired * 16 > list.size()) {
    // Many, or a small array: one compaction (and one index rebuild).
    list.erase_if([&](const auto& r) {
      if (r.expires_at > now) return false;
      count_record(t, r, -1);
      return true;
    });
  } else {
    // A few in a large swarm: each erase moves one record per bucket and keeps the index.
    // Walking down, whatever an erase moves comes from positions already visited.
    for (std::size_t i = list.size(); i-- > 0;) {
      if (list[i].expires_at <= now) {
        count_record(t, list[i], -1);
        list.erase(i, levels);
      }
    }
  }
  return expired;
}

// Drops a torrent's expired peers and makes its counts exact again.
std::size_t expire_torrent(Torrent& t, TimePoint now, const std::uint8_t (&levels)[256]) {
  TimePoint next = TimePoint::max();
  std::size_t removed = expire_list(t, t.v4, now, levels, next);
  if (t.v6) {
    removed += expire_list(t, *t.v6, now, levels, next);
    if (t.v6->empty()) t.v6.reset();
  }
  t.next_expiry = next;
  return removed;
}

template <typename Address>
void regroup(PeerList<Address>& list, const net::Classifier& classifier,
             const std::uint8_t (&levels)[256]) {
  list.regroup([&](const PeerRecord<Address>& r) { return classifier.classify(to_ip(r.address)); },
               levels);
}

}  // namespace

SwarmStore::SwarmStore(std::shared_ptr<const net::Classifier> classifier, StoreLimits limits,
                       std::size_t shards)
    : max_torrents_(limits.max_torrents),
      max_peers_per_torrent_(limits.max_peers_per_torrent),
      max_learned_per_torrent_(limits.max_learned_per_torrent) {
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->classifier = classifier;
    set_levels(*shard);
    shards_.push_back(std::move(shard));
  }
}

void SwarmStore::set_levels(Shard& shard) {
  for (std::size_t g = 0; g < 256; ++g) {
    shard.levels[g] = g < shard.classifier->group_count()
                          ? shard.classifier->level_of(static_cast<net::GroupId>(g))
                          : 0;
  }
}

SwarmStore::Shard& SwarmStore::shard_of(const InfoHash& info_hash) {
  // All 20 bytes, folded and mixed, pick the shard: hashes that differ in a few bytes only (a
  // benchmark's, or a client's made-up ones) still spread evenly. Even shards keep every
  // torrent table near the same load, so none carries twice the slack of the others.
  std::uint64_t w[3] = {};
  std::memcpy(w, info_hash.bytes.data(), info_hash.bytes.size());
  const std::uint64_t h = (w[0] ^ w[1] ^ w[2]) * 0x9E3779B97F4A7C15ull;
  return *shards_[(h >> 32) % shards_.size()];
}
const SwarmStore::Shard& SwarmStore::shard_of(const InfoHash& info_hash) const {
  return const_cast<SwarmStore*>(this)->shard_of(info_hash);
}

void SwarmStore::drop(Shard& shard, TorrentIt it) {
  if (it->second.downloaded != 0) shard.dormant[it->first] = it->second.downloaded;
  shard.torrents.erase(it);
  torrent_count_.fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t SwarmStore::dormant_downloaded(const Shard& shard, const InfoHash& info_hash) {
  auto it = shard.dormant.find(info_hash);
  return it == shard.dormant.end() ? 0 : it->second;
}

SwarmCounts SwarmStore::live_counts(const Torrent& t, TimePoint now) {
  if (now < t.next_expiry) return {t.seeders, t.leechers, t.downloaded};
  // Some peer expired and the sweeper has not been here yet: count the live ones.
  SwarmCounts c{0, 0, t.downloaded};
  auto add = [&](const auto& records) {
    for (const auto& r : records) {
      if (r.expires_at > now && r.source() == Source::local)
        ++(r.seeder() ? c.complete : c.incomplete);
    }
  };
  add(t.v4.records());
  if (t.v6) add(t.v6->records());
  return c;
}

AnnounceOutcome SwarmStore::announce(const PeerAnnounce& peer, TimePoint now, Duration ttl,
                                     const SelectOptions& options, std::vector<SelectedPeer>& out) {
  AnnounceOutcome outcome;
  Shard& shard = shard_of(peer.info_hash);
  std::lock_guard lock(shard.mutex);

  auto it = shard.torrents.find(peer.info_hash);
  if (it == shard.torrents.end()) {
    if (peer.event == AnnounceEvent::stopped) {
      // Recorded all the same: the database may hold the peer although memory does not (a
      // start without the database, a restore still to come), and it must not come back.
      if (recording_.load(std::memory_order_relaxed)) {
        shard.shortest_ttl = std::min(shard.shortest_ttl, ttl);
        shard.touched.insert(PendingKey{peer.info_hash, peer.address, peer.port});
      }
      outcome.counts.downloaded = dormant_downloaded(shard, peer.info_hash);
      return outcome;
    }
    std::uint64_t limit = max_torrents_.load(std::memory_order_relaxed);
    if (limit != 0 && torrent_count_.load(std::memory_order_relaxed) >= limit) {
      outcome.status = AnnounceOutcome::Status::torrent_limit;
      return outcome;
    }
    it = shard.torrents.try_emplace(peer.info_hash).first;
    torrent_count_.fetch_add(1, std::memory_order_relaxed);
    if (auto d = shard.dormant.find(peer.info_hash); d != shard.dormant.end()) {
      it->second.downloaded = d->second;
      shard.dormant.erase(d);
    }
    if (peer.source == Source::local && track_new_.load(std::memory_order_relaxed)) {
      shard.new_torrents.push_back(peer.info_hash);
    }
  }
  Torrent& t = it->second;
  const std::uint32_t downloaded_before = t.downloaded;
  const std::uint32_t max_peers = max_peers_per_torrent_.load(std::memory_order_relaxed);
  const TimePoint expires_at = now + ttl;
  std::optional<std::uint16_t> replaced_port;
  if (peer.address.is_v4()) {
    outcome.stored = update_peer(t, t.v4, peer, *shard.classifier, shard.levels, expires_at,
                                 max_peers, replaced_port);
  } else {
    if (!t.v6) t.v6 = std::make_unique<PeerList<Ipv6Bytes>>();
    outcome.stored = update_peer(t, *t.v6, peer, *shard.classifier, shard.levels, expires_at,
                                 max_peers, replaced_port);
  }
  if (now >= t.next_expiry) expire_torrent(t, now, shard.levels);

  if (recording_.load(std::memory_order_relaxed) && outcome.stored) {
    // The peer's record tells the next take what it became, unless it is gone or its time
    // lies before the last take (a time read before a take that came first).
    shard.shortest_ttl = std::min(shard.shortest_ttl, ttl);
    if (peer.event == AnnounceEvent::stopped || now < shard.taken_until) {
      shard.touched.insert(PendingKey{peer.info_hash, peer.address, peer.port});
    }
    if (replaced_port) {
      // The client's old entry goes from the database too, or a restart would bring it back.
      shard.touched.insert(PendingKey{peer.info_hash, peer.address, *replaced_port});
    }
    auto& pending = shard.pending_torrents[peer.info_hash];
    pending.completed_delta += t.downloaded - downloaded_before;
    pending.seen = now;
    if (!peer.origin_url.empty()) pending.origin_url.assign(peer.origin_url);
  }

  if (peer.event != AnnounceEvent::stopped && options.numwant > 0) {
    Requester who{peer.peer_id, peer.address, peer.port, peer.seeder};
    select_peers(t, shard.levels, shard.classifier->level_count(), who, options, now, out);
  }
  outcome.counts = {t.seeders, t.leechers, t.downloaded};
  if (t.peer_count() == 0) drop(shard, it);
  return outcome;
}

SwarmCounts SwarmStore::select(const PeerAnnounce& peer, TimePoint now,
                               const SelectOptions& options, std::vector<SelectedPeer>& out) const {
  const Shard& shard = shard_of(peer.info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.torrents.find(peer.info_hash);
  if (it == shard.torrents.end()) return {0, 0, dormant_downloaded(shard, peer.info_hash)};
  const Torrent& t = it->second;
  if (options.numwant > 0) {
    Requester who{peer.peer_id, peer.address, peer.port, peer.seeder};
    select_peers(t, shard.levels, shard.classifier->level_count(), who, options, now, out);
  }
  return live_counts(t, now);
}

SwarmCounts SwarmStore::counts(const InfoHash& info_hash, TimePoint now) const {
  const Shard& shard = shard_of(info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.torrents.find(info_hash);
  if (it == shard.torrents.end()) return {0, 0, dormant_downloaded(shard, info_hash)};
  return live_counts(it->second, now);
}

std::size_t SwarmStore::expire_shard(std::size_t index, TimePoint now) {
  Shard& shard = *shards_[index % shards_.size()];
  std::lock_guard lock(shard.mutex);
  std::size_t removed = 0;
  for (auto it = shard.torrents.begin(); it != shard.torrents.end();) {
    Torrent& t = it->second;
    if (now >= t.next_expiry) removed += expire_torrent(t, now, shard.levels);
    if (t.peer_count() == 0) {
      drop(shard, it++);
    } else {
      ++it;
    }
  }
  return removed;
}

void SwarmStore::take_changes(std::size_t index, TimePoint now, std::vector<PeerChange>& peers,
                              std::vector<TorrentChange>& torrents) {
  Shard& shard = *shards_[index % shards_.size()];
  // The map the announces fill next is made, outside the lock, for as many torrents as the
  // last interval brought: grown from empty by doubling, it would rehash every torrent a few
  // times on the request path.
  absl::flat_hash_map<InfoHash, PendingTorrent> next_torrents;
  next_torrents.reserve(shard.torrents_taken + shard.torrents_taken / 8);
  std::lock_guard lock(shard.mutex);
  // Every recorded announce lowered it: Duration::max() means nothing was recorded.
  const Duration ttl = shard.shortest_ttl;
  // Local records expiring at or after this were announced since the last take.
  const TimePoint announced_since =
      ttl == Duration::max() ? TimePoint::max() : shard.taken_until + ttl;
  auto announced = [&](const auto& r) {
    return r.source() == Source::local && r.expires_at >= announced_since;
  };
  auto change_of = [&](const InfoHash& hash, const auto& r) {
    return PeerChange{{hash, to_ip(r.address), r.port},
                      {false, r.seeder(), r.source(), r.peer_id, std::min(r.expires_at - ttl, now),
                       r.expires_at}};
  };
  for (auto& [hash, pending] : shard.pending_torrents) {
    if (auto it = shard.torrents.find(hash); it != shard.torrents.end()) {
      const Torrent& t = it->second;
      for (const auto& r : t.v4.records()) {
        if (announced(r)) peers.push_back(change_of(hash, r));
      }
      if (t.v6) {
        for (const auto& r : t.v6->records()) {
          if (announced(r)) peers.push_back(change_of(hash, r));
        }
      }
    }
    torrents.push_back(
        {hash, pending.completed_delta, pending.seen, std::move(pending.origin_url)});
  }
  // Each touched peer is written as memory holds it now: its record, unless the walk above
  // wrote it already, or its removal.
  for (const auto& key : shard.touched) {
    auto write_present = [&](const auto& list) {
      using Address = std::decay_t<decltype(list[0].address)>;
      const std::ptrdiff_t at = list.find(address_of<Address>(key.address), key.port);
      if (at < 0 || list[static_cast<std::size_t>(at)].source() != Source::local) return false;
      const auto& r = list[static_cast<std::size_t>(at)];
      if (!announced(r) || !shard.pending_torrents.contains(key.info_hash)) {
        peers.push_back(change_of(key.info_hash, r));
      }
      return true;
    };
    bool present = false;
    if (auto it = shard.torrents.find(key.info_hash); it != shard.torrents.end()) {
      const Torrent& t = it->second;
      present = key.address.is_v4() ? write_present(t.v4) : (t.v6 && write_present(*t.v6));
    }
    if (!present) peers.push_back({key, {true, false, Source::local, {}, now, now}});
  }
  shard.torrents_taken = shard.pending_torrents.size();
  shard.pending_torrents.swap(next_torrents);
  shard.touched.clear();
  shard.shortest_ttl = Duration::max();
  shard.taken_until = now + Duration{1};
}

bool SwarmStore::restore_peer(const PeerChange& peer) {
  PeerAnnounce a;
  a.info_hash = peer.info_hash;
  a.peer_id = peer.peer_id;
  a.address = peer.address;
  a.port = peer.port;
  a.seeder = peer.seeder;
  a.source = peer.source;
  Shard& shard = shard_of(peer.info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.torrents.find(peer.info_hash);
  if (it == shard.torrents.end()) {
    std::uint64_t limit = max_torrents_.load(std::memory_order_relaxed);
    if (limit != 0 && torrent_count_.load(std::memory_order_relaxed) >= limit) return false;
    it = shard.torrents.try_emplace(peer.info_hash).first;
    torrent_count_.fetch_add(1, std::memory_order_relaxed);
    if (auto d = shard.dormant.find(peer.info_hash); d != shard.dormant.end()) {
      it->second.downloaded = d->second;
      shard.dormant.erase(d);
    }
  }
  Torrent& t = it->second;
  // A restore can run while announces are served (the database came back after the start):
  // a peer in memory — the same endpoint, or the same client on another port — announced
  // after the database saw it and stays as it is. Nothing is recorded: the database holds
  // the peer already.
  const std::uint32_t max_peers = max_peers_per_torrent_.load(std::memory_order_relaxed);
  auto restore_into = [&](auto& list, const auto& address) {
    if (list.find(address, peer.port) >= 0) return true;
    if (peer.source == Source::local && list.find_client(address, peer.peer_id) >= 0) return true;
    std::optional<std::uint16_t> replaced_port;
    return update_peer(t, list, a, *shard.classifier, shard.levels, peer.expires_at, max_peers,
                       replaced_port);
  };
  bool kept;
  if (peer.address.is_v4()) {
    kept = restore_into(t.v4, peer.address.v4());
  } else {
    if (!t.v6) t.v6 = std::make_unique<PeerList<Ipv6Bytes>>();
    kept = restore_into(*t.v6, peer.address.bytes());
    if (t.v6->empty()) t.v6.reset();
  }
  if (t.peer_count() == 0) drop(shard, it);
  return kept;
}

void SwarmStore::restore_completed(const InfoHash& info_hash, std::uint32_t completed) {
  if (completed == 0) return;
  Shard& shard = shard_of(info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.torrents.find(info_hash);
  if (it != shard.torrents.end()) {
    it->second.downloaded += completed;
  } else {
    shard.dormant[info_hash] += completed;
  }
}

std::size_t SwarmStore::add_foreign_peers(const InfoHash& info_hash,
                                          std::span<const net::Endpoint> peers, Source source,
                                          TimePoint now, Duration ttl) {
  Shard& shard = shard_of(info_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.torrents.find(info_hash);
  if (it == shard.torrents.end()) return 0;
  Torrent& t = it->second;
  // Expired learned peers make room first.
  if (now >= t.next_expiry) expire_torrent(t, now, shard.levels);
  if (t.peer_count() == 0) {
    drop(shard, it);
    return 0;
  }
  const std::uint32_t max_peers = max_peers_per_torrent_.load(std::memory_order_relaxed);
  const std::uint32_t max_learned = max_learned_per_torrent_.load(std::memory_order_relaxed);
  std::size_t room = std::numeric_limits<std::size_t>::max();
  if (max_learned != 0) {
    const std::size_t level_count = shard.classifier->level_count();
    std::size_t learned = t.v4.count_learned(shard.levels, level_count);
    if (t.v6) learned += t.v6->count_learned(shard.levels, level_count);
    room = learned < max_learned ? max_learned - learned : 0;
  }
  std::size_t added = 0;
  for (const auto& peer : peers) {
    if (peer.address.is_v4()) {
      added += merge_foreign(t, t.v4, peer, source, *shard.classifier, shard.levels, now + ttl,
                             max_peers, room);
    } else {
      if (!t.v6) t.v6 = std::make_unique<PeerList<Ipv6Bytes>>();
      added += merge_foreign(t, *t.v6, peer, source, *shard.classifier, shard.levels, now + ttl,
                             max_peers, room);
    }
  }
  if (t.v6 && t.v6->empty()) t.v6.reset();
  return added;
}

std::size_t SwarmStore::remove_source(Source source) {
  std::size_t removed = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto& [hash, t] : shard->torrents) {
      auto of_source = [&](const auto& r) { return r.source() == source; };
      removed += t.v4.erase_if(of_source);
      if (t.v6) removed += t.v6->erase_if(of_source);
    }
  }
  return removed;
}

void SwarmStore::active_torrents(std::vector<InfoHash>& out) const {
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (const auto& [hash, t] : shard->torrents) {
      if (t.seeders + t.leechers > 0) out.push_back(hash);
    }
  }
}

void SwarmStore::take_new_torrents(std::vector<InfoHash>& out) {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    out.insert(out.end(), shard->new_torrents.begin(), shard->new_torrents.end());
    shard->new_torrents.clear();
  }
}

void SwarmStore::apply(std::shared_ptr<const net::Classifier> classifier) {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    shard->classifier = classifier;
    set_levels(*shard);
    for (auto& [hash, t] : shard->torrents) {
      regroup(t.v4, *classifier, shard->levels);
      if (t.v6) regroup(*t.v6, *classifier, shard->levels);
    }
  }
}

void SwarmStore::apply(StoreLimits limits) {
  max_torrents_.store(limits.max_torrents);
  max_peers_per_torrent_.store(limits.max_peers_per_torrent);
  max_learned_per_torrent_.store(limits.max_learned_per_torrent);
}

StoreTotals SwarmStore::totals() const {
  StoreTotals totals;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    totals.peers_by_group.resize(shard->classifier->group_count(), 0);
    totals.torrents += shard->torrents.size();
    totals.dormant_torrents += shard->dormant.size();
    totals.memory_bytes +=
        shard->torrents.capacity() * (sizeof(std::pair<const InfoHash, Torrent>) + 1) +
        shard->dormant.capacity() * (sizeof(std::pair<const InfoHash, std::uint32_t>) + 1);
    for (const auto& [hash, t] : shard->torrents) {
      totals.peers += t.peer_count();
      totals.seeders += t.seeders;
      totals.memory_bytes += t.v4.memory_bytes();
      for (const auto& r : t.v4.records()) ++totals.peers_by_group[r.group];
      if (t.v6) {
        totals.memory_bytes += sizeof(*t.v6) + t.v6->memory_bytes();
        for (const auto& r : t.v6->records()) ++totals.peers_by_group[r.group];
      }
    }
  }
  return totals;
}

PeerCensus SwarmStore::census() const {
  PeerCensus census;
  auto count = [&census](const auto& records) {
    for (const auto& r : records) {
      if (r.group >= census.group_count) {
        // Only during a reload can one shard's classifier have more groups than another's.
        census.group_count = std::size_t{r.group} + 1;
        census.peers.resize(census.group_count * PeerCensus::kSources, 0);
      }
      ++census.peers[r.group * PeerCensus::kSources + r.source().value()];
    }
  };
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    if (shard->classifier->group_count() > census.group_count) {
      census.group_count = shard->classifier->group_count();
      census.peers.resize(census.group_count * PeerCensus::kSources, 0);
    }
    census.torrents += shard->torrents.size();
    for (const auto& [hash, t] : shard->torrents) {
      count(t.v4.records());
      if (t.v6) count(t.v6->records());
    }
  }
  return census;
}

}  // namespace btrt::core

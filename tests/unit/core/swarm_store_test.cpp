#include "core/swarm_store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "support/time.hpp"

namespace btrt::core {
namespace {

using namespace std::chrono_literals;
using test::at;

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}

std::shared_ptr<const net::Classifier> groups() {
  std::vector<net::GroupSpec> specs{
      {"local", 0, {*net::Cidr::parse("10.1.0.0/16"), *net::Cidr::parse("fd00:1::/32")}},
      {"partner", 1, {*net::Cidr::parse("10.2.0.0/16")}},
  };
  return std::make_shared<const net::Classifier>(specs);
}

InfoHash hash(std::uint8_t n) {
  InfoHash h;
  h.bytes.fill(n);
  return h;
}

PeerId id_of(std::uint32_t n) {
  PeerId id;
  for (int i = 0; i < 4; ++i) id.bytes[i] = static_cast<std::uint8_t>(n >> (8 * i));
  id.bytes[19] = 0xAB;
  return id;
}

struct Fixture : ::testing::Test {
  SwarmStore store{groups(), {}, 4};
  std::uint32_t next_id = 1;

  AnnounceOutcome announce(const char* address, std::uint16_t port, bool seeder = false,
                           AnnounceEvent event = AnnounceEvent::none,
                           SelectOptions options = {50, 0}, TimePoint now = at(100),
                           std::vector<SelectedPeer>* out = nullptr, std::uint8_t n = 1) {
    PeerAnnounce a;
    a.info_hash = hash(n);
    a.peer_id = id_of(port);
    a.address = ip(address);
    a.port = port;
    a.seeder = seeder;
    a.event = event;
    std::vector<SelectedPeer> scratch;
    return store.announce(a, now, 60s, options, out ? *out : scratch);
  }

  // What the write-behind takes from every shard at `now`.
  void take_all(TimePoint now, std::vector<PeerChange>& peers,
                std::vector<TorrentChange>& torrents) {
    for (std::size_t s = 0; s < store.shard_count(); ++s)
      store.take_changes(s, now, peers, torrents);
  }

  std::vector<SelectedPeer> ask(const char* address, std::uint16_t port, SelectOptions options,
                                bool seeder = false) {
    std::vector<SelectedPeer> out;
    announce(address, port, seeder, AnnounceEvent::none, options, at(100), &out);
    return out;
  }

  std::string group_of(const SelectedPeer& p) {
    auto text = p.address.to_string();
    if (text.rfind("10.1.", 0) == 0 || text.rfind("fd00:1:", 0) == 0) return "local";
    if (text.rfind("10.2.", 0) == 0) return "partner";
    return "other";
  }
};

TEST_F(Fixture, RanksByGroupAndCutsAtNumwant) {
  for (std::uint16_t i = 0; i < 30; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(1000 + i));
  for (std::uint16_t i = 0; i < 3; ++i) announce("10.2.0.1", static_cast<std::uint16_t>(2000 + i));
  for (std::uint16_t i = 0; i < 2; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(3000 + i));

  auto out = ask("10.9.9.9", 9, {10, 0});
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(group_of(out[0]), "local");
  EXPECT_EQ(group_of(out[1]), "local");
  for (int i = 2; i < 5; ++i) EXPECT_EQ(group_of(out[i]), "partner");
  for (int i = 5; i < 10; ++i) EXPECT_EQ(group_of(out[i]), "other");
}

TEST_F(Fixture, LocalityCutoffExamplesOfTheSpec) {
  // 12 local peers, cutoff 10: only those 12.
  for (std::uint16_t i = 0; i < 12; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(100 + i));
  for (std::uint16_t i = 0; i < 40; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(500 + i));
  EXPECT_EQ(ask("10.9.9.9", 1, {50, 10}).size(), 12u);
  // cutoff 0: filled to numwant in rank order.
  EXPECT_EQ(ask("10.9.9.9", 2, {50, 0}).size(), 50u);
}

TEST_F(Fixture, LocalityCutoffAddsNextLevelsUntilReached) {
  for (std::uint16_t i = 0; i < 3; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(100 + i));
  for (std::uint16_t i = 0; i < 2; ++i) announce("10.2.0.1", static_cast<std::uint16_t>(200 + i));
  for (std::uint16_t i = 0; i < 60; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(500 + i));
  auto out = ask("10.9.9.9", 1, {50, 10});
  ASSERT_EQ(out.size(), 50u);  // 3 + 2, then 45 others
  for (int i = 0; i < 3; ++i) EXPECT_EQ(group_of(out[i]), "local");
  for (int i = 3; i < 5; ++i) EXPECT_EQ(group_of(out[i]), "partner");
}

TEST_F(Fixture, FourLocalAndEightPartnerStopAtTwelve) {
  for (std::uint16_t i = 0; i < 4; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(100 + i));
  for (std::uint16_t i = 0; i < 8; ++i) announce("10.2.0.1", static_cast<std::uint16_t>(200 + i));
  for (std::uint16_t i = 0; i < 20; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(500 + i));
  EXPECT_EQ(ask("10.9.9.9", 1, {50, 10}).size(), 12u);
}

TEST_F(Fixture, FamilyKeepsPeersOfOneAddressFamilyInRankOrder) {
  for (std::uint16_t i = 0; i < 5; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(100 + i));
  for (std::uint16_t i = 0; i < 3; ++i) announce("fd00:9::1", static_cast<std::uint16_t>(200 + i));
  announce("fd00:1::1", 300);  // local
  SelectOptions v6{4, 0};
  v6.family = SelectOptions::Family::v6;
  auto out = ask("fd00:9::9", 999, v6);
  ASSERT_EQ(out.size(), 4u);  // numwant counts only peers of the family asked for
  EXPECT_EQ(out[0].address, ip("fd00:1::1"));
  for (const auto& p : out) EXPECT_FALSE(p.address.is_v4());
  SelectOptions v4{50, 0};
  v4.family = SelectOptions::Family::v4;
  out = ask("10.9.0.9", 998, v4);
  EXPECT_EQ(out.size(), 5u);
  for (const auto& p : out) EXPECT_TRUE(p.address.is_v4());
  EXPECT_EQ(ask("10.9.0.9", 997, {50, 0}).size(), 11u);  // any: both families, askers included
}

TEST_F(Fixture, LocalitySeedersCompleteTheAnswerBeforeTheNextLevel) {
  // 8 local seeders and one local leecher, 4 seeders enough: those 9 only.
  for (std::uint16_t i = 0; i < 8; ++i)
    announce("10.1.0.1", static_cast<std::uint16_t>(100 + i), true);
  announce("10.1.0.2", 99);
  for (std::uint16_t i = 0; i < 3; ++i) announce("10.2.0.1", static_cast<std::uint16_t>(200 + i));
  for (std::uint16_t i = 0; i < 40; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(500 + i));
  auto out = ask("10.1.0.3", 1, {50, 20, 4});  // the cutoff alone would take everybody
  ASSERT_EQ(out.size(), 9u);
  for (const auto& p : out) EXPECT_EQ(group_of(p), "local");
  // Without the threshold the local peers are below the cutoff: everyone is handed out.
  EXPECT_EQ(ask("10.1.0.4", 2, {50, 20, 0}).size(), 50u);
}

TEST_F(Fixture, LocalitySeedersCountOnlySeeders) {
  // 6 local leechers are no reason to stop: 2 partner seeders reach the threshold of 2.
  for (std::uint16_t i = 0; i < 6; ++i) announce("10.1.0.1", static_cast<std::uint16_t>(100 + i));
  for (std::uint16_t i = 0; i < 2; ++i)
    announce("10.2.0.1", static_cast<std::uint16_t>(200 + i), true);
  for (std::uint16_t i = 0; i < 40; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(500 + i));
  auto out = ask("10.1.0.3", 1, {50, 0, 2});
  ASSERT_EQ(out.size(), 8u);
  for (const auto& p : out) EXPECT_NE(group_of(p), "other");
}

TEST_F(Fixture, NeverReturnsTheRequesterOrSeedersToSeeders) {
  announce("10.1.0.1", 1, true);
  announce("10.1.0.2", 2, false);
  auto out = ask("10.1.0.3", 3, {50, 0}, true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].port, 2);
  auto again = ask("10.1.0.2", 2, {50, 0});
  ASSERT_EQ(again.size(), 2u);  // the two seeders, never itself
  for (auto& p : again) EXPECT_NE(p.port, 2);
}

TEST_F(Fixture, SamePeerIdElsewhereIsTheRequester) {
  announce("10.1.0.1", 7);
  PeerAnnounce a;
  a.info_hash = hash(1);
  a.peer_id = id_of(7);  // same id, other address
  a.address = ip("10.1.0.2");
  a.port = 8;
  std::vector<SelectedPeer> out;
  store.announce(a, at(100), 60s, {50, 0}, out);
  EXPECT_TRUE(out.empty());
}

TEST_F(Fixture, StoppedRemovesThePeerAndAnswersNothing) {
  announce("10.1.0.1", 1);
  announce("10.1.0.2", 2);
  std::vector<SelectedPeer> out;
  auto outcome = announce("10.1.0.1", 1, false, AnnounceEvent::stopped, {50, 0}, at(100), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(outcome.counts.incomplete, 1u);
  EXPECT_EQ(store.counts(hash(1), at(100)).incomplete, 1u);
}

TEST_F(Fixture, CompletedCountsOncePerPeer) {
  announce("10.1.0.1", 1, false, AnnounceEvent::started);
  announce("10.1.0.1", 1, true, AnnounceEvent::completed);
  announce("10.1.0.1", 1, true, AnnounceEvent::completed);
  auto c = store.counts(hash(1), at(100));
  EXPECT_EQ(c.downloaded, 1u);
  EXPECT_EQ(c.complete, 1u);
  EXPECT_EQ(c.incomplete, 0u);
}

TEST_F(Fixture, ExpiredPeersAreNotHandedOutAndAreSwept) {
  announce("10.1.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100));
  announce("10.1.0.3", 3, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 2);
  std::vector<SelectedPeer> out;
  announce("10.1.0.2", 2, false, AnnounceEvent::none, {50, 0}, at(161), &out);  // ttl 60
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(store.totals().peers, 2u);  // the announce dropped its torrent's expired peer
  std::size_t removed = 0;
  for (std::size_t s = 0; s < store.shard_count(); ++s) removed += store.expire_shard(s, at(161));
  EXPECT_EQ(removed, 1u);  // the other torrent's, by the sweeper
  EXPECT_EQ(store.counts(hash(1), at(161)).incomplete, 1u);
  for (std::size_t s = 0; s < store.shard_count(); ++s) store.expire_shard(s, at(1000));
  EXPECT_EQ(store.totals().torrents, 0u);
}

TEST_F(Fixture, NewClassifierRegroupsExistingPeers) {
  announce("10.9.0.1", 1);
  announce("10.1.0.1", 2);
  auto before = ask("10.5.0.1", 3, {1, 0});
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].port, 2);
  store.apply(std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"new local", 0, {*net::Cidr::parse("10.9.0.0/16")}}}));
  auto after = ask("10.5.0.1", 4, {1, 0});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].port, 1);
  EXPECT_EQ(store.totals().peers_by_group[0], 1u);
}

TEST_F(Fixture, Ipv6PeersRankWithTheirGroup) {
  announce("10.9.0.1", 1);
  announce("fd00:1::5", 2);
  auto out = ask("10.9.0.2", 3, {1, 0});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].address.is_v4());
  EXPECT_EQ(out[0].port, 2);
}

TEST_F(Fixture, PeerLimitKeepsNewPeersOutButAnswersThem) {
  store.apply(StoreLimits{0, 2});
  announce("10.1.0.1", 1);
  announce("10.1.0.2", 2);
  auto outcome = announce("10.1.0.3", 3);
  EXPECT_FALSE(outcome.stored);
  EXPECT_EQ(store.counts(hash(1), at(100)).incomplete, 2u);
}

TEST_F(Fixture, TorrentLimitRefusesNewTorrents) {
  store.apply(StoreLimits{1, 0});
  announce("10.1.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 1);
  auto outcome = announce("10.1.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 2);
  EXPECT_EQ(outcome.status, AnnounceOutcome::Status::torrent_limit);
}

TEST_F(Fixture, DifferentRequestsGetDifferentSubsets) {
  // 100 peers: the selection searches the ranges; 20: it walks the swarm record by record.
  const std::tuple<std::uint8_t, std::uint16_t, std::size_t> swarms[] = {{1, 100, 30}, {2, 20, 12}};
  for (const auto& [torrent, size, least] : swarms) {
    for (std::uint16_t i = 0; i < size; ++i) {
      announce("10.1.0.1", static_cast<std::uint16_t>(100 + i), false, AnnounceEvent::none, {50, 0},
               at(100), nullptr, torrent);
    }
    std::set<std::uint16_t> seen;
    for (std::uint16_t r = 0; r < 20; ++r) {
      std::vector<SelectedPeer> out;
      announce("10.1.0.2", static_cast<std::uint16_t>(1 + r), false, AnnounceEvent::none, {5, 0},
               at(100), &out, torrent);
      for (auto& p : out) seen.insert(p.port);
    }
    EXPECT_GT(seen.size(), least) << size;
  }
}

// Swarms of every size on both sides of where selection stops walking the records and starts
// searching them, with announced and learned peers of every level, seeders and leechers: each
// answer keeps the ranking rules and takes as many peers as it may.
TEST_F(Fixture, EverySwarmSizeKeepsTheRankingRules) {
  std::mt19937 random(7);
  const char* const addresses[] = {"10.1.0.1", "10.2.0.1", "10.9.0.1"};
  const std::uint32_t learned_base[] = {0x0A010100u, 0x0A020100u, 0x0A090100u};
  for (std::uint8_t torrent = 1; torrent < 160; ++torrent) {
    struct Known {
      int level;
      bool learned;
      bool seeder;
    };
    std::map<std::pair<std::string, std::uint16_t>, Known> known;
    const std::size_t announced = 1 + torrent % 100;  // learned peers join known torrents only
    for (std::uint16_t i = 0; i < announced; ++i) {
      const int level = static_cast<int>(random() % 3);
      const bool seeder = random() % 3 == 0;
      const auto port = static_cast<std::uint16_t>(1000 + i);
      announce(addresses[level], port, seeder, AnnounceEvent::none, {0, 0}, at(100), nullptr,
               torrent);
      known[{addresses[level], port}] = {level, false, seeder};
    }
    std::vector<net::Endpoint> learned;
    for (std::uint32_t i = 0; i < torrent % 7 * 5; ++i) {
      const int level = static_cast<int>(random() % 3);
      const auto address = net::IpAddress::from_v4(learned_base[level] + i);
      learned.push_back({address, 6881});
      known[{address.to_string(), 6881}] = {level, true, false};
    }
    store.add_foreign_peers(hash(torrent), learned, Source::external, at(100), 60s);

    const bool seeder = torrent % 2 == 0;
    const std::size_t numwant = 1 + random() % 80;
    std::vector<SelectedPeer> out;
    announce("10.9.9.9", 9, seeder, AnnounceEvent::none, {static_cast<std::uint32_t>(numwant), 0},
             at(100), &out, torrent);
    std::size_t eligible = 0;
    for (const auto& [endpoint, peer] : known) eligible += seeder && peer.seeder ? 0 : 1;
    ASSERT_EQ(out.size(), std::min(numwant, eligible)) << int{torrent};
    std::set<std::pair<std::string, std::uint16_t>> seen;
    std::pair<int, bool> last{0, false};
    for (const auto& p : out) {
      const std::pair<std::string, std::uint16_t> endpoint{p.address.to_string(), p.port};
      ASSERT_TRUE(known.contains(endpoint)) << endpoint.first;  // never the requester
      ASSERT_TRUE(seen.insert(endpoint).second);
      const Known& peer = known[endpoint];
      EXPECT_FALSE(seeder && peer.seeder);
      const std::pair<int, bool> rank{peer.level, peer.learned};
      EXPECT_LE(last, rank) << int{torrent};  // level by level, announced before learned
      last = rank;
    }
  }
}

TEST_F(Fixture, ForeignPeersRankByAddressAndAreNotCounted) {
  announce("10.9.0.1", 1);
  std::vector<net::Endpoint> learned{
      {ip("10.1.0.7"), 7}, {ip("10.9.0.1"), 1}, {ip("fd00:1::9"), 9}};
  EXPECT_EQ(store.add_foreign_peers(hash(1), learned, Source::neighbor(0), at(100), 60s), 2u);
  auto out = ask("10.2.0.1", 2, {50, 0});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(group_of(out[0]), "local");  // the neighbour's peers in the local group come first
  EXPECT_EQ(group_of(out[1]), "local");
  EXPECT_EQ(out[2].port, 1);
  auto counts = store.counts(hash(1), at(100));
  EXPECT_EQ(counts.incomplete, 2u);  // the two that announced here, not the learned ones
  // A learned peer that then announces itself becomes local and is counted.
  announce("10.1.0.7", 7);
  EXPECT_EQ(store.counts(hash(1), at(100)).incomplete, 3u);
}

TEST_F(Fixture, CensusCountsPeersByGroupAndSource) {
  announce("10.1.0.1", 1);
  announce("10.1.0.2", 2, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 2);
  announce("10.9.0.1", 3);
  std::vector<net::Endpoint> learned{{ip("10.2.0.7"), 7}, {ip("fd00:1::9"), 9}};
  store.add_foreign_peers(hash(1), learned, Source::neighbor(1), at(100), 60s);
  std::vector<net::Endpoint> origin{{ip("10.9.0.8"), 8}};
  store.add_foreign_peers(hash(2), origin, Source::external, at(100), 60s);

  auto census = store.census();
  EXPECT_EQ(census.torrents, 2u);
  ASSERT_EQ(census.group_count, 3u);  // local, partner, other
  EXPECT_EQ(census.at(0, Source::local), 2u);
  EXPECT_EQ(census.at(0, Source::neighbor(1)), 1u);  // the IPv6 one
  EXPECT_EQ(census.at(1, Source::neighbor(1)), 1u);
  EXPECT_EQ(census.at(2, Source::local), 1u);
  EXPECT_EQ(census.at(2, Source::external), 1u);
  std::uint64_t all = 0;
  for (auto n : census.peers) all += n;
  EXPECT_EQ(all, 6u);
}

TEST_F(Fixture, ForeignPeersOnlyJoinTorrentsInMemoryAndExpire) {
  std::vector<net::Endpoint> learned{{ip("10.1.0.7"), 7}};
  EXPECT_EQ(store.add_foreign_peers(hash(9), learned, Source::external, at(100), 60s), 0u);
  announce("10.9.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100));      // lives until 160
  store.add_foreign_peers(hash(1), learned, Source::external, at(100), 30s);  // until 130
  std::vector<SelectedPeer> out;
  announce("10.9.0.2", 2, false, AnnounceEvent::none, {50, 0}, at(140), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].port, 1);
  for (std::size_t s = 0; s < store.shard_count(); ++s) store.expire_shard(s, at(140));
  EXPECT_EQ(store.totals().peers, 2u);
}

TEST_F(Fixture, RemoveSourceDropsOnlyThatNeighboursPeers) {
  announce("10.9.0.1", 1);
  std::vector<net::Endpoint> a{{ip("10.1.0.7"), 7}};
  std::vector<net::Endpoint> b{{ip("10.1.0.8"), 8}};
  store.add_foreign_peers(hash(1), a, Source::neighbor(0), at(100), 60s);
  store.add_foreign_peers(hash(1), b, Source::neighbor(1), at(100), 60s);
  EXPECT_EQ(store.remove_source(Source::neighbor(0)), 1u);
  std::set<std::uint16_t> ports;
  for (auto& p : ask("10.2.0.1", 2, {50, 0})) ports.insert(p.port);
  EXPECT_EQ(ports, (std::set<std::uint16_t>{1, 8}));
}

TEST_F(Fixture, ActiveAndNewTorrents) {
  store.set_track_new_torrents(true);
  announce("10.9.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 1);
  announce("10.9.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(100), nullptr, 2);
  announce("10.9.0.1", 1, false, AnnounceEvent::stopped, {50, 0}, at(100), nullptr, 2);
  std::vector<InfoHash> fresh;
  store.take_new_torrents(fresh);
  EXPECT_EQ(fresh.size(), 2u);
  fresh.clear();
  store.take_new_torrents(fresh);
  EXPECT_TRUE(fresh.empty());
  std::vector<InfoHash> active;
  store.active_torrents(active);
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0], hash(1));
}

TEST_F(Fixture, AnnouncedPeersRankBeforeLearnedOnesInALevel) {
  announce("10.1.0.1", 1, true);  // the one real local seeder
  announce("10.9.0.1", 2);        // an `other` peer that announced
  std::vector<net::Endpoint> fake;
  for (std::uint32_t i = 0; i < 300; ++i) {
    fake.push_back({net::IpAddress::from_v4(0x0A010000u + 2 + i), 6881});  // 10.1.x.y: local
  }
  store.add_foreign_peers(hash(1), fake, Source::external, at(100), 60s);
  for (int round = 0; round < 50; ++round) {
    auto out = ask("10.2.0.9", static_cast<std::uint16_t>(100 + round), {5, 0});
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0].port, 1) << round;  // announced first, whatever the learned ones
    for (int i = 1; i < 5; ++i) EXPECT_EQ(out[i].port, 6881);
  }
  // Learned peers of a better level still come before announced ones of a worse level (the
  // 50 askers above are partner peers now).
  auto out = ask("10.2.0.9", 99, {400, 0});
  ASSERT_EQ(out.size(), 352u);
  for (std::size_t i = 0; i < 301; ++i) EXPECT_EQ(group_of(out[i]), "local");
  EXPECT_EQ(out.back().port, 2);
  // Seeders get only leechers: the learned ones, the seeder left out.
  auto seeders = ask("10.2.0.8", 98, {3, 0}, true);
  ASSERT_EQ(seeders.size(), 3u);
  for (auto& p : seeders) EXPECT_EQ(p.port, 6881);
}

TEST_F(Fixture, LearnedPeersPerTorrentAreBounded) {
  store.apply(StoreLimits{0, 0, 10});
  announce("10.1.0.1", 1);
  std::vector<net::Endpoint> many;
  for (std::uint32_t i = 0; i < 100; ++i) {
    many.push_back({net::IpAddress::from_v4(0x0A090000u + i), 7000});
  }
  EXPECT_EQ(store.add_foreign_peers(hash(1), many, Source::external, at(100), 60s), 10u);
  EXPECT_EQ(store.add_foreign_peers(hash(1), many, Source::neighbor(0), at(100), 60s), 0u);
  EXPECT_EQ(store.totals().peers, 11u);
  // Listed again, the known ones live on (until 210 now); once they expired, others come.
  EXPECT_EQ(store.add_foreign_peers(hash(1), many, Source::external, at(150), 60s), 0u);
  announce("10.1.0.1", 1, false, AnnounceEvent::none, {50, 0}, at(200));
  std::vector<net::Endpoint> later(many.begin() + 50, many.end());
  EXPECT_EQ(store.add_foreign_peers(hash(1), later, Source::external, at(209), 60s), 0u);
  EXPECT_EQ(store.add_foreign_peers(hash(1), later, Source::external, at(211), 60s), 10u);
  EXPECT_EQ(store.totals().peers, 11u);
}

TEST_F(Fixture, SameClientOnANewPortReplacesItsEntry) {
  store.set_recording(true);
  PeerAnnounce a;
  a.info_hash = hash(1);
  a.peer_id = id_of(77);
  a.address = ip("10.1.0.1");
  a.port = 1000;
  a.event = AnnounceEvent::completed;
  a.seeder = true;
  std::vector<SelectedPeer> out;
  store.announce(a, at(100), 60s, {50, 0}, out);
  a.port = 2000;
  a.event = AnnounceEvent::none;
  auto outcome = store.announce(a, at(110), 60s, {50, 0}, out);
  EXPECT_EQ(outcome.counts.complete, 1u);
  EXPECT_EQ(outcome.counts.downloaded, 1u);
  EXPECT_EQ(store.totals().peers, 1u);
  auto others = ask("10.1.0.2", 5, {50, 0});
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].port, 2000);
  // Another client behind the same address (another peer id) is another peer.
  announce("10.1.0.1", 3000);
  EXPECT_EQ(store.totals().peers, 3u);

  std::vector<PeerChange> peers;
  std::vector<TorrentChange> torrents;
  take_all(at(200), peers, torrents);
  std::map<std::uint16_t, bool> removed;
  for (auto& c : peers) removed[c.port] = c.removed;
  EXPECT_TRUE(removed.at(1000));  // the old entry goes from the database too
  EXPECT_FALSE(removed.at(2000));
}

TEST_F(Fixture, SameClientOnAPortAnotherClientLeft) {
  announce("10.1.0.1", 1);  // peer id of 1
  announce("10.1.0.1", 2);  // peer id of 2
  PeerAnnounce a;
  a.info_hash = hash(1);
  a.peer_id = id_of(1);  // the first client, now on the second one's port
  a.address = ip("10.1.0.1");
  a.port = 2;
  std::vector<SelectedPeer> out;
  auto outcome = store.announce(a, at(100), 60s, {0, 0}, out);
  EXPECT_EQ(outcome.counts.incomplete, 1u);
  EXPECT_EQ(store.totals().peers, 1u);
}

TEST_F(Fixture, SameClientOnANewPortInALargeSwarm) {
  for (std::uint16_t i = 0; i < 100; ++i) announce("10.9.0.1", static_cast<std::uint16_t>(100 + i));
  PeerAnnounce a;
  a.info_hash = hash(1);
  a.peer_id = id_of(150);  // the client announced on port 150
  a.address = ip("10.9.0.1");
  a.port = 4000;
  std::vector<SelectedPeer> out;
  auto outcome = store.announce(a, at(100), 60s, {0, 0}, out);
  EXPECT_EQ(outcome.counts.incomplete, 100u);
  EXPECT_EQ(store.totals().peers, 100u);
  a.event = AnnounceEvent::stopped;
  store.announce(a, at(100), 60s, {0, 0}, out);
  EXPECT_EQ(store.totals().peers, 99u);
}

TEST_F(Fixture, ExpiredPeersAreNeverCountedEvenBeforeTheSweep) {
  announce("10.1.0.1", 1, true, AnnounceEvent::none, {50, 0}, at(100));  // until 160
  announce("10.1.0.2", 2, false, AnnounceEvent::none, {50, 0}, at(100));
  EXPECT_EQ(store.counts(hash(1), at(159)).complete, 1u);
  auto c = store.counts(hash(1), at(160));
  EXPECT_EQ(c.complete, 0u);
  EXPECT_EQ(c.incomplete, 0u);
  std::vector<SelectedPeer> out;
  auto outcome = announce("10.1.0.3", 3, false, AnnounceEvent::none, {50, 0}, at(161), &out);
  EXPECT_EQ(outcome.counts.complete, 0u);
  EXPECT_EQ(outcome.counts.incomplete, 1u);
  EXPECT_TRUE(out.empty());
  std::size_t seen = 0;
  store.for_each_torrent(at(161), [&](const InfoHash&, const SwarmCounts& counts) {
    EXPECT_EQ(counts.incomplete, 1u);
    ++seen;
  });
  EXPECT_EQ(seen, 1u);
}

TEST_F(Fixture, ExpiryInALargeIndexedSwarmKeepsTheIndexExact) {
  for (std::uint16_t i = 0; i < 200; ++i) {
    announce("10.1.0.1", static_cast<std::uint16_t>(100 + i), i % 3 == 0, AnnounceEvent::none,
             {0, 0}, at(i < 5 ? 50 : 100));  // five expire at 110
  }
  auto outcome = announce("10.1.0.2", 9, false, AnnounceEvent::none, {0, 0}, at(120));
  EXPECT_EQ(outcome.counts.complete + outcome.counts.incomplete, 196u);
  EXPECT_EQ(store.totals().peers, 196u);
  for (std::uint16_t i = 0; i < 200; ++i) {
    std::vector<SelectedPeer> out;
    auto again = announce("10.1.0.1", static_cast<std::uint16_t>(100 + i), i % 3 == 0,
                          AnnounceEvent::none, {0, 0}, at(121));
    EXPECT_TRUE(again.stored);
  }
  EXPECT_EQ(store.totals().peers, 201u);
}

TEST_F(Fixture, DownloadedOutlivesTheLastPeer) {
  announce("10.1.0.1", 1, true, AnnounceEvent::completed);
  auto stopped = announce("10.1.0.1", 1, true, AnnounceEvent::stopped);
  EXPECT_EQ(stopped.counts.downloaded, 1u);
  EXPECT_EQ(store.totals().torrents, 0u);  // out of memory, its count kept
  EXPECT_EQ(store.counts(hash(1), at(100)).downloaded, 1u);
  auto back = announce("10.1.0.2", 2, true, AnnounceEvent::completed);
  EXPECT_EQ(back.counts.downloaded, 2u);
  // Dropped by the sweeper this time.
  for (std::size_t s = 0; s < store.shard_count(); ++s) store.expire_shard(s, at(1000));
  EXPECT_EQ(store.totals().torrents, 0u);
  EXPECT_EQ(store.counts(hash(1), at(1000)).downloaded, 2u);
  // A restart restores counts of torrents without peers as well.
  SwarmStore restarted{groups(), {}, 4};
  restarted.restore_completed(hash(3), 5);
  EXPECT_EQ(restarted.counts(hash(3), at(0)).downloaded, 5u);
  std::vector<SelectedPeer> out;
  PeerAnnounce a;
  a.info_hash = hash(3);
  a.peer_id = id_of(1);
  a.address = ip("10.1.0.1");
  a.port = 1;
  EXPECT_EQ(restarted.announce(a, at(0), 60s, {0, 0}, out).counts.downloaded, 5u);
}

TEST_F(Fixture, RestoreLeavesPeersInMemoryAsTheyAreAndRecordsNothing) {
  // A late restore (the database came back after the start) runs beside announces.
  store.set_recording(true);
  announce("10.1.0.1", 6881, /*seeder=*/true);
  std::vector<PeerChange> taken;
  std::vector<TorrentChange> torrents;
  take_all(at(200), taken, torrents);
  PeerChange stored;
  stored.info_hash = hash(1);
  stored.address = ip("10.1.0.1");
  stored.port = 6881;
  stored.peer_id = id_of(6881);
  stored.seeder = false;  // older state: it became a seeder since
  stored.seen = at(50);
  stored.expires_at = at(110);
  EXPECT_TRUE(store.restore_peer(stored));
  stored.address = ip("10.1.0.2");  // only in the database
  EXPECT_TRUE(store.restore_peer(stored));
  auto counts = store.counts(hash(1), at(100));
  EXPECT_EQ(counts.complete, 1u);
  EXPECT_EQ(counts.incomplete, 1u);
  taken.clear();
  torrents.clear();
  take_all(at(200), taken, torrents);
  EXPECT_TRUE(taken.empty());
  EXPECT_TRUE(torrents.empty());
}

TEST_F(Fixture, ForwardedAnnounceRecordsItsOriginWithTheTorrentChange) {
  store.set_recording(true);
  PeerAnnounce a;
  a.info_hash = hash(2);
  a.peer_id = id_of(1);
  a.address = ip("10.1.0.1");
  a.port = 6881;
  const std::string origin = "http://tracker.example/announce";
  a.origin_url = origin;
  std::vector<SelectedPeer> out;
  store.announce(a, at(100), 60s, {50, 0}, out);
  a.origin_url = {};
  a.address = ip("10.1.0.2");
  store.announce(a, at(101), 60s, {50, 0}, out);  // a local announce later does not clear it
  std::vector<PeerChange> peers;
  std::vector<TorrentChange> torrents;
  take_all(at(200), peers, torrents);
  ASSERT_EQ(torrents.size(), 1u);
  EXPECT_EQ(torrents[0].origin_url, origin);
}

// Random operations against a plain model: the bucketed array and its indexes stay exact.
TEST(PeerList, MatchesAModelUnderRandomOperations) {
  std::uint8_t levels[256] = {};
  for (int g = 0; g < 256; ++g) levels[g] = static_cast<std::uint8_t>(g % 4);
  PeerList<std::uint32_t> list;
  std::map<std::pair<std::uint32_t, std::uint16_t>, PeerV4> model;
  std::mt19937 rng(42);
  auto random_record = [&](std::uint32_t address, std::uint16_t port) {
    PeerV4 r{};
    r.address = address;
    r.port = port;
    r.group = static_cast<std::uint8_t>(rng() % 8);
    r.flags = rng() % 2 ? PeerV4::kSeeder : 0;
    r.set_source(rng() % 3 == 0 ? Source::external : Source::local);
    // Unique per endpoint, as the store keeps it (one entry per client and address).
    r.peer_id = id_of(address * 8 + port);
    return r;
  };
  for (int step = 0; step < 20000; ++step) {
    auto address = static_cast<std::uint32_t>(rng() % 50);
    auto port = static_cast<std::uint16_t>(rng() % 4);
    auto found = list.find(address, port);
    auto key = std::make_pair(address, port);
    ASSERT_EQ(found >= 0, model.count(key) == 1) << step;
    const auto op = static_cast<unsigned>(rng() % 3);
    if (found >= 0 && op == 0) {
      list.erase(static_cast<std::size_t>(found), levels);
      model.erase(key);
    } else if (found >= 0 && op == 1) {
      PeerV4 r = random_record(address, port);
      list.replace(static_cast<std::size_t>(found), r, levels);
      model[key] = r;
    } else if (found < 0) {
      PeerV4 r = random_record(address, port);
      list.insert(r, levels);
      model[key] = r;
    }
    ASSERT_EQ(list.size(), model.size());
    for (std::size_t i = 1; i < list.size(); ++i) {
      ASSERT_LE(PeerList<std::uint32_t>::bucket_of(list[i - 1], levels),
                PeerList<std::uint32_t>::bucket_of(list[i], levels));
    }
    // The search a selection walks the buckets with finds what a scan finds, from any start
    // at or before the answer.
    if (step % 50 == 0) {
      for (unsigned bucket = 0; bucket <= 16; ++bucket) {
        std::size_t expected = 0;
        while (expected < list.size() &&
               PeerList<std::uint32_t>::bucket_of(list[expected], levels) < bucket) {
          ++expected;
        }
        for (std::size_t from = 0; from <= expected; ++from) {
          ASSERT_EQ(list.lower_from(bucket, levels, from), expected) << step << " " << bucket;
        }
      }
    }
    // An announced peer is found by address and peer id.
    const PeerId id = id_of(static_cast<std::uint32_t>(address * 8 + rng() % 4));
    auto client = list.find_client(address, id);
    bool any = false;
    for (auto& [k, r] : model) {
      if (k.first == address && r.peer_id == id && r.source() == Source::local) any = true;
    }
    ASSERT_EQ(client >= 0, any) << step;
    if (client >= 0) {
      const auto& r = list[static_cast<std::size_t>(client)];
      ASSERT_EQ(r.address, address);
      ASSERT_EQ(r.peer_id, id);
      ASSERT_EQ(r.source(), Source::local);
    }
  }
  for (auto& [key, r] : model) {
    auto at = list.find(key.first, key.second);
    ASSERT_GE(at, 0);
    EXPECT_EQ(list[static_cast<std::size_t>(at)].group, r.group);
  }
}

// The index lives in the records' block: built past 48 peers, dropped below 24, kept across
// the block's reallocations and moved with the list (the sanitizer build checks that no index
// leaks or is read after it is freed).
TEST(PeerList, IndexComesAndGoesWithTheSwarmAndTravelsWithIt) {
  std::uint8_t levels[256] = {};
  auto record = [](std::uint32_t address) {
    PeerV4 r{};
    r.address = address;
    r.port = 6881;
    r.peer_id = id_of(address);
    return r;
  };
  auto all_found = [](const PeerList<std::uint32_t>& list, std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t a = from; a < to; ++a) {
      const auto at = list.find(a, 6881);
      if (at < 0 || list[static_cast<std::size_t>(at)].address != a) return false;
      if (list.find_client(a, id_of(a)) != at) return false;
    }
    return list.find(to, 6881) < 0;
  };
  PeerList<std::uint32_t> list;
  for (std::uint32_t a = 0; a < 47; ++a) list.insert(record(a), levels);
  EXPECT_FALSE(list.indexed());
  for (std::uint32_t a = 47; a < 200; ++a) list.insert(record(a), levels);  // grows the block
  EXPECT_TRUE(list.indexed());
  EXPECT_TRUE(all_found(list, 0, 200));

  PeerList<std::uint32_t> moved(std::move(list));
  EXPECT_TRUE(moved.indexed());
  EXPECT_TRUE(all_found(moved, 0, 200));
  EXPECT_FALSE(list.indexed());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(list.size(), 0u);    // NOLINT(bugprone-use-after-move)

  while (moved.size() > 23) moved.erase(moved.size() - 1, levels);
  EXPECT_FALSE(moved.indexed());
  std::vector<std::uint32_t> left;
  for (std::size_t i = 0; i < moved.size(); ++i) left.push_back(moved[i].address);
  for (const auto a : left) EXPECT_GE(moved.find(a, 6881), 0) << a;

  PeerList<std::uint32_t> other;
  for (std::uint32_t a = 1000; a < 1100; ++a) other.insert(record(a), levels);
  ASSERT_TRUE(other.indexed());
  other = std::move(moved);  // the index other had is freed, not leaked
  EXPECT_FALSE(other.indexed());
  EXPECT_LT(other.find(1000, 6881), 0);
  for (std::uint32_t a = 5000; a < 5100; ++a) other.insert(record(a), levels);
  EXPECT_TRUE(other.indexed());
  EXPECT_TRUE(all_found(other, 5000, 5100));
  for (const auto a : left) EXPECT_GE(other.find(a, 6881), 0) << a;
}

// A stop for a torrent memory does not hold is still written: the database may hold the peer
// (btrt started without its database and has not restored yet), and it must not come back.
TEST_F(Fixture, StopOfATorrentNotInMemoryIsRecorded) {
  store.set_recording(true);
  announce("10.1.0.1", 1000, false, AnnounceEvent::stopped);
  EXPECT_EQ(store.totals().torrents, 0u);
  std::vector<PeerChange> peers;
  std::vector<TorrentChange> torrents;
  take_all(at(200), peers, torrents);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0].removed);
  EXPECT_EQ(peers[0].port, 1000);
  EXPECT_TRUE(torrents.empty());
}

// A take hands out each peer announced since the last one, once, and nothing for the peers
// that did not announce; an announce whose time was read before a take that came first (a
// thread that waited for the shard) is still taken, at the next take.
TEST_F(Fixture, APeerIsTakenOnceUntilItAnnouncesAgain) {
  store.set_recording(true);
  std::vector<PeerChange> peers;
  std::vector<TorrentChange> torrents;
  auto take = [&](int second) {
    peers.clear();
    torrents.clear();
    take_all(at(second), peers, torrents);
    std::set<std::uint16_t> ports;
    for (const auto& c : peers) {
      EXPECT_FALSE(c.removed);
      ports.insert(c.port);
    }
    EXPECT_EQ(ports.size(), peers.size()) << "a peer taken twice";
    return ports;
  };
  announce("10.1.0.1", 1, false, AnnounceEvent::none, {0, 0}, at(100));
  announce("10.1.0.2", 2, false, AnnounceEvent::none, {0, 0}, at(101));
  announce("10.1.0.1", 1, true, AnnounceEvent::none, {0, 0}, at(102));  // again, now a seeder
  EXPECT_EQ(take(110), (std::set<std::uint16_t>{1, 2}));
  ASSERT_EQ(peers.size(), 2u);
  for (const auto& c : peers) {
    EXPECT_EQ(c.seeder, c.port == 1);
    EXPECT_EQ(c.expires_at, at(c.port == 1 ? 162 : 161));
    EXPECT_EQ(c.seen, at(c.port == 1 ? 102 : 101));
  }
  EXPECT_EQ(torrents.size(), 1u);
  EXPECT_TRUE(take(120).empty());
  EXPECT_TRUE(torrents.empty());
  announce("10.1.0.2", 2, false, AnnounceEvent::none, {0, 0}, at(125));
  announce("10.1.0.3", 3, false, AnnounceEvent::none, {0, 0}, at(119));  // read before the take
  EXPECT_EQ(take(130), (std::set<std::uint16_t>{2, 3}));
  announce("10.1.0.3", 3, false, AnnounceEvent::none, {0, 0}, at(130));  // the take's second
  announce("10.1.0.4", 4, false, AnnounceEvent::none, {0, 0}, at(131));  // the one after
  EXPECT_EQ(take(140), (std::set<std::uint16_t>{3, 4}));
  EXPECT_TRUE(take(150).empty());
}

// A local peer that stopped is removed from the database even when a neighbour lists its
// endpoint afterwards: a learned peer is never written.
TEST_F(Fixture, AStoppedPeerIsRemovedThoughANeighbourListsItsEndpoint) {
  store.set_recording(true);
  announce("10.1.0.1", 1000);
  announce("10.1.0.2", 2000);  // keeps the torrent in memory
  std::vector<PeerChange> peers;
  std::vector<TorrentChange> torrents;
  take_all(at(110), peers, torrents);
  ASSERT_EQ(peers.size(), 2u);
  announce("10.1.0.1", 1000, false, AnnounceEvent::stopped, {0, 0}, at(120));
  const net::Endpoint listed{ip("10.1.0.1"), 1000};
  EXPECT_EQ(store.add_foreign_peers(hash(1), {&listed, 1}, Source::external, at(121), 60s), 1u);
  peers.clear();
  take_all(at(130), peers, torrents);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0].removed);
  EXPECT_EQ(peers[0].port, 1000);
}

// Random announces, stops, moves to another port, restores and takes (some announces with a
// time read before the take that came first): after every take, a model database that
// applies what was taken as a flush writes it (upserts, then removals) lists exactly the
// peers memory holds, with their peer ids and seeder counts.
TEST(SwarmStoreChanges, TakesKeepAModelDatabaseEqualToMemory) {
  SwarmStore store{groups(), {}, 4};
  store.set_recording(true);
  std::mt19937 rng(11);
  auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  absl::flat_hash_map<PeerKey, PeerState> database;
  constexpr std::uint8_t kTorrents = 3;
  constexpr std::uint32_t kClients = 12;
  int second = 100;
  std::vector<SelectedPeer> out;
  for (int step = 0; step < 4000; ++step) {
    if (pick(10) < 8) {
      if (pick(16) == 0) ++second;
      const std::uint32_t client = pick(kClients);
      PeerAnnounce a;
      a.info_hash = hash(static_cast<std::uint8_t>(1 + pick(kTorrents)));
      a.peer_id = id_of(client);
      a.address = client % 4 == 3 ? ip("fd00:1::7") : ip(client % 2 ? "10.1.0.1" : "10.2.0.1");
      a.port = static_cast<std::uint16_t>(1000 + client * 10 + pick(3));  // moves now and then
      a.seeder = pick(2) == 0;
      a.event = pick(6) == 0 ? AnnounceEvent::stopped : AnnounceEvent::none;
      const int time = second - static_cast<int>(pick(4) == 0);  // some read a second ago
      store.announce(a, at(time), 3600s, {0, 0}, out);
    } else if (pick(2) == 0 && !database.empty()) {
      // A late restore brings a stored row back (only into a place memory leaves free).
      auto it = database.begin();
      std::advance(it, pick(static_cast<std::uint32_t>(database.size())));
      PeerChange row;
      static_cast<PeerKey&>(row) = it->first;
      static_cast<PeerState&>(row) = it->second;
      store.restore_peer(row);
    } else {
      second += static_cast<int>(pick(3));
      std::vector<PeerChange> peers;
      std::vector<TorrentChange> torrents;
      for (std::size_t s = 0; s < store.shard_count(); ++s) {
        store.take_changes(s, at(second), peers, torrents);
      }
      std::set<std::tuple<std::string, std::uint16_t>> keys;
      for (const auto& c : peers) {
        ASSERT_TRUE(keys.emplace(c.info_hash.hex() + c.address.to_string(), c.port).second)
            << "one key twice in a take";
        if (!c.removed) database[c] = c;
      }
      for (const auto& c : peers) {
        if (c.removed) database.erase(c);
      }
      for (std::uint8_t t = 1; t <= kTorrents; ++t) {
        PeerAnnounce asker;
        asker.info_hash = hash(t);
        asker.peer_id = id_of(999);
        asker.address = ip("10.3.0.9");
        asker.port = 9;
        out.clear();
        const auto counts = store.select(asker, at(second), {1000, 0}, out);
        std::set<std::tuple<std::string, std::uint16_t, std::string>> in_memory, stored;
        for (const auto& p : out) in_memory.emplace(p.address.to_string(), p.port, p.peer_id.hex());
        std::uint32_t stored_seeders = 0;
        for (const auto& [key, state] : database) {
          if (key.info_hash != hash(t)) continue;
          stored.emplace(key.address.to_string(), key.port, state.peer_id.hex());
          stored_seeders += state.seeder ? 1 : 0;
        }
        ASSERT_EQ(in_memory, stored) << "torrent " << int{t} << ", step " << step;
        ASSERT_EQ(counts.complete, stored_seeders) << "torrent " << int{t} << ", step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace btrt::core

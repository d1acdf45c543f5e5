// A fixed announce workload on the swarm store alone, for instruction counts that repeat on
// a noisy machine (docs/performance.md):
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bench/bench_store_announce
// prints the total instructions; divide by the announces it reports. The store holds 10,000
// torrents of 10 peers (the memory benchmark's shape) and 200 of 100 peers (indexed swarms);
// the measured phase re-announces known peers, adds and stops a few, with numwant 50.
#include <cstdio>
#include <random>

#include "core/swarm_store.hpp"

using namespace btrt;

namespace {

struct Workload {
  core::PeerAnnounce a;
  void peer(std::uint64_t torrent, std::uint64_t n) {
    for (int b = 0; b < 8; ++b)
      a.info_hash.bytes[b] = static_cast<std::uint8_t>(torrent >> (8 * b));
    a.info_hash.bytes[19] = static_cast<std::uint8_t>(torrent * 31);
    const std::uint64_t r = (torrent << 20) ^ (n * 0x9E3779B97F4A7C15ull);
    for (int b = 0; b < 8; ++b) a.peer_id.bytes[b] = static_cast<std::uint8_t>(r >> (8 * b));
    // A third in each group of the table below.
    const std::uint32_t nets[] = {0x0A000000u, 0xAC100000u, 0x5B000000u};
    a.address = net::IpAddress::from_v4(nets[n % 3] | static_cast<std::uint32_t>(r & 0xFFFFF));
    a.port = static_cast<std::uint16_t>(1024 + n);
    a.seeder = n % 4 == 0;
    a.event = core::AnnounceEvent::none;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::size_t rounds = argc > 1 ? std::stoul(argv[1]) : 200'000;
  auto classifier = std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local peers", 0, {*net::Cidr::parse("10.0.0.0/8")}},
                                  {"partner peers", 1, {*net::Cidr::parse("172.16.0.0/12")}}});
  core::SwarmStore store(classifier, {});
  std::vector<core::SelectedPeer> out;
  Workload w;
  constexpr std::size_t kSmall = 10'000, kLarge = 200;
  for (std::size_t n = 0; n < 10; ++n) {
    for (std::size_t t = 0; t < kSmall; ++t) {
      w.peer(t, n);
      store.announce(w.a, core::kStart, std::chrono::hours(1), {0, 0}, out);
    }
  }
  for (std::size_t n = 0; n < 100; ++n) {
    for (std::size_t t = kSmall; t < kSmall + kLarge; ++t) {
      w.peer(t, n);
      store.announce(w.a, core::kStart, std::chrono::hours(1), {0, 0}, out);
    }
  }
  std::mt19937_64 rng(7);
  std::uint64_t handed = 0;
  std::uint64_t digest = 0xCBF29CE484222325ull;
  for (std::size_t i = 0; i < rounds; ++i) {
    const std::uint64_t r = rng();
    const bool large = r % 10 == 0;
    const std::uint64_t t = large ? kSmall + (r >> 8) % kLarge : (r >> 8) % kSmall;
    const std::uint64_t peers = large ? 100 : 10;
    const std::uint64_t kind = (r >> 40) % 16;
    // Mostly a known peer again; sometimes a new one, or a known one stopping (and back).
    w.peer(t, kind == 0 ? peers + (r >> 48) % 4 : (r >> 32) % peers);
    if (kind == 1) w.a.event = core::AnnounceEvent::stopped;
    if (kind == 2) w.a.event = core::AnnounceEvent::completed;
    out.clear();
    store.announce(w.a, core::kStart + core::Duration{static_cast<std::uint32_t>(1 + i / 1000)},
                   std::chrono::hours(1), {50, 0}, out);
    handed += out.size();
    for (const auto& p : out) {  // FNV-1a over what was handed out: equal runs, equal answers
      for (auto b : p.peer_id.bytes) digest = (digest ^ b) * 0x100000001B3ull;
      digest = (digest ^ (std::uint64_t{p.port} << 32 ^ p.address.v4())) * 0x100000001B3ull;
    }
  }
  std::printf(
      "announces %zu (after %zu to fill), peers handed out %llu (digest %016llx), torrents %llu\n",
      rounds, kSmall * 10 + kLarge * 100, static_cast<unsigned long long>(handed),
      static_cast<unsigned long long>(digest),
      static_cast<unsigned long long>(store.totals().torrents));
  return 0;
}

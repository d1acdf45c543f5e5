// Target (docs/performance.md): at most 48 bytes per IPv4 peer (peer ids and indexes
// included) at 1,000,000 peers in 100,000 torrents. Measures the heap the swarm store holds
// (glibc mallinfo2), so the figure includes every allocator overhead, not only sizeof().
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "core/swarm_store.hpp"

using namespace btrt;

int main(int argc, char** argv) {
  const std::size_t torrents = argc > 1 ? std::stoul(argv[1]) : 100'000;
  const std::size_t peers = argc > 2 ? std::stoul(argv[2]) : 1'000'000;

  auto classifier = std::make_shared<const net::Classifier>(
      std::vector<net::GroupSpec>{{"local peers", 0, {*net::Cidr::parse("10.0.0.0/8")}},
                                  {"partner peers", 1, {*net::Cidr::parse("172.16.0.0/12")}}});

  malloc_trim(0);
  const auto before = mallinfo2().uordblks;
  auto started = std::chrono::steady_clock::now();
  {
    core::SwarmStore store(classifier, {});
    std::mt19937_64 rng(3);
    std::vector<core::SelectedPeer> out;
    core::PeerAnnounce a;
    for (std::size_t i = 0; i < peers; ++i) {
      std::uint64_t t = i % torrents;
      for (int b = 0; b < 8; ++b) a.info_hash.bytes[b] = static_cast<std::uint8_t>(t >> (8 * b));
      a.info_hash.bytes[19] = static_cast<std::uint8_t>(t * 31);
      std::uint64_t r = rng();
      for (int b = 0; b < 8; ++b) a.peer_id.bytes[b] = static_cast<std::uint8_t>(r >> (8 * b));
      a.address = net::IpAddress::from_v4(static_cast<std::uint32_t>(r >> 32));
      a.port = static_cast<std::uint16_t>(r | 1024);
      a.seeder = (r & 7) == 0;
      store.announce(a, core::kStart, std::chrono::hours(1), {0, 0},
                     out);  // numwant 0: measure the store alone
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto held = mallinfo2().uordblks - before;
    const auto totals = store.totals();
    std::printf(
        "peers %llu in %llu torrents: heap %.1f MiB = %.1f bytes per peer "
        "(target <= 48; record %zu bytes)\n",
        static_cast<unsigned long long>(totals.peers),
        static_cast<unsigned long long>(totals.torrents), static_cast<double>(held) / 1048576.0,
        static_cast<double>(held) / static_cast<double>(totals.peers), sizeof(core::PeerV4));
    std::printf("insert rate: %.2f M announces/s (single thread, no HTTP)\n",
                static_cast<double>(peers) / seconds / 1e6);
  }
  return 0;
}

// The UDP tracker as far as it is ours: the BEP 15 codec and the whole request handler. Whatever
// datagram arrives from whatever source, the handler answers within the buffer, with an answer
// that starts with the request's transaction id, or not at all; it never crashes.
// Input: one flags byte, then the datagram. Flags: bit 0 an IPv6 source, bit 1 the trusted
// source, bit 2 the datagram's first 8 bytes replaced by the connection ID btrt gave the source
// (so that announces and scrapes get past the check), bits 3-7 the source's last byte.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "protocol/udp.hpp"
#include "tracker/tracker.hpp"
#include "udp/handler.hpp"

namespace {

namespace wire = btrt::protocol::udp;
constexpr wire::ConnectionIds::Key kKey = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

struct World {
  btrt::config::Config config = [] {
    btrt::config::Config c;
    c.server.trusted_sources = {*btrt::net::Cidr::parse("10.0.0.1/32")};
    c.tracker.max_torrents = 64;  // the fuzzer would otherwise grow the store without end
    c.tracker.max_peers_per_torrent = 16;
    return c;
  }();
  std::shared_ptr<const btrt::net::Classifier> classifier =
      std::make_shared<const btrt::net::Classifier>(
          std::vector<btrt::net::GroupSpec>{{"local", 0, {*btrt::net::Cidr::parse("10.0.0.0/8")}}});
  btrt::core::SwarmStore store{classifier, {64, 16}, 16};
  btrt::clock::ManualClock clock;
  btrt::tracker::Tracker tracker{store, config, clock};
  btrt::udp::Handler handler{tracker, kKey};
  wire::ConnectionIds ids{kKey};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::vector<std::uint8_t> packet(data + 1, data + size);

  // The codec alone: a parse that succeeds describes the packet it read.
  thread_local wire::Packet parsed;
  if (wire::parse(packet, parsed) == wire::Drop::none) {
    if (parsed.action == wire::Action::scrape &&
        (parsed.hash_count == 0 || parsed.hash_count > wire::kMaxScrapeHashes)) {
      std::abort();
    }
    if (parsed.url_data.size() > packet.size()) std::abort();
  }

  btrt::net::IpAddress source;
  const auto last = static_cast<std::uint8_t>((flags >> 3) + 1);
  if (flags & 2) {
    source = *btrt::net::IpAddress::parse("10.0.0.1");
  } else if (flags & 1) {
    btrt::net::IpAddress::Bytes bytes{};
    bytes[0] = 0x20;
    bytes[1] = 0x01;
    bytes[15] = last;
    source = btrt::net::IpAddress(bytes);
  } else {
    source = btrt::net::IpAddress::from_v4(0x0a000000u | last);
  }
  const std::uint16_t port = 6881;
  if ((flags & 4) && packet.size() >= 8) {
    const std::uint64_t id = world.ids.issue(
        source, port, world.tracker.now().time_since_epoch() / btrt::udp::Handler::kSlot);
    for (int i = 0; i < 8; ++i)
      packet[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id >> (56 - 8 * i));
  }

  std::array<std::uint8_t, btrt::udp::kMaxAnswer> out;
  const std::size_t answer = world.handler.handle(packet, source, port, out);
  if (answer > out.size()) std::abort();
  if (answer != 0) {
    // Answers only to a request that parsed, echoing its transaction id; never larger than
    // needed for amplification unless the source proved it receives (a connect answer is 16).
    if (answer < 8 || packet.size() < 16) std::abort();
    if (std::memcmp(out.data() + 4, packet.data() + 12, 4) != 0) std::abort();
  }
  return 0;
}

#include "protocol/udp.hpp"

#include <algorithm>
#include <cstring>

namespace btrt::protocol::udp {

namespace {

std::uint64_t read64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t read32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint16_t read16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint8_t* write32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
  return p + 4;
}
std::uint8_t* write64(std::uint8_t* p, std::uint64_t v) {
  p = write32(p, static_cast<std::uint32_t>(v >> 32));
  return write32(p, static_cast<std::uint32_t>(v));
}
std::uint8_t* write16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
  return p + 2;
}

Event event_of(std::uint32_t code) {
  switch (code) {
    case 1:
      return Event::completed;
    case 2:
      return Event::started;
    case 3:
      return Event::stopped;
    default:
      return Event::none;
  }
}

// BEP 41: EndOfOptions (0), NOP (1), URLData (2, length byte, data); any other type carries a
// length byte too and is skipped.
Drop parse_options(std::span<const std::uint8_t> options, Packet& out) {
  const std::uint8_t* first_url = nullptr;
  std::size_t url_length = 0, urls = 0;
  std::size_t i = 0;
  while (i < options.size()) {
    const std::uint8_t type = options[i++];
    if (type == 0) break;
    if (type == 1) continue;
    if (i >= options.size()) return Drop::bad_options;
    const std::size_t length = options[i++];
    if (length > options.size() - i) return Drop::bad_options;
    if (type == 2) {
      if (urls == 0) first_url = options.data() + i;
      if (urls == 1) std::memcpy(out.url_storage.data(), first_url, url_length);
      if (urls >= 1) std::memcpy(out.url_storage.data() + url_length, options.data() + i, length);
      url_length += length;
      ++urls;
    }
    i += length;
  }
  if (urls == 1) out.url_data = {reinterpret_cast<const char*>(first_url), url_length};
  if (urls > 1) out.url_data = {out.url_storage.data(), url_length};
  return Drop::none;
}

constexpr std::uint64_t rotl(std::uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

}  // namespace

std::string_view drop_name(Drop drop) {
  switch (drop) {
    case Drop::none:
      return "none";
    case Drop::too_short:
      return "too_short";
    case Drop::oversized:
      return "oversized";
    case Drop::wrong_length:
      return "wrong_length";
    case Drop::protocol_id:
      return "protocol_id";
    case Drop::unknown_action:
      return "unknown_action";
    case Drop::bad_options:
      return "bad_options";
    case Drop::connection_id:
      return "connection_id";
    case Drop::kCount:
      break;
  }
  return "unknown";
}

core::InfoHash Packet::hash(std::size_t i) const {
  core::InfoHash h;
  std::memcpy(h.bytes.data(), hashes + 20 * i, h.bytes.size());
  return h;
}

Drop parse(std::span<const std::uint8_t> in, Packet& out) {
  if (in.size() > kMaxPacket) return Drop::oversized;
  if (in.size() < kConnectSize) return Drop::too_short;
  const std::uint8_t* p = in.data();
  out.connection_id = read64(p);
  const std::uint32_t action = read32(p + 8);
  out.transaction_id = read32(p + 12);
  out.url_data = {};
  out.hashes = nullptr;
  out.hash_count = 0;
  switch (action) {
    case 0:
      out.action = Action::connect;
      if (in.size() != kConnectSize) return Drop::wrong_length;
      if (out.connection_id != kProtocolId) return Drop::protocol_id;
      return Drop::none;
    case 1: {
      out.action = Action::announce;
      if (in.size() < kAnnounceSize) return Drop::wrong_length;
      auto& a = out.announce;
      a = AnnounceRequest{};
      std::memcpy(a.info_hash.bytes.data(), p + 16, 20);
      std::memcpy(a.peer_id.bytes.data(), p + 36, 20);
      a.downloaded = read64(p + 56);
      a.left = read64(p + 64);
      a.left_present = true;
      a.uploaded = read64(p + 72);
      a.event = event_of(read32(p + 80));
      if (const std::uint32_t ip = read32(p + 84); ip != 0) a.ip = net::IpAddress::from_v4(ip);
      out.key = read32(p + 88);
      const auto numwant = static_cast<std::int32_t>(read32(p + 92));
      if (numwant >= 0) a.numwant = static_cast<std::uint32_t>(numwant);
      a.port = read16(p + 96);
      return parse_options(in.subspan(kAnnounceSize), out);
    }
    case 2: {
      out.action = Action::scrape;
      const std::size_t body = in.size() - kScrapeHeaderSize;
      if (body == 0 || body % 20 != 0 || body / 20 > kMaxScrapeHashes) return Drop::wrong_length;
      out.hashes = p + kScrapeHeaderSize;
      out.hash_count = body / 20;
      return Drop::none;
    }
    default:
      return Drop::unknown_action;
  }
}

std::size_t encode_connect(std::uint32_t transaction_id, std::uint64_t connection_id,
                           std::span<std::uint8_t> out) {
  std::uint8_t* p = out.data();
  p = write32(p, static_cast<std::uint32_t>(Action::connect));
  p = write32(p, transaction_id);
  p = write64(p, connection_id);
  return static_cast<std::size_t>(p - out.data());
}

std::size_t encode_announce(const AnnounceAnswer& a, std::span<std::uint8_t> out) {
  std::uint8_t* p = out.data();
  p = write32(p, static_cast<std::uint32_t>(Action::announce));
  p = write32(p, a.transaction_id);
  p = write32(p, a.interval);
  p = write32(p, a.leechers);
  p = write32(p, a.seeders);
  const std::size_t entry = a.v6 ? 18 : 6;
  std::uint8_t* const end = out.data() + out.size();
  for (const auto& peer : a.peers) {
    if (static_cast<std::size_t>(end - p) < entry) break;
    if (peer.address.is_v4() == a.v6) continue;
    if (a.v6) {
      std::memcpy(p, peer.address.bytes().data(), 16);
      p += 16;
    } else {
      p = write32(p, peer.address.v4());
    }
    p = write16(p, peer.port);
  }
  return static_cast<std::size_t>(p - out.data());
}

std::size_t encode_scrape(std::uint32_t transaction_id, std::span<const ScrapeEntry> entries,
                          std::span<std::uint8_t> out) {
  std::uint8_t* p = out.data();
  p = write32(p, static_cast<std::uint32_t>(Action::scrape));
  p = write32(p, transaction_id);
  for (const auto& e : entries) {
    p = write32(p, e.seeders);
    p = write32(p, e.completed);
    p = write32(p, e.leechers);
  }
  return static_cast<std::size_t>(p - out.data());
}

std::size_t encode_error(std::uint32_t transaction_id, std::string_view message,
                         std::span<std::uint8_t> out) {
  std::uint8_t* p = out.data();
  p = write32(p, static_cast<std::uint32_t>(Action::error));
  p = write32(p, transaction_id);
  const std::size_t n = std::min(message.size(), out.size() - 8);
  std::memcpy(p, message.data(), n);
  return 8 + n;
}

std::uint64_t siphash24(const ConnectionIds::Key& key, std::span<const std::uint8_t> data) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
  std::uint64_t v3 = 0x7465646279746573ULL ^ key[1];
  auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  };
  auto compress = [&](std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };
  const std::size_t whole = data.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    std::uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | data[i + static_cast<std::size_t>(b)];
    compress(m);
  }
  std::uint64_t last = static_cast<std::uint64_t>(data.size() & 0xff) << 56;
  for (std::size_t i = whole; i < data.size(); ++i) {
    last |= static_cast<std::uint64_t>(data[i]) << (8 * (i - whole));
  }
  compress(last);
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

std::uint64_t ConnectionIds::issue(const net::IpAddress& address, std::uint16_t port,
                                   std::uint64_t slot) const {
  std::array<std::uint8_t, 16 + 2 + 8> input;
  std::memcpy(input.data(), address.bytes().data(), 16);
  write16(input.data() + 16, port);
  write64(input.data() + 18, slot);
  return (siphash24(key_, input) & ~kSlotBits) | (slot & kSlotBits);
}

bool ConnectionIds::accepts(std::uint64_t id, const net::IpAddress& address, std::uint16_t port,
                            std::uint64_t slot) const {
  const std::uint64_t back = (slot - id) & kSlotBits;
  return back < kSlotsAccepted && back <= slot && issue(address, port, slot - back) == id;
}

std::size_t encode_connect_request(std::uint32_t transaction_id, std::span<std::uint8_t> out) {
  std::uint8_t* p = write64(out.data(), kProtocolId);
  p = write32(p, static_cast<std::uint32_t>(Action::connect));
  p = write32(p, transaction_id);
  return kConnectSize;
}

void readdress(std::span<std::uint8_t> packet, std::uint64_t connection_id,
               std::uint32_t transaction_id) {
  write64(packet.data(), connection_id);
  write32(packet.data() + 12, transaction_id);
}

void set_announce_ip(std::span<std::uint8_t> packet, std::uint32_t v4) {
  write32(packet.data() + 84, v4);
}

bool read_answer_head(std::span<const std::uint8_t> in, AnswerHead& out) {
  if (in.size() < 8) return false;
  out.action = read32(in.data());
  out.transaction_id = read32(in.data() + 4);
  return true;
}

std::optional<std::uint64_t> read_connect_answer(std::span<const std::uint8_t> in) {
  if (in.size() < 16 || read32(in.data()) != static_cast<std::uint32_t>(Action::connect)) {
    return std::nullopt;
  }
  return read64(in.data() + 8);
}

const char* parse_announce_answer(std::span<const std::uint8_t> in, bool v6, TrackerAnswer& out) {
  AnswerHead head;
  if (!read_answer_head(in, head)) return "shorter than a BEP 15 answer";
  if (head.action == static_cast<std::uint32_t>(Action::error)) {
    constexpr std::size_t kMaxMessage = 1024;
    const auto message = in.subspan(8, std::min(in.size() - 8, kMaxMessage));
    out.failure_reason.emplace(reinterpret_cast<const char*>(message.data()), message.size());
    return nullptr;
  }
  if (head.action != static_cast<std::uint32_t>(Action::announce)) return "not an announce answer";
  if (in.size() < kAnswerHeaderSize) return "announce answer shorter than 20 bytes";
  const std::uint8_t* p = in.data();
  out.interval = read32(p + 8);
  out.incomplete = read32(p + 12);
  out.complete = read32(p + 16);
  const std::size_t entry = v6 ? 18 : 6;
  for (std::size_t i = kAnswerHeaderSize; i + entry <= in.size(); i += entry) {
    net::Endpoint peer;
    if (v6) {
      net::IpAddress::Bytes bytes;
      std::memcpy(bytes.data(), p + i, bytes.size());
      peer.address = net::IpAddress(bytes);
    } else {
      peer.address = net::IpAddress::from_v4(read32(p + i));
    }
    peer.port = read16(p + i + entry - 2);
    if (peer.port != 0) out.peers.push_back(peer);
  }
  return nullptr;
}

std::size_t parse_scrape_answer(std::span<const std::uint8_t> in, std::span<ScrapeEntry> out) {
  AnswerHead head;
  if (!read_answer_head(in, head) || head.action != static_cast<std::uint32_t>(Action::scrape)) {
    return 0;
  }
  const std::size_t n = std::min((in.size() - 8) / 12, out.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = in.data() + 8 + 12 * i;
    out[i] = {read32(p), read32(p + 4), read32(p + 8)};
  }
  return n;
}

}  // namespace btrt::protocol::udp

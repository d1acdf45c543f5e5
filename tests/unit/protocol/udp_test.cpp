#include "protocol/udp.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace btrt::protocol::udp {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void put64(Bytes& b, std::uint64_t v) {
  put32(b, static_cast<std::uint32_t>(v >> 32));
  put32(b, static_cast<std::uint32_t>(v));
}

Bytes connect_packet(std::uint64_t protocol_id = kProtocolId) {
  Bytes b;
  put64(b, protocol_id);
  put32(b, 0);
  put32(b, 0xabcdef01);
  return b;
}

Bytes announce_packet(std::int32_t numwant = -1, std::uint32_t event = 2, std::uint32_t ip = 0,
                      std::uint64_t left = 100) {
  Bytes b;
  put64(b, 0x1122334455667788);
  put32(b, 1);
  put32(b, 77);
  for (int i = 0; i < 20; ++i) b.push_back(static_cast<std::uint8_t>(i));
  for (int i = 0; i < 20; ++i) b.push_back(static_cast<std::uint8_t>(100 + i));
  put64(b, 5);     // downloaded
  put64(b, left);  // left
  put64(b, 7);     // uploaded
  put32(b, event);
  put32(b, ip);
  put32(b, 0xdeadbeef);  // key
  put32(b, static_cast<std::uint32_t>(numwant));
  b.push_back(0x1a);
  b.push_back(0xe1);  // port 6881
  return b;
}

Bytes scrape_packet(std::size_t hashes) {
  Bytes b;
  put64(b, 1);
  put32(b, 2);
  put32(b, 9);
  for (std::size_t h = 0; h < hashes; ++h) {
    for (int i = 0; i < 20; ++i) b.push_back(static_cast<std::uint8_t>(h));
  }
  return b;
}

TEST(UdpParse, Connect) {
  Packet p;
  auto b = connect_packet();
  ASSERT_EQ(parse(b, p), Drop::none);
  EXPECT_EQ(p.action, Action::connect);
  EXPECT_EQ(p.transaction_id, 0xabcdef01u);
  EXPECT_EQ(parse(connect_packet(kProtocolId + 1), p), Drop::protocol_id);
  b.push_back(0);
  EXPECT_EQ(parse(b, p), Drop::wrong_length);
  b.resize(15);
  EXPECT_EQ(parse(b, p), Drop::too_short);
  EXPECT_EQ(parse(Bytes{}, p), Drop::too_short);
}

TEST(UdpParse, UnknownActionAndOversized) {
  Packet p;
  auto b = connect_packet();
  b[11] = 3;  // error: never a request
  EXPECT_EQ(parse(b, p), Drop::unknown_action);
  b[11] = 9;
  EXPECT_EQ(parse(b, p), Drop::unknown_action);
  auto big = announce_packet();
  big.resize(kMaxPacket + 1, 1);
  EXPECT_EQ(parse(big, p), Drop::oversized);
}

TEST(UdpParse, AnnounceFields) {
  Packet p;
  auto b = announce_packet(-1, 2, 0x7f010203, 0);
  ASSERT_EQ(parse(b, p), Drop::none);
  EXPECT_EQ(p.action, Action::announce);
  EXPECT_EQ(p.connection_id, 0x1122334455667788u);
  EXPECT_EQ(p.transaction_id, 77u);
  EXPECT_EQ(p.announce.info_hash.bytes[19], 19);
  EXPECT_EQ(p.announce.peer_id.bytes[0], 100);
  EXPECT_EQ(p.announce.downloaded, 5u);
  EXPECT_EQ(p.announce.uploaded, 7u);
  EXPECT_TRUE(p.announce.is_seeder());
  EXPECT_EQ(p.announce.event, Event::started);
  ASSERT_TRUE(p.announce.ip);
  EXPECT_EQ(p.announce.ip->to_string(), "127.1.2.3");
  EXPECT_EQ(p.key, 0xdeadbeefu);
  EXPECT_FALSE(p.announce.numwant);  // -1: the tracker's default
  EXPECT_EQ(p.announce.port, 6881);
  EXPECT_TRUE(p.url_data.empty());

  ASSERT_EQ(parse(announce_packet(30, 0, 0, 5), p), Drop::none);
  EXPECT_EQ(p.announce.numwant, 30u);
  EXPECT_FALSE(p.announce.ip);
  EXPECT_FALSE(p.announce.is_seeder());
  EXPECT_EQ(p.announce.event, Event::none);
  ASSERT_EQ(parse(announce_packet(-5, 1), p), Drop::none);
  EXPECT_FALSE(p.announce.numwant);
  EXPECT_EQ(p.announce.event, Event::completed);
  ASSERT_EQ(parse(announce_packet(-1, 3), p), Drop::none);
  EXPECT_EQ(p.announce.event, Event::stopped);

  auto short_one = announce_packet();
  short_one.pop_back();
  EXPECT_EQ(parse(short_one, p), Drop::wrong_length);
}

TEST(UdpParse, Bep41Options) {
  Packet p;
  auto b = announce_packet();
  for (int c : {1, 2, 5, int{'/'}, int{'a'}, int{'n'}, int{'n'}, int{'o'}, 1, 2, 3, int{'u'},
                int{'n'}, int{'c'}, 0, 9, 9}) {
    b.push_back(static_cast<std::uint8_t>(c));
  }
  ASSERT_EQ(parse(b, p), Drop::none);
  EXPECT_EQ(p.url_data, "/announc");  // two URL data options concatenated; after 0 nothing read

  auto one = announce_packet();
  for (int c : {2, 3, int{'/'}, int{'x'}, int{'?'}}) one.push_back(static_cast<std::uint8_t>(c));
  ASSERT_EQ(parse(one, p), Drop::none);
  EXPECT_EQ(p.url_data, "/x?");

  auto truncated = announce_packet();
  for (int c : {2, 9, int{'/'}, int{'x'}}) truncated.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(parse(truncated, p), Drop::bad_options);
  auto no_length = announce_packet();
  no_length.push_back(2);
  EXPECT_EQ(parse(no_length, p), Drop::bad_options);
  auto unknown = announce_packet();
  for (int c : {7, 2, int{'a'}, int{'b'}, 1})
    unknown.push_back(static_cast<std::uint8_t>(c));  // skipped by its length
  ASSERT_EQ(parse(unknown, p), Drop::none);
  EXPECT_TRUE(p.url_data.empty());
}

TEST(UdpParse, Scrape) {
  // The packet's hashes point into the datagram: each one is kept while it is read.
  Packet p;
  const auto one = scrape_packet(1);
  ASSERT_EQ(parse(one, p), Drop::none);
  EXPECT_EQ(p.action, Action::scrape);
  EXPECT_EQ(p.hash_count, 1u);
  const auto largest = scrape_packet(74);
  ASSERT_EQ(parse(largest, p), Drop::none);
  EXPECT_EQ(p.hash_count, 74u);
  EXPECT_EQ(p.hash(73).bytes[0], 73);
  EXPECT_EQ(parse(scrape_packet(75), p), Drop::oversized);  // past the largest request
  EXPECT_EQ(parse(scrape_packet(0), p), Drop::wrong_length);
  auto odd = scrape_packet(2);
  odd.pop_back();
  EXPECT_EQ(parse(odd, p), Drop::wrong_length);
}

core::SelectedPeer peer(const char* address, std::uint16_t port) {
  core::SelectedPeer p;
  p.address = *net::IpAddress::parse(address);
  p.port = port;
  return p;
}

TEST(UdpEncode, AnnounceKeepsTheRequestersFamily) {
  const std::vector<core::SelectedPeer> peers = {peer("127.1.0.1", 6881), peer("::2", 7000),
                                                 peer("127.1.0.2", 6882)};
  std::array<std::uint8_t, 200> out{};
  AnnounceAnswer a;
  a.transaction_id = 5;
  a.interval = 1800;
  a.leechers = 3;
  a.seeders = 1;
  a.peers = peers;
  ASSERT_EQ(encode_announce(a, out), 20u + 12u);
  const std::array<std::uint8_t, 32> v4 = {0, 0, 0,    1,    0,   0, 0, 5, 0,    0,   7,
                                           8, 0, 0,    0,    3,   0, 0, 0, 1,    127, 1,
                                           0, 1, 0x1a, 0xe1, 127, 1, 0, 2, 0x1a, 0xe2};
  EXPECT_TRUE(std::equal(v4.begin(), v4.end(), out.begin()));
  a.v6 = true;
  ASSERT_EQ(encode_announce(a, out), 20u + 18u);
  EXPECT_EQ(out[20 + 15], 2);
  EXPECT_EQ(out[20 + 16], 0x1b);
  EXPECT_EQ(out[20 + 17], 0x58);
  // Never past the buffer: as many peers as fit.
  a.v6 = false;
  EXPECT_EQ(encode_announce(a, std::span<std::uint8_t>(out.data(), 27)), 26u);
}

TEST(UdpEncode, ConnectScrapeError) {
  std::array<std::uint8_t, 100> out{};
  ASSERT_EQ(encode_connect(0x01020304, 0x1112131415161718, out), 16u);
  EXPECT_EQ(out[3], 0);
  EXPECT_EQ(out[7], 4);
  EXPECT_EQ(out[8], 0x11);
  EXPECT_EQ(out[15], 0x18);
  const ScrapeEntry entries[] = {{1, 2, 3}, {4, 5, 6}};
  ASSERT_EQ(encode_scrape(9, entries, out), 8u + 24u);
  EXPECT_EQ(out[3], 2);
  EXPECT_EQ(out[11], 1);
  EXPECT_EQ(out[15], 2);
  EXPECT_EQ(out[19], 3);
  EXPECT_EQ(out[31], 6);
  ASSERT_EQ(encode_error(9, "full", out), 12u);
  EXPECT_EQ(out[3], 3);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out.data() + 8), 4), "full");
}

TEST(SipHash, ReferenceVector) {
  // The reference implementation's test vector: key 00..0f, message 00..0e.
  const ConnectionIds::Key key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::array<std::uint8_t, 15> message;
  for (std::uint8_t i = 0; i < message.size(); ++i) message[i] = i;
  EXPECT_EQ(siphash24(key, message), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(key, std::span<const std::uint8_t>{}), 0x726fdb47dd0e0e31ULL);
}

TEST(ConnectionIds, AcceptedForThreeSlotsForTheSameSourceOnly) {
  const ConnectionIds ids({0x1234, 0x5678});
  const auto a = *net::IpAddress::parse("127.0.0.5");
  const auto b = *net::IpAddress::parse("127.0.0.6");
  const std::uint64_t id = ids.issue(a, 4000, 10);
  EXPECT_TRUE(ids.accepts(id, a, 4000, 10));
  EXPECT_TRUE(ids.accepts(id, a, 4000, 11));
  EXPECT_TRUE(ids.accepts(id, a, 4000, 12));
  EXPECT_FALSE(ids.accepts(id, a, 4000, 13));  // expired
  EXPECT_FALSE(ids.accepts(id, a, 4000, 9));   // not yet issued
  EXPECT_FALSE(ids.accepts(id, b, 4000, 10));
  EXPECT_FALSE(ids.accepts(id, a, 4001, 10));
  EXPECT_FALSE(ids.accepts(id + 1, a, 4000, 10));
  EXPECT_NE(ids.issue(a, 4000, 10), ids.issue(a, 4000, 11));
  // Another key (another start of btrt) gives other IDs.
  EXPECT_FALSE(ConnectionIds({0x1234, 0x5679}).accepts(id, a, 4000, 10));
  // Slot 0 and 1 look back no further than slot 0.
  EXPECT_TRUE(ids.accepts(ids.issue(a, 1, 0), a, 1, 1));
}

}  // namespace
}  // namespace btrt::protocol::udp

namespace btrt::protocol::udp {
namespace {

// btrt as a client of an origin.

TEST(UdpOrigin, ConnectRequestIsTheMagicTheActionAndTheTransaction) {
  std::array<std::uint8_t, kConnectSize> out{};
  ASSERT_EQ(encode_connect_request(0x01020304, out), kConnectSize);
  Packet parsed;
  ASSERT_EQ(parse(out, parsed), Drop::none);  // what btrt itself accepts as a connect
  EXPECT_EQ(parsed.action, Action::connect);
  EXPECT_EQ(parsed.transaction_id, 0x01020304u);
}

TEST(UdpOrigin, ReaddressReplacesOnlyTheIds) {
  Bytes packet = announce_packet(-1, 2, 0);
  const Bytes before = packet;
  readdress(packet, 0xaabbccddeeff0011, 99);
  set_announce_ip(packet, 0xC6120002);
  Packet parsed;
  ASSERT_EQ(parse(packet, parsed), Drop::none);
  EXPECT_EQ(parsed.connection_id, 0xaabbccddeeff0011u);
  EXPECT_EQ(parsed.transaction_id, 99u);
  ASSERT_TRUE(parsed.announce.ip);
  EXPECT_EQ(*parsed.announce.ip, net::IpAddress::from_v4(0xC6120002));
  EXPECT_TRUE(std::equal(packet.begin() + 16, packet.begin() + 84, before.begin() + 16));
  EXPECT_TRUE(std::equal(packet.begin() + 88, packet.end(), before.begin() + 88));
}

TEST(UdpOrigin, ConnectAnswerGivesTheIdOnlyForAConnect) {
  Bytes answer;
  put32(answer, 0);
  put32(answer, 5);
  put64(answer, 0x1122334455667788);
  EXPECT_EQ(read_connect_answer(answer), 0x1122334455667788u);
  answer[3] = 3;  // an error
  EXPECT_FALSE(read_connect_answer(answer));
  EXPECT_FALSE(read_connect_answer(std::span(answer).first(12)));
  AnswerHead head;
  ASSERT_TRUE(read_answer_head(answer, head));
  EXPECT_EQ(head.action, 3u);
  EXPECT_EQ(head.transaction_id, 5u);
  EXPECT_FALSE(read_answer_head(std::span(answer).first(7), head));
}

TEST(UdpOrigin, AnnounceAnswerBecomesATrackerAnswer) {
  Bytes answer;
  put32(answer, 1);
  put32(answer, 5);
  put32(answer, 1500);  // interval
  put32(answer, 3);     // leechers
  put32(answer, 9);     // seeders
  answer.insert(answer.end(), {198, 51, 100, 7, 0x1a, 0xe1});
  answer.insert(answer.end(), {198, 51, 100, 8, 0, 0});  // port 0: skipped
  answer.insert(answer.end(), {1, 2, 3});                // a partial entry
  TrackerAnswer out;
  ASSERT_EQ(parse_announce_answer(answer, false, out), nullptr);
  EXPECT_FALSE(out.failure_reason);
  EXPECT_EQ(out.interval, 1500u);
  EXPECT_EQ(out.incomplete, 3u);
  EXPECT_EQ(out.complete, 9u);
  ASSERT_EQ(out.peers.size(), 1u);
  EXPECT_EQ(out.peers[0].to_string(), "198.51.100.7:6881");

  TrackerAnswer as_v6;  // the same bytes read as 18-byte entries: none complete but nothing lost
  ASSERT_EQ(parse_announce_answer(answer, true, as_v6), nullptr);
  EXPECT_TRUE(as_v6.peers.empty());
}

TEST(UdpOrigin, ErrorIsAFailureReasonAndOtherActionsAreRefused) {
  Bytes error;
  put32(error, 3);
  put32(error, 5);
  for (char c : std::string_view("unregistered torrent"))
    error.push_back(static_cast<std::uint8_t>(c));
  TrackerAnswer out;
  ASSERT_EQ(parse_announce_answer(error, false, out), nullptr);
  EXPECT_EQ(out.failure_reason, "unregistered torrent");

  Bytes long_error;
  put32(long_error, 3);
  put32(long_error, 5);
  long_error.resize(8 + 5000, 'x');
  TrackerAnswer cut;
  ASSERT_EQ(parse_announce_answer(long_error, false, cut), nullptr);
  EXPECT_EQ(cut.failure_reason->size(), 1024u);

  Bytes scrape;
  put32(scrape, 2);
  put32(scrape, 5);
  TrackerAnswer other;
  EXPECT_NE(parse_announce_answer(scrape, false, other), nullptr);
  Bytes short_announce;
  put32(short_announce, 1);
  put32(short_announce, 5);
  put32(short_announce, 1800);
  EXPECT_NE(parse_announce_answer(short_announce, false, other), nullptr);
}

TEST(UdpOrigin, ScrapeAnswerEntries) {
  Bytes answer;
  put32(answer, 2);
  put32(answer, 5);
  for (std::uint32_t v : {4u, 10u, 2u, 1u, 0u, 0u}) put32(answer, v);
  answer.push_back(0);  // a stray byte
  std::array<ScrapeEntry, 1> one;
  ASSERT_EQ(parse_scrape_answer(answer, one), 1u);  // no more than the caller's room
  EXPECT_EQ(one[0].seeders, 4u);
  EXPECT_EQ(one[0].completed, 10u);
  EXPECT_EQ(one[0].leechers, 2u);
  std::array<ScrapeEntry, 4> four;
  EXPECT_EQ(parse_scrape_answer(answer, four), 2u);
  answer[3] = 3;
  EXPECT_EQ(parse_scrape_answer(answer, four), 0u);
}

}  // namespace
}  // namespace btrt::protocol::udp

#include "protocol/response.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/bencode.hpp"

namespace btrt::protocol {
namespace {

using namespace std::string_literals;

core::SelectedPeer peer(std::string_view ip, std::uint16_t port, char id_fill) {
  core::SelectedPeer p;
  p.address = *net::IpAddress::parse(ip);
  p.port = port;
  p.peer_id = core::PeerId::from(std::string(20, id_fill));
  return p;
}

std::string encode(const AnnounceAnswer& a) {
  std::string out;
  encode_announce(a, out);
  return out;
}

TEST(EncodeAnnounce, CompactIPv4ExactBytes) {
  std::vector<core::SelectedPeer> peers = {peer("1.2.3.4", 6881, 'a'),
                                           peer("10.0.0.255", 0x1234, 'b')};
  AnnounceAnswer a;
  a.interval = 1800;
  a.min_interval = 900;
  a.complete = 5;
  a.incomplete = 2;
  a.peers = peers;
  EXPECT_EQ(encode(a),
            "d8:completei5e10:incompletei2e8:intervali1800e12:min intervali900e"
            "5:peers12:\x01\x02\x03\x04\x1a\xe1\x0a\x00\x00\xff\x12\x34"
            "6:peers60:e"s);
}

TEST(EncodeAnnounce, CompactEmptyHasBothPeerKeys) {
  AnnounceAnswer a;
  EXPECT_EQ(encode(a),
            "d8:completei0e10:incompletei0e8:intervali0e12:min intervali0e5:peers0:6:peers60:e");
}

TEST(EncodeAnnounce, CompactPeers6InOrder) {
  std::vector<core::SelectedPeer> peers = {peer("2001:db8::1", 443, 'a'), peer("9.8.7.6", 1, 'b'),
                                           peer("::ffff:1.1.1.1", 2, 'c'),
                                           peer("fe80::abcd", 65535, 'd')};
  AnnounceAnswer a;
  a.interval = 60;
  a.peers = peers;
  std::string want =
      "d8:completei0e10:incompletei0e8:intervali60e12:min intervali0e"
      "5:peers12:\x09\x08\x07\x06\x00\x01\x01\x01\x01\x01\x00\x02"
      "6:peers636:"
      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\xbb"
      "\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xab\xcd\xff\xff"
      "e"s;
  EXPECT_EQ(encode(a), want);
}

TEST(EncodeAnnounce, NonCompactWithPeerIds) {
  std::vector<core::SelectedPeer> peers = {peer("1.2.3.4", 6881, 'a'),
                                           peer("2001:db8::7", 80, 'b')};
  AnnounceAnswer a;
  a.interval = 1800;
  a.min_interval = 60;
  a.complete = 1;
  a.incomplete = 1;
  a.compact = false;
  a.peers = peers;
  EXPECT_EQ(encode(a),
            "d8:completei1e10:incompletei1e8:intervali1800e12:min intervali60e5:peersl"
            "d2:ip7:1.2.3.47:peer id20:" +
                std::string(20, 'a') +
                "4:porti6881ee"
                "d2:ip11:2001:db8::77:peer id20:" +
                std::string(20, 'b') +
                "4:porti80ee"
                "ee");
}

TEST(EncodeAnnounce, NonCompactNoPeerId) {
  std::vector<core::SelectedPeer> peers = {peer("192.168.1.10", 51413, 'z')};
  AnnounceAnswer a;
  a.compact = false;
  a.no_peer_id = true;
  a.peers = peers;
  EXPECT_EQ(encode(a),
            "d8:completei0e10:incompletei0e8:intervali0e12:min intervali0e5:peersl"
            "d2:ip12:192.168.1.104:porti51413eeee");
}

TEST(EncodeAnnounce, NonCompactEmptyHasNoPeers6) {
  AnnounceAnswer a;
  a.compact = false;
  EXPECT_EQ(encode(a), "d8:completei0e10:incompletei0e8:intervali0e12:min intervali0e5:peerslee");
}

TEST(EncodeAnnounce, WarningMessageLastAndAppends) {
  AnnounceAnswer a;
  a.interval = 30;
  a.warning = "slow down";
  std::string out = "HEAD";
  encode_announce(a, out);
  EXPECT_EQ(out,
            "HEADd8:completei0e10:incompletei0e8:intervali30e12:min intervali0e5:peers0:"
            "6:peers60:15:warning message9:slow downe");
}

TEST(EncodeAnnounce, LargeCountsAndDecodable) {
  std::vector<core::SelectedPeer> peers;
  for (int i = 0; i < 50; ++i) {
    peers.push_back(peer("10.0.0." + std::to_string(i), static_cast<std::uint16_t>(1000 + i), 'p'));
  }
  peers.push_back(peer("::1", 7, 'q'));
  AnnounceAnswer a;
  a.interval = 4294967295u;
  a.complete = 4294967295u;
  a.peers = peers;
  auto r = bencode::decode(encode(a));
  ASSERT_TRUE(std::holds_alternative<bencode::Value>(r));
  const auto& v = std::get<bencode::Value>(r);
  EXPECT_EQ(v.find("interval")->as_int(), 4294967295);
  EXPECT_EQ(v.find("complete")->as_int(), 4294967295);
  const auto& p4 = v.find("peers")->as_string();
  ASSERT_EQ(p4.size(), 50u * 6);
  EXPECT_EQ(static_cast<unsigned char>(p4[6 * 49 + 3]), 49);
  EXPECT_EQ(static_cast<unsigned char>(p4[6 * 49 + 4]), (1049 >> 8));
  EXPECT_EQ(static_cast<unsigned char>(p4[6 * 49 + 5]), (1049 & 0xff));
  EXPECT_EQ(v.find("peers6")->as_string().size(), 18u);
  EXPECT_EQ(v.find("warning message"), nullptr);
}

TEST(EncodeFailure, Exact) {
  std::string out;
  encode_failure("invalid info_hash: must be 20 bytes", out);
  EXPECT_EQ(out, "d14:failure reason35:invalid info_hash: must be 20 bytese");
  out.clear();
  encode_failure("", out);
  EXPECT_EQ(out, "d14:failure reason0:e");
}

TEST(EncodeScrape, SortedExact) {
  std::vector<ScrapeEntry> entries(2);
  entries[0].info_hash = core::InfoHash::from(std::string(20, 'z'));
  entries[0].complete = 1;
  entries[0].incomplete = 2;
  entries[0].downloaded = 3;
  entries[1].info_hash = core::InfoHash::from(std::string(20, 'a'));
  entries[1].complete = 10;
  entries[1].incomplete = 20;
  entries[1].downloaded = 30;
  std::string out;
  encode_scrape(entries, out);
  EXPECT_EQ(out, "d5:filesd20:" + std::string(20, 'a') +
                     "d8:completei10e10:downloadedi30e10:incompletei20ee"
                     "20:" +
                     std::string(20, 'z') + "d8:completei1e10:downloadedi3e10:incompletei2eeee");
}

TEST(EncodeScrape, EmptyAndBinaryOrder) {
  std::string out;
  encode_scrape({}, out);
  EXPECT_EQ(out, "d5:filesdee");

  // Bytewise (unsigned) order: 0x80 sorts after 0x7f.
  std::vector<ScrapeEntry> entries(2);
  entries[0].info_hash = core::InfoHash::from(std::string(20, '\x80'));
  entries[1].info_hash = core::InfoHash::from(std::string(20, '\x7f'));
  out.clear();
  encode_scrape(entries, out);
  auto r = bencode::decode(out);
  ASSERT_TRUE(std::holds_alternative<bencode::Value>(r));
  const auto& files = std::get<bencode::Value>(r).find("files")->as_dict();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].first, std::string(20, '\x7f'));
  EXPECT_EQ(files[1].first, std::string(20, '\x80'));
}

TEST(EncodeScrape, DuplicateHashesOnce) {
  std::vector<ScrapeEntry> entries(3);
  entries[0].info_hash = core::InfoHash::from(std::string(20, 'h'));
  entries[0].complete = 7;
  entries[1].info_hash = core::InfoHash::from(std::string(20, 'g'));
  entries[2].info_hash = core::InfoHash::from(std::string(20, 'h'));
  entries[2].complete = 8;
  std::string out;
  encode_scrape(entries, out);
  auto r = bencode::decode(out);  // strict decoder: would reject duplicate keys
  ASSERT_TRUE(std::holds_alternative<bencode::Value>(r));
  const auto& files = std::get<bencode::Value>(r).find("files")->as_dict();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].second.find("complete")->as_int(), 7);  // the first entry is kept
}

}  // namespace
}  // namespace btrt::protocol

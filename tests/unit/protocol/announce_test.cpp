#include "protocol/announce.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "protocol/percent.hpp"
#include "protocol/scrape.hpp"

// Counts heap allocations so that the tests can check that parsing allocates nothing. Every
// non-aligned form is replaced so that none pairs with a sanitizer's own operator new/delete.
namespace {
std::size_t g_allocations = 0;

void* counted_alloc(std::size_t n) noexcept {
  ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
// GCC 12 flags free() inside a replaced operator delete as a mismatch; it is not one here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace btrt::protocol {
namespace {

// A real announce as libtorrent sends it: binary ids percent-encoded byte by byte.
constexpr std::string_view kInfoHashEnc = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
constexpr std::array<std::uint8_t, 20> kInfoHash = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
                                                    0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                                                    0xef, 0x12, 0x34, 0x56, 0x78, 0x9a};
constexpr std::string_view kPeerIdEnc = "-lt0D80-%3B%8Ay%21%B6%C5%A0%9A%12%0C%F1%9A";
const std::string kPeerId = std::string("-lt0D80-") + "\x3b\x8ay!\xb6\xc5\xa0\x9a\x12\x0c\xf1\x9a";

std::string base_query() {
  return std::string("info_hash=") + std::string(kInfoHashEnc) +
         "&peer_id=" + std::string(kPeerIdEnc) + "&port=6881";
}

const char* parse(const std::string& query) {
  AnnounceRequest req;
  return parse_announce(query, req);
}

std::string failure(const std::string& query) {
  const char* err = parse(query);
  return err ? err : "(success)";
}

TEST(ParseAnnounce, LibtorrentQuery) {
  std::string q = "info_hash=" + std::string(kInfoHashEnc) + "&peer_id=" + std::string(kPeerIdEnc) +
                  "&port=6881&uploaded=0&downloaded=0&left=1234567&corrupt=0&key=1A2B3C4D"
                  "&event=started&numwant=200&compact=1&no_peer_id=1&supportcrypto=1"
                  "&redundant=0&trackerid=abc";
  AnnounceRequest req;
  ASSERT_EQ(parse_announce(q, req), nullptr);
  EXPECT_EQ(req.info_hash.bytes, kInfoHash);
  EXPECT_EQ(req.peer_id.view(), kPeerId);
  EXPECT_EQ(req.port, 6881);
  EXPECT_EQ(req.uploaded, 0u);
  EXPECT_EQ(req.downloaded, 0u);
  EXPECT_EQ(req.left, 1234567u);
  EXPECT_TRUE(req.left_present);
  EXPECT_FALSE(req.is_seeder());
  EXPECT_EQ(req.event, Event::started);
  EXPECT_TRUE(req.compact);
  EXPECT_TRUE(req.no_peer_id);
  ASSERT_TRUE(req.numwant.has_value());
  EXPECT_EQ(*req.numwant, 200u);
  EXPECT_FALSE(req.ip.has_value());
}

TEST(ParseAnnounce, Defaults) {
  AnnounceRequest req;
  req.compact = false;  // must be reset
  req.numwant = 7;
  ASSERT_EQ(parse_announce(base_query(), req), nullptr);
  EXPECT_EQ(req.port, 6881);
  EXPECT_FALSE(req.left_present);
  EXPECT_FALSE(req.is_seeder());  // a missing left counts as a leecher
  EXPECT_EQ(req.event, Event::none);
  EXPECT_TRUE(req.compact);
  EXPECT_FALSE(req.no_peer_id);
  EXPECT_FALSE(req.numwant.has_value());
  EXPECT_FALSE(req.ip.has_value());
}

TEST(ParseAnnounce, SeederAndCounters) {
  AnnounceRequest req;
  ASSERT_EQ(
      parse_announce(base_query() + "&left=0&uploaded=18446744073709551615&downloaded=007", req),
      nullptr);
  EXPECT_TRUE(req.is_seeder());
  EXPECT_EQ(req.uploaded, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(req.downloaded, 7u);
}

TEST(ParseAnnounce, Events) {
  const std::pair<const char*, Event> cases[] = {
      {"started", Event::started}, {"completed", Event::completed},
      {"stopped", Event::stopped}, {"paused", Event::paused},
      {"", Event::none},           {"%73topped", Event::stopped}};
  for (const auto& [text, event] : cases) {
    AnnounceRequest req;
    ASSERT_EQ(parse_announce(base_query() + "&event=" + text, req), nullptr) << text;
    EXPECT_EQ(req.event, event) << text;
  }
}

TEST(ParseAnnounce, CompactNoPeerIdNumwant) {
  AnnounceRequest req;
  ASSERT_EQ(parse_announce(base_query() + "&compact=0&no_peer_id=0&numwant=0", req), nullptr);
  EXPECT_FALSE(req.compact);
  EXPECT_FALSE(req.no_peer_id);
  EXPECT_EQ(req.numwant, 0u);

  ASSERT_EQ(parse_announce(base_query() + "&no_peer_id", req), nullptr);
  EXPECT_TRUE(req.no_peer_id);  // present without a value
  ASSERT_EQ(parse_announce(base_query() + "&no_peer_id=yes", req), nullptr);
  EXPECT_TRUE(req.no_peer_id);  // any value but 0
}

TEST(ParseAnnounce, NumwantAboveUint32Clamps) {
  AnnounceRequest req;
  ASSERT_EQ(parse_announce(base_query() + "&numwant=4294967295", req), nullptr);
  EXPECT_EQ(req.numwant, 4294967295u);
  ASSERT_EQ(parse_announce(base_query() + "&numwant=4294967296", req), nullptr);
  EXPECT_EQ(req.numwant, std::numeric_limits<std::uint32_t>::max());
  ASSERT_EQ(parse_announce(base_query() + "&numwant=99999999999999999999999999", req), nullptr);
  EXPECT_EQ(req.numwant, std::numeric_limits<std::uint32_t>::max());
}

TEST(ParseAnnounce, IpParameters) {
  AnnounceRequest req;
  ASSERT_EQ(parse_announce(base_query() + "&ip=10.1.2.3", req), nullptr);
  ASSERT_TRUE(req.ip.has_value());
  EXPECT_TRUE(req.ip->is_v4());
  EXPECT_EQ(req.ip->v4(), 0x0a010203u);

  ASSERT_EQ(parse_announce(base_query() + "&ipv6=2001%3Adb8%3A%3A1", req), nullptr);
  ASSERT_TRUE(req.ip.has_value());
  EXPECT_EQ(req.ip->to_string(), "2001:db8::1");

  // The last valid address wins; hostnames and junk are ignored, never a failure.
  ASSERT_EQ(parse_announce(base_query() + "&ipv4=192.0.2.1&ip=tracker.example.org&ip=%zz", req),
            nullptr);
  ASSERT_TRUE(req.ip.has_value());
  EXPECT_EQ(req.ip->to_string(), "192.0.2.1");

  ASSERT_EQ(parse_announce(base_query() + "&ip=192.0.2.1&ipv6=%5B2001%3Adb8%3A%3A2%5D", req),
            nullptr);
  EXPECT_EQ(req.ip->to_string(), "2001:db8::2");

  ASSERT_EQ(parse_announce(base_query() + "&ip=host.example", req), nullptr);
  EXPECT_FALSE(req.ip.has_value());
}

TEST(ParseAnnounce, EscapedValuesMeanWhatTheirPlainFormsMean) {
  // Plain digits, "1" and dotted quads are read without decoding; their escaped forms are
  // decoded first and must come out the same.
  AnnounceRequest plain;
  ASSERT_EQ(
      parse_announce(base_query() + "&uploaded=12&left=0&numwant=50&compact=1&ip=10.1.2.3", plain),
      nullptr);
  AnnounceRequest escaped;
  ASSERT_EQ(parse_announce(base_query() + "&uploaded=%31%32&left=%30&numwant=5%30&compact=%31"
                                          "&ip=10%2E1.2.3",
                           escaped),
            nullptr);
  EXPECT_EQ(escaped.uploaded, plain.uploaded);
  EXPECT_EQ(escaped.uploaded, 12u);
  EXPECT_TRUE(escaped.is_seeder());
  EXPECT_EQ(escaped.numwant, plain.numwant);
  EXPECT_TRUE(escaped.compact);
  ASSERT_TRUE(escaped.ip && plain.ip);
  EXPECT_EQ(*escaped.ip, *plain.ip);
  // 19 digits are read as they stand, 20 with the overflow check.
  ASSERT_EQ(parse_announce(base_query() + "&downloaded=9999999999999999999", plain), nullptr);
  EXPECT_EQ(plain.downloaded, 9999999999999999999u);
  ASSERT_EQ(parse_announce(base_query() + "&downloaded=00000000000000000001", plain), nullptr);
  EXPECT_EQ(plain.downloaded, 1u);
}

TEST(ParseAnnounce, DuplicatesLastWins) {
  AnnounceRequest req;
  std::string other_hash(20, 'A');
  ASSERT_EQ(parse_announce(base_query() + "&port=1&left=5&left=0&event=started&event=stopped" +
                               "&info_hash=" + other_hash,
                           req),
            nullptr);
  EXPECT_EQ(req.port, 1);
  EXPECT_EQ(req.left, 0u);
  EXPECT_EQ(req.event, Event::stopped);
  EXPECT_EQ(req.info_hash.view(), other_hash);
  // Only the last occurrence is validated.
  EXPECT_EQ(parse("port=0&" + base_query()), nullptr);
  EXPECT_STREQ(parse(base_query() + "&port=0"), "invalid port");
}

TEST(ParseAnnounce, EncodedKeysAndIgnoredParameters) {
  AnnounceRequest req;
  std::string q = "info%5Fhash=" + std::string(kInfoHashEnc) +
                  "&peer%5fid=" + std::string(kPeerIdEnc) +
                  "&%70ort=80&key=%zz&trackerid=&unknown=%&&&";
  ASSERT_EQ(parse_announce(q, req), nullptr);
  EXPECT_EQ(req.port, 80);
  EXPECT_EQ(req.info_hash.bytes, kInfoHash);
}

TEST(ParseAnnounce, RawBinaryIdBytesAreAccepted) {
  // Bytes that need no escaping may appear literally; '+' is a space.
  AnnounceRequest req;
  ASSERT_EQ(
      parse_announce("info_hash=abcdefghij+lmnopqrst&peer_id=01234567890123456789&port=1", req),
      nullptr);
  EXPECT_EQ(req.info_hash.view(), "abcdefghij lmnopqrst");
}

TEST(ParseAnnounce, FailureReasons) {
  const std::string ih = "info_hash=" + std::string(kInfoHashEnc);
  const std::string pid = "&peer_id=" + std::string(kPeerIdEnc);
  const std::string base = base_query();

  EXPECT_EQ(failure(""), "missing info_hash");
  EXPECT_EQ(failure("peer_id=" + std::string(kPeerIdEnc) + "&port=1"), "missing info_hash");
  EXPECT_EQ(failure("info_hash=abc" + pid + "&port=1"), "invalid info_hash: must be 20 bytes");
  EXPECT_EQ(failure("info_hash=" + std::string(21, 'a') + pid + "&port=1"),
            "invalid info_hash: must be 20 bytes");
  EXPECT_EQ(failure("info_hash=" + pid + "&port=1"), "invalid info_hash: must be 20 bytes");
  EXPECT_EQ(failure("info_hash=%zz" + std::string(18, 'a') + pid + "&port=1"),
            "malformed percent-encoding in info_hash");
  EXPECT_EQ(failure("info_hash=" + std::string(19, 'a') + "%4" + pid + "&port=1"),
            "malformed percent-encoding in info_hash");
  EXPECT_EQ(failure(ih + "&port=1"), "missing peer_id");
  EXPECT_EQ(failure(ih + "&peer_id=short&port=1"), "invalid peer_id: must be 20 bytes");
  EXPECT_EQ(failure(ih + "&peer_id=" + std::string(19, 'x') + "%&port=1"),
            "malformed percent-encoding in peer_id");
  EXPECT_EQ(failure(ih + pid), "missing port");
  for (const char* bad : {"0", "65536", "-1", "+1", " 1", "1 ", "", "abc", "6881x", "1e3",
                          "99999999999999999999999"}) {
    EXPECT_EQ(failure(ih + pid + "&port=" + bad), "invalid port") << bad;
  }
  EXPECT_EQ(failure(ih + pid + "&port=%36881"), "(success)");
  EXPECT_EQ(failure(ih + pid + "&port=%3"), "malformed percent-encoding in port");
  EXPECT_EQ(failure(ih + pid + "&port=65535"), "(success)");

  for (const char* bad : {"-1", "+5", " 5", "5 ", "", "1.5", "0x10", "18446744073709551616"}) {
    EXPECT_EQ(failure(base + "&left=" + bad), "invalid left") << bad;
    EXPECT_EQ(failure(base + "&uploaded=" + bad), "invalid uploaded") << bad;
    EXPECT_EQ(failure(base + "&downloaded=" + bad), "invalid downloaded") << bad;
  }
  EXPECT_EQ(failure(base + "&left=%G0"), "malformed percent-encoding in left");
  EXPECT_EQ(failure(base + "&uploaded=%"), "malformed percent-encoding in uploaded");
  EXPECT_EQ(failure(base + "&downloaded=1%"), "malformed percent-encoding in downloaded");
  EXPECT_EQ(failure(base + "&left=" + std::string(200, '0')), "invalid left");

  for (const char* bad : {"start", "STARTED", "started ", "none", "stopped+"}) {
    EXPECT_EQ(failure(base + "&event=" + bad), "invalid event") << bad;
  }
  EXPECT_EQ(failure(base + "&event=%zz"), "malformed percent-encoding in event");

  for (const char* bad : {"2", "", "true", "01", "-1"}) {
    EXPECT_EQ(failure(base + "&compact=" + bad), "invalid compact") << bad;
  }
  EXPECT_EQ(failure(base + "&compact=%"), "malformed percent-encoding in compact");

  for (const char* bad : {"-1", "", "ten", "+5", "5 "}) {
    EXPECT_EQ(failure(base + "&numwant=" + bad), "invalid numwant") << bad;
  }
  EXPECT_EQ(failure(base + "&numwant=%2"), "malformed percent-encoding in numwant");
}

TEST(ParseAnnounce, RequiredParametersCheckedInOrder) {
  // With several problems the first in (info_hash, peer_id, port, ...) order is reported.
  EXPECT_EQ(failure("port=0&left=-1"), "missing info_hash");
  EXPECT_EQ(failure("info_hash=x&port=0"), "invalid info_hash: must be 20 bytes");
  EXPECT_EQ(failure(base_query() + "&port=0&left=-1"), "invalid port");
}

TEST(ParseAnnounce, DoesNotAllocate) {
  std::string q = "info_hash=" + std::string(kInfoHashEnc) + "&peer_id=" + std::string(kPeerIdEnc) +
                  "&port=6881&uploaded=10&downloaded=20&left=30&event=completed&compact=0"
                  "&no_peer_id=1&numwant=50&ip=10.0.0.1&ipv6=2001%3Adb8%3A%3A1&key=xyz"
                  "&info%5Fhash=" +
                  std::string(kInfoHashEnc) + "&extra=" + std::string(500, 'q');
  AnnounceRequest req;
  std::size_t before = g_allocations;
  const char* err = parse_announce(q, req);
  std::size_t after = g_allocations;
  ASSERT_EQ(err, nullptr);
  EXPECT_EQ(after - before, 0u);
  // The counter does see allocations made by the library (so the check above is not vacuous).
  std::string decoded;
  before = g_allocations;
  ASSERT_TRUE(percent_decode(q, decoded));
  EXPECT_GT(g_allocations, before);
  EXPECT_EQ(req.event, Event::completed);
  EXPECT_EQ(req.numwant, 50u);
  EXPECT_EQ(req.ip->to_string(), "2001:db8::1");
}

TEST(ParseAnnounce, ParsesWhatPercentEncodeProduces) {
  std::array<std::uint8_t, 20> hash{};
  for (std::size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<std::uint8_t>(i * 13 + 200);
  std::string q = "info_hash=";
  percent_encode(hash, q);
  q += "&peer_id=";
  percent_encode(std::string_view("ABCDEFGHIJ0123456789"), q);
  q += "&port=443";
  AnnounceRequest req;
  ASSERT_EQ(parse_announce(q, req), nullptr);
  EXPECT_EQ(req.info_hash.bytes, hash);
}

// --- scrape ---

std::string hash_param(char fill) {
  return "info_hash=" + std::string(20, fill);
}

TEST(ParseScrape, SeveralHashesInOrderDuplicatesOnce) {
  std::vector<core::InfoHash> out;
  std::string q = hash_param('b') + "&" + "info_hash=" + std::string(kInfoHashEnc) + "&" +
                  hash_param('a') + "&" + hash_param('b') + "&passkey=zz";
  ASSERT_EQ(parse_scrape(q, 10, out), nullptr);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].view(), std::string(20, 'b'));
  EXPECT_EQ(out[1].bytes, kInfoHash);
  EXPECT_EQ(out[2].view(), std::string(20, 'a'));
}

TEST(ParseScrape, NoHashesIsSuccessAndClearsOutput) {
  std::vector<core::InfoHash> out(3);
  EXPECT_EQ(parse_scrape("", 10, out), nullptr);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(parse_scrape("other=1&x", 10, out), nullptr);
  EXPECT_TRUE(out.empty());
}

TEST(ParseScrape, Limit) {
  std::vector<core::InfoHash> out;
  std::string q = hash_param('a') + "&" + hash_param('b') + "&" + hash_param('c');
  EXPECT_EQ(parse_scrape(q, 3, out), nullptr);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_STREQ(parse_scrape(q, 2, out), "too many info_hash parameters");
  EXPECT_STREQ(parse_scrape(q, 0, out), "too many info_hash parameters");
  // Duplicates do not count against the limit.
  EXPECT_EQ(parse_scrape(q + "&" + hash_param('a') + "&" + hash_param('c'), 3, out), nullptr);
  EXPECT_EQ(out.size(), 3u);
}

TEST(ParseScrape, BadHashes) {
  std::vector<core::InfoHash> out;
  EXPECT_STREQ(parse_scrape(hash_param('a') + "&info_hash=short", 10, out),
               "invalid info_hash: must be 20 bytes");
  EXPECT_STREQ(parse_scrape("info_hash=" + std::string(21, 'a'), 10, out),
               "invalid info_hash: must be 20 bytes");
  EXPECT_STREQ(parse_scrape("info_hash=", 10, out), "invalid info_hash: must be 20 bytes");
  EXPECT_STREQ(parse_scrape("info_hash=%zz" + std::string(18, 'a'), 10, out),
               "malformed percent-encoding in info_hash");
}

}  // namespace
}  // namespace btrt::protocol

#include "protocol/percent.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace btrt::protocol {
namespace {

std::string decode(std::string_view in) {
  std::string out;
  EXPECT_TRUE(percent_decode(in, out)) << in;
  return out;
}

bool decodes(std::string_view in) {
  std::string out;
  return percent_decode(in, out);
}

TEST(PercentDecode, PlainBytesPassThrough) {
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(decode("a=b/c?d"), "a=b/c?d");
}

TEST(PercentDecode, HexEitherCase) {
  EXPECT_EQ(decode("%41%42"), "AB");
  EXPECT_EQ(decode("%ff%FF%fF%Ff"), std::string(4, '\xff'));
  EXPECT_EQ(decode("%aB%Cd"), "\xab\xcd");
  EXPECT_EQ(decode("%00"), std::string(1, '\0'));
  EXPECT_EQ(decode("x%20y"), "x y");
}

TEST(PercentDecode, PlusIsSpaceButEncodedPlusIsPlus) {
  EXPECT_EQ(decode("a+b"), "a b");
  EXPECT_EQ(decode("++"), "  ");
  EXPECT_EQ(decode("a%2Bb"), "a+b");
  EXPECT_EQ(decode("%2b"), "+");
}

TEST(PercentDecode, MalformedEscapesRejectWholeInput) {
  EXPECT_FALSE(decodes("%zz"));
  EXPECT_FALSE(decodes("%"));
  EXPECT_FALSE(decodes("abc%"));
  EXPECT_FALSE(decodes("%4"));
  EXPECT_FALSE(decodes("abc%4"));
  EXPECT_FALSE(decodes("%4g"));
  EXPECT_FALSE(decodes("%g4"));
  EXPECT_FALSE(decodes("%%41"));
  EXPECT_FALSE(decodes("ok%41then%zzbad"));
  EXPECT_FALSE(decodes("% 1"));
}

TEST(PercentDecode, AppendsToExistingOutput) {
  std::string out = "prefix:";
  ASSERT_TRUE(percent_decode("%41b", out));
  EXPECT_EQ(out, "prefix:Ab");
}

TEST(PercentDecodeTo, DecodesIntoBuffer) {
  std::array<std::uint8_t, 8> buf{};
  EXPECT_EQ(percent_decode_to("%01%FE+z", buf), 4);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[1], 0xfe);
  EXPECT_EQ(buf[2], ' ');
  EXPECT_EQ(buf[3], 'z');
  EXPECT_EQ(percent_decode_to("", buf), 0);
}

TEST(PercentDecodeTo, ExactFitAndOverflow) {
  std::array<std::uint8_t, 3> buf{};
  EXPECT_EQ(percent_decode_to("abc", buf), 3);
  EXPECT_EQ(percent_decode_to("%61%62%63", buf), 3);
  EXPECT_EQ(percent_decode_to("abcd", buf), -1);
  EXPECT_EQ(percent_decode_to("%61%62%63%64", buf), -1);
  std::array<std::uint8_t, 4> guard{0xAA, 0xAA, 0xAA, 0xAA};
  // Writes stop at the span's end: the byte after it is untouched.
  EXPECT_EQ(percent_decode_to("abcdef", std::span(guard).first(3)), -1);
  EXPECT_EQ(guard[3], 0xAA);
  EXPECT_EQ(percent_decode_to("x", std::span<std::uint8_t>{}), -1);
  EXPECT_EQ(percent_decode_to("", std::span<std::uint8_t>{}), 0);
}

TEST(PercentDecodeTo, MalformedIsMinusOne) {
  std::array<std::uint8_t, 32> buf{};
  EXPECT_EQ(percent_decode_to("%zz", buf), -1);
  EXPECT_EQ(percent_decode_to("ab%", buf), -1);
  EXPECT_EQ(percent_decode_to("%4", buf), -1);
  EXPECT_EQ(percent_decode_to("%41%4", buf), -1);
}

TEST(PercentDecodeTo, AgreesWithPercentDecode) {
  const std::vector<std::string> inputs = {
      "", "a", "%41", "+", "%2B", "%zz", "%", "%4", "hello+world%21", "%ff%00%80", "abc%e2%82%ac"};
  for (const auto& in : inputs) {
    std::string s;
    bool ok = percent_decode(in, s);
    std::array<std::uint8_t, 64> buf{};
    auto n = percent_decode_to(in, buf);
    if (!ok) {
      EXPECT_EQ(n, -1) << in;
      continue;
    }
    ASSERT_EQ(n, static_cast<std::ptrdiff_t>(s.size())) << in;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), s.size()), s) << in;
  }
}

TEST(PercentDecodeInto, CountsPastTheBufferWithoutWritingThere) {
  std::array<std::uint8_t, 4> guard{0xAA, 0xAA, 0xAA, 0xAA};
  EXPECT_EQ(percent_decode_into("%61bcdef", std::span(guard).first(3)), 6);
  EXPECT_EQ(guard[0], 'a');
  EXPECT_EQ(guard[2], 'c');
  EXPECT_EQ(guard[3], 0xAA);
  EXPECT_EQ(percent_decode_into("abc", std::span<std::uint8_t>{}), 3);
}

TEST(PercentDecodeInto, MalformedAnywhereIsMinusOneEvenPastTheBuffer) {
  std::array<std::uint8_t, 2> buf{};
  EXPECT_EQ(percent_decode_into("abcdef%zz", buf), -1);
  EXPECT_EQ(percent_decode_into("ab%4", buf), -1);
  EXPECT_EQ(percent_decode_into("%g1", buf), -1);
  EXPECT_EQ(percent_decode_into("%1g", buf), -1);
}

TEST(PercentEscaped, OnlyPercentOrPlusCount) {
  EXPECT_FALSE(percent_escaped("info_hash"));
  EXPECT_FALSE(percent_escaped(""));
  EXPECT_TRUE(percent_escaped("info%5Fhash"));
  EXPECT_TRUE(percent_escaped("a+b"));
}

// Whole words and the tail alike, among the bytes next to '%' and '+' and their high-bit twins.
TEST(PercentEscaped, FindsAnEscapeAtEveryPositionAndNothingElse) {
  const std::string neighbours(
      "\x24\x26\x2a\x2c\xa5\xab\x00\xff\x01\x80"
      "a",
      11);
  for (std::size_t size = 0; size <= 24; ++size) {
    std::string plain(size, 'x');
    for (std::size_t i = 0; i < size; ++i)
      plain[i] = neighbours[(i * 7 + size) % neighbours.size()];
    EXPECT_FALSE(percent_escaped(plain)) << size;
    for (std::size_t at = 0; at < size; ++at) {
      for (const char escape : {'%', '+'}) {
        std::string escaped = plain;
        escaped[at] = escape;
        EXPECT_TRUE(percent_escaped(escaped)) << size << " " << at << " " << escape;
      }
    }
  }
}

TEST(PercentEncode, UnreservedKeptEverythingElseEscapedUppercase) {
  std::string out;
  percent_encode(std::string_view("AZaz09-._~"), out);
  EXPECT_EQ(out, "AZaz09-._~");
  out.clear();
  percent_encode(std::string_view(" +/%&=\x01\xff", 8), out);
  EXPECT_EQ(out, "%20%2B%2F%25%26%3D%01%FF");
}

TEST(PercentEncode, AppendsAndRoundTripsAllBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string encoded = "x=";
  percent_encode(all, encoded);
  EXPECT_EQ(encoded.substr(0, 2), "x=");
  std::string decoded;
  ASSERT_TRUE(percent_decode(std::string_view(encoded).substr(2), decoded));
  EXPECT_EQ(decoded, all);
}

TEST(ForEachParam, SplitsKeysAndValues) {
  std::vector<std::pair<std::string, std::string>> got;
  for_each_param("a=1&&b&c=&=d&e=x=y&",
                 [&](std::string_view k, std::string_view v) { got.emplace_back(k, v); });
  std::vector<std::pair<std::string, std::string>> want = {
      {"a", "1"}, {"b", ""}, {"c", ""}, {"", "d"}, {"e", "x=y"}};
  EXPECT_EQ(got, want);
}

// The word-at-a-time scan against the obvious splitter, on inputs that put delimiters at
// every offset of a word, next to bytes that differ from them only in the top bit.
TEST(ForEachParam, AgreesWithASplitterByteByByte) {
  const auto reference = [](std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      out.emplace_back(pair.substr(0, eq),
                       eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    }
    return out;
  };
  const std::string alphabet = "a&=%\xa6\xbd\x80\x7f";
  std::uint64_t state = 12345;
  for (int round = 0; round < 20000; ++round) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string query;
    for (std::size_t i = 0, n = (state >> 33) % 40; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      query += alphabet[(state >> 40) % alphabet.size()];
    }
    std::vector<std::pair<std::string, std::string>> got;
    for_each_param(query, [&](std::string_view k, std::string_view v) { got.emplace_back(k, v); });
    ASSERT_EQ(got, reference(query)) << query;
  }
}

}  // namespace
}  // namespace btrt::protocol

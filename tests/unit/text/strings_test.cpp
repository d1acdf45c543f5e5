#include "text/strings.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <clocale>

namespace btrt::text {
namespace {

TEST(Trim, RemovesEveryAsciiSpaceAtBothEnds) {
  EXPECT_EQ(trim("  a b \t"), "a b");
  EXPECT_EQ(trim("\r\n\v\fvalue\f\v\n\r"), "value");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  // Only ASCII white space: a NUL or a non-breaking space (UTF-8 C2 A0) is content.
  EXPECT_EQ(trim(std::string_view(" \0 ", 3)), std::string_view("\0", 1));
  EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x");
}

TEST(Lower, FoldsAsciiLettersOnly) {
  EXPECT_EQ(lower("Retracker.LOCAL:80"), "retracker.local:80");
  EXPECT_EQ(lower("\xc3\x84"), "\xc3\x84");  // UTF-8 'A' with umlaut stays as it is
  EXPECT_EQ(lower(""), "");
}

TEST(Iequals, IgnoresAsciiCaseOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("btrt", "btrt "));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_FALSE(iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit but are not letters
  EXPECT_FALSE(iequals("[", "{"));
}

TEST(Iequals, DoesNotDependOnTheLocale) {
  // Whatever locale the process runs in, "INFO" and "info" stay equal.
  const char* set = std::setlocale(LC_CTYPE, "tr_TR.UTF-8");
  EXPECT_TRUE(iequals("INFO", "info"));
  EXPECT_EQ(lower("INFO"), "info");
  if (set) std::setlocale(LC_CTYPE, "C");
}

TEST(StartsWithCi, ComparesThePrefixIgnoringCase) {
  EXPECT_TRUE(starts_with_ci("HTTP://x", "http://"));
  EXPECT_TRUE(starts_with_ci("http://", "http://"));
  EXPECT_FALSE(starts_with_ci("http:/", "http://"));
  EXPECT_FALSE(starts_with_ci("https://x", "http://"));
  EXPECT_TRUE(starts_with_ci("anything", ""));
}

TEST(HexValue, DigitsOfEitherCaseAndNothingElse) {
  const std::string digits = "0123456789abcdef";
  for (int c = 0; c < 256; ++c) {
    const auto ch = static_cast<char>(c);
    const auto lower_at = digits.find(to_lower(ch));
    const int expected = lower_at == std::string::npos ? -1 : static_cast<int>(lower_at);
    EXPECT_EQ(hex_value(ch), expected) << c;
  }
}

// Every byte value at every position of a word, among fillers at the edge of each test.
TEST(WordTests, ZeroByteAndByteBelowAreExact) {
  for (const int filler : {0x01, 0x21, 0x7f, 0x80, 0xff}) {
    for (int position = 0; position < 8; ++position) {
      for (int byte = 0; byte < 256; ++byte) {
        std::uint64_t word = repeated(static_cast<unsigned char>(filler));
        const int shift = position * 8;
        word = (word & ~(std::uint64_t{0xff} << shift)) | (std::uint64_t(byte) << shift);
        EXPECT_EQ(has_zero_byte(word), byte == 0) << position << " " << byte;
        EXPECT_EQ(has_byte_below(word, 0x21), byte < 0x21 || filler < 0x21)
            << int(filler) << " " << position << " " << byte;
      }
    }
  }
  // The bytes as they lie in memory.
  EXPECT_EQ(load_word("\x01\x02\x03\x04\x05\x06\x07\x08"),
            std::endian::native == std::endian::little ? 0x0807060504030201u : 0x0102030405060708u);
}

}  // namespace
}  // namespace btrt::text

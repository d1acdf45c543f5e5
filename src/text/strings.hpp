#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Small string helpers shared by every layer. Pure: no locale, no allocation except `lower`.
// ASCII only on purpose: protocol text, header names, URL schemes and configuration words are
// ASCII, and <cctype> would follow the process locale (a Turkish locale lowers 'I' to a
// dotless i, so "INFO" would stop matching "info").
namespace btrt::text {

// Space, tab, CR, LF, vertical tab, form feed: what <cctype>'s isspace means in the C locale.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// A decimal digit's value, or more than 9 for any other byte.
constexpr unsigned digit_value(char c) {
  return static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'};
}

constexpr bool is_digit(char c) {
  return digit_value(c) <= 9;
}

constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

namespace detail {
constexpr std::array<std::int8_t, 256> kHexValue = [] {
  std::array<std::int8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] =
        static_cast<std::int8_t>(c >= '0' && c <= '9'   ? c - '0'
                                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                        : -1);
  }
  return table;
}();
}  // namespace detail

// The value of a hex digit (either case), or -1: one table load, for the request path's
// percent-decoding as for stored ids.
constexpr int hex_value(char c) {
  return detail::kHexValue[static_cast<unsigned char>(c)];
}

// Eight bytes at a time, for scans of request text: the bytes at `p` as one word, a word of
// one byte repeated, and the classic tests of a word for a zero byte and for a byte below
// `n` (n <= 128). Exact as yes/no answers (they do not say which byte).
inline std::uint64_t load_word(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}
constexpr std::uint64_t repeated(unsigned char byte) {
  return 0x0101010101010101u * byte;
}
constexpr bool has_byte_below(std::uint64_t x, unsigned char n) {
  return ((x - repeated(n)) & ~x & repeated(0x80)) != 0;
}
constexpr bool has_zero_byte(std::uint64_t x) {
  return has_byte_below(x, 1);
}
// 0x80 in each byte of x equal to `byte`, 0 elsewhere: exact per byte (no carry crosses a
// byte), so the lowest set bit finds the first match.
constexpr std::uint64_t bytes_equal(std::uint64_t x, unsigned char byte) {
  const std::uint64_t v = x ^ repeated(byte);
  return ~(((v & repeated(0x7f)) + repeated(0x7f)) | v | repeated(0x7f));
}
// The bytes at p[0..n), n < 8, as the low bytes of a word (the rest zero).
inline std::uint64_t load_partial_word(const char* p, std::size_t n) {
  std::uint64_t word = 0;
  std::memcpy(&word, p, n);
  return word;
}

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Without leading and trailing is_space characters.
std::string_view trim(std::string_view s);

std::string lower(std::string_view s);

// Equal but for the case of ASCII letters. Inline: the request path compares header names
// and list items with it, mostly against literals whose length the compiler then knows.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // the usual case, compared a word at a time
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix);

}  // namespace btrt::text

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "text/strings.hpp"

namespace btrt::protocol {

// Strict application/x-www-form-urlencoded decoding: %XX (hex, either case) is a byte,
// '+' is a space, every other byte stands for itself. A '%' not followed by two hex
// digits (e.g. "%zz", a trailing "%" or "%4") makes the whole input invalid.

// True when the input holds an escape ('%' or '+'), i.e. decoding would change it.
// Eight bytes at a time (find_first_of would call memchr over the set once per byte): the
// values of an announce are looked at once each, most without an escape.
inline bool percent_escaped(std::string_view in) {
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    const std::uint64_t x = text::load_word(in.data() + i);
    if (text::has_zero_byte(x ^ text::repeated('%')) ||
        text::has_zero_byte(x ^ text::repeated('+'))) {
      return true;
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] == '%' || in[i] == '+') return true;
  }
  return false;
}

// Appends the decoded bytes to `out`; false if malformed (out is then unspecified).
bool percent_decode(std::string_view in, std::string& out);

// Decodes into a fixed buffer without allocating, in one pass that also checks the whole
// input. Returns the decoded length, which may exceed out.size() (only the first out.size()
// bytes are written), or -1 when the input is malformed: the caller tells "malformed" from
// "too long" without decoding twice.
std::ptrdiff_t percent_decode_into(std::string_view in, std::span<std::uint8_t> out);

// As percent_decode_into, but -1 also when the input decodes to more than out.size() bytes.
inline std::ptrdiff_t percent_decode_to(std::string_view in, std::span<std::uint8_t> out) {
  const auto n = percent_decode_into(in, out);
  return n > static_cast<std::ptrdiff_t>(out.size()) ? -1 : n;
}

// Percent-encodes every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~).
void percent_encode(std::span<const std::uint8_t> in, std::string& out);
inline void percent_encode(std::string_view in, std::string& out) {
  percent_encode({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, out);
}

// Calls f(key, raw_value) for each '&'-separated parameter of a query string, in order,
// without decoding. A parameter without '=' has an empty value; empty segments are skipped.
template <typename F>
void for_each_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      f(pair, std::string_view{});
    } else {
      f(pair.substr(0, eq), pair.substr(eq + 1));
    }
  }
}

}  // namespace btrt::protocol

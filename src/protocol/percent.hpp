#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "text/strings.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
// One pass finds every '&' and '=', 16 bytes at a time where SSE2 is there (8 elsewhere and
// for the tail): a query is most of a request, and a search per delimiter (two per
// parameter) cost more than the pass.
template <typename F>
void for_each_param(std::string_view query, F&& f) {
  static_assert(std::endian::native == std::endian::little, "byte order of the word scan");
  const char* const data = query.data();
  const std::size_t size = query.size();
  std::size_t start = 0;                        // of the parameter being read
  std::size_t equals = std::string_view::npos;  // its first '=', if any
  const auto finish = [&](std::size_t end) {
    if (end == start) return;
    if (equals == std::string_view::npos) {
      f(std::string_view(data + start, end - start), std::string_view{});
    } else {
      f(std::string_view(data + start, equals - start),
        std::string_view(data + equals + 1, end - equals - 1));
    }
  };
  const auto delimiter = [&](std::size_t at) {
    if (data[at] == '&') {
      finish(at);
      start = at + 1;
      equals = std::string_view::npos;
    } else if (equals == std::string_view::npos) {
      equals = at;
    }
  };
  std::size_t base = 0;
#if defined(__SSE2__)
  for (; size - base >= 16; base += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + base));
    for (auto marks = static_cast<unsigned>(
             _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('&')),
                                            _mm_cmpeq_epi8(chunk, _mm_set1_epi8('=')))));
         marks != 0; marks &= marks - 1) {
      delimiter(base + static_cast<std::size_t>(std::countr_zero(marks)));
    }
  }
#endif
  for (; base < size; base += 8) {
    const std::uint64_t word = size - base >= 8 ? text::load_word(data + base)
                                                : text::load_partial_word(data + base, size - base);
    for (std::uint64_t marks = text::bytes_equal(word, '&') | text::bytes_equal(word, '=');
         marks != 0; marks &= marks - 1) {
      delimiter(base + static_cast<std::size_t>(std::countr_zero(marks) / 8));
    }
  }
  finish(size);
}

}  // namespace btrt::protocol

#include "protocol/http_head.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "text/strings.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace btrt::protocol {

namespace {

// RFC 9110 tchar: what a method and a header name are made of.
constexpr bool is_tchar(char c) {
  if (text::is_alpha(c) || text::is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// One load per byte: every header name of every request is checked.
constexpr auto kTchar = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[static_cast<std::size_t>(c)] = is_tchar(static_cast<char>(c));
  return table;
}();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTchar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Visible characters and obs-text; no space or control character. 16 bytes at a time with
// SSE2, else eight: the target is most of an announce's head, and a byte loop was most of
// its parsing.
bool is_target(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = 0;
#if defined(__SSE2__)
  // As signed bytes obs-text (0x80-0xff) is negative: refused are 0x00-0x20 and 0x7f.
  const __m128i below = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f), none = _mm_set1_epi8(-1);
  for (; s.size() - i >= 16; i += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i refused =
        _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(chunk, none), _mm_cmplt_epi8(chunk, below)),
                     _mm_cmpeq_epi8(chunk, del));
    if (_mm_movemask_epi8(refused) != 0) return false;
  }
#endif
  for (; i + 8 <= s.size(); i += 8) {
    const std::uint64_t x = text::load_word(s.data() + i);
    if (text::has_byte_below(x, 0x21) || text::has_zero_byte(x ^ text::repeated(0x7f))) {
      return false;
    }
  }
  for (; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

// Field content: visible characters, obs-text, space and tab.
bool is_field_value(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_request_line(std::string_view line, HttpHead& head) {
  const auto first = line.find(' ');
  if (first == std::string_view::npos) return false;
  const auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  head.method = line.substr(0, first);
  head.target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(head.method) || !is_target(head.target)) return false;
  if (version == "HTTP/1.1") {
    head.version = 11;
  } else if (version == "HTTP/1.0") {
    head.version = 10;
  } else {
    return false;
  }
  return true;
}

// A comma-separated list holds `token` (case-insensitive).
bool list_has(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (text::iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Content-Length: digits only, no sign, no list; a repeated one must agree.
bool parse_content_length(std::string_view value, bool& seen, std::uint64_t& length) {
  if (value.empty() || value.size() > 18) return false;
  std::uint64_t n = 0;
  for (char c : value) {
    if (!text::is_digit(c)) return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (seen && n != length) return false;
  seen = true;
  length = n;
  return true;
}

void keep_first(std::string_view& field, std::string_view value, bool& seen) {
  if (seen) return;
  seen = true;
  field = value;
}

bool parse_fields(std::string_view fields, HttpHead& head) {
  bool host = false, xff = false, xri = false, via = false, agent = false;
  bool length_seen = false;
  std::uint64_t length = 0;
  bool chunked_or_other = false;
  while (!fields.empty()) {
    const auto end = fields.find("\r\n");
    const std::string_view line = fields.substr(0, end);
    fields.remove_prefix(end == std::string_view::npos ? fields.size() : end + 2);
    // A line starting with white space continues the previous one (obs-fold): refused, as
    // RFC 9112 allows, rather than unfolded.
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return false;  // also no white space before the colon
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return false;
    switch (name.size()) {
      case 3:
        if (text::iequals(name, "Via")) keep_first(head.via, value, via);
        break;
      case 4:
        if (text::iequals(name, "Host")) keep_first(head.host, value, host);
        break;
      case 9:
        if (text::iequals(name, "X-Real-IP")) keep_first(head.x_real_ip, value, xri);
        break;
      case 10:
        if (text::iequals(name, "User-Agent")) {
          keep_first(head.user_agent, value, agent);
        } else if (text::iequals(name, "Connection")) {
          // Every Connection header counts: "close" in any of them closes.
          if (list_has(value, "close")) head.keep_alive = false;
        }
        break;
      case 14:
        if (text::iequals(name, "Content-Length") &&
            !parse_content_length(value, length_seen, length)) {
          return false;
        }
        break;
      case 15:
        if (text::iequals(name, "X-Forwarded-For")) keep_first(head.x_forwarded_for, value, xff);
        break;
      case 17:
        if (text::iequals(name, "Transfer-Encoding")) chunked_or_other = true;
        break;
      default:
        break;
    }
  }
  head.has_body = chunked_or_other || length > 0;
  return true;
}

}  // namespace

HeadResult parse_http_head(std::string_view input, std::size_t limit, std::size_t& scanned,
                           HttpHead& head) {
  const std::string_view window = input.substr(0, std::min(input.size(), limit));
  const auto lf = window.find('\n');
  if (lf == std::string_view::npos) {
    return input.size() >= limit ? HeadResult::line_too_long : HeadResult::need_more;
  }
  if (lf == 0 || window[lf - 1] != '\r') return HeadResult::malformed;  // a bare LF
  const std::size_t line_end = lf - 1;
  head = HttpHead{};
  // The request line is judged as soon as it is whole: a client that sent a bad one hears
  // so without sending the rest.
  if (!parse_request_line(window.substr(0, line_end), head)) return HeadResult::malformed;
  // The head ends with an empty line: the CRLF closing the request line or the last field,
  // then CRLF. Searching resumes a little before where the last call stopped, since the
  // four bytes may have arrived split.
  const std::size_t from = std::max(line_end, scanned >= 3 ? scanned - 3 : 0);
  const auto end = window.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    // A bare LF in what came since: malformed now, not after the rest has come.
    for (auto lf_at = window.find('\n', std::max(lf + 1, scanned)); lf_at != std::string_view::npos;
         lf_at = window.find('\n', lf_at + 1)) {
      if (window[lf_at - 1] != '\r') return HeadResult::malformed;
    }
    scanned = window.size();
    return input.size() >= limit ? HeadResult::head_too_large : HeadResult::need_more;
  }
  head.size = end + 4;  // within the limit: the window is
  // A head of a request line only: its CRLF is the first two bytes of the end.
  if (end > line_end && !parse_fields(window.substr(line_end + 2, end - line_end), head)) {
    return HeadResult::malformed;
  }
  if (head.version < 11) head.keep_alive = false;
  return HeadResult::complete;
}

}  // namespace btrt::protocol

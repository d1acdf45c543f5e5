#pragma once

#include <cstddef>
#include <string_view>

namespace btrt::protocol {

// The head of one HTTP/1.x request, as far as the tracker reads it. Views point into the
// parsed input. A repeated header keeps its first value.
struct HttpHead {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  std::string_view host;
  std::string_view x_forwarded_for;
  std::string_view x_real_ip;
  std::string_view via;
  std::string_view user_agent;
  bool keep_alive = true;  // HTTP/1.1 without "Connection: close"; HTTP/1.0 never
  bool has_body = false;   // a Content-Length above 0, or any Transfer-Encoding
  std::size_t size = 0;    // bytes of the head, the final empty line included
};

enum class HeadResult {
  complete,        // `head` is filled
  need_more,       // no complete head yet, and still room for it
  malformed,       // 400
  line_too_long,   // the request line does not end within the limit: 414
  head_too_large,  // the head does not end within the limit: 431
};

// Parses a request head at the start of `input` (line ends CRLF only; no obs-fold; versions
// 1.0 and 1.1). The head may take at most `limit` bytes. `scanned` carries, between calls on
// the same growing input, how far the search for the head's end has got, so that input
// arriving in small pieces is not searched again from its start; 0 for a new request.
HeadResult parse_http_head(std::string_view input, std::size_t limit, std::size_t& scanned,
                           HttpHead& head);

}  // namespace btrt::protocol

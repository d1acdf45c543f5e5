// The request head parser on any input, whole and fed in pieces: never reads past its input,
// gives the same answer either way, and a complete head's views lie inside the head.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/http_head.hpp"

using btrt::protocol::HeadResult;
using btrt::protocol::HttpHead;

namespace {

bool inside(std::string_view part, std::string_view whole, std::size_t size) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the limit and the size of the pieces.
  const std::size_t limit = 16 + data[0] * 4;
  const std::size_t step = 1 + (data[0] % 7);
  // A heap copy of exactly the input: ASan sees any read past it.
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);

  HttpHead whole;
  std::size_t scanned = 0;
  const HeadResult all = btrt::protocol::parse_http_head(input, limit, scanned, whole);

  HttpHead piecewise;
  std::size_t resumed = 0;
  HeadResult last = HeadResult::need_more;
  for (std::size_t n = 0; n < input.size() && last == HeadResult::need_more;) {
    n = std::min(input.size(), n + step);
    const std::string prefix = input.substr(0, n);
    last = btrt::protocol::parse_http_head(prefix, limit, resumed, piecewise);
  }
  if (!input.empty() && last != all) std::abort();
  if (all == HeadResult::complete) {
    if (whole.size > limit || whole.size > input.size()) std::abort();
    if (whole.version != 10 && whole.version != 11) std::abort();
    if (whole.version == 10 && whole.keep_alive) std::abort();
    for (std::string_view v : {whole.method, whole.target, whole.host, whole.x_forwarded_for,
                               whole.x_real_ip, whole.via, whole.user_agent}) {
      if (!inside(v, input, whole.size)) std::abort();
    }
    if (piecewise.size != whole.size || piecewise.target.size() != whole.target.size()) {
      std::abort();
    }
  }
  if (all == HeadResult::need_more && input.size() >= limit) std::abort();
  return 0;
}

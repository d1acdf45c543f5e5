// A CIDR file (one prefix or address per line, '#' comments) must never crash the loader;
// every error names a line of the input, and every prefix accepted has no host bits set.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<btrt::net::Cidr> prefixes;
  const auto errors = btrt::config::parse_cidr_list(text, "fuzz.conf", prefixes);
  const std::size_t lines =
      static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& e : errors) {
    if (e.message.empty() || e.line < 0 || static_cast<std::size_t>(e.line) > lines) std::abort();
  }
  if (prefixes.size() + errors.size() > lines + 1) std::abort();
  for (const auto& p : prefixes) {
    if (p.length > 128 || btrt::net::mask(p.network, p.length) != p.network) std::abort();
  }
  return 0;
}

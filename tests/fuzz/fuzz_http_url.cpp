// parse_http_url must never crash, and whatever it accepts must be sendable and stable: a host,
// a port, a target starting with '/' with no byte that could break the request line, and a
// URL rebuilt from the parts must parse back to the same parts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  btrt::http::HttpUrl url;
  if (!btrt::http::parse_http_url(in, url)) return 0;

  if (url.host.empty() || url.port == 0) std::abort();
  if (url.target.empty() || url.target.front() != '/') std::abort();
  for (char c : url.host + url.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') std::abort();
  }
  if (url.host.find_first_of("@/?[]") != std::string::npos) std::abort();
  // The target is the input's tail, byte for byte; only a bare "?query" gets a '/' in front,
  // and only a missing one becomes "/".
  const std::string_view target = url.target;
  const bool verbatim = in.ends_with(target);
  const bool slash_added = target.size() > 1 && target[1] == '?' && in.ends_with(target.substr(1));
  if (!verbatim && !slash_added && target != "/") std::abort();

  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string rebuilt = "http://" + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                              std::to_string(url.port) + url.target;
  btrt::http::HttpUrl again;
  if (!btrt::http::parse_http_url(rebuilt, again)) std::abort();
  if (again.host != url.host || again.port != url.port || again.target != url.target) {
    std::abort();
  }
  return 0;
}

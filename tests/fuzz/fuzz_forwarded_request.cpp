// The parts of a forwarded announce that come from the DPI's request (Host, Via, the origin
// URL) must never crash btrt, and an accepted origin URL must give an upstream URL that can
// go on a request line: http://, the origin unchanged, no byte that could split the request.
// Input: "host\nvia\nurl".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fields.hpp"
#include "forwarding/origin_rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace btrt;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto next = [&in] { return next_field(in); };
  const auto host = next();
  const auto via = next();
  const auto url = in;

  static const std::vector<std::string> names{"retracker.local", "localhost"};
  static const std::vector<net::Endpoint> listen{*net::Endpoint::parse("127.0.0.1:6969"),
                                                 *net::Endpoint::parse("0.0.0.0:80"),
                                                 *net::Endpoint::parse("[::1]:8080")};
  (void)forwarding::names_this_tracker(host, names, listen);
  (void)forwarding::carries_own_mark(via);

  auto origin = forwarding::split_origin_url(url);
  if (!origin) return 0;
  if (origin->origin.size() + origin->query.size() > url.size()) std::abort();
  if (!url.starts_with(origin->origin)) std::abort();
  (void)forwarding::origin_server(origin->origin);
  for (bool pass_ip : {false, true}) {
    const auto upstream =
        forwarding::upstream_url(*origin, *net::IpAddress::parse("2001:db8::7"), pass_ip);
    if (!upstream.starts_with(origin->origin)) std::abort();
    for (char c : upstream) {
      if (c == ' ' || c == '\r' || c == '\n' || c == '\0' || c == '#') std::abort();
    }
    if (pass_ip && !upstream.ends_with("ip=2001%3Adb8%3A%3A7")) std::abort();
  }
  return 0;
}

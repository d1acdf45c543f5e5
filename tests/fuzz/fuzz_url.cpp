// The string and URL helpers (src/text/) read untrusted text: request targets, Host and Via
// headers, origin URLs, configuration values. None may crash, and what each accepts must hold
// its promise:
// - trim leaves no ASCII white space at either end and only removes it;
// - lower and iequals agree, and iequals is symmetric;
// - split_url and split_host_port return parts of the input that put it back together;
// - parse_port accepts exactly the decimal numbers up to 65535;
// - parse_http_url's result is sendable (a host, a port, a target starting with '/' with no
//   byte that could break the request line) and a URL rebuilt from it parses to the same parts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "text/strings.hpp"
#include "text/url.hpp"

namespace {

using namespace btrt::text;

void check_strings(std::string_view in) {
  const std::string_view t = trim(in);
  if (!t.empty() && (is_space(t.front()) || is_space(t.back()))) std::abort();
  if (in.find(t) == std::string_view::npos) std::abort();
  const std::size_t front = static_cast<std::size_t>(t.data() - in.data());
  for (std::size_t i = 0; i < front; ++i) {
    if (!is_space(in[i])) std::abort();
  }
  for (std::size_t i = front + t.size(); i < in.size(); ++i) {
    if (!is_space(in[i])) std::abort();
  }

  const std::string low = lower(in);
  if (low.size() != in.size() || !iequals(low, in) || !iequals(in, low)) std::abort();
  const std::size_t half = in.size() / 2;
  const std::string_view a = in.substr(0, half);
  const std::string_view b = in.substr(half, half);
  if (iequals(a, b) != iequals(b, a)) std::abort();
  if (iequals(a, b) != (lower(a) == lower(b))) std::abort();
  if (starts_with_ci(in, a) != true) std::abort();
}

void check_split(std::string_view in) {
  if (auto parts = split_url(in)) {
    if (std::string(parts->scheme) + "://" + std::string(parts->authority) +
            std::string(parts->target) !=
        in) {
      std::abort();
    }
    if (parts->authority.find_first_of("/?#") != std::string_view::npos) std::abort();
    if (is_http_url(in) != iequals(parts->scheme, "http")) std::abort();
  }
  if (auto hp = split_host_port(in)) {
    std::string back = hp->bracketed ? "[" + std::string(hp->host) + "]" : std::string(hp->host);
    if (hp->port) back += ":" + std::string(*hp->port);
    if (back != in) std::abort();
    if (hp->port && !hp->bracketed && hp->host.find(':') != std::string_view::npos) std::abort();
  }
  if (auto port = parse_port(in)) {
    if (in.empty() || in.find_first_not_of("0123456789") != std::string_view::npos) std::abort();
    const std::string digits = std::to_string(*port);
    if (in.substr(in.find_first_not_of('0') == std::string_view::npos
                      ? in.size() - 1
                      : in.find_first_not_of('0')) != digits) {
      std::abort();
    }
  }
}

void check_http_url(std::string_view in) {
  auto url = parse_http_url(in);
  if (!url) return;
  if (url->host.empty() || url->port == 0) std::abort();
  if (url->target.empty() || url->target.front() != '/') std::abort();
  for (char c : url->host + url->target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') std::abort();
  }
  if (url->host.find_first_of("@/?[]") != std::string::npos) std::abort();
  // The target is the input's tail, byte for byte; only a bare "?query" gets a '/' in front,
  // and only a missing one becomes "/".
  const std::string_view target = url->target;
  const bool verbatim = in.ends_with(target);
  const bool slash_added = target.size() > 1 && target[1] == '?' && in.ends_with(target.substr(1));
  if (!verbatim && !slash_added && target != "/") std::abort();

  const bool v6 = url->host.find(':') != std::string::npos;
  const std::string rebuilt = "http://" + (v6 ? "[" + url->host + "]" : url->host) + ":" +
                              std::to_string(url->port) + url->target;
  auto again = parse_http_url(rebuilt);
  if (!again || again->host != url->host || again->port != url->port ||
      again->target != url->target) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_strings(in);
  check_split(in);
  check_http_url(in);
  return 0;
}

// The request path as far as it is ours: whatever target and headers reach the router (from
// a trusted source or not), it answers with a status and, for tracker answers, valid bencode;
// it never crashes. No forwarder is set, so forwarded shapes are answered from the store.
// Input: "flags\ntarget\nhost\nx-forwarded-for\nx-real-ip\nvia".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/swarm_store.hpp"
#include "fields.hpp"
#include "http/router.hpp"
#include "protocol/bencode.hpp"

namespace {

struct World {
  btrt::config::Config config = [] {
    btrt::config::Config c;
    c.server.listen = {*btrt::net::Endpoint::parse("127.0.0.1:6969")};
    c.tracker.full_scrape = true;
    c.tracker.max_torrents = 64;  // the fuzzer would otherwise grow the store without end
    c.tracker.max_peers_per_torrent = 16;
    return c;
  }();
  std::shared_ptr<const btrt::net::Classifier> classifier =
      std::make_shared<const btrt::net::Classifier>(
          std::vector<btrt::net::GroupSpec>{{"local", 0, {*btrt::net::Cidr::parse("10.0.0.0/8")}}});
  btrt::core::SwarmStore store{classifier, {64, 16}, 16};
  btrt::tracker::Tracker tracker{store, config};
  btrt::http::Router router{tracker, config};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto next = [&in] { return next_field(in); };
  const auto flags = next();
  btrt::http::Request request;
  request.method = "GET";
  request.target = next();
  request.host = next();
  request.x_forwarded_for = next();
  request.x_real_ip = next();
  request.via = next();
  const bool trusted = !flags.empty() && (flags[0] & 1);
  request.source = *btrt::net::IpAddress::parse(trusted ? "127.0.0.1" : "192.0.2.7");

  std::string body;
  btrt::http::Response response{200, "text/plain", body};
  world.router.handle(request, response);
  if (response.deferred) std::abort();  // nothing can defer without a forwarder
  if (response.status < 200 || response.status > 599) std::abort();
  // Tracker answers (announce, scrape, failures) decode as one bencoded dictionary.
  if (response.status == 200 && body != "ok\n") {
    auto decoded = btrt::protocol::bencode::decode(body);
    if (!std::holds_alternative<btrt::protocol::bencode::Value>(decoded)) std::abort();
  }
  return 0;
}

#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/ip_address.hpp"

namespace btrt::upstream {

// Why an upstream request produced no answer.
enum class ClientError {
  none,
  bad_url,              // not http://host[:port]/..., or an extra header that cannot be sent
  resolve_failed,       // DNS gave no address
  destination_refused,  // every resolved address was refused by the destination guard
  connect_failed,       // refused, unreachable, reset
  timeout,              // the whole request took longer than its timeout
  too_large,            // the answer's body is over max_body
  bad_response,         // not HTTP, or not a 200
  redirect,             // a 3xx: redirects are never followed
  address_busy,         // every allowed address has max_per_address requests already
};
const char* to_string(ClientError error);

struct ClientRequest {
  std::string url;  // absolute http:// URL, query included, sent byte-for-byte
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::chrono::milliseconds timeout{5000};                   // for everything, DNS included
  // Connect from this address, not one of this host's (IP_TRANSPARENT, needs CAP_NET_ADMIN):
  // interception.spoof_source. Only addresses of its family are tried; its connections are
  // kept alive for it alone.
  std::optional<net::IpAddress> source;
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

// Decides whether btrt may connect to an address: the destination guard, applied to every
// address a name resolves to (docs/dpi-integration.md, "Safety rules").
using DestinationGuard = std::function<bool(const net::IpAddress&)>;

struct ClientOptions {
  std::size_t max_body = 1 << 20;               // bytes; larger answers are dropped
  std::chrono::seconds dns_cache_ttl{60};       // resolved names are reused this long
  std::size_t max_dns_entries = 4096;           // names cached; the least recently used go first
  std::vector<net::Endpoint> dns_servers;       // empty: those of /etc/resolv.conf
  std::chrono::milliseconds dns_timeout{5000};  // one lookup, every server and try
  // Requests at once to one address (and port), connecting or connected; 0: no limit.
  std::size_t max_per_address = 0;
  std::size_t max_idle_per_origin = 4;    // kept-alive connections per host:port
  std::chrono::seconds idle_timeout{30};  // an idle kept-alive connection is closed after
  DestinationGuard guard;                 // empty: every address is allowed
  // SO_MARK on every connection (needs CAP_NET_ADMIN), so that a router's interception rules
  // can tell btrt's own packets apart and never divert them back; 0: none.
  std::uint32_t mark = 0;
};

// Asynchronous HTTP/1.1 GET client on Boost.Beast for upstream trackers and neighbours.
// Names are resolved with c-ares on the same io_context, any number at once, a request
// waiting for a name no longer than its timeout. All of its work, and every completion
// handler, runs on the io_context it was given; it is not thread-safe (use it from that
// io_context's thread only).
class Client {
 public:
  Client(boost::asio::io_context& io, ClientOptions options);
  // Cancels everything like shutdown(), but the handlers of requests still in flight are then
  // dropped, never called: no handler runs once the Client is gone, so handlers may safely
  // capture the Client's owner.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Handler = std::function<void(ClientError, ClientResponse)>;
  // Starts a GET; `done` is called exactly once, on the io_context, never from inside get().
  void get(ClientRequest request, Handler done);

  // Closes idle connections and fails requests in flight with operation aborted semantics
  // (their handlers are called with ClientError::connect_failed, later, on the io_context, as
  // long as the Client still exists). Requests started afterwards fail the same way.
  void shutdown();

  // Changes ClientOptions::max_per_address for requests started from now on.
  void set_max_per_address(std::size_t limit);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace btrt::upstream

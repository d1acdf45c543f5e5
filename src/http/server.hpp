#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/time.hpp"
#include "net/ip_address.hpp"

namespace boost::asio {
class io_context;
}

namespace btrt::http {

// Whether btrt runs with CAP_NET_ADMIN, which the transparent listeners and sockets of
// interception need: a start without it fails at once with a clear message.
bool has_net_admin();

// What a handler sees of one request. Views point into the connection's buffer and are
// valid only during handle().
struct Request {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  std::string_view host;
  std::string_view x_forwarded_for;
  std::string_view x_real_ip;
  std::string_view via;
  std::string_view user_agent;
  net::IpAddress source;  // TCP peer address (IPv4-mapped IPv6 shown as IPv4)
  // Came on a transparent listener: the router diverted it, and original_destination (the
  // accepted socket's own address) is where the subscriber sent it.
  bool intercepted = false;
  net::Endpoint original_destination;
};

struct Response;

// An answer a handler gives later (it waits for another server): the connection reads no
// further request until complete() is called, from any thread, exactly once.
class DeferredResponse {
 public:
  virtual ~DeferredResponse() = default;
  // Runs `fill` on the connection's own thread with an empty Response, then sends it.
  virtual void complete(std::function<void(Response&)> fill) = 0;
};

// What can put an answer off: the connection the request came on.
class Deferrer {
 public:
  virtual std::shared_ptr<DeferredResponse> defer() = 0;

 protected:
  ~Deferrer() = default;
};

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain";
  std::string& body;  // the worker's reusable buffer, empty on entry
  Deferrer* deferrer = nullptr;
  bool deferred = false;

  // Called by a handler that cannot answer before returning; what it wrote to this Response
  // is then ignored.
  std::shared_ptr<DeferredResponse> defer() {
    deferred = true;
    return deferrer->defer();
  }
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(const Request& request, Response& response) = 0;
};

struct ServerOptions {
  std::vector<net::Endpoint> listen;
  // Transparent (IP_TRANSPARENT) listeners for connections a router diverted with tproxy;
  // binding them needs CAP_NET_ADMIN.
  std::vector<net::Endpoint> intercept_listen;
  unsigned threads = 1;
  std::uint32_t max_connections = 100000;
  core::Duration request_timeout{10};      // to receive a whole request
  core::Duration keepalive_timeout{15};    // an idle connection is kept
  std::uint32_t max_header_bytes = 32768;  // request line and headers: room for a 256-hash scrape
};

// Something else the worker threads serve on their event loops (the UDP tracker).
class WorkerService {
 public:
  // Before the workers run, once per worker; throws std::runtime_error to refuse the start.
  virtual void start(boost::asio::io_context& io, unsigned worker, unsigned workers) = 0;
  // On the worker's own thread when the server stops: ends whatever keeps its loop busy.
  virtual void stop(unsigned worker) = 0;

 protected:
  ~WorkerService() = default;
};

// HTTP/1.1 server on Boost.Asio/Beast: one event loop per thread, each accepting on its own
// listening sockets (SO_REUSEPORT) and owning the connections it accepted.
class Server {
 public:
  Server(ServerOptions options, Handler& handler);
  ~Server();

  // Before start(): served on the same worker threads.
  void add_service(WorkerService& service);
  // Binds every listen address (throws std::runtime_error naming the address on failure)
  // and starts the worker threads.
  void start();
  // Stops accepting, closes idle connections, lets requests in flight finish, and returns
  // when every worker has ended.
  void stop();

  std::uint64_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace btrt::http

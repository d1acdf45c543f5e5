#pragma once

#include <memory>
#include <vector>

#include "http/server.hpp"
#include "net/ip_address.hpp"
#include "udp/handler.hpp"
#include "udp/interceptor.hpp"

namespace btrt::udp {

// The UDP tracker's sockets on the HTTP server's worker loops: per worker one socket per
// server.udp_listen address (SO_REUSEPORT spreads the sources over them), read and answered in
// batches (recvmmsg, sendmmsg) into buffers allocated once per worker. The transparent sockets
// of interception.udp_listen are served on the same loops: each datagram's original
// destination (IP_RECVORIGDSTADDR) goes with it to the Interceptor, and its answer leaves from
// that address through a transparent reply socket, kept per origin and worker (at most
// kMaxReplySockets, the least recently used closed first).
class Server : public http::WorkerService, public LaterSender {
 public:
  Server(std::vector<net::Endpoint> listen, Handler& handler,
         std::vector<net::Endpoint> intercept_listen = {}, Interceptor* interceptor = nullptr);
  ~Server();

  void start(boost::asio::io_context& io, unsigned worker, unsigned workers) override;
  void stop(unsigned worker) override;
  void send_later(const Intercepted& to, Compose compose) override;

  static constexpr std::size_t kMaxReplySockets = 1024;

 private:
  struct Worker;
  struct Socket;
  void bind_all(unsigned workers);
  void serve(Worker& worker, Socket& socket);
  void serve_intercepted(Worker& worker, Socket& socket);
  void wait(Worker& worker, Socket& socket);
  void send_from(Worker& worker, const net::Endpoint& origin, const net::Endpoint& subscriber,
                 std::span<const std::uint8_t> answer);
  // The worker's transparent socket bound to `origin`, opened on first use; -1 (logged at a
  // bounded rate) when it cannot be opened.
  int reply_socket(Worker& worker, const net::Endpoint& origin);

  std::vector<net::Endpoint> listen_;
  std::vector<net::Endpoint> intercept_listen_;
  Handler& handler_;
  Interceptor* interceptor_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace btrt::udp

#pragma once

#include <memory>
#include <vector>

#include "http/server.hpp"
#include "net/ip_address.hpp"
#include "udp/handler.hpp"

namespace btrt::udp {

// The UDP tracker's sockets on the HTTP server's worker loops: per worker one socket per
// server.udp_listen address (SO_REUSEPORT spreads the sources over them), read and answered in
// batches (recvmmsg, sendmmsg) into buffers allocated once per worker.
class Server : public http::WorkerService {
 public:
  Server(std::vector<net::Endpoint> listen, Handler& handler);
  ~Server();

  void start(boost::asio::io_context& io, unsigned worker, unsigned workers) override;
  void stop(unsigned worker) override;

 private:
  struct Worker;
  struct Socket;
  void bind_all(unsigned workers);
  void serve(Worker& worker, Socket& socket);
  void wait(Worker& worker, Socket& socket);

  std::vector<net::Endpoint> listen_;
  Handler& handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace btrt::udp

#include "http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <stdexcept>

#include "http/connection.hpp"

namespace btrt::http {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

tcp::endpoint to_asio(const net::Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  return {asio::ip::address_v6(e.address.bytes()), e.port};
}

constexpr std::string_view kOverloaded =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "
    "21\r\nConnection: close\r\n\r\ntoo many connections\n";

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler& handler;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> open_connections{0};
  std::atomic<bool> stopping{false};
  std::size_t next_worker = 0;

  Impl(ServerOptions o, Handler& h) : options(std::move(o)), handler(h) {
    if (options.threads == 0) options.threads = 1;
    for (unsigned i = 0; i < options.threads; ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
      workers.push_back(std::unique_ptr<Worker>(
          new Worker{*contexts.back(), handler, options, open_connections, stopping, {}}));
    }
  }

  // accept() fills in the peer's address here (one accept in flight per acceptor).
  std::vector<std::unique_ptr<tcp::endpoint>> peers;

  void accept(tcp::acceptor& acceptor, tcp::endpoint& peer) {
    Worker& worker = *workers[next_worker++ % workers.size()];
    acceptor.async_accept(
        worker.io, peer,
        [this, &acceptor, &peer, &worker](boost::system::error_code ec, Connection::Socket socket) {
          if (ec == asio::error::operation_aborted || stopping.load()) return;
          if (!ec) {
            if (open_connections.load(std::memory_order_relaxed) >= options.max_connections) {
              // Overload: a short answer and close, without reading the request.
              boost::system::error_code ignored;
              socket.non_blocking(true, ignored);
              socket.write_some(asio::buffer(kOverloaded), ignored);
              socket.close(ignored);
            } else {
              open_connections.fetch_add(1, std::memory_order_relaxed);
              asio::post(worker.io,
                         [&worker, s = std::move(socket), source = peer.address()]() mutable {
                           std::make_shared<Connection>(std::move(s), source, worker)->start();
                         });
            }
          }
          if (ec) {
            // Out of descriptors (EMFILE, ENFILE) or memory: accepting again at once would
            // fail again and spin; pause briefly while the listen backlog holds the rest.
            auto pause = std::make_shared<asio::steady_timer>(acceptor.get_executor(),
                                                              std::chrono::milliseconds(50));
            pause->async_wait([this, &acceptor, &peer, pause](boost::system::error_code) {
              if (!stopping.load()) accept(acceptor, peer);
            });
            return;
          }
          accept(acceptor, peer);
        });
  }
};

Server::Server(ServerOptions options, Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() {
  stop();
}

void Server::start() {
  auto& io = *impl_->contexts.front();
  for (const auto& listen : impl_->options.listen) {
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    boost::system::error_code ec;
    auto endpoint = to_asio(listen);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + listen.to_string() + ": " + ec.message());
    }
    impl_->acceptors.push_back(std::move(acceptor));
  }
  for (auto& acceptor : impl_->acceptors) {
    impl_->peers.push_back(std::make_unique<tcp::endpoint>());
    impl_->accept(*acceptor, *impl_->peers.back());
  }
  for (auto& context : impl_->contexts) {
    impl_->guards.push_back(asio::make_work_guard(*context));
    impl_->threads.emplace_back([&io = *context] { io.run(); });
  }
}

void Server::stop() {
  if (impl_->threads.empty()) return;
  impl_->stopping.store(true);
  asio::post(*impl_->contexts.front(), [this] {
    for (auto& acceptor : impl_->acceptors) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
  });
  for (auto& worker : impl_->workers) {
    asio::post(worker->io, [w = worker.get()] {
      for (auto& weak : w->connections) {
        if (auto connection = weak.lock()) connection->close_if_idle();
      }
    });
  }
  impl_->guards.clear();
  // Loops end by themselves once their last connection is done (a request in flight gets at
  // most request_timeout).
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

std::uint64_t Server::open_connections() const {
  return impl_->open_connections.load();
}

}  // namespace btrt::http

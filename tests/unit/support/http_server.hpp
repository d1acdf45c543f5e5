#pragma once

// A scripted HTTP/1.1 server on 127.0.0.1, on its own thread and io_context: the origin,
// neighbour or upstream server of the unit tests that need a real one.

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace btrt::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Received {
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t connection = 0;  // 1-based accept number
  std::size_t nth = 0;         // 1-based request number on its connection

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (beast::iequals(n, beast::string_view(name.data(), name.size()))) return v;
    }
    return {};
  }
};

struct Reply {
  enum class After { keep, close, hang };
  std::string bytes;  // written raw
  After after = After::keep;
};

inline std::string ok_reply(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

class TestServer {
 public:
  using Responder = std::function<Reply(const Received&)>;

  explicit TestServer(Responder responder)
      : responder_(std::move(responder)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view target = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
  }
  std::size_t accepts() const { return accepts_.load(); }
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, TestServer& srv, std::size_t n)
        : socket(std::move(s)), server(srv), number(n) {}
    void read() {
      request.emplace();
      bhttp::async_read(
          socket, buffer, *request,
          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (!ec) self->answer();
          });
    }
    void answer() {
      Received r;
      r.target = std::string(request->get().target());
      for (const auto& field : request->get()) {
        r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      r.connection = number;
      r.nth = ++count;
      {
        std::lock_guard lock(server.mutex_);
        server.received_.push_back(r);
      }
      Reply reply = server.responder_(r);
      if (reply.after == Reply::After::hang && reply.bytes.empty()) {
        server.hung_.push_back(shared_from_this());  // keep the socket open, never answer
        return;
      }
      out = std::move(reply.bytes);
      asio::async_write(socket, asio::buffer(out),
                        [self = shared_from_this(), after = reply.after](
                            const boost::system::error_code& ec, std::size_t) {
                          if (ec) return;
                          if (after == Reply::After::keep) {
                            self->read();
                          } else if (after == Reply::After::close) {
                            boost::system::error_code ignored;
                            self->socket.shutdown(tcp::socket::shutdown_both, ignored);
                            self->socket.close(ignored);
                          } else {
                            self->server.hung_.push_back(self);
                          }
                        });
    }

    tcp::socket socket;
    TestServer& server;
    std::size_t number;
    std::size_t count = 0;
    beast::flat_buffer buffer;
    std::optional<bhttp::request_parser<bhttp::string_body>> request;
    std::string out;
  };

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      const std::size_t n = ++accepts_;
      std::make_shared<Session>(std::move(socket), *this, n)->read();
      accept();
    });
  }

  Responder responder_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepts_{0};
  mutable std::mutex mutex_;
  std::vector<Received> received_;
  std::vector<std::shared_ptr<Session>> hung_;  // server thread only
  std::thread thread_;
};

}  // namespace btrt::test

#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "http/server.hpp"

namespace btrt::http {

// Per-event-loop state shared by the connections of one worker thread (no locks: only
// that thread touches it).
struct Worker;

class Connection final : public std::enable_shared_from_this<Connection>, public Deferrer {
 public:
  // The socket and stream are bound to the worker's io_context executor type itself rather
  // than the type-erased any_io_executor: every asynchronous operation copies and destroys
  // the executor, which the type-erased one makes a measurable share of a request's cost.
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                  boost::asio::io_context::executor_type>;
  using Stream =
      boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

  // source: the peer's address, as accept() reported it (no getpeername call).
  Connection(Socket socket, const boost::asio::ip::address& source, Worker& worker);
  ~Connection();
  void start();
  // Closes the connection if it is waiting for a next request; one mid-request finishes.
  void close_if_idle();
  // Sends the answer of a deferred request; runs on this connection's thread.
  void finish_deferred(const std::function<void(Response&)>& fill);
  std::shared_ptr<DeferredResponse> defer() override;
  boost::asio::io_context::executor_type executor() { return stream_.get_executor(); }

 private:
  void read_request();
  void on_request(boost::beast::error_code ec);
  void wait_for_next_request();
  void respond(int status, std::string_view content_type, std::string_view body, bool close);
  void reject(int status, std::string_view body);  // answer and close
  void close();

  Stream stream_;
  Worker& worker_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  std::string body_;
  std::string out_;
  net::IpAddress source_;
  bool idle_ = false;
  bool reading_ = false;  // a request is being read
  bool close_after_ = false;
  bool registered_ = false;
  std::list<std::weak_ptr<Connection>>::iterator registration_;
};

struct Worker {
  boost::asio::io_context& io;
  Handler& handler;
  const ServerOptions& options;
  std::atomic<std::uint64_t>& open_connections;
  const std::atomic<bool>& stopping;
  std::list<std::weak_ptr<Connection>> connections;
};

}  // namespace btrt::http

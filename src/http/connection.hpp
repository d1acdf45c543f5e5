#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "http/server.hpp"
#include "protocol/http_head.hpp"

namespace btrt::http {

struct Worker;

class Connection final : public std::enable_shared_from_this<Connection>, public Deferrer {
 public:
  // The socket is bound to the worker's io_context executor type itself rather than the
  // type-erased any_io_executor: every asynchronous operation copies and destroys the
  // executor, which the type-erased one makes a measurable share of a request's cost.
  using Stream = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                  boost::asio::io_context::executor_type>;
  // Asio's socket over a descriptor from accept4(), told what is true of it. Asio assumes an
  // assigned descriptor is blocking and may be shared (dup), so it sets O_NONBLOCK again
  // (an ioctl) before its first operation and removes the descriptor from epoll by hand
  // (an epoll_ctl) before closing it: two system calls per connection that waits for its
  // request, of the handful a short connection costs. Neither is needed: accept4() made it
  // non-blocking and nothing else holds it, so close() alone leaves epoll.
  //
  // And Boost 1.74's reactor, told nothing, tries every receive once before it waits, even
  // when the socket was just found empty (newer Asio stops after a short read): for a
  // keep-alive client that is a receive in vain per request. The connection says when it
  // knows the socket empty; new data then wakes the reactor anyway (epoll reports every
  // arrival, and a registration reports data already there).
  class Socket : public Stream {
   public:
    using Stream::Stream;
    void assign_accepted(bool v6, int descriptor, boost::system::error_code& ec);
    // Nothing is left to read: the next receive waits for the reactor's wake-up.
    void drained();
    // Whether the next receive is tried before waiting (its completion then comes later).
    bool receives_at_once() const;
  };
  using Clock = std::chrono::steady_clock;

  // descriptor: a connected, non-blocking socket, now the connection's; source: the peer's
  // address as accept() reported it (no getpeername call). An overflow connection (one past
  // max_connections) has its request read and answered with 503, then closes; it counts in
  // the worker's `overflow`, not in open_connections.
  // original_destination: set for a connection a transparent listener accepted.
  Connection(int descriptor, bool v6, const net::IpAddress& source, Worker& worker,
             bool overflow = false, std::optional<net::Endpoint> original_destination = {});
  ~Connection();
  void start();
  // Closes the connection if it is waiting for a next request; one mid-request finishes.
  void close_if_idle();
  // Closes the connection if what it waits for (a request, the client reading the answer)
  // is overdue; the worker's sweep calls it.
  void close_if_overdue(Clock::time_point now);
  // Sends the answer of a deferred request; runs on this connection's thread.
  void finish_deferred(const std::function<void(Response&)>& fill);
  std::shared_ptr<DeferredResponse> defer() override;
  boost::asio::io_context::executor_type executor() { return socket_.get_executor(); }

  Connection* next() const { return next_; }

 private:
  // read_first: try the socket before waiting on it (false: wait at once).
  void begin_request(bool read_first = true);
  void read_available();
  void wait_readable();
  void parse();
  void on_head(protocol::HeadResult result);
  void after_answer(bool close_after);
  void respond(int status, std::string_view content_type, std::string_view body, bool close);
  void reject(int status, std::string_view body);  // answer and close
  // Closes after an answer while the client may still be sending.
  void linger();
  void drain();
  void close();
  // Hands the descriptor to the event loop (once): only a connection that must wait for its
  // socket needs it. One served at once never registers, so it costs no epoll_ctl to add
  // and none to remove.
  bool watch();
  void set_deadline(core::Duration after) { deadline_ = Clock::now() + after; }

  // A first read of 1 KiB holds a usual request, and a block that small comes from glibc's
  // per-thread cache (up to 1,032 bytes): 4 KiB took malloc's and free's slow paths once per
  // connection. A buffer that had to grow is read into whole (read_space()).
  static constexpr std::size_t kReadChunk = 1024;
  boost::asio::mutable_buffer read_space();
  // While new connections' requests are found not there yet, one in this many reads first
  // anyway, to notice when they are there again.
  static constexpr std::uint32_t kProbeEvery = 16;
  // What a lingering close discards at most, and for how long, before it resets.
  static constexpr std::size_t kLingerBytes = 256 * 1024;
  static constexpr core::Duration kLinger{2};

  int fd_;
  bool v6_;
  Socket socket_;  // open once watch() has handed it fd_
  Worker& worker_;
  boost::beast::flat_buffer buffer_;
  protocol::HttpHead head_;
  std::size_t scanned_ = 0;  // how far the search for the head's end has got
  std::string unsent_;       // what a client has not taken yet of a large answer
  net::IpAddress source_;
  std::optional<net::Endpoint> original_destination_;
  // Timeouts are deadlines checked by the worker's sweep rather than a timer per connection:
  // re-arming a timer per read and write cost a timer-queue update and a timerfd system
  // call each, on every request.
  Clock::time_point deadline_ = Clock::time_point::max();
  bool idle_ = false;
  bool reading_ = false;  // a request is being read
  bool probing_ = false;  // a new connection reading first: its first read tells the worker
  bool close_after_ = false;
  bool unread_input_ = false;  // a rejected request: the client may have sent more
  bool lingering_ = false;     // answered and half-closed: discarding input until EOF
  bool overflow_ = false;
  std::size_t discarded_ = 0;
  // The worker's list of its connections (intrusive: no allocation per connection).
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  bool linked_ = false;
};

// Per-event-loop state shared by the connections of one worker thread (no locks: only that
// thread touches it).
struct Worker {
  // Checks the deadlines of the connections four times a second, until the server stops
  // and the last connection is gone.
  void start_sweep();

  boost::asio::io_context& io;
  Handler& handler;
  const ServerOptions& options;
  std::atomic<std::uint64_t>& open_connections;
  const std::atomic<bool>& stopping;
  boost::asio::steady_timer sweep;
  Connection* connections = nullptr;  // first of the list
  std::size_t overflow = 0;           // overflow connections being answered 503
  // Whether the last new connection that read first found its request not there yet, and
  // how many new connections came (see Connection::start).
  bool new_requests_wait = false;
  std::uint32_t new_connections = 0;
  // The answer being made (its body, then all of it as sent): one at a time per thread, so
  // the worker's buffers serve every connection rather than each connection allocating its
  // own. One grown past kKeptBufferBytes (a full scrape, the stats page) is given back.
  std::string body{};
  std::string answer{};
  static constexpr std::size_t kKeptBufferBytes = 64 * 1024;
  static void release_large_buffers(std::string& buffer);
};

}  // namespace btrt::http

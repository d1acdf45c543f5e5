#include "http/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace btrt::http {

using error_code = boost::system::error_code;

namespace {

// The status line and the name of the header that follows it, as one piece: an answer is
// copied together from few pieces. A status without a name of its own is called "Error".
std::string_view head_start(int status, std::string& other) {
  switch (status) {
    case 200:
      return "HTTP/1.1 200 OK\r\nContent-Type: ";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\nContent-Type: ";
    case 403:
      return "HTTP/1.1 403 Forbidden\r\nContent-Type: ";
    case 404:
      return "HTTP/1.1 404 Not Found\r\nContent-Type: ";
    case 405:
      return "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: ";
    case 408:
      return "HTTP/1.1 408 Request Timeout\r\nContent-Type: ";
    case 414:
      return "HTTP/1.1 414 URI Too Long\r\nContent-Type: ";
    case 431:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: ";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: ";
    default:
      other = "HTTP/1.1 " + std::to_string(status) + " Error\r\nContent-Type: ";
      return other;
  }
}

template <std::size_t N>
std::string_view digits(char (&buffer)[N], std::uint64_t value) {
  const auto end = std::to_chars(buffer, buffer + N, value).ptr;
  return {buffer, static_cast<std::size_t>(end - buffer)};
}

class PendingAnswer : public DeferredResponse {
 public:
  explicit PendingAnswer(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}
  void complete(std::function<void(Response&)> fill) override {
    auto connection = std::move(connection_);
    if (!connection) return;
    auto executor = connection->executor();
    boost::asio::post(executor, [connection = std::move(connection), fill = std::move(fill)] {
      connection->finish_deferred(fill);
    });
  }

 private:
  std::shared_ptr<Connection> connection_;
};

}  // namespace

std::shared_ptr<DeferredResponse> Connection::defer() {
  return std::make_shared<PendingAnswer>(shared_from_this());
}

// TCP_NODELAY comes from the listening socket (accepted sockets inherit it on Linux).
Connection::Connection(int descriptor, bool v6, const net::IpAddress& source, Worker& worker,
                       bool overflow, std::optional<net::Endpoint> original_destination)
    : fd_(descriptor),
      v6_(v6),
      socket_(worker.io),
      worker_(worker),
      buffer_(worker.options.max_header_bytes),
      source_(source),
      original_destination_(original_destination),
      overflow_(overflow) {}

Connection::~Connection() {
  close();
  if (overflow_) {
    --worker_.overflow;
  } else {
    worker_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!linked_) return;
  (prev_ ? prev_->next_ : worker_.connections) = next_;
  if (next_) next_->prev_ = prev_;
  // A stopping server's loop ends when nothing is left to do: the sweep must not hold it.
  if (worker_.connections == nullptr && worker_.stopping.load(std::memory_order_relaxed)) {
    worker_.sweep.cancel();
  }
}

void Connection::start() {
  next_ = worker_.connections;
  if (next_) next_->prev_ = this;
  worker_.connections = this;
  linked_ = true;
  // A new connection's request is often not there yet when it is accepted: the client sends
  // it once the handshake is done. Reading first then finds nothing, and the wait's own
  // receive tries once more before it waits: two reads in vain. So while the worker's new
  // connections have to wait, a new one waits at once (its receive is its first read);
  // one in kProbeEvery reads first to see whether requests come with the connection again.
  const bool read_first =
      !worker_.new_requests_wait || ++worker_.new_connections % kProbeEvery == 0;
  probing_ = read_first;
  begin_request(read_first);
}

void Connection::close_if_overdue(Clock::time_point now) {
  if (now >= deadline_) close();
}

void Connection::close_if_idle() {
  // Waiting for a request of which not one byte has come counts as idle too: a client that
  // connected and said nothing must not hold a stopping server for request_timeout.
  const bool nothing_received = reading_ && buffer_.size() == 0;
  if (idle_ || nothing_received || lingering_) close();
}

void Connection::begin_request(bool read_first) {
  idle_ = false;
  scanned_ = 0;
  reading_ = true;
  // An overflow connection holds resources past the limit: it gets less time.
  set_deadline(overflow_ ? std::min(worker_.options.request_timeout, kLinger)
                         : worker_.options.request_timeout);
  if (buffer_.size() > 0) return parse();  // pipelined: already here
  if (!read_first) return wait_readable();
  read_available();
}

boost::asio::mutable_buffer Connection::read_space() {
  // The buffer holds at most max_header_bytes, and a full one is never "need more".
  const std::size_t room = buffer_.max_size() - buffer_.size();
  const std::size_t spare = buffer_.capacity() - buffer_.size();
  return buffer_.prepare(std::min(room, std::max(spare, kReadChunk)));
}

// A request usually arrives whole in one segment: read what the socket holds and wait on the
// event loop only when nothing is. That is one read per request where an asynchronous read
// tries, fails and tries again after the wake-up, and no completion handler queued per step.
// (The socket is non-blocking from accept4(); MSG_DONTWAIT says so where it matters.)
void Connection::read_available() {
  const auto space = read_space();
  ssize_t n;
  do {
    n = ::recv(fd_, space.data(), space.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  const bool nothing_yet = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  if (probing_) {
    probing_ = false;
    worker_.new_requests_wait = nothing_yet;
  }
  if (nothing_yet) {
    // Found empty just now: an arrival since wakes the reactor. (A socket not registered yet
    // is told so when wait_readable() registers it.)
    socket_.drained();
    return wait_readable();
  }
  // Peer gone or reset mid-request: nothing to answer.
  if (n <= 0) return close();
  buffer_.commit(static_cast<std::size_t>(n));
  parse();
}

namespace {

// The reactor's per-descriptor "receive before waiting" flags. Asio has no call for them and
// keeps them private; an explicit instantiation may name a private member (access checks do
// not apply there), which is how this reaches them.
using Reactor = boost::asio::detail::epoll_reactor;
using DescriptorState = std::remove_pointer_t<Reactor::per_descriptor_data>;
using SpeculativeFlags = bool (DescriptorState::*)[Reactor::max_ops];
SpeculativeFlags speculative_flags();
template <SpeculativeFlags Member>
struct ExposeSpeculativeFlags {
  friend SpeculativeFlags speculative_flags() { return Member; }
};
template struct ExposeSpeculativeFlags<&DescriptorState::try_speculative_>;

}  // namespace

void Connection::Socket::drained() {
  if (!is_open()) return;  // the reactor's data exists while the descriptor is registered
  (impl_.get_implementation().reactor_data_->*speculative_flags())[Reactor::read_op] = false;
}

bool Connection::Socket::receives_at_once() const {
  return (impl_.get_implementation().reactor_data_->*speculative_flags())[Reactor::read_op];
}

void Connection::Socket::assign_accepted(bool v6, int descriptor, error_code& ec) {
  namespace socket_ops = boost::asio::detail::socket_ops;
  assign(v6 ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), descriptor, ec);
  if (ec) return;
  auto& state = impl_.get_implementation().state_;
  state = static_cast<socket_ops::state_type>((state & ~socket_ops::possible_dup) |
                                              socket_ops::internal_non_blocking);
}

bool Connection::watch() {
  if (socket_.is_open()) return true;
  error_code ec;
  socket_.assign_accepted(v6_, fd_, ec);
  if (ec) {
    close();
    return false;
  }
  // Registering reports data already there as an event: a receive needs no try first.
  socket_.drained();
  return true;
}

// A receive, not a wait for readiness: Asio re-arms the descriptor's epoll registration
// (one epoll_ctl call) for every readiness wait, while a receive rides on the registration
// made once. The receive lands in the buffer as read_available()'s would.
//
// A receive the reactor performs when woken (not one it tried at once, whose completion may
// come after further wake-ups) and that did not fill its space has emptied the socket: the
// next receive then waits without trying first.
void Connection::wait_readable() {
  if (!watch()) return;
  const auto space = read_space();
  const bool on_wake_up = !socket_.receives_at_once();
  socket_.async_receive(space, [self = shared_from_this(), on_wake_up, size = space.size()](
                                   error_code ec, std::size_t n) {
    // Peer gone or reset: nothing to answer.
    if (ec || n == 0) return self->close();
    if (on_wake_up && n < size) self->socket_.drained();
    self->buffer_.commit(n);
    // The first bytes of a next request.
    if (self->idle_) return self->begin_request();
    self->parse();
  });
}

void Connection::parse() {
  const auto data = buffer_.data();
  const std::string_view input(static_cast<const char*>(data.data()), data.size());
  const auto result =
      protocol::parse_http_head(input, worker_.options.max_header_bytes, scanned_, head_);
  if (result == protocol::HeadResult::need_more) return read_available();
  on_head(result);
}

void Connection::on_head(protocol::HeadResult result) {
  using protocol::HeadResult;
  reading_ = false;
  deadline_ = Clock::time_point::max();  // a deferred answer is bounded by its own timeout
  switch (result) {
    case HeadResult::line_too_long:
      return reject(414, "request line too long\n");
    case HeadResult::head_too_large:
      return reject(431, "headers too large\n");
    case HeadResult::malformed:
      return reject(400, "malformed HTTP request\n");
    case HeadResult::need_more:
    case HeadResult::complete:
      break;
  }
  // A body announced (Content-Length, chunked) is never read: a GET has none (400), any other
  // method is answered 405 all the same. Either way the body is left unread.
  const bool get = head_.method == "GET";
  if (head_.has_body) {
    if (!get) {
      unread_input_ = true;
      return respond(overflow_ ? 503 : 405, "text/plain",
                     overflow_ ? "too many connections\n" : "only GET is supported\n", true);
    }
    return reject(400, "a GET request has no body\n");
  }

  close_after_ = !head_.keep_alive || worker_.stopping.load(std::memory_order_relaxed);
  // The views of head_ stay valid until the buffer is next written to: the handler runs
  // before any further read.
  buffer_.consume(head_.size);
  if (overflow_) return respond(503, "text/plain", "too many connections\n", true);
  if (!get) return respond(405, "text/plain", "only GET is supported\n", true);
  Request request;
  request.method = head_.method;
  request.target = head_.target;
  request.version = head_.version;
  request.host = head_.host;
  request.x_forwarded_for = head_.x_forwarded_for;
  request.x_real_ip = head_.x_real_ip;
  request.via = head_.via;
  request.user_agent = head_.user_agent;
  request.source = source_;
  if (original_destination_) {
    request.intercepted = true;
    request.original_destination = *original_destination_;
  }
  std::string& body = worker_.body;
  body.clear();
  Response response{200, "text/plain", body, this};
  worker_.handler.handle(request, response);
  if (response.deferred) return;  // finish_deferred() answers
  respond(response.status, response.content_type, body, close_after_);
}

void Connection::finish_deferred(const std::function<void(Response&)>& fill) {
  std::string& body = worker_.body;
  body.clear();
  Response response{200, "text/plain", body, this};
  fill(response);
  respond(response.status, response.content_type, body, close_after_);
}

void Connection::respond(int status, std::string_view content_type, std::string_view body,
                         bool close_after) {
  // The status line, headers and body are sized first and copied once.
  std::string other_status;
  char length_digits[24];
  const std::string_view pieces[] = {
      head_start(status, other_status),
      content_type,
      "\r\nContent-Length: ",
      digits(length_digits, body.size()),
      status == 405 ? "\r\nAllow: GET" : "",
      close_after ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n",
      body,
  };
  std::size_t total = 0;
  for (const auto piece : pieces) total += piece.size();
  std::string& out = worker_.answer;
  out.resize(total);
  char* at = out.data();
  for (const auto piece : pieces) {
    if (piece.empty()) continue;  // an empty view's data() may be null
    std::memcpy(at, piece.data(), piece.size());
    at += piece.size();
  }
  worker_.release_large_buffers(worker_.body);  // copied: `body` is not looked at again
  // One write normally takes the whole answer; only a large one (a scrape of every torrent,
  // the stats page) to a slow reader waits for room.
  //
  // Before a close, MSG_MORE holds the answer back until the close that follows at once, so
  // that the answer and the FIN leave in one segment: a packet less for both ends of every
  // Connection: close request. Not when input may be left unread: closing then resets the
  // connection, and an answer still held back would be lost with it.
  const bool with_fin = close_after && !unread_input_ && buffer_.size() == 0;
  ssize_t n;
  do {
    n = ::send(fd_, out.data(), out.size(),
               MSG_DONTWAIT | MSG_NOSIGNAL | (with_fin ? MSG_MORE : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return close();
  const std::size_t sent = n < 0 ? 0 : static_cast<std::size_t>(n);
  // The rest waits for the client in the connection's own buffer: the worker's is the next
  // answer's.
  if (sent < out.size()) unsent_.assign(out, sent);
  worker_.release_large_buffers(out);
  if (unsent_.empty()) return after_answer(close_after);
  if (!watch()) return;
  set_deadline(worker_.options.request_timeout);
  boost::asio::async_write(socket_, boost::asio::buffer(unsent_),
                           [self = shared_from_this(), close_after](error_code error, std::size_t) {
                             self->unsent_ = std::string();
                             if (error) return self->close();
                             self->after_answer(close_after);
                           });
}

void Connection::after_answer(bool close_after) {
  if (close_after || worker_.stopping.load(std::memory_order_relaxed)) {
    return unread_input_ ? linger() : close();
  }
  if (buffer_.size() > 0) {
    // Pipelined requests are taken one per turn of the loop: answering them in this call
    // would recurse once per request held in the buffer.
    boost::asio::post(socket_.get_executor(),
                      [self = shared_from_this()] { self->begin_request(); });
    return;
  }
  // Idle: wait up to keepalive_timeout for the first byte, then give the request
  // request_timeout to arrive whole.
  idle_ = true;
  set_deadline(worker_.options.keepalive_timeout);
  wait_readable();
}

void Connection::reject(int status, std::string_view body) {
  unread_input_ = true;  // the rest of a malformed or oversized request is never read
  respond(status, "text/plain", body, true);
}

// The client may still be sending what was never read (a body, the rest of an oversized
// request). Closing with input unread resets the connection, and a client still sending then
// sees the reset, not the answer. So: half-close (the answer and a FIN go out), discard what
// comes until the client closes, bounded in bytes and time; only then close.
void Connection::linger() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_WR);
  lingering_ = true;
  buffer_.consume(buffer_.size());
  set_deadline(std::min(worker_.options.request_timeout, kLinger));
  drain();
}

void Connection::drain() {
  std::array<char, kReadChunk> scratch;
  for (;;) {
    const ssize_t n = ::recv(fd_, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n > 0) {
      discarded_ += static_cast<std::size_t>(n);
      if (discarded_ > kLingerBytes) return close();
      continue;
    }
    if (n == 0) {
      unread_input_ = false;  // all of it read: a plain close
      return close();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return close();
  }
  if (!watch()) return;
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec) return self->close();
    self->drain();
  });
}

void Connection::close() {
  idle_ = false;
  lingering_ = false;
  deadline_ = Clock::time_point::max();
  if (fd_ < 0) return;
  // With input left unread, close() resets the connection; a shutdown first sends the FIN
  // after the answer, so that a client that reads it gets it whole. Otherwise close() alone
  // does the same, one system call fewer per connection.
  if (unread_input_) ::shutdown(fd_, SHUT_RDWR);
  error_code ec;
  if (socket_.is_open()) {
    socket_.close(ec);  // also cancels what waits on it
  } else {
    ::close(fd_);
  }
  fd_ = -1;
}

void Worker::release_large_buffers(std::string& buffer) {
  if (buffer.capacity() > kKeptBufferBytes) buffer = std::string();
}

void Worker::start_sweep() {
  sweep.expires_after(std::chrono::milliseconds(250));
  sweep.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto now = Connection::Clock::now();
    for (Connection* c = connections; c != nullptr;) {
      Connection* next = c->next();  // closing never destroys c here: handlers own it
      c->close_if_overdue(now);
      c = next;
    }
    if (connections == nullptr && stopping.load(std::memory_order_relaxed)) return;
    start_sweep();
  });
}

}  // namespace btrt::http

#include "udp/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "core/lru_map.hpp"
#include "log/rate_limited.hpp"

namespace btrt::udp {

namespace asio = boost::asio;

namespace {

// Datagrams per system call, and batches per turn of the loop before the HTTP connections on
// the same loop get their turn.
constexpr unsigned kBatch = 32;
constexpr unsigned kBatchesPerTurn = 8;
// One byte more than a request may have: a larger datagram shows as oversized.
constexpr std::size_t kReceiveSize = protocol::udp::kMaxPacket + 1;

std::runtime_error cannot_listen(const net::Endpoint& e, int error) {
  return std::runtime_error("cannot listen on udp " + e.to_string() + ": " + std::strerror(error));
}

socklen_t to_sockaddr(const net::Endpoint& e, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (e.address.is_v4()) {
    auto& a = reinterpret_cast<sockaddr_in&>(out);
    a.sin_family = AF_INET;
    a.sin_port = htons(e.port);
    a.sin_addr.s_addr = htonl(e.address.v4());
    return sizeof a;
  }
  auto& a = reinterpret_cast<sockaddr_in6&>(out);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(e.port);
  std::memcpy(a.sin6_addr.s6_addr, e.address.bytes().data(), 16);
  return sizeof a;
}

// IPv4-mapped sources count as IPv4 (net::IpAddress keeps both in one form).
void source_of(const sockaddr_storage& from, net::IpAddress& address, std::uint16_t& port) {
  if (from.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(from);
    address = net::IpAddress::from_v4(ntohl(a.sin_addr.s_addr));
    port = ntohs(a.sin_port);
    return;
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(from);
  net::IpAddress::Bytes bytes{};
  std::memcpy(bytes.data(), a.sin6_addr.s6_addr, bytes.size());
  address = net::IpAddress(bytes);
  port = ntohs(a.sin6_port);
}

// Returns the bound socket; throws naming the address.
int open_socket(const net::Endpoint& e, bool reuse_port, bool transparent = false) {
  sockaddr_storage address;
  const socklen_t length = to_sockaddr(e, address);
  const int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw cannot_listen(e, errno);
  const int on = 1;
  bool ok = true;
  if (reuse_port) ok = ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0;
  // Room for bursts (the kernel caps it at net.core.rmem_max); failing is not fatal.
  const int buffer = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  // 0.0.0.0 and [::] on the same port side by side.
  if (ok && address.ss_family == AF_INET6) {
    ok = ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) == 0;
  }
  if (ok && transparent) {
    // Datagrams for addresses that are not this host's, as the router's tproxy rule delivers
    // them, each with the address it was sent to.
    const bool v6 = address.ss_family == AF_INET6;
    ok = ::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &on,
                      sizeof on) == 0 &&
         ::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVORIGDSTADDR : IP_RECVORIGDSTADDR,
                      &on, sizeof on) == 0;
  }
  if (ok) ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  if (!ok) {
    const int error = errno;
    ::close(fd);
    throw cannot_listen(e, error);
  }
  return fd;
}

// The original destination of an intercepted datagram, from its control messages.
bool original_destination(const msghdr& h, net::Endpoint& out) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
    const bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR;
    const bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR;
    if (!v4 && !v6) continue;
    sockaddr_storage address{};
    std::memcpy(&address, CMSG_DATA(c),
                std::min<std::size_t>(c->cmsg_len - CMSG_LEN(0), sizeof address));
    source_of(address, out.address, out.port);
    return true;
  }
  return false;
}

// A transparent socket bound to an origin's address and port, from which btrt answers for
// it; SO_REUSEADDR since every worker binds its own. -1 on failure (errno set).
int open_reply_socket(const net::Endpoint& origin) {
  sockaddr_storage address;
  const socklen_t length = to_sockaddr(origin, address);
  const int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  const bool v6 = address.ss_family == AF_INET6;
  const bool ok = ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
                  (!v6 || ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) == 0) &&
                  ::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
                               &on, sizeof on) == 0 &&
                  ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  if (!ok) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

// An origin's reply socket, closed when the cache forgets it.
struct ReplySocket {
  int fd = -1;
  ReplySocket() = default;
  ReplySocket(ReplySocket&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  ReplySocket& operator=(ReplySocket&& other) noexcept {
    std::swap(fd, other.fd);
    return *this;
  }
  ~ReplySocket() {
    if (fd >= 0) ::close(fd);
  }
};

// The cache key of an origin: its address and port as bytes.
std::array<char, 18> origin_key(const net::Endpoint& origin) {
  std::array<char, 18> key{};
  std::memcpy(key.data(), origin.address.bytes().data(), 16);
  key[16] = static_cast<char>(origin.port >> 8);
  key[17] = static_cast<char>(origin.port & 0xff);
  return key;
}

// Room for one original destination (IPv6 is the larger).
constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(sockaddr_in6));

std::uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  net::IpAddress ignored;
  std::uint16_t port = 0;
  source_of(address, ignored, port);
  return port;
}

}  // namespace

struct Server::Socket {
  Socket(asio::io_context& io, int fd, bool t) : watch(io, fd), transparent(t) {}
  asio::posix::stream_descriptor watch;  // owns the descriptor; only waited on, never read
  bool transparent;                      // interception.udp_listen
};

struct Server::Worker {
  asio::io_context* io = nullptr;
  unsigned index = 0;
  std::vector<int> fds;           // bound, until start() hands them to `sockets`
  std::vector<bool> transparent;  // of each fd
  std::vector<std::unique_ptr<Socket>> sockets;
  bool stopping = false;
  core::LruMap<ReplySocket> replies{kMaxReplySockets};  // by origin_key
  log::RateLimited reply_warning{core::Duration{60}};
  // Control messages are read in place (CMSG_*): aligned as cmsghdr, and kControlSize is a
  // multiple of that alignment (CMSG_SPACE).
  alignas(cmsghdr) std::array<std::array<char, kControlSize>, kBatch> control;
  std::array<int, kBatch> reply_fd;  // of each intercepted answer in a batch

  // Receive and send state for one batch, reused for every batch.
  std::array<std::array<std::uint8_t, kReceiveSize>, kBatch> in;
  std::array<std::array<std::uint8_t, kMaxAnswer>, kBatch> out;
  std::array<sockaddr_storage, kBatch> from;
  std::array<iovec, kBatch> in_vec, out_vec;
  std::array<mmsghdr, kBatch> received, answers;
};

Server::Server(std::vector<net::Endpoint> listen, Handler& handler,
               std::vector<net::Endpoint> intercept_listen, Interceptor* interceptor)
    : listen_(std::move(listen)),
      intercept_listen_(interceptor ? std::move(intercept_listen) : std::vector<net::Endpoint>{}),
      handler_(handler),
      interceptor_(interceptor) {}

Server::~Server() {
  for (auto& w : workers_) {
    for (int fd : w->fds) ::close(fd);
  }
}

void Server::bind_all(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->index = i;
  }
  if (!intercept_listen_.empty() && !http::has_net_admin()) {
    throw std::runtime_error("cannot listen on udp " + intercept_listen_.front().to_string() +
                             " (interception.udp_listen): a transparent listener needs the "
                             "CAP_NET_ADMIN capability, which btrt does not have");
  }
  const bool shared = workers > 1;
  auto bind = [&](net::Endpoint endpoint, bool transparent) {
    if (shared && endpoint.port != 0) {
      // SO_REUSEPORT would let this bind join the sockets of another process of the same user
      // (an instance already running) and silently split its traffic: bind once without it.
      ::close(open_socket(endpoint, false, transparent));
    }
    for (auto& w : workers_) {
      const int fd = open_socket(endpoint, shared, transparent);
      w->fds.push_back(fd);
      w->transparent.push_back(transparent);
      if (endpoint.port == 0) endpoint.port = bound_port(fd);  // the same for every worker
    }
  };
  for (const auto& endpoint : listen_) bind(endpoint, false);
  for (const auto& endpoint : intercept_listen_) bind(endpoint, true);
}

void Server::start(asio::io_context& io, unsigned worker, unsigned workers) {
  if (worker == 0) bind_all(workers);
  auto& w = *workers_.at(worker);
  w.io = &io;
  for (std::size_t i = 0; i < w.fds.size(); ++i) {
    w.sockets.push_back(std::make_unique<Socket>(io, w.fds[i], w.transparent[i]));
  }
  w.fds.clear();
  for (auto& socket : w.sockets) {
    asio::post(io, [this, &w, s = socket.get()] {
      if (s->transparent) return serve_intercepted(w, *s);
      serve(w, *s);
    });
  }
}

void Server::stop(unsigned worker) {
  auto& w = *workers_.at(worker);
  w.stopping = true;
  for (auto& socket : w.sockets) {
    boost::system::error_code ignored;
    socket->watch.close(ignored);
  }
}

void Server::wait(Worker& worker, Socket& socket) {
  socket.watch.async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, &worker, &socket](boost::system::error_code ec) {
                            if (ec || worker.stopping) return;
                            if (socket.transparent) return serve_intercepted(worker, socket);
                            serve(worker, socket);
                          });
}

namespace {

// Points the worker's recvmmsg headers at its buffers (they are rewritten by each call);
// `with_control`: room for the original destination of a transparent socket's datagrams.
template <typename Worker>
void prepare_batch(Worker& w, bool with_control) {
  for (unsigned i = 0; i < w.received.size(); ++i) {
    w.in_vec[i] = {w.in[i].data(), w.in[i].size()};
    auto& h = w.received[i].msg_hdr;
    h = {};
    h.msg_name = &w.from[i];
    h.msg_namelen = sizeof w.from[i];
    h.msg_iov = &w.in_vec[i];
    h.msg_iovlen = 1;
    if (with_control) {
      h.msg_control = w.control[i].data();
      h.msg_controllen = w.control[i].size();
    }
  }
}

}  // namespace

// Reads what is queued batch by batch until the socket is empty, answering each batch with one
// sendmmsg; a flood is served in turns so that the loop's other sockets and connections go on.
void Server::serve(Worker& w, Socket& socket) {
  if (w.stopping) return;
  const int fd = socket.watch.native_handle();
  for (unsigned turn = 0; turn < kBatchesPerTurn; ++turn) {
    prepare_batch(w, false);
    const int n = ::recvmmsg(fd, w.received.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: empty. Anything else (an ICMP error queued for an earlier answer) is not this
      // socket's end: wait for the next datagram.
      return wait(w, socket);
    }
    unsigned answers = 0;
    for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
      net::IpAddress source;
      std::uint16_t port = 0;
      source_of(w.from[i], source, port);
      const std::size_t size =
          handler_.handle({w.in[i].data(), w.received[i].msg_len}, source, port, w.out[answers]);
      if (size == 0) continue;
      w.out_vec[answers] = {w.out[answers].data(), size};
      auto& h = w.answers[answers].msg_hdr;
      h = {};
      h.msg_name = &w.from[i];
      h.msg_namelen = w.received[i].msg_hdr.msg_namelen;
      h.msg_iov = &w.out_vec[answers];
      h.msg_iovlen = 1;
      ++answers;
    }
    for (unsigned sent = 0; sent < answers;) {
      const int k = ::sendmmsg(fd, w.answers.data() + sent, answers - sent, MSG_DONTWAIT);
      if (k < 0 && errno == EINTR) continue;
      // A full send buffer or an unreachable destination: that answer is lost, as a datagram
      // may be; the client asks again.
      sent += k > 0 ? static_cast<unsigned>(k) : 1;
    }
    if (static_cast<unsigned>(n) < kBatch) return wait(w, socket);
  }
  asio::post(*w.io, [this, &w, &socket] { serve(w, socket); });
}

// Like serve(), for a transparent socket: each datagram's original destination comes with it,
// and each answer leaves from that address (one sendmmsg per run of answers from the same
// origin's reply socket).
void Server::serve_intercepted(Worker& w, Socket& socket) {
  if (w.stopping) return;
  const int fd = socket.watch.native_handle();
  for (unsigned turn = 0; turn < kBatchesPerTurn; ++turn) {
    prepare_batch(w, true);
    const int n = ::recvmmsg(fd, w.received.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return wait(w, socket);
    }
    unsigned answers = 0;
    for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
      Intercepted from;
      from.worker = w.index;
      source_of(w.from[i], from.subscriber.address, from.subscriber.port);
      if (!original_destination(w.received[i].msg_hdr, from.origin)) continue;
      const std::size_t size = interceptor_->handle({w.in[i].data(), w.received[i].msg_len}, from,
                                                    w.out[answers], *this);
      if (size == 0) continue;
      const int reply = reply_socket(w, from.origin);
      if (reply < 0) continue;
      w.reply_fd[answers] = reply;
      w.out_vec[answers] = {w.out[answers].data(), size};
      auto& h = w.answers[answers].msg_hdr;
      h = {};
      h.msg_name = &w.from[i];
      h.msg_namelen = w.received[i].msg_hdr.msg_namelen;
      h.msg_iov = &w.out_vec[answers];
      h.msg_iovlen = 1;
      ++answers;
    }
    // One sendmmsg per run of answers from the same origin (most batches: one run).
    for (unsigned first = 0; first < answers;) {
      unsigned end = first + 1;
      while (end < answers && w.reply_fd[end] == w.reply_fd[first]) ++end;
      for (unsigned sent = first; sent < end;) {
        const int k =
            ::sendmmsg(w.reply_fd[first], w.answers.data() + sent, end - sent, MSG_DONTWAIT);
        if (k < 0 && errno == EINTR) continue;
        sent += k > 0 ? static_cast<unsigned>(k) : 1;  // a lost answer, as in serve()
      }
      first = end;
    }
    if (static_cast<unsigned>(n) < kBatch) return wait(w, socket);
  }
  asio::post(*w.io, [this, &w, &socket] { serve_intercepted(w, socket); });
}

void Server::send_later(const Intercepted& to, Compose compose) {
  auto& w = *workers_.at(to.worker);
  asio::post(*w.io, [this, &w, to, compose = std::move(compose)] {
    if (w.stopping) return;
    const std::size_t size = compose(w.out[0]);
    if (size != 0) send_from(w, to.origin, to.subscriber, {w.out[0].data(), size});
  });
}

void Server::send_from(Worker& w, const net::Endpoint& origin, const net::Endpoint& subscriber,
                       std::span<const std::uint8_t> answer) {
  const int reply = reply_socket(w, origin);
  if (reply < 0) return;
  sockaddr_storage to;
  const socklen_t length = to_sockaddr(subscriber, to);
  // A full send buffer or an unreachable subscriber: the answer is lost, as a datagram may be.
  (void)::sendto(reply, answer.data(), answer.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&to), length);
}

int Server::reply_socket(Worker& w, const net::Endpoint& origin) {
  const auto key = origin_key(origin);
  auto& reply = w.replies[std::string_view(key.data(), key.size())];
  if (reply.fd < 0) {
    reply.fd = open_reply_socket(origin);
    if (reply.fd < 0) {
      const int error = errno;
      w.replies.erase(std::string_view(key.data(), key.size()));
      const core::TimePoint now = handler_.now();
      if (w.reply_warning.occurred(now)) {
        spdlog::warn(
            "cannot answer intercepted UDP requests from {}: {} ({} since the last report)",
            origin.to_string(), std::strerror(error), w.reply_warning.take(now));
      }
      return -1;
    }
  }
  return reply.fd;
}

}  // namespace btrt::udp

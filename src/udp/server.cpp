#include "udp/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

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
int open_socket(const net::Endpoint& e, bool reuse_port) {
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
  if (ok) ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  if (!ok) {
    const int error = errno;
    ::close(fd);
    throw cannot_listen(e, error);
  }
  return fd;
}

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
  Socket(asio::io_context& io, int fd) : watch(io, fd) {}
  asio::posix::stream_descriptor watch;  // owns the descriptor; only waited on, never read
};

struct Server::Worker {
  asio::io_context* io = nullptr;
  std::vector<int> fds;  // bound, until start() hands them to `sockets`
  std::vector<std::unique_ptr<Socket>> sockets;
  bool stopping = false;

  // Receive and send state for one batch, reused for every batch.
  std::array<std::array<std::uint8_t, kReceiveSize>, kBatch> in;
  std::array<std::array<std::uint8_t, kMaxAnswer>, kBatch> out;
  std::array<sockaddr_storage, kBatch> from;
  std::array<iovec, kBatch> in_vec, out_vec;
  std::array<mmsghdr, kBatch> received, answers;
};

Server::Server(std::vector<net::Endpoint> listen, Handler& handler)
    : listen_(std::move(listen)), handler_(handler) {}

Server::~Server() {
  for (auto& w : workers_) {
    for (int fd : w->fds) ::close(fd);
  }
}

void Server::bind_all(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  const bool shared = workers > 1;
  for (auto endpoint : listen_) {
    if (shared && endpoint.port != 0) {
      // SO_REUSEPORT would let this bind join the sockets of another process of the same user
      // (an instance already running) and silently split its traffic: bind once without it.
      ::close(open_socket(endpoint, false));
    }
    for (auto& w : workers_) {
      const int fd = open_socket(endpoint, shared);
      w->fds.push_back(fd);
      if (endpoint.port == 0) endpoint.port = bound_port(fd);  // the same for every worker
    }
  }
}

void Server::start(asio::io_context& io, unsigned worker, unsigned workers) {
  if (worker == 0) bind_all(workers);
  auto& w = *workers_.at(worker);
  w.io = &io;
  for (int fd : w.fds) w.sockets.push_back(std::make_unique<Socket>(io, fd));
  w.fds.clear();
  for (auto& socket : w.sockets) {
    asio::post(io, [this, &w, s = socket.get()] { serve(w, *s); });
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
                            serve(worker, socket);
                          });
}

// Reads what is queued batch by batch until the socket is empty, answering each batch with one
// sendmmsg; a flood is served in turns so that the loop's other sockets and connections go on.
void Server::serve(Worker& w, Socket& socket) {
  if (w.stopping) return;
  const int fd = socket.watch.native_handle();
  for (unsigned turn = 0; turn < kBatchesPerTurn; ++turn) {
    for (unsigned i = 0; i < kBatch; ++i) {
      w.in_vec[i] = {w.in[i].data(), w.in[i].size()};
      auto& h = w.received[i].msg_hdr;
      h = {};
      h.msg_name = &w.from[i];
      h.msg_namelen = sizeof w.from[i];
      h.msg_iov = &w.in_vec[i];
      h.msg_iovlen = 1;
    }
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

}  // namespace btrt::udp

#include "http/server.hpp"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "http/connection.hpp"

namespace btrt::http {

namespace asio = boost::asio;
using asio::ip::tcp;
using Acceptor = asio::basic_socket_acceptor<tcp, asio::io_context::executor_type>;

namespace {

tcp::endpoint to_asio(const net::Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  return {asio::ip::address_v6(e.address.bytes()), e.port};
}

constexpr int kAcceptsPerTurn = 64;

// IPv4-mapped IPv6 addresses stay comparable as IPv4 (net::IpAddress keeps the mapped form).
net::IpAddress address_of(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    return net::IpAddress::from_v4(
        ntohl(reinterpret_cast<const sockaddr_in&>(peer).sin_addr.s_addr));
  }
  net::IpAddress::Bytes bytes{};
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
  std::memcpy(bytes.data(), v6.s6_addr, bytes.size());
  return net::IpAddress(bytes);
}

std::uint16_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

// Overflow connections being read and answered 503 at once, per worker; past that, the
// answer goes out unread (a client may then see a reset).
constexpr std::size_t kMaxOverflowPerWorker = 256;

constexpr std::string_view kOverloaded =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "
    "21\r\nConnection: close\r\n\r\ntoo many connections\n";

}  // namespace

// IP_TRANSPARENT is also granted by CAP_NET_RAW, but the router set-up (SO_MARK, the documented
// unit drop-in) is CAP_NET_ADMIN's: ask for that one, so that a start without it fails at once
// rather than on the first marked upstream connection.
bool has_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

// One listening socket per listen address and worker, bound with SO_REUSEPORT when there are
// several workers: the kernel spreads new connections over them and each accepts on its own loop,
// so a connection never crosses threads (no hand-off, no wake-up of another loop).
struct Listener {
  Listener(asio::io_context& io, Worker& w, bool t) : acceptor(io), worker(w), transparent(t) {}
  Acceptor acceptor;
  Worker& worker;
  bool transparent;  // interception: each connection's own address is its original destination
};

struct Server::Impl {
  ServerOptions options;
  Handler& handler;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<WorkerService*> services;
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> open_connections{0};
  std::atomic<bool> stopping{false};

  Impl(ServerOptions o, Handler& h) : options(std::move(o)), handler(h) {
    if (options.threads == 0) options.threads = 1;
    for (unsigned i = 0; i < options.threads; ++i) {
      // One thread runs a worker's loop and only it starts and performs I/O on the worker's
      // sockets (other threads post to it): the reactor's per-socket lock, taken twice per
      // request, guards nothing. Posting and timers stay locked.
      contexts.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
      auto& io = *contexts.back();
      workers.push_back(std::unique_ptr<Worker>(new Worker{
          io, handler, options, open_connections, stopping, asio::steady_timer(io), nullptr, 0}));
    }
  }

  void listen(const net::Endpoint& configured, bool transparent) {
    auto endpoint = to_asio(configured);
    auto fail = [&](const boost::system::error_code& ec) {
      if (transparent && (ec.value() == EPERM || ec.value() == EACCES || !has_net_admin())) {
        throw std::runtime_error("cannot listen on " + configured.to_string() +
                                 " (interception.tcp_listen): a transparent listener needs the "
                                 "CAP_NET_ADMIN capability, which btrt does not have");
      }
      throw std::runtime_error("cannot listen on " + configured.to_string() + ": " + ec.message());
    };
    // IP_TRANSPARENT lets the socket accept connections for addresses that are not this
    // host's, as the router's tproxy rule delivers them.
    auto make_transparent = [&](Acceptor& a, boost::system::error_code& ec) {
      if (!transparent) return;
      const int on = 1;
      const bool v6 = endpoint.address().is_v6();
      if (::setsockopt(a.native_handle(), v6 ? SOL_IPV6 : SOL_IP,
                       v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &on, sizeof on)) {
        ec.assign(errno, boost::system::system_category());
      }
    };
    const bool shared = workers.size() > 1;
    boost::system::error_code ec;
    if (transparent && !has_net_admin())
      fail(boost::system::errc::make_error_code(boost::system::errc::operation_not_permitted));
    if (shared && endpoint.port() != 0) {
      // SO_REUSEPORT would let this bind join a listener of another process of the same user
      // (an instance already running) and silently split its traffic: bind once without it
      // first, so that a taken address fails as it would without SO_REUSEPORT.
      Acceptor probe(*contexts.front());
      probe.open(endpoint.protocol(), ec);
      if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec && endpoint.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
      if (!ec) make_transparent(probe, ec);
      if (!ec) probe.bind(endpoint, ec);
      if (ec) fail(ec);
    }
    for (auto& worker : workers) {
      auto listener = std::make_unique<Listener>(worker->io, *worker, transparent);
      auto& acceptor = listener->acceptor;
      acceptor.open(endpoint.protocol(), ec);
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec && shared) {
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on)) {
          ec.assign(errno, boost::system::system_category());
        }
      }
      if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
      // Inherited by every accepted socket: answers go out at once, without a system call
      // per connection to say so.
      if (!ec) acceptor.set_option(tcp::no_delay(true), ec);
      if (!ec) make_transparent(acceptor, ec);
      if (!ec) acceptor.bind(endpoint, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (!ec) acceptor.non_blocking(true, ec);  // accept() drains it until EAGAIN
      if (!ec && endpoint.port() == 0) endpoint = acceptor.local_endpoint(ec);  // same for all
      if (ec) fail(ec);
      listeners.push_back(std::move(listener));
    }
  }

  // Accepts until the backlog is empty, then waits for the listening socket to be readable.
  // Asio's async_accept would queue a completion per connection and register each socket
  // with epoll at once; here a connection is served in the same turn of the loop it was
  // accepted in, and registered only if it has to wait (see Connection::watch).
  void accept(Listener& listener) {
    for (int accepted = 0; accepted < kAcceptsPerTurn; ++accepted) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const int fd =
          ::accept4(listener.acceptor.native_handle(), reinterpret_cast<sockaddr*>(&peer), &length,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_for_connections(listener);
        // Out of descriptors (EMFILE, ENFILE) or memory: accepting again at once would
        // fail again and spin; pause briefly while the listen backlog holds the rest.
        auto pause =
            std::make_shared<asio::steady_timer>(listener.worker.io, std::chrono::milliseconds(50));
        pause->async_wait([this, &listener, pause](boost::system::error_code) {
          if (!stopping.load()) accept(listener);
        });
        return;
      }
      if (open_connections.load(std::memory_order_relaxed) >= options.max_connections) {
        // Overload: the request is read (bounded in size and time) and answered 503, so that
        // the client sees the answer, not a reset for what it was still sending.
        if (listener.worker.overflow < kMaxOverflowPerWorker) {
          ++listener.worker.overflow;
          std::make_shared<Connection>(fd, peer.ss_family == AF_INET6, address_of(peer),
                                       listener.worker, /*overflow=*/true)
              ->start();
          continue;
        }
        (void)!::send(fd, kOverloaded.data(), kOverloaded.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      open_connections.fetch_add(1, std::memory_order_relaxed);
      std::optional<net::Endpoint> original_destination;
      if (listener.transparent) {
        sockaddr_storage local{};
        socklen_t local_length = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) {
          open_connections.fetch_sub(1, std::memory_order_relaxed);
          ::close(fd);
          continue;
        }
        original_destination = net::Endpoint{address_of(local), port_of(local)};
      }
      std::make_shared<Connection>(fd, peer.ss_family == AF_INET6, address_of(peer),
                                   listener.worker, /*overflow=*/false, original_destination)
          ->start();
    }
    // A flood of new connections must not starve the connections this loop already has:
    // go on after what is queued.
    asio::post(listener.worker.io, [this, &listener] {
      if (!stopping.load()) accept(listener);
    });
  }

  void wait_for_connections(Listener& listener) {
    listener.acceptor.async_wait(Acceptor::wait_read,
                                 [this, &listener](boost::system::error_code ec) {
                                   if (ec || stopping.load()) return;
                                   accept(listener);
                                 });
  }
};

Server::Server(ServerOptions options, Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() {
  stop();
}

void Server::add_service(WorkerService& service) {
  impl_->services.push_back(&service);
}

void Server::start() {
  for (const auto& listen : impl_->options.listen) impl_->listen(listen, false);
  for (const auto& listen : impl_->options.intercept_listen) impl_->listen(listen, true);
  const auto workers = static_cast<unsigned>(impl_->workers.size());
  for (auto* service : impl_->services) {
    for (unsigned i = 0; i < workers; ++i) service->start(*impl_->contexts[i], i, workers);
  }
  for (auto& listener : impl_->listeners) {
    asio::post(listener->worker.io, [this, l = listener.get()] { impl_->accept(*l); });
  }
  for (auto& worker : impl_->workers) worker->start_sweep();
  for (auto& context : impl_->contexts) {
    impl_->guards.push_back(asio::make_work_guard(*context));
    const auto name = "btrt-http-" + std::to_string(impl_->threads.size());
    impl_->threads.emplace_back([&io = *context, name] {
      pthread_setname_np(pthread_self(), name.c_str());  // as top -H and ps -L show it
      io.run();
    });
  }
}

void Server::stop() {
  if (impl_->threads.empty()) return;
  impl_->stopping.store(true);
  for (unsigned i = 0; i < impl_->workers.size(); ++i) {
    asio::post(impl_->workers[i]->io, [this, i, w = impl_->workers[i].get()] {
      for (auto* service : impl_->services) service->stop(i);
      for (auto& listener : impl_->listeners) {
        boost::system::error_code ignored;
        if (&listener->worker == w) listener->acceptor.close(ignored);
      }
      for (Connection* c = w->connections; c != nullptr;) {
        Connection* next = c->next();
        c->close_if_idle();
        c = next;
      }
      if (w->connections == nullptr) w->sweep.cancel();
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

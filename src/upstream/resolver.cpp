#include "upstream/resolver.hpp"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace btrt::upstream {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  // One socket c-ares waits on. The descriptor is c-ares' own: released, never closed, here.
  struct Watch {
    Watch(asio::io_context& io, int fd) : descriptor(io, fd) {}
    asio::posix::stream_descriptor descriptor;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;  // an async_wait for it is pending
    bool writing = false;
    bool gone = false;  // c-ares closed the socket: pending waits must not touch it
  };

  // One lookup, from ares_getaddrinfo to its callback.
  struct Lookup {
    Impl* impl;
    Done done;
  };

  explicit Impl(asio::io_context& context) : io(context), timer(context) {}

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* result);
  void watch(int fd, bool read, bool write);
  void arm(int fd, const std::shared_ptr<Watch>& w);
  void process(int read_fd, int write_fd);
  void schedule_timeout();
  void close_channel();

  asio::io_context& io;
  ares_channel channel = nullptr;
  asio::steady_timer timer;
  std::unordered_map<int, std::shared_ptr<Watch>> watches;
  bool starting = false;  // inside ares_getaddrinfo: a callback then must not run in place
};

void Resolver::Impl::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<Impl*>(data)->watch(fd, readable != 0, writable != 0);
}

void Resolver::Impl::watch(int fd, bool read, bool write) {
  auto it = watches.find(fd);
  if (!read && !write) {
    // c-ares closes the socket right after this: out of the reactor first.
    if (it == watches.end()) return;
    auto w = it->second;
    watches.erase(it);
    w->gone = true;
    error_code ignored;
    w->descriptor.cancel(ignored);
    (void)w->descriptor.release();
    return;
  }
  if (it == watches.end()) it = watches.emplace(fd, std::make_shared<Watch>(io, fd)).first;
  it->second->want_read = read;
  it->second->want_write = write;
  arm(fd, it->second);
}

void Resolver::Impl::arm(int fd, const std::shared_ptr<Watch>& w) {
  std::weak_ptr<Impl> weak = weak_from_this();
  if (w->want_read && !w->reading) {
    w->reading = true;
    w->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                             [weak, w, fd](const error_code& ec) {
                               w->reading = false;
                               if (ec || w->gone) return;
                               if (auto self = weak.lock()) self->process(fd, ARES_SOCKET_BAD);
                             });
  }
  if (w->want_write && !w->writing) {
    w->writing = true;
    w->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                             [weak, w, fd](const error_code& ec) {
                               w->writing = false;
                               if (ec || w->gone) return;
                               if (auto self = weak.lock()) self->process(ARES_SOCKET_BAD, fd);
                             });
  }
}

void Resolver::Impl::process(int read_fd, int write_fd) {
  if (channel == nullptr) return;
  ares_process_fd(channel, read_fd, write_fd);
  // The waits that fired are re-armed for what c-ares still wants of those sockets.
  for (int fd : {read_fd, write_fd}) {
    if (fd == ARES_SOCKET_BAD) continue;
    if (auto it = watches.find(fd); it != watches.end()) arm(fd, it->second);
  }
  schedule_timeout();
}

void Resolver::Impl::schedule_timeout() {
  if (channel == nullptr) return;
  timeval tv{};
  if (ares_timeout(channel, nullptr, &tv) == nullptr) {
    timer.cancel();  // nothing asked: nothing to wake up for
    return;
  }
  timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer.async_wait([weak = weak_from_this()](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  });
}

void Resolver::Impl::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  std::vector<asio::ip::address> addresses;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (auto* node = result->nodes; node != nullptr; node = node->ai_next) {
      asio::ip::address address;
      if (node->ai_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
        address = asio::ip::address_v4(ntohl(v4->sin_addr.s_addr));
      } else if (node->ai_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), v6->sin6_addr.s6_addr, bytes.size());
        address = asio::ip::address_v6(bytes);
      } else {
        continue;
      }
      if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
        addresses.push_back(address);
      }
    }
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  if (status == ARES_EDESTRUCTION) return;  // the Resolver is going: nobody to tell
  const char* error =
      addresses.empty() ? ares_strerror(status == ARES_SUCCESS ? ARES_ENODATA : status) : nullptr;
  Impl* impl = lookup->impl;
  if (impl->starting) {
    asio::post(impl->io, [done = std::move(lookup->done), addresses = std::move(addresses),
                          error]() mutable { done(std::move(addresses), error); });
  } else {
    lookup->done(std::move(addresses), error);
  }
}

void Resolver::Impl::close_channel() {
  if (channel == nullptr) return;
  ares_destroy(channel);  // closes its sockets: watch() releases each first
  channel = nullptr;
  timer.cancel();
  for (auto& [fd, w] : watches) {
    w->gone = true;
    error_code ignored;
    w->descriptor.cancel(ignored);
    (void)w->descriptor.release();
  }
  watches.clear();
}

Resolver::Resolver(asio::io_context& io, ResolverOptions options)
    : impl_(std::make_shared<Impl>(io)) {
  static std::once_flag library;
  std::call_once(library, [] { ares_library_init(ARES_LIB_INIT_ALL); });

  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  opts.sock_state_cb = &Impl::on_socket_state;
  opts.sock_state_cb_data = impl_.get();
  // Two tries, the second with twice the time (c-ares doubles it): the whole within
  // `timeout` for one server.
  opts.timeout = static_cast<int>(std::max<std::int64_t>(100, options.timeout.count() / 3));
  opts.tries = 2;
  // A tracker's host is a full name: the search domains of the host btrt runs on do not apply.
  opts.flags = ARES_FLAG_NOSEARCH;
  int status = ares_init_options(&impl_->channel, &opts, mask);
  if (status != ARES_SUCCESS) {
    impl_->channel = nullptr;
    throw std::runtime_error(std::string("cannot start the DNS resolver: ") +
                             ares_strerror(status));
  }
  if (!options.servers.empty()) {
    std::string csv;
    for (const auto& server : options.servers) {
      if (!csv.empty()) csv += ',';
      csv += server.to_string();
    }
    status = ares_set_servers_ports_csv(impl_->channel, csv.c_str());
    if (status != ARES_SUCCESS) {
      impl_->close_channel();
      throw std::runtime_error("DNS servers " + csv + ": " + ares_strerror(status));
    }
  }
}

Resolver::~Resolver() {
  impl_->close_channel();
}

void Resolver::resolve(const std::string& host, Done done) {
  if (impl_->channel == nullptr) {
    asio::post(impl_->io, [done = std::move(done)] { done({}, "resolver stopped"); });
    return;
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No sorting: it opens a socket per address to find the preferred one.
  hints.ai_flags = ARES_AI_NOSORT;
  auto* lookup = new Impl::Lookup{impl_.get(), std::move(done)};
  impl_->starting = true;
  ares_getaddrinfo(impl_->channel, host.c_str(), nullptr, &hints, &Impl::on_addrinfo, lookup);
  impl_->starting = false;
  impl_->schedule_timeout();
}

void Resolver::cancel() {
  if (impl_->channel == nullptr) return;
  impl_->starting = true;  // callbacks run from here: deferred, like every other
  ares_cancel(impl_->channel);
  impl_->starting = false;
  impl_->schedule_timeout();
}

std::string Resolver::version() {
  return ares_version(nullptr);
}

}  // namespace btrt::upstream

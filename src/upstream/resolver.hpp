#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/ip_address.hpp"

namespace btrt::upstream {

struct ResolverOptions {
  // DNS servers to ask; empty: those of /etc/resolv.conf. /etc/hosts is read first either way.
  std::vector<net::Endpoint> servers;
  // What c-ares gives one lookup (every server, every try): its first try gets a third.
  std::chrono::milliseconds timeout{5000};
};

// Asynchronous name resolution with c-ares on an io_context: any number of lookups at once,
// none holding a thread. c-ares tells which sockets it waits on (its socket-state callback);
// each is watched by the io_context's own reactor and handed back to ares_process_fd when
// ready, and one timer runs c-ares' timeouts. Nothing polls while nothing is asked. Not
// thread-safe: use it from the io_context's thread only.
class Resolver {
 public:
  // Throws std::runtime_error when c-ares cannot start (no memory, unreadable settings).
  Resolver(boost::asio::io_context& io, ResolverOptions options);
  ~Resolver();  // lookups still running end without their callback
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The addresses of `host` (A and AAAA), or an empty list and why. `done` runs once, on the
  // io_context, never from inside resolve().
  using Done = std::function<void(std::vector<boost::asio::ip::address>, const char* error)>;
  void resolve(const std::string& host, Done done);

  // Ends every lookup in progress; their callbacks run (later) with an error.
  void cancel();

  static std::string version();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace btrt::upstream

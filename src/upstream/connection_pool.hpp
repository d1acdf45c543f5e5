#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace btrt::upstream {

// One TCP connection; shared by the request using it and the handlers pending on it.
struct Connection {
  explicit Connection(boost::asio::io_context& io) : socket(io), idle_timer(io) {}
  void close();

  boost::asio::ip::tcp::socket socket;
  boost::beast::flat_buffer buffer;
  boost::asio::steady_timer idle_timer;
  std::string key;               // origin, "host:port" with the host in lower case
  std::string address;           // the address and port connected to: what max_per_address counts
  std::uint64_t generation = 0;  // bumped whenever it enters or leaves the idle pool
  bool idle = false;
};

// Kept-alive connections per origin, oldest first: at most max_idle_per_origin per origin and
// 256 in all, each closed after idle_timeout or as soon as the server closes it. Runs on the
// client's io_context; the handlers it leaves behind hold it weakly.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  ConnectionPool(std::size_t max_idle_per_origin, std::chrono::seconds idle_timeout)
      : max_idle_per_origin_(max_idle_per_origin), idle_timeout_(idle_timeout) {}

  // The origin's most recently used idle connection (the likeliest alive), or null.
  std::shared_ptr<Connection> take(const std::string& key);
  // Keeps a connection whose exchange ended cleanly, or closes it when the pool is full (the
  // origin's oldest goes first), closed, or pooling is off.
  void put(std::shared_ptr<Connection> conn);
  // Closes every idle connection and keeps none from now on.
  void close();

  bool pooling() const { return max_idle_per_origin_ != 0; }

 private:
  void drop(const std::shared_ptr<Connection>& conn, std::uint64_t generation);

  const std::size_t max_idle_per_origin_;
  const std::chrono::seconds idle_timeout_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle_;
  std::size_t idle_count_ = 0;
};

}  // namespace btrt::upstream

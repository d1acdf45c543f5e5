#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/lru_map.hpp"
#include "net/ip_address.hpp"
#include "upstream/client.hpp"

namespace btrt::upstream {

// The connection IDs origins gave btrt (BEP 15: valid for a minute), per origin address and
// source, so that the next announce to the same origin skips the connect. Bounded: the least
// recently used are forgotten. Pure; the time is a parameter.
class OriginConnectionIds {
 public:
  using Clock = std::chrono::steady_clock;
  // BEP 15 lets a client use an ID for a minute; reused a little less, so that it is not
  // refused for arriving a moment too late.
  static constexpr std::chrono::seconds kReuseFor{55};

  explicit OriginConnectionIds(std::size_t capacity) : ids_(capacity) {}
  std::optional<std::uint64_t> find(const std::string& origin, Clock::time_point now);
  void store(const std::string& origin, std::uint64_t id, Clock::time_point now);
  void forget(const std::string& origin) { ids_.erase(origin); }
  std::size_t size() const { return ids_.size(); }

 private:
  struct Entry {
    std::uint64_t id = 0;
    Clock::time_point obtained{};
  };
  core::LruMap<Entry> ids_;
};

// When to send a request again after `sent` sends went unanswered, from the first send: BEP
// 15's schedule (each wait twice the one before) scaled down to fit within `timeout`, the
// first repeat at an eighth of it (at least 100 ms). nullopt once the next would come after
// the timeout.
std::optional<std::chrono::milliseconds> resend_at(unsigned sent,
                                                   std::chrono::milliseconds timeout);

struct UdpRequest {
  net::Endpoint destination;  // the origin's address and port
  // A subscriber's BEP 15 announce or scrape packet: its connection and transaction IDs are
  // replaced by btrt's, the rest is sent as it is.
  std::vector<std::uint8_t> packet;
  std::chrono::milliseconds timeout{5000};  // for everything, connect included
  // Sent from this address (IP_TRANSPARENT, needs CAP_NET_ADMIN): interception.spoof_source.
  std::optional<net::IpAddress> source;
};

struct UdpClientOptions {
  DestinationGuard guard;       // empty: every address is allowed
  std::uint32_t mark = 0;       // SO_MARK on every socket; 0: none
  std::size_t max_ids = 10000;  // origins whose connection ID is kept
};

// Asynchronous BEP 15 client for the origins of intercepted UDP announces and scrapes: per request
// its own socket (connected to the origin, so that only the origin's datagrams and ICMP errors
// reach it), the origin's connection ID reused while valid, a lost datagram sent again
// (resend_at) until the timeout. A cached ID the origin answers with an error is dropped and
// the request asked once more after a new connect, since an expired ID is answered that way.
// Everything runs on the io_context it was given; not thread-safe.
class UdpClient {
 public:
  UdpClient(boost::asio::io_context& io, UdpClientOptions options);
  // Like shutdown(), but the handlers of requests in flight are dropped, never called.
  ~UdpClient();
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  // `answer`: the origin's answer (the request's action, or an error), unparsed. `done` is
  // called exactly once, on the io_context, never from inside ask().
  using Handler = std::function<void(ClientError, std::vector<std::uint8_t> answer)>;
  void ask(UdpRequest request, Handler done);

  // Fails requests in flight (ClientError::connect_failed, later, on the io_context) and
  // those started afterwards.
  void shutdown();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace btrt::upstream

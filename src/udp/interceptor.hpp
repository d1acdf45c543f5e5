#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "forwarding/forwarder.hpp"
#include "net/ip_address.hpp"
#include "tracker/tracker.hpp"
#include "udp/handler.hpp"

namespace btrt::udp {

// Where an intercepted request came from and went to: the answer leaves from `origin` (the
// original destination) towards `subscriber`, on the worker's loop that received it.
struct Intercepted {
  net::Endpoint subscriber;
  net::Endpoint origin;
  unsigned worker = 0;
};

// Writes an answer into a buffer of kMaxAnswer bytes; returns its size, 0 for none.
using Compose = std::function<std::size_t(std::span<std::uint8_t>)>;

// What sends an answer later (the origin was asked): the server, which runs `compose` on the
// request's worker loop and sends the result from the origin's address.
class LaterSender {
 public:
  virtual void send_later(const Intercepted& to, Compose compose) = 0;

 protected:
  ~LaterSender() = default;
};

// BEP 15 requests a router diverted to interception.udp_listen (docs/interception.md): btrt
// answers as the origin would. A connect gets btrt's own connection ID; an announce registers
// the subscriber like a forwarded announce, asks the origin over BEP 15 through the
// forwarder (mode, merging, cache, back-off, destination guard) and is answered with the
// ranked list, or with the origin's error relayed; a silent origin is answered for from what
// btrt knows. A scrape is asked of the origin too and answered with its counts when it answers
// within forwarding.timeout, else with btrt's. Thread-safe like Handler.
class Interceptor {
 public:
  Interceptor(Handler& handler, tracker::Tracker& tracker, const config::Config& config);

  // Set once the forwarder runs (nullptr: every announce is answered from btrt's store).
  void set_forwarder(forwarding::Forwarder* forwarder) { forwarder_.store(forwarder); }

  // Returns the size of an answer to send at once (into `out`, kMaxAnswer bytes), or 0: none,
  // or one that `later` sends once the origin has answered.
  std::size_t handle(std::span<const std::uint8_t> packet, const Intercepted& from,
                     std::span<std::uint8_t> out, LaterSender& later);

 private:
  std::size_t announce(const protocol::udp::Packet& packet, std::span<const std::uint8_t> raw,
                       const Intercepted& from, std::span<std::uint8_t> out, LaterSender& later);
  std::size_t scrape(const protocol::udp::Packet& packet, std::span<const std::uint8_t> raw,
                     const Intercepted& from, std::span<std::uint8_t> out, LaterSender& later);
  // The forwarder when it may ask the original destination: enabled, and the destination
  // allowed by the guard (a refusal is counted).
  forwarding::Forwarder* may_ask(const net::Endpoint& origin) const;

  Handler& handler_;
  tracker::Tracker& tracker_;
  const bool spoof_source_;
  std::atomic<forwarding::Forwarder*> forwarder_{nullptr};
};

}  // namespace btrt::udp

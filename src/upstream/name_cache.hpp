#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/lru_map.hpp"
#include "upstream/resolver.hpp"

namespace btrt::upstream {

// Names resolved for the client: a cache of the last answers (least recently used go first)
// and one lookup per name however many requests wait for it. Runs on the client's io_context;
// the handlers it leaves behind hold it weakly.
class NameCache : public std::enable_shared_from_this<NameCache> {
 public:
  using Addresses = std::vector<boost::asio::ip::address>;
  // Called once with the addresses, or an empty list when the name did not resolve in time.
  using Waiter = std::function<void(const Addresses&)>;

  NameCache(boost::asio::io_context& io, ResolverOptions resolver, std::chrono::seconds ttl,
            std::size_t max_entries)
      : io_(io), resolver_(io, std::move(resolver)), ttl_(ttl), cache_(max_entries) {}

  // The cached addresses of `host` (lower case), or null when unknown or expired.
  const Addresses* cached(const std::string& host);
  // Looks `host` up, or joins the lookup in progress: its waiters wait no longer than the
  // first one's timeout, then fail, and a later request starts a new lookup.
  void resolve(const std::string& host, std::chrono::milliseconds timeout, Waiter waiter);
  // Ends every lookup without calling its waiters, and caches nothing from now on.
  void cancel();

 private:
  struct Lookup {
    explicit Lookup(boost::asio::io_context& io) : deadline(io) {}
    boost::asio::steady_timer deadline;
    std::vector<Waiter> waiters;
    bool ended = false;
  };
  struct Entry {
    Addresses addresses;
    std::chrono::steady_clock::time_point expires;
  };
  void resolved(const std::string& host, const std::shared_ptr<Lookup>& lookup,
                Addresses addresses);

  boost::asio::io_context& io_;
  Resolver resolver_;
  const std::chrono::seconds ttl_;
  core::LruMap<Entry> cache_;
  std::unordered_map<std::string, std::shared_ptr<Lookup>> lookups_;
  bool cancelled_ = false;
};

}  // namespace btrt::upstream

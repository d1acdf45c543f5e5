#include "upstream/client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <unordered_map>

#include "text/strings.hpp"
#include "text/url.hpp"
#include "upstream/address_limit.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/name_cache.hpp"
#include "upstream/request.hpp"

namespace btrt::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // status line and headers of an answer

net::IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return net::IpAddress::from_v4(a.to_v4().to_uint());
  return net::IpAddress(a.to_v6().to_bytes());
}

asio::ip::address to_asio(const net::IpAddress& a) {
  if (a.is_v4()) return asio::ip::address_v4(a.v4());
  return asio::ip::address_v6(a.bytes());
}

}  // namespace

// The requests in flight and what they share: names, kept-alive connections, address limits.
struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  struct Op;

  Impl(asio::io_context& context, ClientOptions opts)
      : io(context),
        options(std::move(opts)),
        names(std::make_shared<NameCache>(context,
                                          ResolverOptions{options.dns_servers, options.dns_timeout},
                                          options.dns_cache_ttl, options.max_dns_entries)),
        pool(std::make_shared<ConnectionPool>(options.max_idle_per_origin, options.idle_timeout)),
        limit(options.max_per_address) {}

  void get(ClientRequest request, Handler done);
  void shutdown();
  void post_result(Handler done, ClientError error);

  asio::io_context& io;
  const ClientOptions options;
  bool closed = false;     // shutdown() ran: no new requests, no pooling
  bool destroyed = false;  // ~Client() ran: completion handlers are dropped, not called
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Op>> ops;  // requests in flight
  std::shared_ptr<NameCache> names;
  std::shared_ptr<ConnectionPool> pool;
  AddressLimit limit;
};

// One request, from get() to its handler.
struct Client::Impl::Op : std::enable_shared_from_this<Client::Impl::Op> {
  Op(std::shared_ptr<Impl> owner, text::HttpUrl parsed, Handler handler)
      : impl(std::move(owner)),
        url(std::move(parsed)),
        host_key(text::lower(url.host)),
        key(host_key + ":" + std::to_string(url.port)),
        done(std::move(handler)),
        deadline(impl->io),
        id(++impl->next_id) {
    error_code ec;
    const auto address = asio::ip::make_address(url.host, ec);
    if (!ec) literal = address;
  }

  void acquire(bool allow_pool);
  void on_addresses(const std::vector<asio::ip::address>& addresses);
  void connect_next();
  void send();
  void read();
  void on_read(const error_code& ec);
  void on_io_error(const error_code& ec);
  void finish(ClientError error, ClientResponse response = {}, bool defer = false);
  bool claim(const std::string& address);
  void unclaim();

  std::shared_ptr<Impl> impl;
  text::HttpUrl url;
  std::string host_key;                  // lower-case host: the DNS cache key
  std::string key;                       // the pool key
  std::optional<net::IpAddress> source;  // ClientRequest::source
  std::optional<asio::ip::address> literal;
  Handler done;
  asio::steady_timer deadline;
  std::chrono::milliseconds timeout{0};
  std::uint64_t id;
  std::string claimed;  // the address this request counts against, if any

  bhttp::request<bhttp::empty_body> request;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  std::vector<asio::ip::address> candidates;  // resolved and allowed by the guard
  std::size_t next = 0;
  std::shared_ptr<Connection> conn;
  bool reused = false;     // conn came from the idle pool
  bool retried = false;    // the one retry on a fresh connection was spent
  bool tried = false;      // a connection was attempted
  bool busy_seen = false;  // an address was passed over for max_per_address
  bool finished = false;
};

void Client::Impl::post_result(Handler done, ClientError error) {
  asio::post(io, [self = shared_from_this(), done = std::move(done), error]() {
    if (!self->destroyed) done(error, ClientResponse{});
  });
}

void Client::Impl::get(ClientRequest req, Handler done) {
  if (closed) {
    post_result(std::move(done), ClientError::connect_failed);
    return;
  }
  auto url = text::parse_http_url(req.url);
  if (!url || !std::all_of(req.headers.begin(), req.headers.end(), header_ok)) {
    post_result(std::move(done), ClientError::bad_url);
    return;
  }
  auto op = std::make_shared<Op>(shared_from_this(), std::move(*url), std::move(done));
  if (req.source) {
    op->source = req.source;
    op->key += " from " + req.source->to_string();
  }
  op->request = make_request(op->url, req.headers, pool->pooling());
  op->timeout = req.timeout;
  ops.emplace(op->id, op);
  op->deadline.expires_after(req.timeout);
  op->deadline.async_wait([op](const error_code& ec) {
    if (!ec) op->finish(ClientError::timeout);
  });
  // Everything else runs from the io_context, so no handler is ever called from inside get().
  asio::post(io, [op]() {
    if (!op->finished) op->acquire(true);
  });
}

void Client::Impl::shutdown() {
  closed = true;
  names->cancel();
  pool->close();
  std::vector<std::shared_ptr<Op>> pending;
  for (auto& [id, weak] : ops) {
    if (auto op = weak.lock()) pending.push_back(std::move(op));
  }
  for (auto& op : pending) op->finish(ClientError::connect_failed, {}, /*defer=*/true);
  ops.clear();
}

bool Client::Impl::Op::claim(const std::string& address) {
  unclaim();
  if (!impl->limit.claim(address)) return false;
  claimed = address;
  return true;
}

void Client::Impl::Op::unclaim() {
  if (claimed.empty()) return;
  impl->limit.release(claimed);
  claimed.clear();
}

void Client::Impl::Op::acquire(bool allow_pool) {
  if (allow_pool) {
    if (auto pooled = impl->pool->take(key)) {
      if (!claim(pooled->address)) {
        impl->pool->put(std::move(pooled));
        finish(ClientError::address_busy);
        return;
      }
      conn = std::move(pooled);
      reused = true;
      send();
      return;
    }
  }
  if (literal) {
    on_addresses({*literal});
    return;
  }
  if (const auto* addresses = impl->names->cached(host_key)) {
    const auto copy = *addresses;
    on_addresses(copy);
    return;
  }
  // The request's deadline handler keeps it alive; the lookup holds it weakly.
  impl->names->resolve(host_key, timeout,
                       [weak = weak_from_this()](const NameCache::Addresses& addresses) {
                         auto self = weak.lock();
                         if (!self || self->finished) return;
                         if (addresses.empty()) {
                           self->finish(ClientError::resolve_failed);
                         } else {
                           self->on_addresses(addresses);
                         }
                       });
}

void Client::Impl::Op::on_addresses(const std::vector<asio::ip::address>& addresses) {
  candidates.clear();
  for (const auto& address : addresses) {
    if (!impl->options.guard || impl->options.guard(to_ip(address))) candidates.push_back(address);
  }
  if (candidates.empty()) {
    finish(ClientError::destination_refused);
    return;
  }
  next = 0;
  tried = false;
  busy_seen = false;
  connect_next();
}

void Client::Impl::Op::connect_next() {
  // Addresses already at max_per_address are passed over: a dead one that holds its share
  // of requests until they time out holds no more than that.
  std::string address;
  tcp::endpoint endpoint;
  while (next < candidates.size()) {
    endpoint = tcp::endpoint(candidates[next++], url.port);
    if (source && source->is_v4() != endpoint.address().is_v4()) continue;
    address = endpoint.address().to_string() + " " + std::to_string(url.port);
    if (claim(address)) break;
    address.clear();
    busy_seen = true;
  }
  if (address.empty()) {
    finish(busy_seen && !tried ? ClientError::address_busy : ClientError::connect_failed);
    return;
  }
  tried = true;
  auto c = std::make_shared<Connection>(impl->io);
  c->key = key;
  c->address = std::move(address);
  conn = c;
  if (impl->options.mark != 0 || source) {
    error_code opened;
    c->socket.open(endpoint.protocol(), opened);
    const int mark = static_cast<int>(impl->options.mark);
    if (!opened && mark != 0) {
      // Without the mark the request would be diverted back to btrt; the Via mark still
      // stops that loop, so a failure here is not fatal.
      (void)::setsockopt(c->socket.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark);
    }
    if (!opened && source) {
      const int on = 1;
      const bool v6 = endpoint.address().is_v6();
      if (::setsockopt(c->socket.native_handle(), v6 ? SOL_IPV6 : SOL_IP,
                       v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &on, sizeof on) != 0) {
        opened.assign(errno, boost::system::system_category());
      }
      if (!opened) c->socket.bind(tcp::endpoint(to_asio(*source), 0), opened);
    }
    if (opened) {
      c->close();
      conn.reset();
      unclaim();
      asio::post(impl->io, [self = shared_from_this()] {
        if (!self->finished) self->connect_next();
      });
      return;
    }
  }
  c->socket.async_connect(endpoint, [self = shared_from_this(), c](const error_code& ec) {
    if (self->finished) return;
    if (ec) {
      c->close();
      self->conn.reset();
      self->unclaim();
      self->connect_next();
      return;
    }
    error_code ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);
    self->send();
  });
}

void Client::Impl::Op::send() {
  parser.emplace();
  parser->header_limit(kHeaderLimit);
  parser->body_limit(static_cast<std::uint64_t>(impl->options.max_body));
  bhttp::async_write(conn->socket, request,
                     [self = shared_from_this(), c = conn](const error_code& ec, std::size_t) {
                       if (self->finished) return;
                       if (ec) {
                         self->on_io_error(ec);
                         return;
                       }
                       self->read();
                     });
}

// The head first, then the body: Beast 1.74's eager parser, which async_read uses, parses on
// past a Content-Length over body_limit when body bytes follow the head in the same read (the
// error is overwritten), so the announced length is checked here before the body is read.
void Client::Impl::Op::read() {
  bhttp::async_read_header(
      conn->socket, conn->buffer, *parser,
      [self = shared_from_this(), c = conn](const error_code& ec, std::size_t) {
        if (self->finished) return;
        if (ec) {
          self->on_io_error(ec);
          return;
        }
        const auto length = self->parser->content_length();
        if (length && *length > self->impl->options.max_body) {
          self->finish(ClientError::too_large);
          return;
        }
        if (self->parser->is_done()) {
          self->on_read(ec);
          return;
        }
        bhttp::async_read(c->socket, c->buffer, *self->parser,
                          [self, c](const error_code& body_ec, std::size_t) {
                            if (self->finished) return;
                            self->on_read(body_ec);
                          });
      });
}

void Client::Impl::Op::on_io_error(const error_code& ec) {
  // A kept-alive connection the server closed meanwhile: once, transparently, on a new one.
  if (reused && !retried && !(parser && parser->got_some()) && is_stale_connection(ec)) {
    retried = true;
    reused = false;
    conn->close();
    conn.reset();
    unclaim();
    acquire(false);
    return;
  }
  finish(classify(ec));
}

void Client::Impl::Op::on_read(const error_code& ec) {
  if (ec) {
    on_io_error(ec);
    return;
  }
  auto& message = parser->get();
  ClientResponse response;
  response.status = message.result_int();
  response.body = std::move(message.body());
  auto c = std::move(conn);
  conn.reset();
  if (parser->keep_alive() && c->buffer.size() == 0) {
    impl->pool->put(std::move(c));
  } else {
    c->close();
  }
  ClientError error = ClientError::none;
  if (response.status >= 300 && response.status < 400) {
    error = ClientError::redirect;
  } else if (response.status != 200) {
    error = ClientError::bad_response;
  }
  finish(error, std::move(response));
}

void Client::Impl::Op::finish(ClientError error, ClientResponse response, bool defer) {
  if (finished) return;
  finished = true;
  impl->ops.erase(id);
  unclaim();
  deadline.cancel();
  if (conn) {
    conn->close();  // pending operations complete with operation_aborted and see `finished`
    conn.reset();
  }
  Handler handler = std::move(done);
  done = nullptr;
  if (defer) {
    asio::post(impl->io, [owner = impl, handler = std::move(handler), error,
                          response = std::move(response)]() mutable {
      if (!owner->destroyed) handler(error, std::move(response));
    });
  } else if (!impl->destroyed) {
    handler(error, std::move(response));
  }
}

Client::Client(boost::asio::io_context& io, ClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Client::~Client() {
  impl_->destroyed = true;
  impl_->shutdown();
}

void Client::get(ClientRequest request, Handler done) {
  impl_->get(std::move(request), std::move(done));
}

void Client::shutdown() {
  impl_->shutdown();
}

void Client::set_max_per_address(std::size_t limit) {
  impl_->limit.set_limit(limit);
}

}  // namespace btrt::upstream

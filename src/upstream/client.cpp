#include "upstream/client.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/lru_map.hpp"
#include "text/strings.hpp"
#include "text/url.hpp"
#include "upstream/resolver.hpp"

namespace btrt::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // status line and headers of an answer
constexpr std::size_t kMaxIdleTotal = 256;         // kept-alive connections, all origins

// RFC 9110 tchar.
bool is_token_char(char c) {
  if (text::is_alpha(c) || text::is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Extra headers must not break the request's framing or smuggle a second header.
bool header_ok(const std::pair<std::string, std::string>& header) {
  const auto& [name, value] = header;
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  if (text::iequals(name, "Content-Length") || text::iequals(name, "Transfer-Encoding")) {
    return false;
  }
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

net::IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return net::IpAddress::from_v4(a.to_v4().to_uint());
  return net::IpAddress(a.to_v6().to_bytes());
}

const boost::system::error_category& http_category() {
  static const boost::system::error_category& category =
      bhttp::make_error_code(bhttp::error::partial_message).category();
  return category;
}

ClientError classify(const error_code& ec) {
  if (ec == bhttp::error::body_limit) return ClientError::too_large;
  if (ec == bhttp::error::end_of_stream) return ClientError::connect_failed;  // closed, no answer
  if (ec.category() == http_category()) return ClientError::bad_response;
  return ClientError::connect_failed;  // reset, refused, aborted by shutdown()
}

// What a server that closed a kept-alive connection looks like to the next request on it.
bool is_stale_connection(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

}  // namespace

const char* to_string(ClientError error) {
  switch (error) {
    case ClientError::none:
      return "none";
    case ClientError::bad_url:
      return "bad url";
    case ClientError::resolve_failed:
      return "resolve failed";
    case ClientError::destination_refused:
      return "destination refused";
    case ClientError::connect_failed:
      return "connect failed";
    case ClientError::timeout:
      return "timeout";
    case ClientError::too_large:
      return "too large";
    case ClientError::bad_response:
      return "bad response";
    case ClientError::redirect:
      return "redirect";
    case ClientError::address_busy:
      return "address busy";
  }
  return "unknown";
}

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  // One TCP connection; shared by the request using it and the handlers pending on it.
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io), idle_timer(io) {}
    void close() {
      error_code ignored;
      socket.close(ignored);
      idle_timer.cancel();
    }

    tcp::socket socket;
    beast::flat_buffer buffer;
    asio::steady_timer idle_timer;
    std::string key;               // origin, "host:port" with the host in lower case
    std::string address;           // the address and port connected to: what max_per_address counts
    std::uint64_t generation = 0;  // bumped whenever it enters or leaves the idle pool
    bool idle = false;
  };

  struct Op;

  // A name being resolved; requests for the same name wait for the one lookup, no longer than
  // the first one's timeout: then they fail and a later request starts a new lookup.
  struct Resolution {
    explicit Resolution(asio::io_context& io) : deadline(io) {}
    asio::steady_timer deadline;
    std::vector<std::weak_ptr<Op>> waiters;  // the request's deadline handler keeps it alive
    bool ended = false;
  };

  struct DnsEntry {
    std::vector<asio::ip::address> addresses;
    Clock::time_point expires;
  };

  Impl(asio::io_context& context, ClientOptions opts)
      : io(context),
        options(std::move(opts)),
        resolver(context, ResolverOptions{options.dns_servers, options.dns_timeout}),
        dns(options.max_dns_entries) {}

  void get(ClientRequest request, Handler done);
  void shutdown();
  void post_result(Handler done, ClientError error);

  const std::vector<asio::ip::address>* cached(const std::string& host);
  void resolve(const std::string& host, std::chrono::milliseconds timeout,
               const std::shared_ptr<Op>& op);
  void resolved(const std::string& host, const std::shared_ptr<Resolution>& resolution,
                std::vector<asio::ip::address> addresses);
  bool claim(const std::string& address);
  void unclaim(const std::string& address);
  std::shared_ptr<Conn> take_idle(const std::string& key);
  void release(std::shared_ptr<Conn> conn);
  void drop_idle(const std::shared_ptr<Conn>& conn, std::uint64_t generation);

  asio::io_context& io;
  ClientOptions options;
  bool closed = false;     // shutdown() ran: no new requests, no pooling
  bool destroyed = false;  // ~Client() ran: completion handlers are dropped, not called
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Op>> ops;  // requests in flight
  Resolver resolver;
  core::LruMap<DnsEntry> dns;
  std::unordered_map<std::string, std::shared_ptr<Resolution>> resolving;
  std::unordered_map<std::string, std::size_t> busy;  // requests per address:port, none at 0
  std::unordered_map<std::string, std::vector<std::shared_ptr<Conn>>> idle;  // oldest first
  std::size_t idle_count = 0;
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

  void build_request(const std::vector<std::pair<std::string, std::string>>& headers);
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
  std::string host_key;  // lower-case host: the DNS cache key
  std::string key;       // the pool key
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
  std::shared_ptr<Conn> conn;
  bool reused = false;     // conn came from the idle pool
  bool retried = false;    // the one retry on a fresh connection was spent
  bool tried = false;      // a connection was attempted
  bool busy_seen = false;  // an address was passed over for max_per_address
  bool finished = false;
};

// ---- Impl ----

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
  op->build_request(req.headers);
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
  for (auto& [host, resolution] : resolving) {
    resolution->ended = true;
    resolution->deadline.cancel();
  }
  resolving.clear();
  resolver.cancel();
  for (auto& [key, conns] : idle) {
    for (auto& c : conns) {
      c->idle = false;
      c->close();
    }
  }
  idle.clear();
  idle_count = 0;
  std::vector<std::shared_ptr<Op>> pending;
  for (auto& [id, weak] : ops) {
    if (auto op = weak.lock()) pending.push_back(std::move(op));
  }
  for (auto& op : pending) op->finish(ClientError::connect_failed, {}, /*defer=*/true);
  ops.clear();
}

const std::vector<asio::ip::address>* Client::Impl::cached(const std::string& host) {
  auto* entry = dns.find(host);
  if (entry == nullptr) return nullptr;
  if (entry->expires <= Clock::now()) {
    dns.erase(host);
    return nullptr;
  }
  return &entry->addresses;
}

void Client::Impl::resolve(const std::string& host, std::chrono::milliseconds timeout,
                           const std::shared_ptr<Op>& op) {
  auto& slot = resolving[host];
  if (slot) {
    slot->waiters.push_back(op);
    return;
  }
  auto resolution = std::make_shared<Resolution>(io);
  slot = resolution;
  resolution->waiters.push_back(op);
  std::weak_ptr<Impl> weak = weak_from_this();
  resolution->deadline.expires_after(timeout);
  resolution->deadline.async_wait([weak, resolution, host](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->resolved(host, resolution, {});
  });
  resolver.resolve(host,
                   [weak, resolution, host](std::vector<asio::ip::address> addresses, const char*) {
                     if (auto self = weak.lock())
                       self->resolved(host, resolution, std::move(addresses));
                   });
}

void Client::Impl::resolved(const std::string& host, const std::shared_ptr<Resolution>& resolution,
                            std::vector<asio::ip::address> addresses) {
  if (resolution->ended) return;  // timed out, or shut down: its waiters were told
  resolution->ended = true;
  resolution->deadline.cancel();
  auto it = resolving.find(host);
  if (it != resolving.end() && it->second == resolution) resolving.erase(it);
  if (!addresses.empty() && options.dns_cache_ttl.count() > 0 && !closed) {
    dns[host] = DnsEntry{addresses, Clock::now() + options.dns_cache_ttl};
  }
  auto waiters = std::move(resolution->waiters);
  for (auto& weak_op : waiters) {
    auto waiter = weak_op.lock();
    if (!waiter || waiter->finished) continue;
    if (addresses.empty()) {
      waiter->finish(ClientError::resolve_failed);
    } else {
      waiter->on_addresses(addresses);
    }
  }
}

// Counted without a limit too, so that a limit set later starts from the true counts.
bool Client::Impl::claim(const std::string& address) {
  auto& count = busy[address];
  if (options.max_per_address != 0 && count >= options.max_per_address) return false;
  ++count;
  return true;
}

void Client::Impl::unclaim(const std::string& address) {
  auto it = busy.find(address);
  if (it == busy.end()) return;
  if (--it->second == 0) busy.erase(it);
}

std::shared_ptr<Client::Impl::Conn> Client::Impl::take_idle(const std::string& key) {
  auto it = idle.find(key);
  if (it == idle.end()) return nullptr;
  auto conn = std::move(it->second.back());  // the most recently used is the likeliest alive
  it->second.pop_back();
  if (it->second.empty()) idle.erase(it);
  --idle_count;
  conn->idle = false;
  ++conn->generation;
  conn->idle_timer.cancel();
  error_code ignored;
  conn->socket.cancel(ignored);  // the wait for the server closing it
  return conn;
}

void Client::Impl::release(std::shared_ptr<Conn> conn) {
  if (closed || options.max_idle_per_origin == 0 || !conn->socket.is_open()) {
    conn->close();
    return;
  }
  auto& list = idle[conn->key];
  if (list.size() >= options.max_idle_per_origin || idle_count >= kMaxIdleTotal) {
    if (list.empty()) {
      idle.erase(conn->key);
      conn->close();
      return;
    }
    auto oldest = std::move(list.front());
    list.erase(list.begin());
    --idle_count;
    oldest->idle = false;
    oldest->close();
  }
  conn->idle = true;
  const std::uint64_t generation = ++conn->generation;
  list.push_back(conn);
  ++idle_count;

  std::weak_ptr<Impl> weak = weak_from_this();
  conn->idle_timer.expires_after(options.idle_timeout);
  conn->idle_timer.async_wait([weak, conn, generation](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->drop_idle(conn, generation);
  });
  // An idle connection has nothing to read: readable means the server closed it (or sent
  // something it should not have). Either way it is done.
  conn->socket.async_wait(tcp::socket::wait_read, [weak, conn, generation](const error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (auto self = weak.lock()) self->drop_idle(conn, generation);
  });
}

void Client::Impl::drop_idle(const std::shared_ptr<Conn>& conn, std::uint64_t generation) {
  if (!conn->idle || conn->generation != generation) return;
  auto it = idle.find(conn->key);
  if (it != idle.end()) {
    auto& list = it->second;
    auto pos = std::find(list.begin(), list.end(), conn);
    if (pos != list.end()) {
      list.erase(pos);
      --idle_count;
    }
    if (list.empty()) idle.erase(it);
  }
  conn->idle = false;
  conn->close();
}

// ---- Op ----

void Client::Impl::Op::build_request(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto given = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return text::iequals(h.first, name); });
  };
  request.method(bhttp::verb::get);
  request.target(url.target);  // byte-for-byte: never re-encoded
  request.version(11);
  if (!given("Host")) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 80) host += ":" + std::to_string(url.port);
    request.set(bhttp::field::host, host);
  }
  for (const auto& [name, value] : headers) request.insert(name, value);
  if (!given("Connection")) {
    request.set(bhttp::field::connection,
                impl->options.max_idle_per_origin == 0 ? "close" : "keep-alive");
  }
  if (!given("Accept-Encoding")) request.set(bhttp::field::accept_encoding, "identity");
}

bool Client::Impl::Op::claim(const std::string& address) {
  unclaim();
  if (!impl->claim(address)) return false;
  claimed = address;
  return true;
}

void Client::Impl::Op::unclaim() {
  if (claimed.empty()) return;
  impl->unclaim(claimed);
  claimed.clear();
}

void Client::Impl::Op::acquire(bool allow_pool) {
  if (allow_pool) {
    if (auto pooled = impl->take_idle(key)) {
      if (!claim(pooled->address)) {
        impl->release(std::move(pooled));
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
  if (const auto* addresses = impl->cached(host_key)) {
    const auto copy = *addresses;
    on_addresses(copy);
    return;
  }
  impl->resolve(host_key, timeout, shared_from_this());
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
  auto c = std::make_shared<Conn>(impl->io);
  c->key = key;
  c->address = std::move(address);
  conn = c;
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
    impl->release(std::move(c));
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

// ---- Client ----

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
  impl_->options.max_per_address = limit;
}

}  // namespace btrt::upstream

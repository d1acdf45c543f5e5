#include "upstream/udp_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <unordered_map>

#include "protocol/udp.hpp"

namespace btrt::upstream {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
namespace wire = protocol::udp;

std::optional<std::uint64_t> OriginConnectionIds::find(const std::string& origin,
                                                       Clock::time_point now) {
  const auto* entry = ids_.find(origin);
  if (!entry) return std::nullopt;
  if (now - entry->obtained >= kReuseFor || now < entry->obtained) {
    ids_.erase(origin);
    return std::nullopt;
  }
  return entry->id;
}

void OriginConnectionIds::store(const std::string& origin, std::uint64_t id,
                                Clock::time_point now) {
  ids_[origin] = {id, now};
}

std::optional<std::chrono::milliseconds> resend_at(unsigned sent,
                                                   std::chrono::milliseconds timeout) {
  if (sent == 0) return std::chrono::milliseconds{0};
  const auto first = std::max(std::chrono::milliseconds{100}, timeout / 8);
  // first, then 3, 7, 15 ... firsts: each wait twice the one before.
  std::chrono::milliseconds at{0};
  auto wait = first;
  for (unsigned i = 0; i < sent; ++i) {
    at += wait;
    wait *= 2;
    if (at >= timeout) return std::nullopt;
  }
  return at;
}

namespace {

// The largest answer read: an announce answer with 200 IPv6 peers and then some. Longer ones
// are cut (the peers past it are lost, the rest is read).
constexpr std::size_t kMaxAnswer = 4096;

udp::endpoint to_asio(const net::Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  return {asio::ip::address_v6(e.address.bytes()), e.port};
}

}  // namespace

struct UdpClient::Impl : std::enable_shared_from_this<UdpClient::Impl> {
  struct Op;

  Impl(asio::io_context& context, UdpClientOptions opts)
      : io(context),
        options(std::move(opts)),
        ids(options.max_ids),
        random(std::random_device{}()) {}

  void ask(UdpRequest request, Handler done);
  void shutdown();
  void post_result(Handler done, ClientError error) {
    asio::post(io, [self = shared_from_this(), done = std::move(done), error] {
      if (!self->destroyed) done(error, {});
    });
  }

  asio::io_context& io;
  const UdpClientOptions options;
  OriginConnectionIds ids;
  std::mt19937 random;
  bool closed = false;
  bool destroyed = false;
  std::uint64_t next_op = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Op>> ops;
};

// One request, from ask() to its handler.
struct UdpClient::Impl::Op : std::enable_shared_from_this<UdpClient::Impl::Op> {
  Op(std::shared_ptr<Impl> owner, UdpRequest r, Handler handler)
      : impl(std::move(owner)),
        request(std::move(r)),
        key(request.destination.to_string() +
            (request.source ? " from " + request.source->to_string() : std::string())),
        done(std::move(handler)),
        socket(impl->io),
        deadline(impl->io),
        resend(impl->io),
        id(++impl->next_op) {}

  bool open();
  void begin();  // the connect, or the request with a cached ID
  void send();
  void schedule_resend();
  void receive();
  void on_datagram(std::size_t size);
  void finish(ClientError error, std::vector<std::uint8_t> answer = {}, bool defer = false);

  std::shared_ptr<Impl> impl;
  UdpRequest request;
  std::string key;  // the connection ID cache's
  Handler done;
  udp::socket socket;
  asio::steady_timer deadline;
  asio::steady_timer resend;
  std::uint64_t id;
  std::chrono::steady_clock::time_point started;  // of the current request's first send

  bool connecting = true;  // waiting for a connect answer, else for the request's
  bool cached_id = false;  // the request carries an ID from the cache
  bool connected_again = false;
  std::uint32_t transaction = 0;
  unsigned sent = 0;  // sends of the current request
  std::array<std::uint8_t, wire::kConnectSize> connect_packet{};
  std::array<std::uint8_t, kMaxAnswer> in{};
  bool finished = false;
};

bool UdpClient::Impl::Op::open() {
  const auto destination = to_asio(request.destination);
  error_code ec;
  socket.open(destination.protocol(), ec);
  if (ec) return false;
  const int fd = socket.native_handle();
  if (const int mark = static_cast<int>(impl->options.mark); mark != 0) {
    // Without the mark the router's rules might divert the request back to btrt.
    (void)::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
  }
  if (request.source) {
    if (request.source->is_v4() != request.destination.address.is_v4()) return false;
    const int on = 1;
    const bool v6 = !request.destination.address.is_v4();
    if (::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &on,
                     sizeof on) != 0) {
      return false;
    }
    socket.bind(to_asio({*request.source, 0}), ec);
    if (ec) return false;
  }
  socket.connect(destination, ec);
  return !ec;
}

void UdpClient::Impl::ask(UdpRequest request, Handler done) {
  wire::AnswerHead head;  // a request starts like an answer: 8 bytes of ID, then the action
  const bool asks = request.packet.size() >= wire::kConnectSize &&
                    wire::read_answer_head(std::span(request.packet).subspan(8), head) &&
                    (head.action == static_cast<std::uint32_t>(wire::Action::announce)
                         ? request.packet.size() >= wire::kAnnounceSize
                         : head.action == static_cast<std::uint32_t>(wire::Action::scrape));
  if (closed || !asks) {
    return post_result(std::move(done),
                       closed ? ClientError::connect_failed : ClientError::bad_url);
  }
  if (options.guard && !options.guard(request.destination.address)) {
    return post_result(std::move(done), ClientError::destination_refused);
  }
  auto op = std::make_shared<Op>(shared_from_this(), std::move(request), std::move(done));
  if (!op->open()) return post_result(std::move(op->done), ClientError::connect_failed);
  ops.emplace(op->id, op);
  op->deadline.expires_after(op->request.timeout);
  op->deadline.async_wait([op](const error_code& ec) {
    if (!ec) op->finish(ClientError::timeout);
  });
  asio::post(io, [op] {
    if (op->finished) return;
    op->begin();
    op->receive();
  });
}

void UdpClient::Impl::Op::begin() {
  transaction = static_cast<std::uint32_t>(impl->random());
  sent = 0;
  started = std::chrono::steady_clock::now();
  if (auto cached = impl->ids.find(key, std::chrono::steady_clock::now())) {
    connecting = false;
    cached_id = true;
    wire::readdress(request.packet, *cached, transaction);
  } else {
    connecting = true;
    cached_id = false;
    wire::encode_connect_request(transaction, connect_packet);
  }
  send();
}

void UdpClient::Impl::Op::send() {
  const auto data = connecting ? asio::buffer(connect_packet) : asio::buffer(request.packet);
  error_code ec;
  // A datagram the kernel cannot take now is as good as lost: the resend covers it.
  socket.send(data, 0, ec);
  ++sent;
  schedule_resend();
}

void UdpClient::Impl::Op::schedule_resend() {
  const auto at = resend_at(sent, request.timeout);
  if (!at) return;
  resend.expires_at(started + *at);
  resend.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec && !self->finished) self->send();
  });
}

void UdpClient::Impl::Op::receive() {
  socket.async_receive(
      asio::buffer(in), [self = shared_from_this()](const error_code& ec, std::size_t size) {
        if (self->finished) return;
        if (ec == asio::error::operation_aborted) return;
        if (ec == asio::error::connection_refused) return self->finish(ClientError::connect_failed);
        if (ec) return self->receive();  // another ICMP error, a truncated datagram: wait on
        self->on_datagram(size);
      });
}

void UdpClient::Impl::Op::on_datagram(std::size_t size) {
  const std::span<const std::uint8_t> answer(in.data(), size);
  wire::AnswerHead head;
  if (!wire::read_answer_head(answer, head) || head.transaction_id != transaction) {
    return receive();  // not the answer to this request (a late one, garbage): ignored
  }
  constexpr auto kError = static_cast<std::uint32_t>(wire::Action::error);
  wire::AnswerHead asked;
  wire::read_answer_head(std::span(request.packet).subspan(8), asked);
  const std::uint32_t expected = asked.action;
  if (connecting) {
    if (auto connection_id = wire::read_connect_answer(answer)) {
      impl->ids.store(key, *connection_id, std::chrono::steady_clock::now());
      connecting = false;
      transaction = static_cast<std::uint32_t>(impl->random());
      sent = 0;
      started = std::chrono::steady_clock::now();
      wire::readdress(request.packet, *connection_id, transaction);
      resend.cancel();
      send();
      return receive();
    }
    if (head.action == kError) return finish(ClientError::none, {answer.begin(), answer.end()});
    return finish(ClientError::bad_response);
  }
  if (head.action == kError && cached_id && !connected_again) {
    impl->ids.forget(key);
    connected_again = true;
    resend.cancel();
    begin();
    return receive();
  }
  if (head.action == kError || head.action == expected) {
    return finish(ClientError::none, {answer.begin(), answer.end()});
  }
  finish(ClientError::bad_response);
}

void UdpClient::Impl::Op::finish(ClientError error, std::vector<std::uint8_t> answer, bool defer) {
  if (finished) return;
  finished = true;
  error_code ignored;
  deadline.cancel();
  resend.cancel();
  socket.close(ignored);
  impl->ops.erase(id);
  if (impl->destroyed) return;
  if (defer) {
    asio::post(impl->io, [owner = impl, done = std::move(done), error, answer = std::move(answer)] {
      if (!owner->destroyed) done(error, answer);
    });
    return;
  }
  done(error, std::move(answer));
}

void UdpClient::Impl::shutdown() {
  closed = true;
  std::vector<std::shared_ptr<Op>> pending;
  for (auto& [id, weak] : ops) {
    if (auto op = weak.lock()) pending.push_back(std::move(op));
  }
  for (auto& op : pending) op->finish(ClientError::connect_failed, {}, /*defer=*/true);
  ops.clear();
}

UdpClient::UdpClient(asio::io_context& io, UdpClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

UdpClient::~UdpClient() {
  impl_->destroyed = true;
  impl_->shutdown();
}

void UdpClient::ask(UdpRequest request, Handler done) {
  impl_->ask(std::move(request), std::move(done));
}

void UdpClient::shutdown() {
  impl_->shutdown();
}

}  // namespace btrt::upstream

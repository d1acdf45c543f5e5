#include "upstream/client.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/http_server.hpp"

namespace btrt::upstream {
namespace {

using test::ok_reply;
using test::Received;
using test::Reply;
using test::TestServer;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// ---- Client side helpers ----

struct Result {
  bool called = false;
  int calls = 0;
  ClientError error = ClientError::none;
  ClientResponse response;
};

// Runs `io` until `pred` holds or `limit` passes; returns whether `pred` holds.
bool run_until(asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    io.restart();
    io.run_for(std::min<std::chrono::steady_clock::duration>(deadline - now, 20ms));
  }
  return true;
}

void run_for(asio::io_context& io, std::chrono::milliseconds time) {
  run_until(
      io, [] { return false; }, time);
}

Client::Handler store(Result& result) {
  return [&result](ClientError error, ClientResponse response) {
    result.called = true;
    ++result.calls;
    result.error = error;
    result.response = std::move(response);
  };
}

ClientRequest request(std::string url, std::chrono::milliseconds timeout = 3s) {
  ClientRequest r;
  r.url = std::move(url);
  r.timeout = timeout;
  return r;
}

Result fetch(Client& client, asio::io_context& io, ClientRequest req) {
  Result result;
  client.get(std::move(req), store(result));
  EXPECT_TRUE(run_until(
      io, [&] { return result.called; }, 10s))
      << "no answer";
  return result;
}

Reply ok(const Received&) {
  return {ok_reply("hello"), Reply::After::keep};
}

// ---- Tests ----

TEST(HttpClient, ToStringNamesEveryError) {
  EXPECT_STREQ(to_string(ClientError::none), "none");
  EXPECT_STREQ(to_string(ClientError::timeout), "timeout");
  EXPECT_STREQ(to_string(ClientError::connect_failed), "connect failed");
  EXPECT_STREQ(to_string(ClientError::destination_refused), "destination refused");
  EXPECT_STREQ(to_string(ClientError::too_large), "too large");
  EXPECT_STREQ(to_string(ClientError::redirect), "redirect");
  EXPECT_STREQ(to_string(ClientError::bad_response), "bad response");
  EXPECT_STREQ(to_string(ClientError::bad_url), "bad url");
  EXPECT_STREQ(to_string(ClientError::resolve_failed), "resolve failed");
  EXPECT_STREQ(to_string(ClientError::address_busy), "address busy");
}

TEST(HttpClient, Gets200WithBody) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url("/announce")));
  EXPECT_EQ(r.error, ClientError::none);
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.response.body, "hello");
  EXPECT_EQ(r.calls, 1);
}

TEST(HttpClient, SendsTheExpectedRequestHead) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  auto req = request(server.url("/x"));
  req.headers = {{"Via", "1.1 btrt"}, {"X-Forwarded-For", "10.0.0.1"}};
  auto r = fetch(client, io, req);
  ASSERT_EQ(r.error, ClientError::none);
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(got[0].header("Via"), "1.1 btrt");
  EXPECT_EQ(got[0].header("X-Forwarded-For"), "10.0.0.1");
  EXPECT_EQ(got[0].header("Connection"), "keep-alive");
  EXPECT_EQ(got[0].header("Accept-Encoding"), "identity");
}

TEST(HttpClient, SendsTheTargetByteForByte) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  const std::string target = "/announce?info_hash=%00%FF%2B&passkey=abc+def&peer_id=-AB%7e~x";
  auto r = fetch(client, io, request(server.url(target)));
  ASSERT_EQ(r.error, ClientError::none);
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, target);
}

TEST(HttpClient, QueryWithoutPathGetsSlash) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request("http://127.0.0.1:" + std::to_string(server.port()) + "?a=b"));
  ASSERT_EQ(r.error, ClientError::none);
  EXPECT_EQ(server.received().at(0).target, "/?a=b");
}

TEST(HttpClient, ReadsChunkedAnswers) {
  TestServer server([](const Received&) {
    return Reply{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
        Reply::After::keep};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::none);
  EXPECT_EQ(r.response.body, "hello, world");
}

TEST(HttpClient, ReadsAnHttp10AnswerEndedByClose) {
  TestServer server([](const Received&) {
    return Reply{"HTTP/1.0 200 OK\r\n\r\nuntil eof", Reply::After::close};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::none);
  EXPECT_EQ(r.response.body, "until eof");
}

TEST(HttpClient, TimesOutOnASilentServer) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::hang}; });
  asio::io_context io;
  Client client(io, {});
  const auto start = std::chrono::steady_clock::now();
  auto r = fetch(client, io, request(server.url(), 300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, ClientError::timeout);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1300ms);
}

TEST(HttpClient, TimesOutOnAHalfAnswer) {
  TestServer server([](const Received&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", Reply::After::hang};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url(), 300ms));
  EXPECT_EQ(r.error, ClientError::timeout);
}

TEST(HttpClient, ConnectionRefused) {
  std::uint16_t port;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(r.error, ClientError::connect_failed);
}

TEST(HttpClient, GarbageIsABadResponse) {
  TestServer server([](const Received&) {
    return Reply{"this is not HTTP at all\r\n\r\n", Reply::After::close};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::bad_response);
}

TEST(HttpClient, ClosingWithoutAnswerFailsTheConnection) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::close}; });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::connect_failed);
  EXPECT_EQ(server.accepts(), 1u);  // a fresh connection is not retried
}

TEST(HttpClient, RedirectIsNotFollowed) {
  TestServer server([](const Received&) {
    return Reply{"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
                 Reply::After::keep};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::redirect);
  EXPECT_EQ(r.response.status, 302);
  EXPECT_EQ(server.received().size(), 1u);
}

TEST(HttpClient, NotFoundIsABadResponse) {
  TestServer server([](const Received&) {
    return Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", Reply::After::keep};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::bad_response);
  EXPECT_EQ(r.response.status, 404);
}

TEST(HttpClient, BodyOverTheLimitIsTooLarge) {
  const std::string big((1 << 20) + 1, 'x');
  TestServer server([&](const Received&) { return Reply{ok_reply(big), Reply::After::keep}; });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::too_large) << r.response.status << " " << r.response.body.size();
}

TEST(HttpClient, BodyAtTheLimitIsFine) {
  const std::string exact(1 << 20, 'x');
  TestServer server([&](const Received&) { return Reply{ok_reply(exact), Reply::After::keep}; });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::none);
  EXPECT_EQ(r.response.body.size(), exact.size());
}

TEST(HttpClient, AnnouncedLengthOverTheLimitIsTooLarge) {
  // Only the head is sent: the Content-Length alone must fail it, without waiting for a body.
  TestServer server([](const Received&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n", Reply::After::hang};
  });
  asio::io_context io;
  Client client(io, {});
  auto r = fetch(client, io, request(server.url(), 3s));
  EXPECT_EQ(r.error, ClientError::too_large);
}

TEST(HttpClient, ChunkedBodyOverTheLimitIsTooLarge) {
  TestServer server([](const Received&) {
    std::string chunk(64 * 1024, 'y');
    std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) out += "10000\r\n" + chunk + "\r\n";
    out += "0\r\n\r\n";
    return Reply{out, Reply::After::keep};
  });
  asio::io_context io;
  ClientOptions options;
  options.max_body = 512 * 1024;
  Client client(io, options);
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::too_large);
}

TEST(HttpClient, KeepAliveReusesTheConnection) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  for (int i = 0; i < 3; ++i) {
    auto r = fetch(client, io, request(server.url("/n" + std::to_string(i))));
    EXPECT_EQ(r.error, ClientError::none);
  }
  EXPECT_EQ(server.accepts(), 1u);
  auto got = server.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].nth, 3u);
}

TEST(HttpClient, ConnectionCloseIsNotReused) {
  TestServer server([](const Received&) {
    return Reply{ok_reply("bye", "Connection: close\r\n"), Reply::After::close};
  });
  asio::io_context io;
  Client client(io, {});
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(server.accepts(), 2u);
}

TEST(HttpClient, NoPoolingWhenMaxIdleIsZero) {
  TestServer server(ok);
  asio::io_context io;
  ClientOptions options;
  options.max_idle_per_origin = 0;
  Client client(io, options);
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(server.accepts(), 2u);
  EXPECT_EQ(server.received().at(0).header("Connection"), "close");
}

TEST(HttpClient, IdleConnectionClosedByTheServerIsNoticed) {
  // The server answers with keep-alive semantics, then closes the connection anyway.
  TestServer server([](const Received&) { return Reply{ok_reply("one"), Reply::After::close}; });
  asio::io_context io;
  Client client(io, {});
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  run_for(io, 200ms);  // the pool sees the close
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::none);
  EXPECT_EQ(server.accepts(), 2u);
}

TEST(HttpClient, StaleKeptAliveConnectionIsRetriedOnce) {
  // Each connection answers its first request and closes on the second without answering:
  // the client's second request finds a dead pooled connection and must retry on a new one.
  TestServer server([](const Received& r) {
    if (r.nth > 1) return Reply{"", Reply::After::close};
    return Reply{ok_reply("conn " + std::to_string(r.connection)), Reply::After::keep};
  });
  asio::io_context io;
  Client client(io, {});
  auto first = fetch(client, io, request(server.url()));
  EXPECT_EQ(first.error, ClientError::none);
  EXPECT_EQ(first.response.body, "conn 1");
  auto second = fetch(client, io, request(server.url()));
  EXPECT_EQ(second.error, ClientError::none);
  EXPECT_EQ(second.response.body, "conn 2");
  EXPECT_EQ(server.accepts(), 2u);
}

TEST(HttpClient, RequestIssuedFromAHandlerReusesTheConnection) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  Result second;
  Result first;
  client.get(request(server.url()), [&](ClientError e, ClientResponse) {
    first.called = true;
    first.error = e;
    client.get(request(server.url()), store(second));
  });
  ASSERT_TRUE(run_until(io, [&] { return second.called; }));
  EXPECT_EQ(first.error, ClientError::none);
  EXPECT_EQ(second.error, ClientError::none);
  EXPECT_EQ(server.accepts(), 1u);
}

TEST(HttpClient, IdleConnectionsExpire) {
  TestServer server(ok);
  asio::io_context io;
  ClientOptions options;
  options.idle_timeout = 0s;
  Client client(io, options);
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  run_for(io, 100ms);
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(server.accepts(), 2u);
}

TEST(HttpClient, GuardRefusingEveryAddressConnectsNowhere) {
  TestServer server(ok);
  asio::io_context io;
  ClientOptions options;
  std::vector<std::string> asked;
  options.guard = [&](const net::IpAddress& a) {
    asked.push_back(a.to_string());
    return !a.is_loopback();
  };
  Client client(io, options);
  auto r = fetch(client, io, request(server.url()));
  EXPECT_EQ(r.error, ClientError::destination_refused);
  EXPECT_EQ(asked, std::vector<std::string>{"127.0.0.1"});
  run_for(io, 100ms);
  EXPECT_EQ(server.accepts(), 0u);
}

TEST(HttpClient, ResolvesNamesAndSkipsRefusedAddresses) {
  // "localhost" comes from /etc/hosts (no DNS traffic); the guard allows only 127.0.0.1, so a
  // ::1 entry, if any, is skipped.
  TestServer server(ok);
  asio::io_context io;
  ClientOptions options;
  std::atomic<int> asked{0};
  options.guard = [&](const net::IpAddress& a) {
    ++asked;
    return a.is_v4() && a.v4() == 0x7f000001u;
  };
  Client client(io, options);
  const std::string url = "http://LocalHost:" + std::to_string(server.port()) + "/a";
  auto r = fetch(client, io, request(url));
  ASSERT_EQ(r.error, ClientError::none);
  EXPECT_GE(asked.load(), 1);
  EXPECT_EQ(server.received().at(0).header("Host"), "LocalHost:" + std::to_string(server.port()));
  // Again, with the name now in the DNS cache.
  auto again = fetch(client, io, request(url));
  EXPECT_EQ(again.error, ClientError::none);
}

TEST(HttpClient, Ipv6LiteralGetsBracketsInHost) {
  // No server needed: the guard refuses ::1, so nothing is contacted.
  asio::io_context io;
  ClientOptions options;
  std::string asked;
  options.guard = [&](const net::IpAddress& a) {
    asked = a.to_string();
    return false;
  };
  Client client(io, options);
  auto r = fetch(client, io, request("http://[::1]:8080/x"));
  EXPECT_EQ(r.error, ClientError::destination_refused);
  EXPECT_EQ(asked, "::1");
}

TEST(HttpClient, BadUrlAndBadHeadersFailAsynchronously) {
  asio::io_context io;
  Client client(io, {});
  Result r1;
  Result r2;
  client.get(request("https://example.com/"), store(r1));
  auto bad_header = request("http://127.0.0.1:1/");
  bad_header.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  client.get(bad_header, store(r2));
  EXPECT_FALSE(r1.called);  // never from inside get()
  EXPECT_FALSE(r2.called);
  ASSERT_TRUE(run_until(io, [&] { return r1.called && r2.called; }));
  EXPECT_EQ(r1.error, ClientError::bad_url);
  EXPECT_EQ(r2.error, ClientError::bad_url);
}

TEST(HttpClient, ManyConcurrentRequestsAllComplete) {
  TestServer server([](const Received& r) {
    return Reply{ok_reply(r.target), Reply::After::keep};
  });
  asio::io_context io;
  Client client(io, {});
  constexpr int kCount = 200;
  std::vector<Result> results(kCount);
  for (int i = 0; i < kCount; ++i) {
    client.get(request(server.url("/r" + std::to_string(i)), 10s), store(results[i]));
  }
  int done = 0;
  ASSERT_TRUE(run_until(
      io,
      [&] {
        done = 0;
        for (const auto& r : results) done += r.called ? 1 : 0;
        return done == kCount;
      },
      20s))
      << done << " of " << kCount;
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(results[i].calls, 1);
    EXPECT_EQ(results[i].error, ClientError::none) << i;
    EXPECT_EQ(results[i].response.body, "/r" + std::to_string(i));
  }
  // Then sequential ones reuse the pool.
  const auto before = server.accepts();
  EXPECT_EQ(fetch(client, io, request(server.url())).error, ClientError::none);
  EXPECT_EQ(server.accepts(), before);
}

TEST(HttpClient, ShutdownFailsRequestsInFlight) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::hang}; });
  asio::io_context io;
  Client client(io, {});
  Result r;
  client.get(request(server.url(), 5s), store(r));
  ASSERT_TRUE(run_until(io, [&] { return server.received().size() == 1; }));
  client.shutdown();
  EXPECT_FALSE(r.called);  // never from inside shutdown()
  ASSERT_TRUE(run_until(
      io, [&] { return r.called; }, 1s));
  EXPECT_EQ(r.error, ClientError::connect_failed);
  run_for(io, 50ms);
  EXPECT_EQ(r.calls, 1);
  // Afterwards new requests fail the same way.
  Result after;
  client.get(request(server.url()), store(after));
  ASSERT_TRUE(run_until(
      io, [&] { return after.called; }, 1s));
  EXPECT_EQ(after.error, ClientError::connect_failed);
}

TEST(HttpClient, DestroyedClientCallsNoHandler) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::hang}; });
  asio::io_context io;
  Result in_flight;
  Result bad;
  {
    Client client(io, {});
    client.get(request(server.url(), 5s), store(in_flight));
    ASSERT_TRUE(run_until(io, [&] { return server.received().size() == 1; }));
    client.get(request("ftp://x/"), store(bad));  // its handler is already posted
  }
  run_for(io, 200ms);
  EXPECT_FALSE(in_flight.called);
  EXPECT_FALSE(bad.called);
}

TEST(HttpClient, HandlerMayDestroyTheClient) {
  TestServer server(ok);
  asio::io_context io;
  auto client = std::make_unique<Client>(io, ClientOptions{});
  bool called = false;
  client->get(request(server.url()), [&](ClientError e, ClientResponse) {
    called = true;
    EXPECT_EQ(e, ClientError::none);
    client.reset();
  });
  ASSERT_TRUE(run_until(io, [&] { return called; }));
  run_for(io, 100ms);
  EXPECT_FALSE(client);
}

TEST(HttpClient, ConcurrentRequestsForOneNameShareTheLookup) {
  TestServer server(ok);
  asio::io_context io;
  Client client(io, {});
  std::vector<Result> results(5);
  for (auto& r : results) {
    client.get(request("http://localhost:" + std::to_string(server.port()) + "/"), store(r));
  }
  ASSERT_TRUE(run_until(io, [&] {
    for (const auto& r : results) {
      if (!r.called) return false;
    }
    return true;
  }));
  for (const auto& r : results) EXPECT_EQ(r.error, ClientError::none);
}

// A DNS server that never answers: a UDP socket on 127.0.0.1 that counts what it gets.
class SilentDns {
 public:
  SilentDns() : socket_(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SilentDns() {
    io_.stop();
    thread_.join();
  }
  net::Endpoint endpoint() const {
    return *net::Endpoint::parse("127.0.0.1:" + std::to_string(socket_.local_endpoint().port()));
  }
  std::size_t queries() const { return queries_.load(); }

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_,
                               [this](const boost::system::error_code& ec, std::size_t) {
                                 if (ec) return;
                                 ++queries_;
                                 receive();
                               });
  }
  asio::io_context io_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint from_;
  std::array<char, 1500> buffer_{};
  std::atomic<std::size_t> queries_{0};
  std::thread thread_;
};

TEST(HttpClient, NamesWithASilentDnsServerFailConcurrentlyWithinTheirTimeout) {
  SilentDns dns;
  TestServer server(ok);
  asio::io_context io;
  ClientOptions options;
  options.dns_servers = {dns.endpoint()};
  options.dns_timeout = 5s;
  Client client(io, options);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Result> unresolvable(6);
  for (std::size_t i = 0; i < unresolvable.size(); ++i) {
    client.get(request("http://origin" + std::to_string(i) + ".example.invalid/a", 600ms),
               store(unresolvable[i]));
  }
  // A name from /etc/hosts is not held up by them.
  Result local;
  client.get(request("http://localhost:" + std::to_string(server.port()) + "/"), store(local));
  ASSERT_TRUE(run_until(io, [&] { return local.called; }));
  EXPECT_EQ(local.error, ClientError::none);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  ASSERT_TRUE(run_until(io, [&] {
    for (const auto& r : unresolvable) {
      if (!r.called) return false;
    }
    return true;
  }));
  const auto took = std::chrono::steady_clock::now() - start;
  for (const auto& r : unresolvable) {
    EXPECT_TRUE(r.error == ClientError::resolve_failed || r.error == ClientError::timeout)
        << to_string(r.error);
  }
  // All at once, each within its own 600 ms: not one after another.
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(dns.queries(), unresolvable.size());
}

TEST(HttpClient, MaxPerAddressPassesOverABusyAddress) {
  TestServer server([](const Received&) { return Reply{"", Reply::After::hang}; });
  asio::io_context io;
  ClientOptions options;
  options.max_per_address = 2;
  Client client(io, options);
  std::vector<Result> held(2);
  for (auto& r : held) client.get(request(server.url("/held"), 800ms), store(r));
  ASSERT_TRUE(run_until(io, [&] { return server.received().size() == 2; }));
  Result third;
  client.get(request(server.url("/third"), 800ms), store(third));
  ASSERT_TRUE(run_until(
      io, [&] { return third.called; }, 300ms));
  EXPECT_EQ(third.error, ClientError::address_busy);
  ASSERT_TRUE(run_until(io, [&] { return held[0].called && held[1].called; }));
  EXPECT_EQ(held[0].error, ClientError::timeout);
  // Their slots are free again.
  client.set_max_per_address(3);
  Result later;
  client.get(request(server.url("/later"), 300ms), store(later));
  ASSERT_TRUE(run_until(io, [&] { return later.called; }));
  EXPECT_EQ(later.error, ClientError::timeout);
  EXPECT_EQ(server.received().size(), 3u);
}

}  // namespace
}  // namespace btrt::upstream

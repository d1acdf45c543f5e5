// Fast, bounded HTTP announce loader for the memory benchmark (bench/run.sh): registers N
// distinct IPv4 peers over T torrents through a tracker's /announce, as fast as the tracker
// answers. No dependency on btrt's code: the same loader feeds opentracker.
//
//   bench_loader --port P [--host 127.0.0.1] [--peers 1000000] [--torrents 100000]
//                [--conns 32] [--close] [--seconds 120] [--src 127.100.0.1] [--numwant 0]
//
// Connection c binds its source address to SRC + c (loopback: all of 127/8 is local), and its
// j-th request announces peer n = j * conns + c from port 1024 + j, so every peer is a
// distinct address:port without the tracker having to honour ip= (opentracker does not).
// Peer n belongs to torrent n % torrents and is a seeder when (n / torrents) % 4 == 0
// (left=0); info_hash(t) = t as 4 big-endian bytes followed by
// 16 'B' — the same hashes as bench/announce.lua and the opentracker whitelist.
// --wrk-peers registers instead the peers of bench/announce.lua (warm-up): all from the
// source 127.0.0.1 (no offset), peer n with port 1025 + n % 64000 and ip=10.a.b.c from n.
// --close sends "Connection: close" and connects anew for every request; without it the
// connection is kept alive (and re-opened whenever the server closes it).
// Prints one line: "LOADER ok=N failed=N errors=N seconds=S rate=R" and exits 0 when every
// peer was registered within --seconds, 1 otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  long peers = 1'000'000;
  long torrents = 100'000;
  int conns = 32;
  bool close = false;
  double seconds = 120;
  std::string src = "127.100.0.1";
  int numwant = 0;
  bool wrk_peers = false;
};

struct Conn {
  int fd = -1;
  int index = 0;
  long next_j = 0;  // next request number on this connection
  long j = -1;      // request in flight (-1: none)
  int tries = 0;
  std::string out;
  std::size_t sent = 0;
  std::string in;
  bool connecting = false;
};

// The request of peer n made on connection request number j.
std::string request_for(const Options& o, long n, long j) {
  static const char hex[] = "0123456789ABCDEF";
  const auto t = static_cast<std::uint32_t>(n % o.torrents);
  std::string r = "GET /announce?info_hash=";
  for (int b = 3; b >= 0; --b) {
    const unsigned v = (t >> (8 * b)) & 0xff;
    r += '%';
    r += hex[v >> 4];
    r += hex[v & 15];
  }
  r += o.wrk_peers ? "BBBBBBBBBBBBBBBB&peer_id=-WR0001-" : "BBBBBBBBBBBBBBBB&peer_id=-BL0001-";
  char digits[16];
  std::snprintf(digits, sizeof digits, "%012ld", n);
  r += digits;
  if (o.wrk_peers) {
    r += "&port=" + std::to_string(1025 + n % 64000);
    r += "&ip=10." + std::to_string(n / 65536) + "." + std::to_string(n / 256 % 256) + "." +
         std::to_string(n % 256);
  } else {
    r += "&port=" + std::to_string(1024 + j);
  }
  r += "&uploaded=0&downloaded=0&left=" + std::to_string(n / o.torrents % 4 == 0 ? 0 : 1000);
  r += "&event=started&compact=1&numwant=" + std::to_string(o.numwant);
  r += " HTTP/1.1\r\nHost: localhost\r\n";
  if (o.close) r += "Connection: close\r\n";
  r += "\r\n";
  return r;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--close" || a == "--wrk-peers") {
      (a == "--close" ? o.close : o.wrk_peers) = true;
      continue;
    }
    if (!(v = value())) return false;
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = std::atoi(v);
    else if (a == "--peers")
      o.peers = std::atol(v);
    else if (a == "--torrents")
      o.torrents = std::atol(v);
    else if (a == "--conns")
      o.conns = std::atoi(v);
    else if (a == "--seconds")
      o.seconds = std::atof(v);
    else if (a == "--src")
      o.src = v;
    else if (a == "--numwant")
      o.numwant = std::atoi(v);
    else
      return false;
  }
  return o.port > 0 && o.peers > 0 && o.torrents > 0 && o.conns > 0 && o.conns <= 250 &&
         (o.wrk_peers || (o.peers + o.conns - 1) / o.conns <= 64000);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: bench_loader --port P [--host A] [--peers N] [--torrents T] "
                 "[--conns C (1-250, peers/C <= 64000)] [--close] [--seconds S] [--src A] "
                 "[--numwant K] [--wrk-peers]\n");
    return 2;
  }
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(o.port));
  in_addr src_base{};
  if (inet_pton(AF_INET, o.host.c_str(), &server.sin_addr) != 1 ||
      inet_pton(AF_INET, o.src.c_str(), &src_base) != 1) {
    std::fprintf(stderr, "bad address\n");
    return 2;
  }

  const int ep = epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(o.conns));
  long ok = 0, failed = 0, errors = 0;
  const long per_conn = (o.peers + o.conns - 1) / o.conns;

  auto open_conn = [&](Conn& c) -> bool {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) return false;
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    const auto offset = o.wrk_peers ? 0U : static_cast<std::uint32_t>(c.index);
    local.sin_addr.s_addr = htonl(ntohl(src_base.s_addr) + offset);
    if (bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      close(c.fd);
      c.fd = -1;
      return false;
    }
    int r = connect(c.fd, reinterpret_cast<sockaddr*>(&server), sizeof server);
    if (r != 0 && errno != EINPROGRESS) {
      close(c.fd);
      c.fd = -1;
      return false;
    }
    c.connecting = true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.ptr = &c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  auto drop_conn = [&](Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
    }
    c.fd = -1;
    c.in.clear();
  };
  auto want = [&](Conn& c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  // Starts the next request of c (or the one to retry); false when c is finished.
  auto start_next = [&](Conn& c) -> bool {
    if (c.j < 0) {
      const long n = c.next_j * o.conns + c.index;
      if (c.next_j >= per_conn || n >= o.peers) return false;
      c.j = c.next_j++;
      c.tries = 0;
    }
    const long n = c.j * o.conns + c.index;
    c.out = request_for(o, n, c.j);
    c.sent = 0;
    c.in.clear();
    if (c.fd < 0 && !open_conn(c)) {
      ++errors;
      return false;
    }
    if (!c.connecting) want(c, EPOLLOUT | EPOLLRDHUP);
    return true;
  };
  // The request in flight failed at the transport level: retry it on a new connection.
  auto transport_error = [&](Conn& c) -> bool {
    ++errors;
    drop_conn(c);
    if (++c.tries > 3) {
      ++failed;
      c.j = -1;
    }
    return start_next(c);
  };

  int active = 0;
  for (int i = 0; i < o.conns; ++i) {
    conns[static_cast<std::size_t>(i)].index = i;
    if (start_next(conns[static_cast<std::size_t>(i)])) ++active;
  }

  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::vector<epoll_event> events(static_cast<std::size_t>(o.conns));
  char buf[16384];
  while (active > 0 && elapsed() < o.seconds) {
    int n = epoll_wait(ep, events.data(), o.conns, 200);
    for (int e = 0; e < n; ++e) {
      Conn& c = *static_cast<Conn*>(events[static_cast<std::size_t>(e)].data.ptr);
      if (c.fd < 0) continue;
      const auto ev = events[static_cast<std::size_t>(e)].events;
      bool alive = true;
      if (c.connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          alive = transport_error(c);
          if (!alive) --active;
          continue;
        }
        c.connecting = false;
        want(c, EPOLLOUT | EPOLLRDHUP);
      }
      if (c.sent < c.out.size() && (ev & EPOLLOUT)) {
        ssize_t w = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          if (!transport_error(c)) --active;
          continue;
        }
        if (w > 0) c.sent += static_cast<std::size_t>(w);
        if (c.sent == c.out.size()) want(c, EPOLLIN | EPOLLRDHUP);
        continue;
      }
      if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = recv(c.fd, buf, sizeof buf, 0);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) {  // closed before a whole answer (e.g. a stale keep-alive connection)
        if (!transport_error(c)) --active;
        continue;
      }
      c.in.append(buf, static_cast<std::size_t>(r));
      const auto head_end = c.in.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      const std::string_view head(c.in.data(), head_end);
      std::size_t body_len = 0;
      bool server_closes = o.close;
      for (std::size_t pos = 0; pos < head.size();) {
        auto eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        std::string_view line = head.substr(pos, eol - pos);
        if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
          body_len = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
        } else if (line.size() > 11 && strncasecmp(line.data(), "connection:", 11) == 0 &&
                   line.find("close") != std::string_view::npos) {
          server_closes = true;
        }
        pos = eol + 2;
      }
      if (c.in.size() < head_end + 4 + body_len) continue;
      const std::string_view body(c.in.data() + head_end + 4, body_len);
      const bool good = head.substr(0, 12) == "HTTP/1.1 200" &&
                        body.find("failure reason") == std::string_view::npos;
      good ? ++ok : ++failed;
      c.j = -1;
      c.in.clear();
      if (server_closes) drop_conn(c);
      if (!start_next(c)) {
        drop_conn(c);
        --active;
      }
    }
  }
  const double seconds = elapsed();
  for (auto& c : conns) drop_conn(c);
  close(ep);
  std::printf("LOADER ok=%ld failed=%ld errors=%ld seconds=%.2f rate=%.0f\n", ok, failed, errors,
              seconds, static_cast<double>(ok) / seconds);
  return ok == o.peers ? 0 : 1;
}

// The HTTP floor of bench/run.sh: the socket work of an HTTP tracker and nothing else, so that
// a tracker's CPU per announce can be set against what the kernel alone costs.
//
//   bench_floor_http --port P [--host 127.0.0.1]
//
// One thread, epoll. Accepts (accept4, in a loop), reads a request up to the blank line, and
// answers it with one write of a fixed 200 whose body is a bencoded compact announce answer
// with 50 IPv4 peers (the size a tracker sends to a client asking numwant=50). A request that
// says "Connection: close" gets the answer and the FIN in one segment (MSG_MORE, then close);
// any other keeps its connection. Nothing is parsed beyond that, nothing is stored, no timer
// is kept. It does the system calls a tracker cannot avoid and no more: a new connection whose
// request is already queued is answered and closed without ever entering epoll (accept4, recv,
// send, close).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kMaxRequest = 8192;

std::string body_50_peers() {
  std::string peers;
  for (int i = 0; i < 50; ++i) {  // 10.0.0.i:6881
    const unsigned char p[6] = {10, 0, 0, static_cast<unsigned char>(i + 1), 0x1a, 0xe1};
    peers.append(reinterpret_cast<const char*>(p), sizeof p);
  }
  return "d8:completei15e10:incompletei35e8:intervali1800e12:min intervali900e5:peers" +
         std::to_string(peers.size()) + ":" + peers + "e";
}

std::string answer(const std::string& body, bool close) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + (close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n") +
         body;
}

// Whether the request head asks for the connection to be closed.
bool wants_close(std::string_view head) {
  for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos;) {
    const std::size_t start = pos + 2;
    pos = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, (pos == std::string_view::npos ? head.size() : pos) - start);
    if (line.size() >= 11 && strncasecmp(line.data(), "connection:", 11) == 0) {
      for (std::size_t i = 11; i + 5 <= line.size(); ++i)
        if (strncasecmp(line.data() + i, "close", 5) == 0) return true;
    }
  }
  return false;
}

struct Floor {
  int ep = -1;
  std::string keep_answer, close_answer;
  std::vector<std::string> input;  // per fd: bytes of an unfinished request
  std::vector<char> watched;       // per fd: registered with epoll
  char buf[kMaxRequest];

  void drop(int fd) {
    close(fd);  // also leaves epoll: the fd was its only reference
    input[fd].clear();
    watched[fd] = 0;
  }

  // Reads what is there and answers every whole request; waits in epoll for the rest.
  void serve(int fd) {
    if (static_cast<std::size_t>(fd) >= input.size()) {
      input.resize(static_cast<std::size_t>(fd) + 1024);
      watched.resize(static_cast<std::size_t>(fd) + 1024);
    }
    std::string& in = input[fd];
    for (;;) {
      const ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r <= 0) return drop(fd);
      in.append(buf, static_cast<std::size_t>(r));
      for (std::size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
        const bool close_after = wants_close(std::string_view(in.data(), end));
        const std::string& out = close_after ? close_answer : keep_answer;
        const ssize_t w = send(fd, out.data(), out.size(),
                               MSG_DONTWAIT | MSG_NOSIGNAL | (close_after ? MSG_MORE : 0));
        if (w != static_cast<ssize_t>(out.size()) || close_after) return drop(fd);
        in.erase(0, end + 4);
      }
      if (in.size() > kMaxRequest) return drop(fd);
      if (static_cast<std::size_t>(r) < sizeof buf) break;  // the queue is empty now
    }
    if (!watched[fd]) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return drop(fd);
      watched[fd] = 1;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--port")
      port = std::atoi(argv[i + 1]);
    else if (a == "--host")
      host = argv[i + 1];
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "usage: bench_floor_http --port P [--host A]\n");
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // inherited by accept
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, SOMAXCONN) != 0) {
    std::perror("bench_floor_http: bind/listen");
    return 1;
  }
  Floor f;
  const std::string body = body_50_peers();
  f.keep_answer = answer(body, false);
  f.close_answer = answer(body, true);
  f.ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(f.ep, EPOLL_CTL_ADD, listener, &ev);
  std::vector<epoll_event> events(256);
  for (;;) {
    const int n = epoll_wait(f.ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) {
      std::perror("bench_floor_http: epoll_wait");
      return 1;
    }
    for (int e = 0; e < n; ++e) {
      const int fd = events[static_cast<std::size_t>(e)].data.fd;
      if (fd != listener) {
        f.serve(fd);
        continue;
      }
      for (;;) {
        const int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (c < 0) break;
        f.serve(c);
      }
    }
  }
}

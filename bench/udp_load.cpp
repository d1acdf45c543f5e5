// UDP announce load of bench/run.sh (BEP 15): many client sockets, each with its own loopback
// source address, announce the peers of the HTTP kit's pool as fast as the tracker answers,
// with a bounded number of requests in flight per socket. No dependency on btrt's code: the
// same generator loads opentracker and the floor.
//
//   bench_udp_load --port P [--host 127.0.0.1] [--seconds 5] [--sockets 64] [--window 8]
//                  [--src 127.100.0.1] [--peers 100000] [--torrents 10000] [--numwant 50]
//                  [--timeout-ms 1000] [--seq] [--no-ip]
//
// Socket s binds SRC + s and announces only the peers n with n % sockets == s, so a peer always
// comes from the same address. Peer n is bench/announce.lua's: torrent n % torrents,
// info_hash(t) = t as 4 big-endian bytes + 16 'B', peer_id "-WR0001-" + n in 12 digits, port
// 1025 + n % 64000, a seeder (left 0) when (n / torrents) % 4 == 0, and the ip field 10.a.b.c
// from n (a tracker honours it only from a trusted source; --no-ip sends 0).
// Each socket first does the connect handshake and keeps the connection id; it connects again
// when the id is 60 s old or when a whole window of announces went unanswered. Answers are
// matched to requests by transaction id; a request unanswered after --timeout-ms is counted as
// lost and its slot reused. Without --seq the peers are picked at random for --seconds; with
// --seq every peer is announced once (event started; lost ones again), and the run ends when
// all are answered or --seconds have passed.
// Prints one line: "UDPLOAD sent=N connects_sent=N announces_sent=N answered=N connect_answers=N
// announce_answers=N error_answers=N other=N lost=N unmatched=N reconnects=N inflight=N
// seconds=S rate=R" (rate: announce answers per second) and exits 0 unless --seq left peers
// unregistered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kAnnounceSize = 98;
constexpr std::size_t kMaxWindow = 256;  // the slot is the transaction id's low byte
constexpr auto kConnectionLife = std::chrono::seconds(60);

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double seconds = 5;
  int sockets = 64;
  int window = 8;
  std::string src = "127.100.0.1";
  long peers = 100'000;
  long torrents = 10'000;
  int numwant = 50;
  int timeout_ms = 1000;
  bool seq = false;
  bool ip = true;
};

struct Slot {
  bool busy = false;
  std::uint32_t txid = 0;
  long peer = 0;
  Clock::time_point sent{};
};

struct Sock {
  int fd = -1;
  int index = 0;
  bool connected = false;
  bool connecting = false;
  std::uint64_t connection_id = 0;
  std::uint32_t connect_txid = 0;
  Clock::time_point connected_at{}, connect_sent{};
  std::uint32_t counter = 0;
  int unanswered = 0;  // announces lost in a row
  std::vector<Slot> slots;
  long count = 0;           // peers of this socket
  long next_k = 0;          // --seq: next of them to announce
  std::vector<long> retry;  // --seq: lost ones to announce again
};

void put32(unsigned char* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}
void put64(unsigned char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}
std::uint32_t get32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
std::uint64_t get64(const unsigned char* p) {
  return (std::uint64_t{get32(p)} << 32) | get32(p + 4);
}

void encode_announce(const Options& o, const Sock& s, long n, std::uint32_t txid, bool started,
                     unsigned char* p) {
  put64(p, s.connection_id);
  put32(p + 8, 1);
  put32(p + 12, txid);
  put32(p + 16, static_cast<std::uint32_t>(n % o.torrents));
  std::memset(p + 20, 'B', 16);
  char id[21];
  std::snprintf(id, sizeof id, "-WR0001-%012ld", n);
  std::memcpy(p + 36, id, 20);
  put64(p + 56, 0);                                                       // downloaded
  put64(p + 64, n / o.torrents % 4 == 0 ? 0 : 1000);                      // left
  put64(p + 72, 0);                                                       // uploaded
  put32(p + 80, started ? 2 : 0);                                         // event
  put32(p + 84, o.ip ? (10U << 24) | static_cast<std::uint32_t>(n) : 0);  // ip 10.a.b.c
  put32(p + 88, static_cast<std::uint32_t>(n));                           // key
  put32(p + 92, static_cast<std::uint32_t>(o.numwant));
  const auto port = static_cast<std::uint16_t>(1025 + n % 64000);
  p[96] = static_cast<unsigned char>(port >> 8);
  p[97] = static_cast<unsigned char>(port);
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--seq" || a == "--no-ip") {
      (a == "--seq" ? o.seq : o.ip) = a == "--seq";
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = std::atoi(v);
    else if (a == "--seconds")
      o.seconds = std::atof(v);
    else if (a == "--sockets")
      o.sockets = std::atoi(v);
    else if (a == "--window")
      o.window = std::atoi(v);
    else if (a == "--src")
      o.src = v;
    else if (a == "--peers")
      o.peers = std::atol(v);
    else if (a == "--torrents")
      o.torrents = std::atol(v);
    else if (a == "--numwant")
      o.numwant = std::atoi(v);
    else if (a == "--timeout-ms")
      o.timeout_ms = std::atoi(v);
    else
      return false;
  }
  return o.port > 0 && o.port < 65536 && o.seconds > 0 && o.sockets > 0 && o.sockets <= 4096 &&
         o.window > 0 && o.window <= static_cast<int>(kMaxWindow) && o.peers >= o.sockets &&
         o.peers < (1L << 24) && o.torrents > 0 && o.timeout_ms > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: bench_udp_load --port P [--host A] [--seconds S] [--sockets 1-4096] "
                 "[--window 1-256] [--src A] [--peers N] [--torrents T] [--numwant K] "
                 "[--timeout-ms MS] [--seq] [--no-ip]\n");
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
  std::vector<Sock> socks(static_cast<std::size_t>(o.sockets));
  for (int i = 0; i < o.sockets; ++i) {
    Sock& s = socks[static_cast<std::size_t>(i)];
    s.index = i;
    s.slots.resize(static_cast<std::size_t>(o.window));
    s.count = (o.peers - i + o.sockets - 1) / o.sockets;
    s.counter = static_cast<std::uint32_t>(i) * 7919U;  // transaction ids differ across sockets
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(ntohl(src_base.s_addr) + static_cast<std::uint32_t>(i));
    // connect() fixes the destination: sendmmsg needs no address, and only the tracker's
    // datagrams are received.
    if (s.fd < 0 || bind(s.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        connect(s.fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
      std::perror("bench_udp_load: socket");
      return 2;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  }

  long connects_sent = 0, announces_sent = 0, connect_answers = 0, announce_answers = 0,
       error_answers = 0, other = 0, lost = 0, unmatched = 0, reconnects = 0, registered = 0;
  std::mt19937_64 rng(1);
  const auto timeout = std::chrono::milliseconds(o.timeout_ms);

  const auto w = static_cast<std::size_t>(o.window);
  std::vector<std::array<unsigned char, kAnnounceSize>> out(w);
  std::vector<iovec> out_iov(w);
  std::vector<mmsghdr> out_msg(w);
  std::vector<std::array<unsigned char, 2048>> in(w + 1);
  std::vector<iovec> in_iov(w + 1);
  std::vector<mmsghdr> in_msg(w + 1);
  for (std::size_t i = 0; i <= w; ++i) {
    in_iov[i] = {in[i].data(), in[i].size()};
    in_msg[i].msg_hdr.msg_iov = &in_iov[i];
    in_msg[i].msg_hdr.msg_iovlen = 1;
  }

  auto send_connect = [&](Sock& s, Clock::time_point now) {
    unsigned char p[16];
    put64(p, 0x41727101980ULL);
    put32(p + 8, 0);
    s.connect_txid = ++s.counter;
    put32(p + 12, s.connect_txid);
    ++connects_sent;
    s.connecting = true;
    s.connect_sent = now;
    (void)send(s.fd, p, sizeof p, 0);  // a refused one is retried after the timeout
  };
  // Fills the free slots of s with announces, sent in one sendmmsg.
  auto fill = [&](Sock& s, Clock::time_point now) {
    if (!s.connected) return;
    std::size_t k = 0;
    for (std::size_t i = 0; i < w; ++i) {
      Slot& slot = s.slots[i];
      if (slot.busy) continue;
      long n;
      if (!o.seq) {
        n = s.index + o.sockets * static_cast<long>(rng() % static_cast<std::uint64_t>(s.count));
      } else if (!s.retry.empty()) {
        n = s.retry.back();
        s.retry.pop_back();
      } else if (s.next_k < s.count) {
        n = s.index + o.sockets * s.next_k++;
      } else {
        break;
      }
      slot.txid = (++s.counter << 8) | static_cast<std::uint32_t>(i);
      slot.busy = true;
      slot.peer = n;
      slot.sent = now;
      encode_announce(o, s, n, slot.txid, o.seq, out[k].data());
      out_iov[k] = {out[k].data(), kAnnounceSize};
      out_msg[k].msg_hdr = {};
      out_msg[k].msg_hdr.msg_iov = &out_iov[k];
      out_msg[k].msg_hdr.msg_iovlen = 1;
      ++k;
    }
    for (std::size_t sent = 0; sent < k;) {
      const int r = sendmmsg(s.fd, out_msg.data() + sent, static_cast<unsigned>(k - sent), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;  // not sent: those slots time out and count as lost
      sent += static_cast<std::size_t>(r);
    }
    announces_sent += static_cast<long>(k);
  };
  auto reconnect = [&](Sock& s, Clock::time_point now) {
    ++reconnects;
    s.connected = false;
    s.unanswered = 0;
    send_connect(s, now);
  };
  // Connects, reconnects and expires what timed out; then refills.
  auto tend = [&](Sock& s, Clock::time_point now) {
    for (Slot& slot : s.slots) {
      if (!slot.busy || now - slot.sent < timeout) continue;
      slot.busy = false;
      ++lost;
      ++s.unanswered;
      if (o.seq) s.retry.push_back(slot.peer);
    }
    if (s.connecting && now - s.connect_sent >= timeout) {
      send_connect(s, now);
    } else if (!s.connected && !s.connecting) {
      send_connect(s, now);
    } else if (s.connected &&
               (now - s.connected_at >= kConnectionLife || s.unanswered >= static_cast<int>(w))) {
      reconnect(s, now);
    }
    fill(s, now);
  };
  auto receive = [&](Sock& s) {
    for (;;) {
      const int got =
          recvmmsg(s.fd, in_msg.data(), static_cast<unsigned>(w + 1), MSG_DONTWAIT, nullptr);
      if (got <= 0) return;
      for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
        const unsigned char* p = in[i].data();
        const unsigned len = in_msg[i].msg_len;
        if (len < 8) {
          ++other;
          continue;
        }
        const std::uint32_t action = get32(p), txid = get32(p + 4);
        if (action == 0 && len >= 16) {
          if (s.connecting && txid == s.connect_txid) {
            ++connect_answers;
            s.connecting = false;
            s.connected = true;
            s.connected_at = Clock::now();
            s.connection_id = get64(p + 8);
          } else {
            ++unmatched;
          }
          continue;
        }
        if (action != 1 && action != 3) {
          ++other;
          continue;
        }
        Slot* slot = nullptr;
        if ((txid & 0xff) < w) slot = &s.slots[txid & 0xff];
        if (!slot || !slot->busy || slot->txid != txid) {
          ++unmatched;  // late, after its timeout
          continue;
        }
        slot->busy = false;
        s.unanswered = 0;
        if (action == 1 && len >= 20) {
          ++announce_answers;
          ++registered;
        } else {
          ++error_answers;
          if (o.seq) s.retry.push_back(slot->peer);
        }
      }
      if (static_cast<std::size_t>(got) < w + 1) return;
    }
  };

  const auto started = Clock::now();
  const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.seconds));
  auto last_tend = started - std::chrono::seconds(1);
  std::vector<epoll_event> events(socks.size());
  for (;;) {
    auto now = Clock::now();
    if (now >= end) break;
    if (o.seq && registered >= o.peers) break;
    // Every socket is tended every few milliseconds; a socket with answers is refilled at once.
    if (now - last_tend >= std::chrono::milliseconds(5)) {
      for (Sock& s : socks) tend(s, now);
      last_tend = now;
    }
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 2);
    now = Clock::now();
    for (int e = 0; e < n; ++e) {
      Sock& s = *static_cast<Sock*>(events[static_cast<std::size_t>(e)].data.ptr);
      receive(s);
      fill(s, now);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  long inflight = 0;
  for (Sock& s : socks) {
    for (const Slot& slot : s.slots) inflight += slot.busy ? 1 : 0;
    close(s.fd);
  }
  close(ep);
  std::printf(
      "UDPLOAD sent=%ld connects_sent=%ld announces_sent=%ld answered=%ld connect_answers=%ld "
      "announce_answers=%ld error_answers=%ld other=%ld lost=%ld unmatched=%ld reconnects=%ld "
      "inflight=%ld seconds=%.3f rate=%.0f\n",
      connects_sent + announces_sent, connects_sent, announces_sent,
      connect_answers + announce_answers + error_answers, connect_answers, announce_answers,
      error_answers, other, lost, unmatched, reconnects, inflight, seconds,
      static_cast<double>(announce_answers) / seconds);
  return o.seq && registered < o.peers ? 1 : 0;
}

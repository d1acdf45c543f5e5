// The UDP floor of bench/run.sh: the socket work of a BEP 15 tracker and nothing else, so that
// a tracker's CPU per announce can be set against what the kernel alone costs.
//
//   bench_floor_udp --port P [--host 127.0.0.1] [--batch 64]
//
// One thread, one blocking socket. Receives a batch (recvmmsg, waiting for the first datagram
// only) and sends one fixed answer per datagram in one sendmmsg: action 0 (connect) gets a
// 16-byte connect answer, action 1 (announce) a 320-byte announce answer with 50 IPv4 peers,
// both echoing the transaction id; anything else is dropped. No validation, no state: the
// connection id is a constant, so a load generator's handshake succeeds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

void put32(unsigned char* p, std::uint32_t v) {
  p[0] = static_cast<unsigned char>(v >> 24);
  p[1] = static_cast<unsigned char>(v >> 16);
  p[2] = static_cast<unsigned char>(v >> 8);
  p[3] = static_cast<unsigned char>(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  int batch = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--port")
      port = std::atoi(argv[i + 1]);
    else if (a == "--host")
      host = argv[i + 1];
    else if (a == "--batch")
      batch = std::atoi(argv[i + 1]);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port <= 0 || port > 65535 || batch < 1 || batch > 1024 ||
      inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "usage: bench_floor_udp --port P [--host A] [--batch 1-1024]\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bench_floor_udp: bind");
    return 1;
  }

  // The fixed parts after action and transaction id.
  unsigned char connect_tail[8] = {0x23, 0x42, 0x05, 0x17, 0xde, 0x41, 0x50, 0xff};
  unsigned char announce_tail[12 + 50 * 6];
  put32(announce_tail, 1800);     // interval
  put32(announce_tail + 4, 35);   // leechers
  put32(announce_tail + 8, 15);   // seeders
  for (int i = 0; i < 50; ++i) {  // 10.0.0.i:6881
    unsigned char* p = announce_tail + 12 + 6 * i;
    p[0] = 10, p[1] = 0, p[2] = 0, p[3] = static_cast<unsigned char>(i + 1), p[4] = 0x1a,
    p[5] = 0xe1;
  }

  const auto n = static_cast<std::size_t>(batch);
  std::vector<std::array<unsigned char, 2048>> in(n);
  std::vector<sockaddr_in> from(n);
  std::vector<iovec> in_iov(n);
  std::vector<mmsghdr> in_msg(n);
  std::vector<std::array<unsigned char, 8>> head(n);
  std::vector<iovec> out_iov(2 * n);
  std::vector<mmsghdr> out_msg(n);
  for (std::size_t i = 0; i < n; ++i) {
    in_iov[i] = {in[i].data(), in[i].size()};
    in_msg[i].msg_hdr.msg_iov = &in_iov[i];
    in_msg[i].msg_hdr.msg_iovlen = 1;
  }
  for (;;) {
    for (std::size_t i = 0; i < n; ++i) {
      in_msg[i].msg_hdr.msg_name = &from[i];
      in_msg[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int got = recvmmsg(fd, in_msg.data(), static_cast<unsigned>(n), MSG_WAITFORONE, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::perror("bench_floor_udp: recvmmsg");
      return 1;
    }
    std::size_t k = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
      if (in_msg[i].msg_len < 16) continue;
      const unsigned char* p = in[i].data();
      const std::uint32_t action = (std::uint32_t{p[8]} << 24) | (std::uint32_t{p[9]} << 16) |
                                   (std::uint32_t{p[10]} << 8) | p[11];
      if (action > 1) continue;
      std::memcpy(head[k].data(), p + 8, 8);  // action and transaction id, echoed
      out_iov[2 * k] = {head[k].data(), 8};
      out_iov[2 * k + 1] = action == 0 ? iovec{connect_tail, sizeof connect_tail}
                                       : iovec{announce_tail, sizeof announce_tail};
      msghdr& h = out_msg[k].msg_hdr;
      h = {};
      h.msg_name = &from[i];
      h.msg_namelen = in_msg[i].msg_hdr.msg_namelen;
      h.msg_iov = &out_iov[2 * k];
      h.msg_iovlen = 2;
      ++k;
    }
    for (std::size_t sent = 0; sent < k;) {
      const int r = sendmmsg(fd, out_msg.data() + sent, static_cast<unsigned>(k - sent), 0);
      if (r < 0 && errno == EINTR) continue;
      // A datagram the kernel refuses is lost, as a full queue would lose it; the rest go on.
      sent += r > 0 ? static_cast<std::size_t>(r) : 1;
    }
  }
}

#include "protocol/tracker_answer.hpp"

#include <gtest/gtest.h>

namespace btrt::protocol {
namespace {

std::string compact(std::initializer_list<std::tuple<int, int, int, int, int>> peers) {
  std::string s;
  for (auto [a, b, c, d, port] : peers) {
    for (int x : {a, b, c, d, port >> 8, port & 255}) s += static_cast<char>(x);
  }
  return s;
}

TEST(TrackerAnswer, CompactPeersAndCounts) {
  std::string peers = compact({{127, 1, 0, 5, 6881}, {10, 0, 0, 1, 51413}});
  std::string body = "d8:completei3e10:incompletei7e8:intervali1800e12:min intervali60e5:peers" +
                     std::to_string(peers.size()) + ":" + peers + "e";
  TrackerAnswer answer;
  ASSERT_EQ(parse_tracker_answer(body, answer), nullptr);
  ASSERT_EQ(answer.peers.size(), 2u);
  EXPECT_EQ(answer.peers[0].to_string(), "127.1.0.5:6881");
  EXPECT_EQ(answer.peers[1].to_string(), "10.0.0.1:51413");
  EXPECT_EQ(answer.interval, 1800u);
  EXPECT_EQ(answer.min_interval, 60u);
  EXPECT_EQ(answer.complete, 3u);
  EXPECT_EQ(answer.incomplete, 7u);
}

TEST(TrackerAnswer, Peers6AndDictionaryLists) {
  std::string v6(16, '\0');
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[15] = 1;
  v6 += "\x1a\xe1";
  std::string body =
      "d5:peersld2:ip9:127.2.0.77:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eed2:ip9:not-an-ip4:"
      "porti1eee6:peers618:" +
      v6 + "e";
  TrackerAnswer answer;
  const char* error = parse_tracker_answer(body, answer);
  ASSERT_EQ(error, nullptr) << error;
  ASSERT_EQ(answer.peers.size(), 2u);  // the host name entry is skipped
  EXPECT_EQ(answer.peers[0].to_string(), "127.2.0.7:6881");
  EXPECT_EQ(answer.peers[1].to_string(), "[2001::1]:6881");
  EXPECT_FALSE(answer.interval);
}

TEST(TrackerAnswer, FailureReasonAndWarning) {
  TrackerAnswer failed;
  ASSERT_EQ(parse_tracker_answer("d14:failure reason12:unregisterede", failed), nullptr);
  EXPECT_EQ(failed.failure_reason, "unregistered");
  TrackerAnswer warned;
  ASSERT_EQ(parse_tracker_answer("d5:peers0:15:warning message4:slowe", warned), nullptr);
  EXPECT_EQ(warned.warning, "slow");
  EXPECT_TRUE(warned.peers.empty());
}

TEST(TrackerAnswer, SkipsBadEntriesAndRejectsGarbage) {
  TrackerAnswer answer;
  std::string peers = compact({{1, 2, 3, 4, 0}, {1, 2, 3, 5, 80}}) + "xyz";  // port 0, tail
  ASSERT_EQ(
      parse_tracker_answer("d5:peers" + std::to_string(peers.size()) + ":" + peers + "e", answer),
      nullptr);
  ASSERT_EQ(answer.peers.size(), 1u);
  EXPECT_EQ(answer.peers[0].port, 80);
  for (const char* bad : {"", "<html>", "i5e", "le", "d8:intervali5ee", "d5:peersi5ee",
                          "d14:failure reasoni1ee", "d5:peers"}) {
    TrackerAnswer a;
    EXPECT_NE(parse_tracker_answer(bad, a), nullptr) << bad;
  }
}

}  // namespace
}  // namespace btrt::protocol

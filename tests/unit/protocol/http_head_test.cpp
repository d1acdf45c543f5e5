#include "protocol/http_head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace btrt::protocol {
namespace {

constexpr std::size_t kLimit = 32768;

HeadResult parse(std::string_view in, HttpHead& head, std::size_t limit = kLimit) {
  std::size_t scanned = 0;
  return parse_http_head(in, limit, scanned, head);
}

HeadResult parse(std::string_view in, std::size_t limit = kLimit) {
  HttpHead head;
  return parse(in, head, limit);
}

TEST(HttpHead, ReadsTheRequestLineAndTheHeadersTheTrackerUses) {
  const std::string in =
      "GET /announce?info_hash=x HTTP/1.1\r\n"
      "Host: tracker.example\r\n"
      "User-Agent: qBittorrent/4.6\r\n"
      "X-Forwarded-For: 192.0.2.1, 198.51.100.2\r\n"
      "X-Real-IP: 192.0.2.1\r\n"
      "Via: 1.1 btrt\r\n"
      "Accept-Encoding: gzip\r\n"
      "\r\n"
      "GET /next";
  HttpHead head;
  ASSERT_EQ(parse(in, head), HeadResult::complete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/announce?info_hash=x");
  EXPECT_EQ(head.version, 11u);
  EXPECT_EQ(head.host, "tracker.example");
  EXPECT_EQ(head.user_agent, "qBittorrent/4.6");
  EXPECT_EQ(head.x_forwarded_for, "192.0.2.1, 198.51.100.2");
  EXPECT_EQ(head.x_real_ip, "192.0.2.1");
  EXPECT_EQ(head.via, "1.1 btrt");
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.has_body);
  EXPECT_EQ(head.size, in.find("GET /next"));  // a pipelined request after it is not part
}

TEST(HttpHead, NamesAreCaseInsensitiveAndValuesTrimmed) {
  HttpHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nhOsT:\t x \t\r\nx-real-ip:1.2.3.4\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_EQ(head.host, "x");
  EXPECT_EQ(head.x_real_ip, "1.2.3.4");
}

TEST(HttpHead, ARepeatedHeaderKeepsItsFirstValue) {
  HttpHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Forwarded-For: 1.1.1.1\r\n"
                  "X-Forwarded-For: 2.2.2.2\r\nUser-Agent: u1\r\nUser-Agent: u2\r\n"
                  "Via: v1\r\nVia: v2\r\nX-Real-IP: r1\r\nX-Real-IP: r2\r\n\r\n",
                  head),
            HeadResult::complete);
  EXPECT_EQ(head.host, "a");
  EXPECT_EQ(head.x_forwarded_for, "1.1.1.1");
  EXPECT_EQ(head.user_agent, "u1");
  EXPECT_EQ(head.via, "v1");
  EXPECT_EQ(head.x_real_ip, "r1");
}

TEST(HttpHead, KeepAliveFollowsVersionAndConnection) {
  HttpHead head;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", head), HeadResult::complete);
  EXPECT_EQ(head.version, 10u);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", head), HeadResult::complete);
  EXPECT_FALSE(head.keep_alive);  // the server closes every HTTP/1.0 connection
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: keep-alive, closed\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(HttpHead, ABodyIsDetectedNotRead) {
  HttpHead head;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", head), HeadResult::complete);
  EXPECT_TRUE(head.has_body);
  EXPECT_EQ(head.method, "POST");
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", head), HeadResult::complete);
  EXPECT_FALSE(head.has_body);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_TRUE(head.has_body);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_TRUE(head.has_body);
}

TEST(HttpHead, ABadContentLengthIsMalformed) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n"),
            HeadResult::malformed);
}

TEST(HttpHead, BadRequestLinesAreMalformed) {
  for (std::string_view line :
       {"GARBAGE", "", "GET /", "GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET / HTTP/9.9",
        "GET / HTTP/2.0", "GET / http/1.1", "G(T / HTTP/1.1", "GET /a\x7f HTTP/1.1",
        " GET / HTTP/1.1", "GET / HTTP/1.1\r"}) {
    EXPECT_EQ(parse(std::string(line) + "\r\n\r\n"), HeadResult::malformed) << line;
  }
}

TEST(HttpHead, EveryByteValueAtEveryPositionOfTheTargetIsJudgedAlike) {
  // The target is checked 16 bytes at a time (where SSE2 is), then eight, then byte by
  // byte: every byte value, in every lane of each and in the tail, is refused exactly when
  // it is a control character, a space or DEL.
  for (std::size_t position = 0; position < 28; ++position) {
    for (int value = 0; value < 256; ++value) {
      std::string target = "/announce?info_hash=abcdefghi";  // 29 bytes: 16, 8 and a tail
      target[position + 1] = static_cast<char>(value);
      const bool allowed = value > 0x20 && value != 0x7f;
      const std::string request = "GET " + target + " HTTP/1.1\r\n\r\n";
      // A space splits the line into four parts: malformed too, as expected.
      EXPECT_EQ(parse(request), allowed ? HeadResult::complete : HeadResult::malformed)
          << position << " " << value;
    }
  }
}

TEST(HttpHead, EveryByteValueInAHeaderNameIsJudgedAsRfc9110Says) {
  const std::string_view tchar_punctuation = "!#$%&'*+-.^_`|~";
  for (int value = 0; value < 256; ++value) {
    const char c = static_cast<char>(value);
    const bool tchar = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       tchar_punctuation.find(c) != std::string::npos;
    // A colon ends the name ("Xa"), its value then being "b: v".
    const bool allowed = tchar || c == ':';
    const std::string request = std::string("GET / HTTP/1.1\r\nXa") + c + "b: v\r\n\r\n";
    EXPECT_EQ(parse(request), allowed ? HeadResult::complete : HeadResult::malformed) << value;
  }
}

TEST(HttpHead, ABadRequestLineIsReportedBeforeTheHeadEnds) {
  EXPECT_EQ(parse("GARBAGE\r\nHost: x\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n"), HeadResult::need_more);
}

TEST(HttpHead, BadHeaderLinesAreMalformed) {
  for (std::string_view field : {"Bad Header Without Colon", "Host : x", ": empty name", "Na(me: x",
                                 "X: a\x01b", " folded", "\tfolded", "X: a\x7f"}) {
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n" + std::string(field) + "\r\n\r\n"),
              HeadResult::malformed)
        << field;
  }
}

TEST(HttpHead, ObsFoldIsRefused) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nUser-Agent: a\r\n b\r\n\r\n"), HeadResult::malformed);
}

TEST(HttpHead, OnlyCrlfEndsALine) {
  EXPECT_EQ(parse("GET / HTTP/1.1\n\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\n\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"), HeadResult::malformed);
  EXPECT_EQ(parse("\n"), HeadResult::malformed);
}

TEST(HttpHead, ObsTextInAValueIsKept) {
  HttpHead head;
  ASSERT_EQ(parse("GET /\xc3\xa9 HTTP/1.1\r\nUser-Agent: \xc3\xa9t\xc3\xa9\r\n\r\n", head),
            HeadResult::complete);
  EXPECT_EQ(head.user_agent, "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(head.target, "/\xc3\xa9");
}

TEST(HttpHead, InputArrivingByteByByteGivesTheSameHead) {
  const std::string in =
      "GET /announce?a=1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.9\r\n\r\n";
  std::size_t scanned = 0;
  HttpHead head;
  for (std::size_t n = 1; n < in.size(); ++n) {
    ASSERT_EQ(parse_http_head(std::string_view(in).substr(0, n), kLimit, scanned, head),
              HeadResult::need_more)
        << n;
  }
  ASSERT_EQ(parse_http_head(in, kLimit, scanned, head), HeadResult::complete);
  EXPECT_EQ(head.size, in.size());
  EXPECT_EQ(head.host, "h");
  EXPECT_EQ(head.x_forwarded_for, "192.0.2.9");
}

TEST(HttpHead, AnEndSplitAcrossReadsIsFound) {
  const std::string in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  for (std::size_t cut = 1; cut < in.size(); ++cut) {
    std::size_t scanned = 0;
    HttpHead head;
    ASSERT_EQ(parse_http_head(std::string_view(in).substr(0, cut), kLimit, scanned, head),
              HeadResult::need_more);
    ASSERT_EQ(parse_http_head(in, kLimit, scanned, head), HeadResult::complete) << cut;
    EXPECT_EQ(head.size, in.size());
  }
}

TEST(HttpHead, ALongRequestLineIsTooLong) {
  const std::string line = "GET /announce?" + std::string(100, 'a');
  EXPECT_EQ(parse(line, 64), HeadResult::line_too_long);
  EXPECT_EQ(parse(line + " HTTP/1.1\r\n\r\n", 64), HeadResult::line_too_long);
  EXPECT_EQ(parse(line.substr(0, 63), 64), HeadResult::need_more);
}

TEST(HttpHead, LargeHeadersAreTooLarge) {
  const std::string head = "GET / HTTP/1.1\r\nX-Big: " + std::string(100, 'b');
  EXPECT_EQ(parse(head, 64), HeadResult::head_too_large);
  EXPECT_EQ(parse(head + "\r\n\r\n", 64), HeadResult::head_too_large);
  EXPECT_EQ(parse(head.substr(0, 63), 64), HeadResult::need_more);
}

TEST(HttpHead, AHeadOfExactlyTheLimitFits) {
  const std::string in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(parse(in, in.size()), HeadResult::complete);
  EXPECT_EQ(parse(in, in.size() - 1), HeadResult::head_too_large);
}

TEST(HttpHead, OtherMethodsAreParsed) {
  HttpHead head;
  ASSERT_EQ(parse("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", head), HeadResult::complete);
  EXPECT_EQ(head.method, "DELETE");
}

TEST(HttpHead, AHeadIsResetBetweenRequests) {
  HttpHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", head),
            HeadResult::complete);
  ASSERT_EQ(parse("GET /b HTTP/1.1\r\n\r\n", head), HeadResult::complete);
  EXPECT_EQ(head.host, "");
  EXPECT_TRUE(head.keep_alive);
}

}  // namespace
}  // namespace btrt::protocol

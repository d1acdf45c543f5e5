#include "text/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace btrt::text {
namespace {

TEST(SplitUrl, SplitsSchemeAuthorityAndTarget) {
  auto p = split_url("http://tracker.example:81/ann?x=1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "http");
  EXPECT_EQ(p->authority, "tracker.example:81");
  EXPECT_EQ(p->target, "/ann?x=1");

  p = split_url("HTTP://h?x=1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "HTTP");
  EXPECT_EQ(p->authority, "h");
  EXPECT_EQ(p->target, "?x=1");

  p = split_url("udp://[::1]:6969");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "udp");
  EXPECT_EQ(p->authority, "[::1]:6969");
  EXPECT_EQ(p->target, "");

  p = split_url("http://h#frag");  // a fragment ends the authority too
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authority, "h");
  EXPECT_EQ(p->target, "#frag");

  p = split_url("http://");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authority, "");

  for (const char* bad :
       {"", "/announce", "://h/", "1http://h/", "ht tp://h/", "http:/h", "http:h", "h:80"}) {
    EXPECT_FALSE(split_url(bad)) << bad;
  }
}

TEST(IsHttpUrl, TheSchemeIsCaseInsensitive) {
  EXPECT_TRUE(is_http_url("http://h/"));
  EXPECT_TRUE(is_http_url("HTTP://h/"));
  EXPECT_TRUE(is_http_url("Http://h/"));
  EXPECT_FALSE(is_http_url("https://h/"));
  EXPECT_FALSE(is_http_url("http:/h/"));
  EXPECT_FALSE(is_http_url(""));
}

TEST(SplitHostPort, NamesLiteralsAndPorts) {
  auto hp = split_host_port("retracker.local");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "retracker.local");
  EXPECT_FALSE(hp->bracketed);
  EXPECT_FALSE(hp->port);

  hp = split_host_port("1.2.3.4:80");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "1.2.3.4");
  EXPECT_EQ(hp->port, "80");

  hp = split_host_port("name:");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "name");
  EXPECT_EQ(hp->port, "");

  hp = split_host_port("[::1]:6969");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_TRUE(hp->bracketed);
  EXPECT_EQ(hp->port, "6969");

  hp = split_host_port("[::1]");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_FALSE(hp->port);

  hp = split_host_port("::1");  // bare IPv6: no port can be told apart
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_FALSE(hp->bracketed);
  EXPECT_FALSE(hp->port);

  hp = split_host_port("");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "");

  for (const char* bad : {"[::1", "[::1]x", "[::1]80", "[", "[]]"}) {
    EXPECT_FALSE(split_host_port(bad)) << bad;
  }
}

TEST(ParsePort, DecimalUpTo65535) {
  EXPECT_EQ(parse_port("0"), 0);
  EXPECT_EQ(parse_port("80"), 80);
  EXPECT_EQ(parse_port("65535"), 65535);
  EXPECT_EQ(parse_port("000080"), 80);  // RFC 3986: port = *DIGIT
  for (const char* bad : {"", "65536", "99999999999999999999", "-1", "+1", "8x", " 80", "80 "}) {
    EXPECT_FALSE(parse_port(bad)) << bad;
  }
}

TEST(ParseHttpUrl, AcceptsWellFormedUrls) {
  auto u = parse_http_url("http://tracker.example.com/announce?a=b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "tracker.example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/announce?a=b");

  u = parse_http_url("HTTP://Tracker.Example.com:6969");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "Tracker.Example.com");
  EXPECT_EQ(u->port, 6969);
  EXPECT_EQ(u->target, "/");

  u = parse_http_url("http://[2001:db8::1]:8080/a/b?c=%00");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?c=%00");

  u = parse_http_url("http://[::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);

  u = parse_http_url("http://10.0.0.1:65535?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "10.0.0.1");
  EXPECT_EQ(u->port, 65535);
  EXPECT_EQ(u->target, "/?x=1");

  u = parse_http_url("http://h:1/p?passkey=a+b&x=%2B");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 1);
  EXPECT_EQ(u->target, "/p?passkey=a+b&x=%2B");
}

TEST(ParseHttpUrl, RejectsEverythingElse) {
  for (const char* bad : {
           "",
           "http://",
           "http:///path",
           "https://example.com/",
           "ftp://example.com/",
           "http:/example.com/",
           "//example.com/",
           "example.com/announce",
           "http://example.com:0/",
           "http://example.com:65536/",
           "http://example.com:/",
           "http://example.com:80a/",
           "http://example.com:-1/",
           "http://example.com:123456/",
           "http://user@example.com/",
           "http://user:pass@example.com/",
           "http://example.com/a#frag",
           "http://example.com#frag",
           "http://example.com/a b",
           "http://exa mple.com/",
           "http://example.com/\r\nHost: evil",
           "http://example.com/\x7f",
           "http://example.com/\t",
           "http://[::1/",
           "http://[::1]x/",
           "http://[127.0.0.1]/",
           "http://[fe80::1%25eth0]/",
           "http://[zz::1]/",
           "http://::1/",
           "http://exa%6dple.com/",
           "http://example.com\\@evil/",
       }) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
  EXPECT_FALSE(parse_http_url(std::string_view("http://a/\0b", 11)));
  EXPECT_FALSE(parse_http_url("http://" + std::string(254, 'a') + "/"));
}

TEST(ParseHttpUrl, PortWithLeadingZeros) {
  // Like a listen address in the configuration ("1.2.3.4:0080"): the number counts.
  auto u = parse_http_url("http://h:00080/a");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
}

}  // namespace
}  // namespace btrt::text

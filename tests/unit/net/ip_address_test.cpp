#include "net/ip_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/cidr.hpp"

namespace btrt::net {
namespace {

TEST(IpAddress, ParsesBothFamiliesAndMapsIpv4) {
  auto v4 = IpAddress::parse("10.1.2.3");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4(), 0x0A010203u);
  EXPECT_EQ(v4->to_string(), "10.1.2.3");
  auto mapped = IpAddress::parse("::ffff:10.1.2.3");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, *v4);
  auto v6 = IpAddress::parse("[2001:db8::1]");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
}

TEST(IpAddress, WritesEveryIpv4FormAsDottedQuad) {
  for (const char* text : {"0.0.0.0", "255.255.255.255", "1.20.100.9", "198.51.100.200"}) {
    auto a = IpAddress::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->to_string(), text);
  }
}

TEST(IpAddress, OnlyTheMappedPrefixIsIpv4) {
  // One byte off the ::ffff:0:0/96 prefix anywhere makes an IPv6 address.
  for (const char* text : {"::fffe:1.2.3.4", "::1:ffff:1.2.3.4", "1::ffff:1.2.3.4",
                           "::7fff:1.2.3.4", "::ff:1.2.3.4", "::1.2.3.4"}) {
    auto a = IpAddress::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_FALSE(a->is_v4()) << text;
  }
}

TEST(IpAddress, ReadsDottedQuadsExactlyAsInetPton) {
  // Every string of up to 9 characters over "0129.5" that a few seeds grow into, and the
  // known edge cases: leading zeros, too many or too few parts, out-of-range parts.
  std::vector<std::string> inputs = {
      "0.0.0.0", "255.255.255.255", "256.1.1.1",  "01.2.3.4", "1.2.3.04", "1.2.3.4.5", ".1.2.3",
      "1.2.3.",  "1..2.3",          "1.2.3.0004", "1.2.3",    "",         "1.2.3.4x",  "+1.2.3.4"};
  const std::string alphabet = "0129.5";
  std::uint32_t state = 7;
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    const std::size_t length = 7 + n % 9;
    for (std::size_t i = 0; i < length; ++i) {
      state = state * 1103515245u + 12345u;
      s += alphabet[(state >> 16) % alphabet.size()];
    }
    inputs.push_back(s);
  }
  for (const auto& text : inputs) {
    in_addr expected;
    const bool valid = inet_pton(AF_INET, text.c_str(), &expected) == 1;
    const auto got = parse_dotted_quad(text);
    ASSERT_EQ(got.has_value(), valid) << text;
    if (valid) {
      EXPECT_EQ(*got, ntohl(expected.s_addr)) << text;
    }
  }
}

TEST(IpAddress, TakesEitherFamilyInBrackets) {
  ASSERT_TRUE(IpAddress::parse("[192.0.2.7]"));
  EXPECT_EQ(IpAddress::parse("[192.0.2.7]")->v4(), 0xC0000207u);
  ASSERT_TRUE(IpAddress::parse("[::1]"));
  EXPECT_TRUE(IpAddress::parse("[::1]")->is_loopback());
  for (const char* bad : {"[]", "[192.0.2.7", "192.0.2.7]", "[[::1]]", "[01.2.3.4]"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpAddress, RejectsWhatIsNotAnAddress) {
  for (const char* bad :
       {"", "10.1.2", "10.1.2.300", "host.example", "1.2.3.4 ", "::g", "[::1", "10.0.0.1/8"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpAddress, KnowsLoopbackAndUnspecified) {
  EXPECT_TRUE(IpAddress::parse("127.3.4.5")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("10.0.0.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
}

TEST(Endpoint, ParsesIpv4AndBracketedIpv6) {
  auto e4 = Endpoint::parse("127.0.0.1:6969");
  ASSERT_TRUE(e4);
  EXPECT_EQ(e4->port, 6969);
  EXPECT_EQ(e4->to_string(), "127.0.0.1:6969");
  auto e6 = Endpoint::parse("[::1]:80");
  ASSERT_TRUE(e6);
  EXPECT_EQ(e6->to_string(), "[::1]:80");
  for (const char* bad :
       {"127.0.0.1", "::1:80", "[::1]80", "1.2.3.4:65536", "1.2.3.4:", ":80", "1.2.3.4:8x"}) {
    EXPECT_FALSE(Endpoint::parse(bad)) << bad;
  }
}

TEST(Cidr, ParsesPrefixesAndBareAddresses) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "10.0.0.0/8");  // host bits cleared
  EXPECT_EQ(c->length, 104);
  EXPECT_EQ(Cidr::parse("192.0.2.7")->to_string(), "192.0.2.7/32");
  EXPECT_EQ(Cidr::parse("2001:db8::1")->to_string(), "2001:db8::1/128");
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->to_string(), "0.0.0.0/0");
  EXPECT_TRUE(Cidr::parse("10.0.0.0/8")->contains(*IpAddress::parse("10.255.0.1")));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/8")->contains(*IpAddress::parse("11.0.0.1")));
}

TEST(Cidr, ExplainsBadPrefixes) {
  std::string why;
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33", &why));
  EXPECT_NE(why.find("prefix length"), std::string::npos);
  EXPECT_FALSE(Cidr::parse("10.0.0/8", &why));
  EXPECT_NE(why.find("not an IP address"), std::string::npos);
  EXPECT_FALSE(Cidr::parse("::/129", &why));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/", &why));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/-1", &why));
}

}  // namespace
}  // namespace btrt::net

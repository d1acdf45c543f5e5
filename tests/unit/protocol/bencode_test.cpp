#include "protocol/bencode.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace btrt::protocol::bencode {
namespace {

const Value& ok(const std::variant<Value, DecodeError>& r) {
  if (const auto* err = std::get_if<DecodeError>(&r)) {
    ADD_FAILURE() << "decode failed at " << err->offset << ": " << err->message;
    static const Value empty;
    return empty;
  }
  return std::get<Value>(r);
}

Value decode_ok(std::string_view in, const Limits& limits = {}) {
  auto r = decode(in, limits);
  EXPECT_TRUE(std::holds_alternative<Value>(r)) << "input: " << in;
  return ok(r);
}

bool rejects(std::string_view in, const Limits& limits = {}) {
  auto r = decode(in, limits);
  return std::holds_alternative<DecodeError>(r);
}

// Re-encodes a decoded value in its stored order (strict bencode is then byte-identical).
void encode_value(const Value& v, Encoder& enc) {
  if (v.is_int()) {
    enc.integer(v.as_int());
  } else if (v.is_string()) {
    enc.string(v.as_string());
  } else if (v.is_list()) {
    enc.begin_list();
    for (const auto& item : v.as_list()) encode_value(item, enc);
    enc.end();
  } else {
    enc.begin_dict();
    for (const auto& [k, item] : v.as_dict()) {
      enc.string(k);
      encode_value(item, enc);
    }
    enc.end();
  }
}

TEST(BencodeEncoder, Integers) {
  std::string out;
  Encoder enc(out);
  enc.integer(0).integer(42).integer(-7);
  enc.integer(std::numeric_limits<std::int64_t>::max());
  enc.integer(std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(out, "i0ei42ei-7ei9223372036854775807ei-9223372036854775808e");
}

TEST(BencodeEncoder, StringsWithBinaryBytes) {
  std::string out;
  Encoder enc(out);
  enc.string("").string("spam").string(std::string_view("a\0b:", 4));
  EXPECT_EQ(out, std::string("0:4:spam4:a\0b:", 14));
}

TEST(BencodeEncoder, NestedContainersAppend) {
  std::string out = "HTTP-body:";
  Encoder enc(out);
  enc.begin_dict().string("a").begin_list().integer(1).string("x").end().string("b").begin_dict();
  enc.end().end();
  EXPECT_EQ(out, "HTTP-body:d1:ali1e1:xe1:bdee");
}

TEST(BencodeDecode, Scalars) {
  EXPECT_EQ(decode_ok("i0e").as_int(), 0);
  EXPECT_EQ(decode_ok("i-42e").as_int(), -42);
  EXPECT_EQ(decode_ok("i9223372036854775807e").as_int(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(decode_ok("i-9223372036854775808e").as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(decode_ok("0:").as_string(), "");
  EXPECT_EQ(decode_ok("4:spam").as_string(), "spam");
  EXPECT_EQ(decode_ok(std::string_view("3:\0\xff"
                                       "e",
                                       5))
                .as_string(),
            std::string("\0\xff"
                        "e",
                        3));
}

TEST(BencodeDecode, TrackerAnswerAndFind) {
  std::string in =
      "d8:completei5e10:incompletei3e8:intervali1800e5:peers6:\x01\x02\x03\x04\x1a\xe1"
      "e";
  Value v = decode_ok(in);
  ASSERT_TRUE(v.is_dict());
  ASSERT_EQ(v.as_dict().size(), 4u);
  ASSERT_NE(v.find("interval"), nullptr);
  EXPECT_EQ(v.find("interval")->as_int(), 1800);
  EXPECT_EQ(v.find("complete")->as_int(), 5);
  EXPECT_EQ(v.find("peers")->as_string(), "\x01\x02\x03\x04\x1a\xe1");
  EXPECT_EQ(v.find("min interval"), nullptr);
  EXPECT_EQ(v.find("peers")->find("x"), nullptr);  // not a dict
}

TEST(BencodeDecode, DictKeepsInputOrderAndAcceptsUnsortedKeys) {
  Value v = decode_ok("d1:bi1e1:ai2e1:ci3ee");
  ASSERT_EQ(v.as_dict().size(), 3u);
  EXPECT_EQ(v.as_dict()[0].first, "b");
  EXPECT_EQ(v.as_dict()[1].first, "a");
  EXPECT_EQ(v.as_dict()[2].first, "c");
  EXPECT_EQ(v.find("a")->as_int(), 2);
}

TEST(BencodeDecode, RoundTrips) {
  const std::string cases[] = {
      "i0e",
      "i-1e",
      "0:",
      "le",
      "de",
      "lli1eeli2eee",
      "d4:listl1:a1:bi-3ee4:spamd3:eggi7eee",
      "d14:failure reason12:unregisterede",
      std::string("d5:filesd20:") + std::string(20, '\x7f') +
          "d8:completei1e10:downloadedi2e10:incompletei3eeee",
  };
  for (const auto& in : cases) {
    Value v = decode_ok(in);
    std::string out;
    Encoder enc(out);
    encode_value(v, enc);
    EXPECT_EQ(out, in);
  }
}

TEST(BencodeDecode, EncodedThenDecoded) {
  std::string out;
  Encoder enc(out);
  enc.begin_dict().string("n").integer(-123456789012345).string("s");
  enc.string(std::string(300, 'z')).string("t").begin_list().integer(0).begin_list().end().end();
  enc.end();
  Value v = decode_ok(out);
  EXPECT_EQ(v.find("n")->as_int(), -123456789012345);
  EXPECT_EQ(v.find("s")->as_string(), std::string(300, 'z'));
  ASSERT_TRUE(v.find("t")->is_list());
  EXPECT_EQ(v.find("t")->as_list().size(), 2u);
  EXPECT_TRUE(v.find("t")->as_list()[1].is_list());
}

TEST(BencodeDecode, RejectsBadIntegers) {
  EXPECT_TRUE(rejects("i01e"));  // leading zero
  EXPECT_TRUE(rejects("i00e"));
  EXPECT_TRUE(rejects("i-01e"));
  EXPECT_TRUE(rejects("i-0e"));  // negative zero
  EXPECT_TRUE(rejects("ie"));    // empty
  EXPECT_TRUE(rejects("i-e"));
  EXPECT_TRUE(rejects("i+1e"));
  EXPECT_TRUE(rejects("i 1e"));
  EXPECT_TRUE(rejects("i1.5e"));
  EXPECT_TRUE(rejects("i12"));  // unterminated
  EXPECT_TRUE(rejects("i"));
  EXPECT_TRUE(rejects("i9223372036854775808e"));   // int64 max + 1
  EXPECT_TRUE(rejects("i-9223372036854775809e"));  // int64 min - 1
  EXPECT_TRUE(rejects("i99999999999999999999999e"));
}

TEST(BencodeDecode, RejectsBadStrings) {
  EXPECT_TRUE(rejects("4:spa"));  // truncated
  EXPECT_TRUE(rejects("5:"));
  EXPECT_TRUE(rejects("4"));
  EXPECT_TRUE(rejects("4spam"));
  EXPECT_TRUE(rejects("04:spam"));  // leading zero in length
  EXPECT_TRUE(rejects("00:"));
  EXPECT_TRUE(rejects("-1:a"));
  // A length prefix far beyond the input is refused before anything is allocated.
  EXPECT_TRUE(rejects("4294967296:abc"));
  EXPECT_TRUE(rejects("18446744073709551615:x"));
  EXPECT_TRUE(rejects("99999999999999999999999999:x"));
  EXPECT_TRUE(rejects("l1000000:ae"));
}

TEST(BencodeDecode, LengthBeyondInputReportsOffset) {
  auto r = decode("l1:a9:abce");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(r));
  EXPECT_EQ(std::get<DecodeError>(r).offset, 4u);
  EXPECT_FALSE(std::get<DecodeError>(r).message.empty());
}

TEST(BencodeDecode, RejectsStructuralErrors) {
  EXPECT_TRUE(rejects(""));
  EXPECT_TRUE(rejects("e"));
  EXPECT_TRUE(rejects("x"));
  EXPECT_TRUE(rejects("l"));  // unterminated list
  EXPECT_TRUE(rejects("li1e"));
  EXPECT_TRUE(rejects("d"));  // unterminated dict
  EXPECT_TRUE(rejects("d1:ai1e"));
  EXPECT_TRUE(rejects("d1:ae"));  // key without value
  EXPECT_TRUE(rejects("d1:a"));
  EXPECT_TRUE(rejects("di1ei2ee"));  // non-string key
  EXPECT_TRUE(rejects("dlei1ee"));
  EXPECT_TRUE(rejects("i1ei2e"));  // trailing bytes
  EXPECT_TRUE(rejects("i1e "));
  EXPECT_TRUE(rejects("lee"));
  EXPECT_TRUE(rejects("4:spamx"));
  EXPECT_TRUE(rejects("dex"));
}

TEST(BencodeDecode, TrailingGarbageOffset) {
  auto r = decode("i1eXYZ");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(r));
  EXPECT_EQ(std::get<DecodeError>(r).offset, 3u);
}

TEST(BencodeDecode, RejectsDuplicateKeys) {
  EXPECT_TRUE(rejects("d1:ai1e1:ai2ee"));             // adjacent
  EXPECT_TRUE(rejects("d1:bi1e1:ai2e1:bi3ee"));       // unsorted, apart
  EXPECT_TRUE(rejects("d1:ad1:xi1e1:xi2eee"));        // in a nested dict
  EXPECT_FALSE(rejects("d1:ad1:xi1ee1:bd1:xi1eee"));  // same key in different dicts is fine
}

TEST(BencodeDecode, DepthLimit) {
  Limits limits;
  limits.max_depth = 4;
  EXPECT_FALSE(
      rejects("llllee"
              "ee",
              limits));  // 4 levels
  EXPECT_TRUE(
      rejects("lllllee"
              "eee",
              limits));  // 5 levels
  EXPECT_TRUE(rejects("d1:ad1:ad1:ad1:ad1:ai1eeeeee", limits));
  // The default limit stops deep nesting without exhausting the stack.
  std::string deep(100000, 'l');
  deep += std::string(100000, 'e');
  EXPECT_TRUE(rejects(deep));
  std::string ok_depth(32, 'l');
  ok_depth += std::string(32, 'e');
  EXPECT_FALSE(rejects(ok_depth));
  std::string too_deep(33, 'l');
  too_deep += std::string(33, 'e');
  EXPECT_TRUE(rejects(too_deep));
}

TEST(BencodeDecode, InputAndItemLimits) {
  Limits limits;
  limits.max_input = 8;
  EXPECT_FALSE(rejects("4:spam", limits));
  EXPECT_TRUE(rejects("8:abcdefgh", limits));

  Limits items;
  items.max_items = 3;
  EXPECT_FALSE(rejects("li1ei2ee", items));  // list + 2 ints
  EXPECT_TRUE(rejects("li1ei2ei3ee", items));
}

}  // namespace
}  // namespace btrt::protocol::bencode

#include "protocol/announce.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <span>

#include "protocol/percent.hpp"
#include "text/strings.hpp"

namespace btrt::protocol {
namespace {

std::string_view as_chars(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Longest decoded scalar value we look at (numbers, event, compact, addresses).
constexpr std::size_t kScalarMax = 64;
using ScalarBuf = std::array<std::uint8_t, kScalarMax>;

// Decodes a scalar parameter value into `buf`. Returns nullptr and sets `out`, or `malformed`
// for a bad escape, or `invalid` when the value is too long to be valid.
FailureReason decode_scalar(std::string_view raw, ScalarBuf& buf, std::string_view& out,
                            FailureReason malformed, FailureReason invalid) {
  if (!percent_escaped(raw)) {  // the usual case: numbers and words stand for themselves
    if (raw.size() > buf.size()) return invalid;
    out = raw;
    return nullptr;
  }
  const auto n = percent_decode_into(raw, buf);
  if (n < 0) return malformed;
  if (static_cast<std::size_t>(n) > buf.size()) return invalid;
  out = as_chars(std::span(buf).first(static_cast<std::size_t>(n)));
  return nullptr;
}

// A number as clients send it: at most 19 digits (they always fit), nothing to decode. False
// for anything else, which the caller then decodes and judges.
bool plain_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    const std::uint64_t d = text::digit_value(c);
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// A non-negative decimal integer made of digits only (no sign, no spaces, not empty).
// False on anything else or when the value does not fit in uint64.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.size() <= 19) return plain_u64(s, out);
  std::uint64_t v = 0;
  for (char c : s) {
    const std::uint64_t d = text::digit_value(c);
    if (d > 9 || v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// A numeric parameter: its plain form parsed at once, any other decoded first.
FailureReason parse_number(std::string_view raw, std::uint64_t& out, FailureReason malformed,
                           FailureReason invalid) {
  if (plain_u64(raw, out)) return nullptr;
  ScalarBuf buf;
  std::string_view text;
  if (auto err = decode_scalar(raw, buf, text, malformed, invalid)) return err;
  return parse_u64(text, out) ? nullptr : invalid;
}

// Digits only, like parse_u64, but any value above uint32 clamps to UINT32_MAX.
bool parse_u32_clamped(std::string_view s, std::uint32_t& out) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint32_t>::max();
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    const std::uint64_t d = text::digit_value(c);
    if (d > 9) return false;
    v = v * 10 + d;
    if (v > kMax) v = kMax + 1;  // saturate; stays far from uint64 overflow
  }
  out = static_cast<std::uint32_t>(v > kMax ? kMax : v);
  return true;
}

// A 20-byte id: a malformed escape or any other decoded length is an error.
FailureReason parse_id(std::string_view raw, std::array<std::uint8_t, 20>& bytes,
                       FailureReason malformed, FailureReason bad_length) {
  if (raw.size() == 20 && !percent_escaped(raw)) {  // a peer id of printable characters
    std::memcpy(bytes.data(), raw.data(), 20);
    return nullptr;
  }
  // In place: on a failure the request is refused and the bytes written are not used.
  const auto n = percent_decode_into(raw, bytes);
  if (n < 0) return malformed;
  return n == 20 ? nullptr : bad_length;
}

// The raw (still encoded) value of each known parameter; the last occurrence wins.
struct RawParams {
  std::optional<std::string_view> info_hash, peer_id, port, uploaded, downloaded, left, event,
      compact, no_peer_id, numwant;
  std::optional<net::IpAddress> ip;  // the last valid ip=, ipv4= or ipv6=
};

// Where a key's raw value goes: found by the key's length first, so that a parameter costs
// one or two compares instead of a walk down every name. `address` is set for ip, ipv4, ipv6.
std::optional<std::string_view>* slot_for(std::string_view key, RawParams& raw, bool& address) {
  switch (key.size()) {
    case 2:
      address = key == "ip";
      return nullptr;
    case 4:
      if (key == "port") return &raw.port;
      if (key == "left") return &raw.left;
      address = key == "ipv4" || key == "ipv6";
      return nullptr;
    case 5:
      return key == "event" ? &raw.event : nullptr;
    case 7:
      if (key == "peer_id") return &raw.peer_id;
      if (key == "compact") return &raw.compact;
      return key == "numwant" ? &raw.numwant : nullptr;
    case 8:
      return key == "uploaded" ? &raw.uploaded : nullptr;
    case 9:
      return key == "info_hash" ? &raw.info_hash : nullptr;
    case 10:
      if (key == "downloaded") return &raw.downloaded;
      return key == "no_peer_id" ? &raw.no_peer_id : nullptr;
    default:
      return nullptr;
  }
}

RawParams collect(std::string_view query) {
  RawParams raw;
  for_each_param(query, [&](std::string_view key, std::string_view value) {
    bool address = false;
    auto* slot = slot_for(key, raw, address);
    // Keys are plain ASCII in practice; one that matched nothing is decoded and tried again
    // when it carries an escape.
    std::array<std::uint8_t, 16> key_buf;
    if (slot == nullptr && !address && percent_escaped(key)) {
      auto n = percent_decode_to(key, key_buf);
      if (n < 0) return;  // malformed, or too long for any known key: an unknown parameter
      key = as_chars(std::span(key_buf).first(static_cast<std::size_t>(n)));
      slot = slot_for(key, raw, address);
    }
    if (slot != nullptr) {
      *slot = value;
    } else if (address) {
      // The last valid address wins; hostnames and junk are ignored. An address has nothing
      // to decode: only a value that is not one as it stands is decoded and tried again.
      if (auto addr = net::IpAddress::parse(value)) {
        raw.ip = *addr;
        return;
      }
      ScalarBuf buf;
      std::string_view text;
      if (!percent_escaped(value) || decode_scalar(value, buf, text, "", "") != nullptr) return;
      if (auto addr = net::IpAddress::parse(text)) raw.ip = *addr;
    }
  });
  return raw;
}

FailureReason parse_ids(const RawParams& raw, AnnounceRequest& out) {
  if (!raw.info_hash) return "missing info_hash";
  if (auto err =
          parse_id(*raw.info_hash, out.info_hash.bytes, "malformed percent-encoding in info_hash",
                   "invalid info_hash: must be 20 bytes")) {
    return err;
  }
  if (!raw.peer_id) return "missing peer_id";
  return parse_id(*raw.peer_id, out.peer_id.bytes, "malformed percent-encoding in peer_id",
                  "invalid peer_id: must be 20 bytes");
}

FailureReason parse_port(const RawParams& raw, AnnounceRequest& out) {
  if (!raw.port) return "missing port";
  std::uint64_t port = 0;
  if (auto err =
          parse_number(*raw.port, port, "malformed percent-encoding in port", "invalid port")) {
    return err;
  }
  if (port < 1 || port > 65535) return "invalid port";
  out.port = static_cast<std::uint16_t>(port);
  return nullptr;
}

// uploaded, downloaded, left: optional, digits only.
FailureReason parse_counters(const RawParams& raw, AnnounceRequest& out) {
  struct Counter {
    const std::optional<std::string_view>& raw;
    std::uint64_t& field;
    FailureReason malformed;
    FailureReason invalid;
  };
  const Counter counters[] = {
      {raw.uploaded, out.uploaded, "malformed percent-encoding in uploaded", "invalid uploaded"},
      {raw.downloaded, out.downloaded, "malformed percent-encoding in downloaded",
       "invalid downloaded"},
      {raw.left, out.left, "malformed percent-encoding in left", "invalid left"},
  };
  for (const Counter& c : counters) {
    if (!c.raw) continue;
    if (auto err = parse_number(*c.raw, c.field, c.malformed, c.invalid)) return err;
  }
  out.left_present = raw.left.has_value();
  return nullptr;
}

FailureReason parse_event(const RawParams& raw, AnnounceRequest& out) {
  if (!raw.event) return nullptr;
  ScalarBuf buf;
  std::string_view text;
  if (auto err = decode_scalar(*raw.event, buf, text, "malformed percent-encoding in event",
                               "invalid event")) {
    return err;
  }
  if (text.empty()) {
    out.event = Event::none;
  } else if (text == "started") {
    out.event = Event::started;
  } else if (text == "completed") {
    out.event = Event::completed;
  } else if (text == "stopped") {
    out.event = Event::stopped;
  } else if (text == "paused") {
    out.event = Event::paused;
  } else {
    return "invalid event";
  }
  return nullptr;
}

// compact, no_peer_id, numwant: how the answer lists peers.
FailureReason parse_answer_shape(const RawParams& raw, AnnounceRequest& out) {
  ScalarBuf buf;
  std::string_view text;
  if (raw.compact == "1") {  // what nearly every client sends
    out.compact = true;
  } else if (raw.compact) {
    if (auto err = decode_scalar(*raw.compact, buf, text, "malformed percent-encoding in compact",
                                 "invalid compact")) {
      return err;
    }
    if (text == "1") {
      out.compact = true;
    } else if (text == "0") {
      out.compact = false;
    } else {
      return "invalid compact";
    }
  }

  // Lenient: any value but "0" (including an empty or undecodable one) asks for no peer ids.
  if (raw.no_peer_id) {
    out.no_peer_id = decode_scalar(*raw.no_peer_id, buf, text, "", "") != nullptr || text != "0";
  }

  std::uint64_t plain = 0;
  if (raw.numwant && plain_u64(*raw.numwant, plain)) {
    out.numwant = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(plain, std::numeric_limits<std::uint32_t>::max()));
  } else if (raw.numwant) {
    if (auto err = decode_scalar(*raw.numwant, buf, text, "malformed percent-encoding in numwant",
                                 "invalid numwant")) {
      return err;
    }
    std::uint32_t n = 0;
    if (!parse_u32_clamped(text, n)) return "invalid numwant";
    out.numwant = n;
  }
  return nullptr;
}

}  // namespace

FailureReason parse_announce(std::string_view query, AnnounceRequest& out) {
  out = AnnounceRequest{};
  const RawParams raw = collect(query);
  out.ip = raw.ip;
  // In this order: the first bad parameter is the one the failure reason names.
  for (auto step : {parse_ids, parse_port, parse_counters, parse_event, parse_answer_shape}) {
    if (FailureReason err = step(raw, out)) return err;
  }
  return nullptr;
}

}  // namespace btrt::protocol

#include "protocol/percent.hpp"

namespace btrt::protocol {
namespace {

// The value of a hex digit, or -1.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes `in`, calling emit(byte) for each decoded byte; emit returns false to stop.
// Returns false when the input is malformed or emit stopped.
template <typename Emit>
bool decode(std::string_view in, Emit&& emit) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    std::uint8_t byte;
    if (c == '%') {
      if (in.size() - i < 3) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      byte = static_cast<std::uint8_t>((hi << 4) | lo);
      i += 2;
    } else if (c == '+') {
      byte = ' ';
    } else {
      byte = static_cast<std::uint8_t>(c);
    }
    if (!emit(byte)) return false;
  }
  return true;
}

constexpr bool unreserved(std::uint8_t b) {
  return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
         b == '.' || b == '_' || b == '~';
}

}  // namespace

bool percent_well_formed(std::string_view in) {
  return decode(in, [](std::uint8_t) { return true; });
}

bool percent_decode(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size());
  return decode(in, [&out](std::uint8_t b) {
    out += static_cast<char>(b);
    return true;
  });
}

std::ptrdiff_t percent_decode_to(std::string_view in, std::span<std::uint8_t> out) {
  std::size_t n = 0;
  bool ok = decode(in, [&](std::uint8_t b) {
    if (n == out.size()) return false;
    out[n++] = b;
    return true;
  });
  return ok ? static_cast<std::ptrdiff_t>(n) : -1;
}

void percent_encode(std::span<const std::uint8_t> in, std::string& out) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  out.reserve(out.size() + in.size() * 3);
  for (std::uint8_t b : in) {
    if (unreserved(b)) {
      out += static_cast<char>(b);
    } else {
      out += '%';
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    }
  }
}

}  // namespace btrt::protocol

#include "protocol/percent.hpp"

#include <array>

namespace btrt::protocol {
namespace {

// The value of each byte as a hex digit, or -1: one load per digit on the request path.
constexpr std::array<std::int8_t, 256> kHexValue = [] {
  std::array<std::int8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] =
        static_cast<std::int8_t>(c >= '0' && c <= '9'   ? c - '0'
                                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                        : -1);
  }
  return table;
}();

int hex_value(char c) {
  return kHexValue[static_cast<unsigned char>(c)];
}

// Decodes `in`, calling emit(byte) for each decoded byte; false when the input is malformed.
template <typename Emit>
bool decode(std::string_view in, Emit&& emit) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    std::uint8_t byte;
    if (c == '%') {
      if (in.size() - i < 3) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if ((hi | lo) < 0) return false;
      byte = static_cast<std::uint8_t>((hi << 4) | lo);
      i += 2;
    } else if (c == '+') {
      byte = ' ';
    } else {
      byte = static_cast<std::uint8_t>(c);
    }
    emit(byte);
  }
  return true;
}

constexpr bool unreserved(std::uint8_t b) {
  return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
         b == '.' || b == '_' || b == '~';
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size());
  return decode(in, [&out](std::uint8_t b) { out += static_cast<char>(b); });
}

std::ptrdiff_t percent_decode_into(std::string_view in, std::span<std::uint8_t> out) {
  std::size_t n = 0;
  const bool ok = decode(in, [&](std::uint8_t b) {
    if (n < out.size()) out[n] = b;
    ++n;
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

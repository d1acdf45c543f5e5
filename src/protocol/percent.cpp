#include "protocol/percent.hpp"

#include "text/strings.hpp"

namespace btrt::protocol {
namespace {

// Decodes `in`, calling emit(byte) for each decoded byte; false when the input is malformed.
template <typename Emit>
bool decode(std::string_view in, Emit&& emit) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    std::uint8_t byte;
    if (c == '%') {
      if (in.size() - i < 3) return false;
      const int hi = text::hex_value(in[i + 1]);
      const int lo = text::hex_value(in[i + 2]);
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

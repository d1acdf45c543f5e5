// percent_decode, percent_decode_into and percent_decode_to must agree on every input and every
// buffer size, never write past the buffer, and percent_encode must round-trip through
// percent_decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/percent.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t capacity = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string decoded;
  const bool ok = btrt::protocol::percent_decode(in, decoded);

  // Exactly `capacity` bytes on the heap, so ASan catches any write past the span.
  std::vector<std::uint8_t> buf(capacity);
  const std::ptrdiff_t n = btrt::protocol::percent_decode_to(in, buf);
  if (!ok || decoded.size() > capacity) {
    if (n != -1) std::abort();
  } else {
    if (n != static_cast<std::ptrdiff_t>(decoded.size())) std::abort();
    if (n > 0 && std::memcmp(buf.data(), decoded.data(), decoded.size()) != 0) std::abort();
  }
  // The one-pass decoder counts the whole length and rejects malformed input wherever it is.
  const std::ptrdiff_t whole = btrt::protocol::percent_decode_into(in, buf);
  if (whole != (ok ? static_cast<std::ptrdiff_t>(decoded.size()) : -1)) std::abort();
  if (!ok) return 0;

  std::string encoded;
  btrt::protocol::percent_encode(decoded, encoded);
  std::string again;
  if (!btrt::protocol::percent_decode(encoded, again) || again != decoded) std::abort();
  if (encoded.find_first_of("+ &=") != std::string::npos) std::abort();  // no raw separators
  return 0;
}

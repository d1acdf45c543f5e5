// Any text given as a configuration file must load or be refused with errors, never crash or
// hang; a loaded configuration has no errors, refused ones have messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return 0;  // long inputs add nothing but YAML parsing time
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = btrt::config::load_string(text, "fuzz.conf");
  if (result.config.has_value() == !result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.message.empty() || e.to_string().empty()) std::abort();
  }
  return 0;
}

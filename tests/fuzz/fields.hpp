#pragma once

#include <string_view>

// Fuzz inputs that stand for several strings separate them with '\n': each call takes the
// next one off the front ("" once the input is used up).
inline std::string_view next_field(std::string_view& in) {
  auto end = in.find('\n');
  auto field = in.substr(0, end);
  in = end == std::string_view::npos ? std::string_view{} : in.substr(end + 1);
  return field;
}

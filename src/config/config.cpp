#include "config/config.hpp"

#include <array>
#include <utility>

#include "text/strings.hpp"

namespace btrt::config {
namespace {

constexpr std::array<std::pair<LogLevel, std::string_view>, 6> kLevels{{
    {LogLevel::critical, "critical"},
    {LogLevel::error, "error"},
    {LogLevel::warning, "warning"},
    {LogLevel::info, "info"},
    {LogLevel::diagnostic, "diagnostic"},
    {LogLevel::debug, "debug"},
}};

}  // namespace

std::string_view to_string(LogLevel level) {
  for (const auto& [value, name] : kLevels) {
    if (value == level) return name;
  }
  return "unknown";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (const auto& [value, name] : kLevels) {
    if (text::iequals(text, name)) return value;
  }
  return std::nullopt;
}

std::string Error::to_string() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

}  // namespace btrt::config

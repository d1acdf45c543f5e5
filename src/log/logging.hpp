#pragma once

#include <string>

#include "config/config.hpp"

namespace btrt::log {

// Sets up spdlog's default logger: a file in logging.path that switches to a new file at
// switch_time every day (named btrt-YYYY-MM-DD.log after the day its period began), and
// stderr for warnings and worse. Throws std::runtime_error when the directory cannot be
// created or written.
//
// The seed's six levels map onto spdlog's: critical, error (err), warning (warn), info,
// diagnostic (debug), debug (trace). Per-request lines are logged at spdlog's trace.
void init(const config::Logging& logging);
void set_level(config::LogLevel level);
void shutdown();

}  // namespace btrt::log

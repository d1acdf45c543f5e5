#pragma once

#include <string>

#include "config/config.hpp"

namespace btrt::log {

// Sets up spdlog's default logger: a file in logging.path that switches to a new file at
// switch_time every day (named btrt-YYYY-MM-DD.log after the day its period began; files
// older than keep_days are deleted then and at start), and stderr for warnings and worse.
// A file that cannot be opened or written never stops the process: every line goes to
// stderr until a retry (every few seconds while lines are logged) opens it again.
//
// The seed's six levels map onto spdlog's: critical, error (err), warning (warn), info,
// diagnostic (debug), debug (trace). Per-request lines are logged at spdlog's trace.
void init(const config::Logging& logging);
// Takes the reloadable logging settings (SIGHUP): the level; the others need a restart.
void apply(const config::Logging& logging);
void shutdown();

}  // namespace btrt::log

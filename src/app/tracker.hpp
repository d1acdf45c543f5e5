#pragma once

#include <string>

namespace btrt::app {

// `btrt run`: serves until SIGTERM/SIGINT, reloads on SIGHUP. Returns the exit status.
int run_tracker(const std::string& config_path);

}  // namespace btrt::app

#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "net/classifier.hpp"

namespace btrt::app {

// `btrt run`: serves until SIGTERM/SIGINT, reloads on SIGHUP. Returns the exit status.
int run_tracker(const std::string& config_path);

// The peer groups of a configuration, as the store and the hashlist classify addresses.
std::shared_ptr<const net::Classifier> make_classifier(const config::Config& config);

}  // namespace btrt::app

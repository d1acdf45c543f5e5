#pragma once

namespace btrt::app {

// Exit statuses of every command (docs/operations.md, "The service"): systemd restarts
// after 1 but not after 2, which a restart cannot mend.
inline constexpr int kSuccess = 0;
inline constexpr int kRuntimeFailure = 1;
inline constexpr int kBadUsage = 2;

int main(int argc, char** argv);

}  // namespace btrt::app

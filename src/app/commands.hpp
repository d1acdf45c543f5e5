#pragma once

namespace btrt::app {

// Exit statuses of spec 3.
inline constexpr int kSuccess = 0;
inline constexpr int kRuntimeFailure = 1;
inline constexpr int kBadUsage = 2;

int main(int argc, char** argv);

}  // namespace btrt::app

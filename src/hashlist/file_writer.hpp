#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace btrt::hashlist {

class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Replaces the file at `path` with `contents` so that a reader sees either the old file or
// the new one, whole, never a mixture or a prefix: a temporary file in the same directory
// (rename is atomic only within one file system), written, synced, then renamed over `path`.
// The file is readable by all (the DPI's reader may run as another user). Throws WriteError
// naming the path and the reason; the temporary file is removed on failure.
void write_atomically(const std::string& path, std::string_view contents);

}  // namespace btrt::hashlist

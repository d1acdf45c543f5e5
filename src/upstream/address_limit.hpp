#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace btrt::upstream {

// Requests at once per address and port ("192.0.2.1 80"), connecting or connected: what
// ClientOptions::max_per_address bounds. Counted without a limit too, so that a limit set
// later starts from the true counts.
class AddressLimit {
 public:
  explicit AddressLimit(std::size_t limit) : limit_(limit) {}

  void set_limit(std::size_t limit) { limit_ = limit; }

  // False when `address` has `limit` requests already (0: no limit).
  bool claim(const std::string& address) {
    auto& count = busy_[address];
    if (limit_ != 0 && count >= limit_) return false;
    ++count;
    return true;
  }

  void release(const std::string& address) {
    auto it = busy_.find(address);
    if (it == busy_.end()) return;
    if (--it->second == 0) busy_.erase(it);
  }

 private:
  std::size_t limit_;
  std::unordered_map<std::string, std::size_t> busy_;  // none at 0
};

}  // namespace btrt::upstream

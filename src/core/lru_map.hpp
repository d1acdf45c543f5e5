#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace btrt::core {

// A map from names to V holding at most `capacity` entries: making one more evicts the least
// recently used. For state kept per name that outsiders choose (an origin's host, a DNS
// name), so that new names cannot grow it without limit. Not thread-safe. Pure.
template <typename V>
class LruMap {
 public:
  explicit LruMap(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  LruMap(const LruMap&) = delete;
  LruMap& operator=(const LruMap&) = delete;

  // The entry of `key`, made (value-initialised) when missing; it becomes the most recently
  // used. Making one may evict another: references to other entries may dangle afterwards.
  V& operator[](std::string_view key) {
    if (auto* found = find(key)) return *found;
    if (index_.size() >= capacity_) evict_one();
    order_.emplace_front(std::string(key), V{});
    index_.emplace(order_.front().first, order_.begin());
    return order_.front().second;
  }

  // The entry of `key` (then the most recently used), or nullptr.
  V* find(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  // The entry of `key` without touching it, or nullptr.
  const V* peek(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }

  bool erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    auto node = it->second;
    index_.erase(it);
    order_.erase(node);
    return true;
  }

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

  // f(name, value) for every entry, most recently used first.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [name, value] : order_) f(name, value);
  }

 private:
  void evict_one() {
    index_.erase(order_.back().first);
    order_.pop_back();
  }

  std::size_t capacity_;
  std::list<std::pair<std::string, V>> order_;  // most recently used first
  // Keys are views of the names in order_'s nodes, which never move.
  std::unordered_map<std::string_view, typename std::list<std::pair<std::string, V>>::iterator>
      index_;
};

}  // namespace btrt::core

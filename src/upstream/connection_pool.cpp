#include "upstream/connection_pool.hpp"

#include <algorithm>

namespace btrt::upstream {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr std::size_t kMaxIdleTotal = 256;  // kept-alive connections, all origins
}  // namespace

void Connection::close() {
  error_code ignored;
  socket.close(ignored);
  idle_timer.cancel();
}

std::shared_ptr<Connection> ConnectionPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto conn = std::move(it->second.back());
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  --idle_count_;
  conn->idle = false;
  ++conn->generation;
  conn->idle_timer.cancel();
  error_code ignored;
  conn->socket.cancel(ignored);  // the wait for the server closing it
  return conn;
}

void ConnectionPool::put(std::shared_ptr<Connection> conn) {
  if (closed_ || max_idle_per_origin_ == 0 || !conn->socket.is_open()) {
    conn->close();
    return;
  }
  auto& list = idle_[conn->key];
  if (list.size() >= max_idle_per_origin_ || idle_count_ >= kMaxIdleTotal) {
    if (list.empty()) {
      idle_.erase(conn->key);
      conn->close();
      return;
    }
    auto oldest = std::move(list.front());
    list.erase(list.begin());
    --idle_count_;
    oldest->idle = false;
    oldest->close();
  }
  conn->idle = true;
  const std::uint64_t generation = ++conn->generation;
  list.push_back(conn);
  ++idle_count_;

  std::weak_ptr<ConnectionPool> weak = weak_from_this();
  conn->idle_timer.expires_after(idle_timeout_);
  conn->idle_timer.async_wait([weak, conn, generation](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->drop(conn, generation);
  });
  // An idle connection has nothing to read: readable means the server closed it (or sent
  // something it should not have). Either way it is done.
  conn->socket.async_wait(tcp::socket::wait_read, [weak, conn, generation](const error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (auto self = weak.lock()) self->drop(conn, generation);
  });
}

void ConnectionPool::close() {
  closed_ = true;
  for (auto& [key, conns] : idle_) {
    for (auto& c : conns) {
      c->idle = false;
      c->close();
    }
  }
  idle_.clear();
  idle_count_ = 0;
}

void ConnectionPool::drop(const std::shared_ptr<Connection>& conn, std::uint64_t generation) {
  if (!conn->idle || conn->generation != generation) return;
  auto it = idle_.find(conn->key);
  if (it != idle_.end()) {
    auto& list = it->second;
    auto pos = std::find(list.begin(), list.end(), conn);
    if (pos != list.end()) {
      list.erase(pos);
      --idle_count_;
    }
    if (list.empty()) idle_.erase(it);
  }
  conn->idle = false;
  conn->close();
}

}  // namespace btrt::upstream

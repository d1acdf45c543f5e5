#include "protocol/response.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "protocol/bencode.hpp"

namespace btrt::protocol {
namespace {

// A short run of bencode built on the stack (keys, figures, length prefixes): the compact
// answer is sized once and written in place rather than appended piece by piece.
class Piece {
 public:
  Piece& text(std::string_view s) {
    std::memcpy(data_.data() + size_, s.data(), s.size());
    size_ += s.size();
    return *this;
  }
  Piece& number(std::uint64_t v) {
    size_ = static_cast<std::size_t>(
        std::to_chars(data_.data() + size_, data_.data() + data_.size(), v).ptr - data_.data());
    return *this;
  }
  std::size_t size() const { return size_; }
  char* copy_to(char* at) const {
    std::memcpy(at, data_.data(), size_);
    return at + size_;
  }

 private:
  // The longest piece: the four figures' keys and values, each at most 20 digits.
  std::array<char, 192> data_;
  std::size_t size_ = 0;
};

char* put_peer(const core::SelectedPeer& peer, std::size_t from, char* at) {
  const auto& b = peer.address.bytes();
  const std::size_t n = b.size() - from;
  std::memcpy(at, b.data() + from, n);
  at[n] = static_cast<char>(peer.port >> 8);
  at[n + 1] = static_cast<char>(peer.port & 0xff);
  return at + n + 2;
}

void encode_compact(const AnnounceAnswer& answer, std::string& out) {
  std::size_t n4 = 0;
  for (const auto& p : answer.peers) n4 += p.address.is_v4() ? 1 : 0;
  const std::size_t n6 = answer.peers.size() - n4;

  Piece head;
  head.text("d8:completei").number(answer.complete);
  head.text("e10:incompletei").number(answer.incomplete);
  head.text("e8:intervali").number(answer.interval);
  head.text("e12:min intervali").number(answer.min_interval);
  head.text("e5:peers").number(n4 * 6).text(":");
  Piece middle;
  middle.text("6:peers6").number(n6 * 18).text(":");
  Piece warning;
  if (!answer.warning.empty()) {
    warning.text("15:warning message").number(answer.warning.size()).text(":");
  }

  const std::size_t at = out.size();
  out.resize(at + head.size() + n4 * 6 + middle.size() + n6 * 18 + warning.size() +
             answer.warning.size() + 1);
  char* p = head.copy_to(out.data() + at);
  for (const auto& peer : answer.peers) {
    if (peer.address.is_v4()) p = put_peer(peer, 12, p);
  }
  p = middle.copy_to(p);
  for (const auto& peer : answer.peers) {
    if (!peer.address.is_v4()) p = put_peer(peer, 0, p);
  }
  p = warning.copy_to(p);
  if (!answer.warning.empty()) {  // an empty view's data() may be null: no memcpy from it
    std::memcpy(p, answer.warning.data(), answer.warning.size());
    p += answer.warning.size();
  }
  *p = 'e';
}

}  // namespace

void encode_announce(const AnnounceAnswer& answer, std::string& out) {
  if (answer.compact) return encode_compact(answer, out);
  bencode::Encoder enc(out);
  enc.begin_dict();
  enc.string("complete").integer(answer.complete);
  enc.string("incomplete").integer(answer.incomplete);
  enc.string("interval").integer(answer.interval);
  enc.string("min interval").integer(answer.min_interval);
  enc.string("peers").begin_list();
  for (const auto& p : answer.peers) {
    enc.begin_dict();
    enc.string("ip").string(p.address.to_string());
    if (!answer.no_peer_id) enc.string("peer id").string(p.peer_id.view());
    enc.string("port").integer(p.port);
    enc.end();
  }
  enc.end();
  if (!answer.warning.empty()) enc.string("warning message").string(answer.warning);
  enc.end();
}

void encode_failure(std::string_view reason, std::string& out) {
  bencode::Encoder enc(out);
  enc.begin_dict().string("failure reason").string(reason).end();
}

void encode_scrape(std::span<const ScrapeEntry> entries, std::string& out) {
  std::vector<const ScrapeEntry*> sorted;
  sorted.reserve(entries.size());
  for (const auto& e : entries) sorted.push_back(&e);
  // Stable, so that of duplicate hashes the first entry is the one kept.
  std::stable_sort(sorted.begin(), sorted.end(), [](const ScrapeEntry* a, const ScrapeEntry* b) {
    return a->info_hash < b->info_hash;
  });

  bencode::Encoder enc(out);
  enc.begin_dict().string("files").begin_dict();
  const ScrapeEntry* prev = nullptr;
  for (const ScrapeEntry* e : sorted) {
    if (prev && prev->info_hash == e->info_hash) continue;  // dict keys must be unique
    prev = e;
    enc.string(e->info_hash.view()).begin_dict();
    enc.string("complete").integer(e->complete);
    enc.string("downloaded").integer(e->downloaded);
    enc.string("incomplete").integer(e->incomplete);
    enc.end();
  }
  enc.end().end();
}

}  // namespace btrt::protocol

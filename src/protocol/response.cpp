#include "protocol/response.hpp"

#include <algorithm>
#include <vector>

#include "protocol/bencode.hpp"

namespace btrt::protocol {
namespace {

void append_port(std::uint16_t port, std::string& out) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

}  // namespace

void encode_announce(const AnnounceAnswer& answer, std::string& out) {
  bencode::Encoder enc(out);
  enc.begin_dict();
  enc.string("complete").integer(answer.complete);
  enc.string("incomplete").integer(answer.incomplete);
  enc.string("interval").integer(answer.interval);
  enc.string("min interval").integer(answer.min_interval);

  if (answer.compact) {
    std::size_t n4 = 0;
    for (const auto& p : answer.peers) n4 += p.address.is_v4() ? 1 : 0;
    const std::size_t n6 = answer.peers.size() - n4;
    out.reserve(out.size() + 32 + n4 * 6 + n6 * 18 + answer.warning.size());

    enc.string("peers");
    out += std::to_string(n4 * 6);
    out += ':';
    for (const auto& p : answer.peers) {
      if (!p.address.is_v4()) continue;
      const auto& b = p.address.bytes();
      out.append(reinterpret_cast<const char*>(b.data()) + 12, 4);
      append_port(p.port, out);
    }
    enc.string("peers6");
    out += std::to_string(n6 * 18);
    out += ':';
    for (const auto& p : answer.peers) {
      if (p.address.is_v4()) continue;
      const auto& b = p.address.bytes();
      out.append(reinterpret_cast<const char*>(b.data()), b.size());
      append_port(p.port, out);
    }
  } else {
    enc.string("peers").begin_list();
    for (const auto& p : answer.peers) {
      enc.begin_dict();
      enc.string("ip").string(p.address.to_string());
      if (!answer.no_peer_id) enc.string("peer id").string(p.peer_id.view());
      enc.string("port").integer(p.port);
      enc.end();
    }
    enc.end();
  }

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

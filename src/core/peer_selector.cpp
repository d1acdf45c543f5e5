#include "core/peer_selector.hpp"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "core/swarm_store.hpp"

namespace btrt::core {
namespace {

// xorshift64*, one per thread: cheap, and good enough to vary the subsets handed out.
std::uint64_t next_random() {
  static std::atomic<std::uint64_t> seeds{0x9E3779B97F4A7C15ull};
  thread_local std::uint64_t state = seeds.fetch_add(0x9E3779B97F4A7C15ull) | 1;
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

// The requester as the records hold addresses, worked out once per selection rather than
// once per record looked at.
struct Self {
  explicit Self(const Requester& who)
      : is_v4(who.address.is_v4()),
        v4(is_v4 ? who.address.v4() : 0),
        v6(who.address.bytes()),
        port(who.port),
        peer_id(who.peer_id) {}

  bool is(const PeerV4& r) const {
    return (is_v4 && r.port == port && r.address == v4) || r.peer_id == peer_id;
  }
  bool is(const PeerV6& r) const {
    return (!is_v4 && r.port == port && r.address == v6) || r.peer_id == peer_id;
  }

  bool is_v4;
  std::uint32_t v4;
  Ipv6Bytes v6;
  std::uint16_t port;
  PeerId peer_id;
};

// The answer's peers, written into room made once (numwant, or the whole swarm if smaller)
// rather than appended one by one: the vector's append is a call per peer.
class Answer {
 public:
  Answer(std::vector<SelectedPeer>& out, std::size_t numwant, std::size_t swarm) : out_(out) {
    const std::size_t before = out.size();
    out.resize(before + std::min(numwant > before ? numwant - before : 0, swarm));
    next_ = out.data() + before;
    end_ = out.data() + out.size();
  }
  ~Answer() { out_.resize(size()); }
  Answer(const Answer&) = delete;
  Answer& operator=(const Answer&) = delete;

  bool full() const { return next_ == end_; }
  std::size_t size() const { return static_cast<std::size_t>(next_ - out_.data()); }

  // Adds r unless expired or the requester itself; returns the seeders added (0 or 1).
  template <typename Record>
  std::size_t take(const Record& r, const Self& self, TimePoint now) {
    if (r.expires_at <= now || self.is(r)) return 0;
    *next_++ = SelectedPeer{to_ip(r.address), r.port, r.group, r.peer_id};
    return r.seeder() ? 1 : 0;
  }

 private:
  std::vector<SelectedPeer>& out_;
  SelectedPeer* next_;
  SelectedPeer* end_;
};

// A random number in [0, n), n < 2^32: a multiplication where `%` would divide, which costs
// tens of cycles per range visited.
std::size_t random_below(std::size_t n) {
  return static_cast<std::size_t>(((next_random() >> 32) * n) >> 32);
}

// Calls visit(i) for i in [0, n) in a random order (a random start and a stride coprime
// with n) until it returns false.
template <typename Visit>
void visit_shuffled(std::size_t n, Visit&& visit) {
  if (n == 0) return;
  std::size_t position = random_below(n);
  std::size_t stride = 1;
  if (n > 2) {
    stride = 1 + random_below(n - 1);
    while (std::gcd(stride, n) != 1) stride = stride == n - 1 ? 1 : stride + 1;
  }
  for (std::size_t visited = 0; visited < n; ++visited) {
    if (!visit(position)) return;
    position += stride;
    if (position >= n) position -= n;
  }
}

// Whether the locality rules end the answer before the next level.
bool locality_done(const SelectOptions& options, std::size_t taken, std::size_t seeders) {
  // Near seeders that can serve the requester matter more than near peers in general.
  return (options.locality_cutoff > 0 && taken >= options.locality_cutoff) ||
         (options.locality_seeders > 0 && seeders >= options.locality_seeders);
}

// Swarms this small and IPv4 only (most of them) are walked once, record by record, instead
// of searched per level and kind: the same ranges in the same order, without the searches.
constexpr std::size_t kWalkedSwarm = 64;

void select_walking(const PeerList<std::uint32_t>& list, const std::uint8_t (&levels)[256],
                    std::size_t level_count, const Requester& requester,
                    const SelectOptions& options, const Self& self, TimePoint now, Answer& answer) {
  using List = PeerList<std::uint32_t>;
  const std::size_t size = list.size();
  std::size_t seeders = 0;
  std::size_t level_checked = level_count;
  for (std::size_t i = 0; i < size && !answer.full();) {
    // A range: one level's announced or learned peers, seeders first (the bucket without
    // its last bit).
    const unsigned range = List::bucket_of(list[i], levels) >> 1;
    const std::size_t level = range >> 1;
    if (level >= level_count) break;
    if (level != level_checked) {
      if (locality_done(options, answer.size(), seeders)) break;
      level_checked = level;
    }
    std::size_t end = i + 1;
    while (end < size && List::bucket_of(list[end], levels) >> 1 == range) ++end;
    std::size_t begin = i;
    if (requester.seeder) {
      while (begin < end && list[begin].seeder()) ++begin;
    }
    i = end;
    visit_shuffled(end - begin, [&](std::size_t position) {
      seeders += answer.take(list[begin + position], self, now);
      return !answer.full();
    });
  }
}

}  // namespace

void select_peers(const Torrent& torrent, const std::uint8_t (&levels)[256],
                  std::size_t level_count, const Requester& requester, const SelectOptions& options,
                  TimePoint now, std::vector<SelectedPeer>& out) {
  const Self self(requester);
  const std::size_t size4 = torrent.v4.size();
  const std::size_t size6 = torrent.v6 ? torrent.v6->size() : 0;
  Answer answer(out, options.numwant, size4 + size6);
  if (size6 == 0 && size4 <= kWalkedSwarm) {
    if (options.family != SelectOptions::Family::v6) {
      select_walking(torrent.v4, levels, level_count, requester, options, self, now, answer);
    }
    return;
  }
  std::size_t seeders = 0;
  // Buckets are visited in ascending order, so each range starts at or after the last one's
  // end: the searches cover only what is left.
  std::size_t from4 = 0, from6 = 0;
  for (std::size_t level = 0; level < level_count && !answer.full(); ++level) {
    if (from4 == size4 && from6 == size6) break;  // every record seen: the levels left are empty
    if (locality_done(options, answer.size(), seeders)) break;
    // Announced peers first (known alive), then learned ones (hearsay), each in random order.
    for (const bool learned : {false, true}) {
      if (answer.full()) break;
      const unsigned last_bucket = PeerList<std::uint32_t>::first_bucket(level, learned) + 1;
      const unsigned first_bucket = requester.seeder ? last_bucket : last_bucket - 1;
      // A leecher takes the range's seeders too: it starts where the last range ended.
      const std::size_t b4 =
          requester.seeder ? torrent.v4.lower_from(first_bucket, levels, from4) : from4;
      std::size_t e4 = from4 = torrent.v4.lower_from(last_bucket + 1, levels, b4);
      std::size_t b6 = 0, e6 = 0;
      if (torrent.v6) {
        b6 = requester.seeder ? torrent.v6->lower_from(first_bucket, levels, from6) : from6;
        e6 = from6 = torrent.v6->lower_from(last_bucket + 1, levels, b6);
      }
      if (options.family == SelectOptions::Family::v6) e4 = b4;
      if (options.family == SelectOptions::Family::v4) e6 = b6;
      const std::size_t n4 = e4 - b4;
      const std::size_t n = n4 + (e6 - b6);
      visit_shuffled(n, [&](std::size_t position) {
        if (position < n4) {
          seeders += answer.take(torrent.v4[b4 + position], self, now);
        } else {
          seeders += answer.take((*torrent.v6)[b6 + position - n4], self, now);
        }
        return !answer.full();
      });
    }
  }
}

}  // namespace btrt::core

// Loading and validation of the configuration (every key: docs/operations.md, "Configuration
// reference").
//
// The loader never stops at the first problem: every error is collected with the line it
// concerns, so that `btrt check-config` can show them all at once. Errors are reported in
// file order; an error found in a CIDR file is placed where its `cidr_file` key is.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <utility>

#include "config/config.hpp"
#include "net/classifier.hpp"
#include "text/strings.hpp"
#include "text/url.hpp"

namespace btrt::config {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Text helpers

using text::is_space;
using text::lower;
using text::trim;

// Control characters would garble a terminal or a log line; they are shown as '?'.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

constexpr std::size_t kMaxQuoted = 80;

// A value as shown in a message: quoted, printable, and cut when very long.
std::string quote(std::string_view s) {
  if (s.size() > kMaxQuoted) return "'" + printable(s.substr(0, kMaxQuoted)) + "...'";
  return "'" + printable(s) + "'";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The allowed key closest to `key`, when it is close enough to be a likely typo: at most
// max(2, length/3) edits (case ignored), and fewer edits than the key has characters.
std::optional<std::string_view> closest(std::string_view key,
                                        std::span<const std::string_view> candidates) {
  std::string folded = lower(key);
  std::size_t limit = std::max<std::size_t>(2, folded.size() / 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    std::size_t d = edit_distance(folded, candidate);
    if (d < best_distance && d < std::max<std::size_t>(folded.size(), 1)) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string hint(std::string_view key, std::span<const std::string_view> candidates) {
  auto best = closest(key, candidates);
  if (!best && key.size() >= 3) {
    // A shortened key ("prio", "refresh"): the only allowed key that starts with it.
    std::string folded = lower(key);
    for (std::string_view candidate : candidates) {
      if (!candidate.starts_with(folded)) continue;
      if (best) return "";  // ambiguous
      best = candidate;
    }
  }
  return best ? " (did you mean '" + std::string(*best) + "'?)" : "";
}

// ---------------------------------------------------------------------------------------
// Files and CIDR text

// Reads a whole file; returns 0 or the errno of the failure.
int read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return EISDIR;
  }
  out.clear();
  std::size_t used = 0;
  std::size_t capacity = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 65536;
  out.resize(capacity);
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return 0;
}

std::string cannot_open(int error) {
  return std::string("cannot open: ") + std::strerror(error);
}

// No valid prefix is longer than this ("ffff:...:ffff/128" is 43 characters).
constexpr std::size_t kMaxCidrText = 64;

// Parses one prefix; on failure `message` says what is wrong, naming the value.
std::optional<net::Cidr> parse_cidr(std::string_view text, std::string& message) {
  if (text.size() > kMaxCidrText) {
    message = quote(text) + " is not an IP address";
    return std::nullopt;
  }
  std::string why;
  auto cidr = net::Cidr::parse(text, &why);
  if (cidr) return cidr;
  // Cidr::parse names the part that is wrong; name the whole value when that differs.
  std::string whole = "'" + std::string(text) + "'";
  if (why.compare(0, whole.size(), whole) == 0) {
    message = printable(why);
  } else {
    message = quote(text) + ": " + printable(why);
  }
  return std::nullopt;
}

// Beyond this many bad lines a CIDR file is surely not one; the rest are counted only.
constexpr std::size_t kMaxCidrFileErrors = 100;

void parse_cidr_text(std::string_view text, const std::string& path, std::vector<net::Cidr>& out,
                     std::vector<Error>& errors) {
  const char* p = text.data();
  const char* end = p + text.size();
  out.reserve(out.size() + static_cast<std::size_t>(std::count(p, end, '\n')) + 1);
  int line = 0;
  std::size_t bad = 0;
  std::string message;
  while (p < end) {
    ++line;
    const char* newline = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = newline ? newline : end;
    std::string_view content(p, static_cast<std::size_t>(line_end - p));
    p = newline ? newline + 1 : end;
    if (auto hash = content.find('#'); hash != std::string_view::npos) {
      content = content.substr(0, hash);
    }
    content = trim(content);
    if (content.empty()) continue;
    if (auto cidr = parse_cidr(content, message)) {
      out.push_back(*cidr);
    } else if (++bad <= kMaxCidrFileErrors) {
      errors.push_back(Error{path, line, message});
    }
  }
  if (bad > kMaxCidrFileErrors) {
    errors.push_back(
        Error{path, 0, std::to_string(bad - kMaxCidrFileErrors) + " more bad lines not shown"});
  }
}

// ---------------------------------------------------------------------------------------
// Keys allowed at each place

constexpr std::string_view kSections[] = {"server",      "tracker",   "logging",    "database",
                                          "peer_groups", "neighbors", "forwarding", "hashlist"};
constexpr std::string_view kServerKeys[] = {
    "listen",          "threads",         "hostnames",         "trusted_sources",
    "max_connections", "request_timeout", "keepalive_timeout", "admin_allow"};
constexpr std::string_view kTrackerKeys[] = {
    "announce_interval", "min_interval",         "peer_expiry",       "numwant_default",
    "numwant_max",       "locality_cutoff",      "max_scrape_hashes", "full_scrape",
    "max_torrents",      "max_peers_per_torrent"};
constexpr std::string_view kLoggingKeys[] = {"path", "level", "switch_time", "keep_days"};
constexpr std::string_view kDatabaseKeys[] = {"url",    "user",           "password",
                                              "schema", "flush_interval", "max_pending"};
constexpr std::string_view kGroupKeys[] = {"name", "priority", "cidr_file", "cidr_list"};
constexpr std::string_view kNeighborKeys[] = {
    "name",    "refresh_interval", "peers_expiry_interval", "announce_request",
    "timeout", "max_concurrent"};
constexpr std::string_view kForwardingKeys[] = {
    "enabled",    "mode", "timeout", "max_concurrent", "pass_client_ip", "allowed_destinations",
    "dns_servers"};
constexpr std::string_view kHashlistKeys[] = {"path", "interval", "groups", "min_seeders"};

// Durations are seconds, at most a year: nobody means more, and it keeps time arithmetic
// elsewhere far from overflow.
constexpr std::uint64_t kMaxDuration = 365ull * 24 * 3600;
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

// ---------------------------------------------------------------------------------------
// The loader

int line_of(const YAML::Node& node, int fallback) {
  YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  return quote(node.Scalar());
}

// One key of a mapping with its value.
struct Entry {
  std::string key;
  int line = 0;
  YAML::Node value;
};

class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {
    base_dir_ = fs::path(name_).parent_path();
  }

  LoadResult run(std::string_view text) {
    config_.file = name_;
    if (!check_tabs(text)) return finish();
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      int line = e.mark.is_null() ? 0 : e.mark.line + 1;
      fail(line, "invalid YAML: " + e.msg + yaml_hint(text, line));
      return finish();
    }
    if (root.IsNull()) return finish();  // empty, or only comments: all defaults
    if (!root.IsMap()) {
      fail(line_of(root, 1),
           "expected a mapping of sections (server:, tracker:, ...), got " + describe(root));
      return finish();
    }
    for (const Entry& section : entries(root, "", kSections)) {
      if (section.key == "server") {
        load_server(section);
      } else if (section.key == "tracker") {
        load_tracker(section);
      } else if (section.key == "logging") {
        load_logging(section);
      } else if (section.key == "database") {
        load_database(section);
      } else if (section.key == "peer_groups") {
        load_peer_groups(section);
      } else if (section.key == "neighbors") {
        load_neighbors(section);
      } else if (section.key == "forwarding") {
        load_forwarding(section);
      } else if (section.key == "hashlist") {
        load_hashlist(section);
      }
    }
    cross_checks();
    return finish();
  }

 private:
  struct Found {
    int order;  // the line of the configuration file the error belongs to
    Error error;
  };

  std::string name_;
  fs::path base_dir_;
  Config config_;
  std::vector<Found> errors_;

  // Lines of keys that cross-checks refer to (0 = not given).
  int numwant_default_line_ = 0;
  int numwant_max_line_ = 0;
  int min_interval_line_ = 0;
  int announce_interval_line_ = 0;
  std::vector<std::pair<std::string, int>> hashlist_groups_;  // explicit, with lines
  std::map<std::string, int> group_lines_;                    // name -> line

  void fail(int line, std::string message) {
    errors_.push_back(Found{line, Error{name_, line, std::move(message)}});
  }

  LoadResult finish() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const Found& a, const Found& b) { return a.order < b.order; });
    LoadResult result;
    for (Found& found : errors_) result.errors.push_back(std::move(found.error));
    if (result.errors.empty()) result.config = std::move(config_);
    return result;
  }

  // A likely cause of a YAML syntax error on `line`, or nothing.
  static std::string yaml_hint(std::string_view text, int line) {
    if (line <= 0) return "";
    std::size_t pos = 0;
    for (int i = 1; i < line && pos != std::string_view::npos; ++i) {
      pos = text.find('\n', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) return "";
    std::string_view content = text.substr(pos, text.find('\n', pos) - pos);
    // An unquoted "[v6]:port" reads as a YAML list followed by garbage.
    auto bracket = content.find("]:");
    if (bracket != std::string_view::npos &&
        content.substr(0, bracket).find_first_of("\"'") == std::string_view::npos) {
      return " (quote IPv6 addresses, e.g. \"[::1]:80\")";
    }
    return "";
  }

  bool check_tabs(std::string_view text) {
    bool ok = true;
    int line = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      ++line;
      std::size_t newline = text.find('\n', pos);
      std::string_view content =
          text.substr(pos, newline == std::string_view::npos ? text.npos : newline - pos);
      pos = newline == std::string_view::npos ? text.size() : newline + 1;
      std::size_t indent = content.find_first_not_of(" \t");
      std::string_view leading = content.substr(0, indent);
      bool blank = indent == std::string_view::npos || trim(content.substr(indent)).empty();
      if (!blank && leading.find('\t') != std::string_view::npos) {
        fail(line, "tab character used for indentation (use spaces)");
        ok = false;
      }
    }
    return ok;
  }

  // The entries of a mapping; unknown and repeated keys are reported and left out.
  // `section` is empty at the top level.
  std::vector<Entry> entries(const YAML::Node& map, std::string_view section,
                             std::span<const std::string_view> allowed) {
    std::vector<Entry> out;
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      int line = line_of(it->first, line_of(map, 0));
      if (!it->first.IsScalar()) {
        fail(line, section.empty()
                       ? std::string("expected a section name")
                       : "expected a key name in section '" + std::string(section) + "'");
        continue;
      }
      std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(line, (section.empty() ? "unknown section " + quote(key)
                                    : "unknown key " + quote(key) + " in section '" +
                                          std::string(section) + "'") +
                       hint(key, allowed));
        continue;
      }
      auto [first, inserted] = seen.emplace(key, line);
      if (!inserted) {
        fail(line, (section.empty() ? "section " + quote(key) + " given twice"
                                    : "key " + quote(key) + " given twice in section '" +
                                          std::string(section) + "'") +
                       " (first at line " + std::to_string(first->second) + ")");
        continue;
      }
      out.push_back(Entry{key, line, it->second});
    }
    return out;
  }

  // The entries of a section's value: a mapping, or nothing (all defaults).
  std::vector<Entry> section_entries(const Entry& section,
                                     std::span<const std::string_view> allowed) {
    if (section.value.IsNull()) return {};
    if (!section.value.IsMap()) {
      fail(section.line,
           section.key + ": expected a mapping of keys, got " + describe(section.value));
      return {};
    }
    return entries(section.value, section.key, allowed);
  }

  // ---- scalar values

  bool get_uint(const Entry& e, const std::string& path, std::uint64_t min, std::uint64_t max,
                std::uint64_t& out) {
    if (!e.value.IsScalar()) {
      fail(e.line, path + ": expected a non-negative integer, got " + describe(e.value));
      return false;
    }
    std::string_view text = trim(e.value.Scalar());
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                               [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      fail(e.line, path + ": expected a non-negative integer, got " + quote(e.value.Scalar()));
      return false;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) {
      fail(e.line, path + ": must be at most " + std::to_string(max) + ", got " + quote(text));
      return false;
    }
    if (value < min) {
      fail(e.line, path + ": must be at least " + std::to_string(min) + ", got " + quote(text));
      return false;
    }
    out = value;
    return true;
  }

  void set_u32(const Entry& e, const std::string& path, std::uint64_t min, std::uint64_t max,
               std::uint32_t& out) {
    std::uint64_t value = 0;
    if (get_uint(e, path, min, std::min(max, kMaxU32), value)) {
      out = static_cast<std::uint32_t>(value);
    }
  }

  void set_u64(const Entry& e, const std::string& path, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out) {
    std::uint64_t value = 0;
    if (get_uint(e, path, min, max, value)) out = value;
  }

  void set_duration(const Entry& e, const std::string& path, std::uint64_t min,
                    std::uint32_t& out) {
    set_u32(e, path, min, kMaxDuration, out);
  }

  void set_bool(const Entry& e, const std::string& path, bool& out) {
    if (e.value.IsScalar()) {
      std::string text = lower(trim(e.value.Scalar()));
      if (text == "true" || text == "yes" || text == "on") {
        out = true;
        return;
      }
      if (text == "false" || text == "no" || text == "off") {
        out = false;
        return;
      }
    }
    fail(e.line, path + ": expected true or false, got " + describe(e.value));
  }

  // A string; an empty value (`key:` alone) is the empty string.
  bool get_string(const Entry& e, const std::string& path, std::string& out) {
    if (e.value.IsNull()) {
      out.clear();
      return true;
    }
    if (!e.value.IsScalar()) {
      fail(e.line, path + ": expected a string, got " + describe(e.value));
      return false;
    }
    out = e.value.Scalar();
    return true;
  }

  // Calls `item(text, line)` for every item of a list. A single string counts as a list of
  // one; empty items (a bare `-`) and an empty value are skipped.
  template <typename F>
  void for_each_item(const Entry& e, const std::string& path, F&& item) {
    if (e.value.IsNull()) return;
    if (e.value.IsScalar()) {
      item(std::string_view(e.value.Scalar()), e.line);
      return;
    }
    if (!e.value.IsSequence()) {
      fail(e.line, path + ": expected a list, got " + describe(e.value));
      return;
    }
    for (const YAML::Node& node : e.value) {
      if (node.IsNull()) continue;
      int line = line_of(node, e.line);
      if (!node.IsScalar()) {
        fail(line, path + ": expected a string item, got " + describe(node) +
                       " (quote values that contain '[', ']', ':' or '#')");
        continue;
      }
      item(std::string_view(node.Scalar()), line);
    }
  }

  void set_cidr_list(const Entry& e, const std::string& path, std::vector<net::Cidr>& out) {
    out.clear();
    std::string message;
    for_each_item(e, path, [&](std::string_view text, int line) {
      if (trim(text).empty()) return;  // like a bare '-'
      if (auto cidr = parse_cidr(trim(text), message)) {
        out.push_back(*cidr);
      } else {
        fail(line, path + ": " + message);
      }
    });
  }

  // ---- sections

  void load_server(const Entry& section) {
    Server& s = config_.server;
    for (const Entry& e : section_entries(section, kServerKeys)) {
      std::string path = "server." + e.key;
      if (e.key == "listen") {
        s.listen.clear();
        std::size_t errors_before = errors_.size();
        for_each_item(e, path, [&](std::string_view text, int line) {
          auto endpoint = net::Endpoint::parse(trim(text));
          if (!endpoint) {
            fail(line, path + ": " + quote(text) +
                           " is not a listen address (expected a.b.c.d:port or [v6]:port)");
          } else if (endpoint->port == 0) {
            fail(line, path + ": " + quote(text) + ": port must be 1-65535");
          } else if (std::find(s.listen.begin(), s.listen.end(), *endpoint) != s.listen.end()) {
            fail(line, path + ": " + quote(text) + " is listed twice");
          } else {
            s.listen.push_back(*endpoint);
          }
        });
        if (s.listen.empty() && errors_.size() == errors_before) {
          fail(e.line, path + ": at least one listen address is required");
        }
      } else if (e.key == "threads") {
        set_u32(e, path, 0, 1024, s.threads);
      } else if (e.key == "hostnames") {
        s.hostnames.clear();
        for_each_item(e, path, [&](std::string_view text, int line) {
          std::string name = lower(trim(text));
          bool bad = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
                       return is_space(c) || c == '/' || static_cast<unsigned char>(c) < 0x20;
                     });
          if (bad) {
            fail(line, path + ": " + quote(text) + " is not a host name");
          } else {
            s.hostnames.push_back(std::move(name));
          }
        });
      } else if (e.key == "trusted_sources") {
        set_cidr_list(e, path, s.trusted_sources);
      } else if (e.key == "max_connections") {
        set_u32(e, path, 1, kMaxU32, s.max_connections);
      } else if (e.key == "request_timeout") {
        set_duration(e, path, 1, s.request_timeout);
      } else if (e.key == "keepalive_timeout") {
        set_duration(e, path, 1, s.keepalive_timeout);
      } else if (e.key == "admin_allow") {
        set_cidr_list(e, path, s.admin_allow);
      }
    }
  }

  void load_tracker(const Entry& section) {
    Tracker& t = config_.tracker;
    for (const Entry& e : section_entries(section, kTrackerKeys)) {
      std::string path = "tracker." + e.key;
      if (e.key == "announce_interval") {
        announce_interval_line_ = e.line;
        set_duration(e, path, 1, t.announce_interval);
      } else if (e.key == "min_interval") {
        min_interval_line_ = e.line;
        set_duration(e, path, 1, t.min_interval);
      } else if (e.key == "peer_expiry") {
        set_duration(e, path, 1, t.peer_expiry);
      } else if (e.key == "numwant_default") {
        numwant_default_line_ = e.line;
        set_u32(e, path, 0, kMaxU32, t.numwant_default);
      } else if (e.key == "numwant_max") {
        numwant_max_line_ = e.line;
        set_u32(e, path, 1, kMaxU32, t.numwant_max);
      } else if (e.key == "locality_cutoff") {
        set_u32(e, path, 0, kMaxU32, t.locality_cutoff);
      } else if (e.key == "max_scrape_hashes") {
        set_u32(e, path, 1, kMaxU32, t.max_scrape_hashes);
      } else if (e.key == "full_scrape") {
        set_bool(e, path, t.full_scrape);
      } else if (e.key == "max_torrents") {
        set_u64(e, path, 0, kMaxU64, t.max_torrents);
      } else if (e.key == "max_peers_per_torrent") {
        set_u32(e, path, 0, kMaxU32, t.max_peers_per_torrent);
      }
    }
  }

  void load_logging(const Entry& section) {
    Logging& l = config_.logging;
    for (const Entry& e : section_entries(section, kLoggingKeys)) {
      std::string path = "logging." + e.key;
      std::string text;
      if (e.key == "path") {
        if (!get_string(e, path, text)) continue;
        if (text.empty()) {
          fail(e.line, path + ": must name a directory");
        } else {
          l.path = text;
        }
      } else if (e.key == "level") {
        if (!get_string(e, path, text)) continue;
        if (auto level = parse_log_level(trim(text))) {
          l.level = *level;
        } else {
          fail(e.line, path +
                           " must be one of critical, error, warning, info, diagnostic, debug, "
                           "got " +
                           quote(text));
        }
      } else if (e.key == "switch_time") {
        if (!get_string(e, path, text)) continue;
        if (auto seconds = parse_time_of_day(trim(text))) {
          l.switch_time = *seconds;
        } else {
          fail(e.line, path + ": expected HH:MM:SS (00:00:00 to 23:59:59), got " + quote(text));
        }
      } else if (e.key == "keep_days") {
        set_u32(e, path, 0, 100000, l.keep_days);
      }
    }
  }

  static std::optional<std::uint32_t> parse_time_of_day(std::string_view text) {
    if (text.size() != 8 || text[2] != ':' || text[5] != ':') return std::nullopt;
    auto two = [&](std::size_t at) -> int {
      char a = text[at];
      char b = text[at + 1];
      if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
      return (a - '0') * 10 + (b - '0');
    };
    int h = two(0);
    int m = two(3);
    int s = two(6);
    if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return std::nullopt;
    return static_cast<std::uint32_t>(h * 3600 + m * 60 + s);
  }

  void load_database(const Entry& section) {
    Database& d = config_.database;
    int url_line = section.line;
    for (const Entry& e : section_entries(section, kDatabaseKeys)) {
      std::string path = "database." + e.key;
      if (e.key == "url") {
        std::string text;
        if (!get_string(e, path, text)) continue;
        url_line = e.line;
        set_database_url(trim(text), e.line, d);
      } else if (e.key == "user") {
        get_string(e, path, d.user);
      } else if (e.key == "password") {
        get_string(e, path, d.password);
      } else if (e.key == "schema") {
        get_string(e, path, d.schema);
      } else if (e.key == "flush_interval") {
        set_duration(e, path, 1, d.flush_interval);
      } else if (e.key == "max_pending") {
        set_u64(e, path, 0, kMaxU64, d.max_pending);
      }
    }
    if (d.kind != Database::Kind::sqlite && trim(d.schema).empty()) {
      fail(url_line, "database.schema: a MySQL database needs a schema name");
    }
  }

  void set_database_url(std::string_view url, int line, Database& d) {
    auto bad = [&](const std::string& why) {
      fail(line, "database.url: " + quote(url) + ": " + why);
    };
    constexpr std::string_view kSqlite = "sqlite://";
    constexpr std::string_view kTcp = "tcp://";
    constexpr std::string_view kUnix = "unix://";
    if (url.starts_with(kSqlite)) {
      std::string_view file = url.substr(kSqlite.size());
      if (file.empty()) return bad("names no database file (sqlite:///path/to/file.db)");
      d.kind = Database::Kind::sqlite;
      d.location = std::string(file);
    } else if (url.starts_with(kTcp)) {
      std::string_view rest = url.substr(kTcp.size());
      if (rest.ends_with('/')) rest.remove_suffix(1);
      const auto hp = text::split_host_port(rest);
      if (!hp && rest.starts_with('[')) return bad("unterminated '[' in the host");
      if (!hp || (hp->port && hp->port->empty())) return bad("expected tcp://HOST:PORT");
      if (!hp->bracketed && hp->host.find(':') != std::string_view::npos) {
        return bad("an IPv6 address needs brackets: tcp://[ADDRESS]:PORT");
      }
      bool host_ok =
          !hp->host.empty() && std::none_of(hp->host.begin(), hp->host.end(), [](char c) {
            return is_space(c) || c == '/' || c == '@' || c == '?' || c == '#';
          });
      if (!host_ok) return bad("expected tcp://HOST:PORT");
      std::uint16_t number = 3306;  // MySQL's port when none is given
      if (hp->port) {
        const auto port = text::parse_port(*hp->port);
        if (!port || *port == 0) return bad("port must be 1-65535");
        number = *port;
      }
      d.kind = Database::Kind::mysql_tcp;
      const std::string host(hp->host);
      d.location = (hp->bracketed ? "[" + host + "]" : host) + ":" + std::to_string(number);
    } else if (url.starts_with(kUnix)) {
      std::string_view socket = url.substr(kUnix.size());
      if (!socket.starts_with('/') || socket.size() < 2) {
        return bad("expected unix:///absolute/path/to/mysqld.sock");
      }
      d.kind = Database::Kind::mysql_unix;
      d.location = std::string(socket);
    } else {
      return bad("unsupported URL (expected sqlite://PATH, tcp://HOST:PORT or unix:///PATH)");
    }
    d.url = std::string(url);
  }

  // A list section: peer_groups, neighbors. Calls `item(node, index, line)` per mapping.
  template <typename F>
  void for_each_mapping(const Entry& section, std::string_view what, F&& item) {
    if (section.value.IsNull()) return;
    if (!section.value.IsSequence()) {
      fail(section.line, section.key + ": expected a list of " + std::string(what) +
                             " (each starting with '- '), got " + describe(section.value));
      return;
    }
    std::size_t index = 0;
    for (const YAML::Node& node : section.value) {
      std::string path = section.key + "[" + std::to_string(index) + "]";
      int line = line_of(node, section.line);
      if (node.IsNull()) {
        ++index;
        continue;  // a bare '-': nothing to configure
      }
      if (!node.IsMap()) {
        fail(line, path + ": expected a mapping of keys, got " + describe(node));
      } else {
        item(node, path, line);
      }
      ++index;
    }
  }

  void load_peer_groups(const Entry& section) {
    config_.peer_groups.clear();
    group_lines_.clear();
    for_each_mapping(
        section, "peer groups", [&](const YAML::Node& node, const std::string& at, int line) {
          PeerGroup group;
          bool has_name = false;
          bool has_priority = false;
          std::vector<net::Cidr> from_file;
          for (const Entry& e : entries(node, "peer_groups", kGroupKeys)) {
            std::string path = at + "." + e.key;
            if (e.key == "name") {
              if (!get_string(e, path, group.name)) {
                has_name = true;  // reported already
                continue;
              }
              has_name = true;
              if (trim(group.name).empty()) {
                fail(e.line, path + ": must not be empty");
              } else if (group.name == "other") {
                fail(e.line, path +
                                 ": 'other' is the implicit group of peers in no group; choose "
                                 "another name");
              } else if (auto [first, inserted] = group_lines_.emplace(group.name, e.line);
                         !inserted) {
                fail(e.line, path + ": duplicate peer group name " + quote(group.name) +
                                 " (first at line " + std::to_string(first->second) + ")");
              }
            } else if (e.key == "priority") {
              has_priority = true;
              set_u32(e, path, 0, kMaxU32, group.priority);
            } else if (e.key == "cidr_list") {
              set_cidr_list(e, path, group.cidrs);
            } else if (e.key == "cidr_file") {
              std::string file;
              if (!get_string(e, path, file) || trim(file).empty()) continue;
              group.cidr_file = resolve(std::string(trim(file)));
              load_group_file(group.cidr_file, e.line, from_file);
            }
          }
          if (!has_name) fail(line, at + ": missing 'name'");
          if (!has_priority) fail(line, at + ": missing 'priority'");
          group.cidrs.insert(group.cidrs.end(), from_file.begin(), from_file.end());
          config_.peer_groups.push_back(std::move(group));
        });
    if (config_.peer_groups.size() > net::kMaxGroups) {
      fail(section.line, "peer_groups: " + std::to_string(config_.peer_groups.size()) +
                             " groups; at most " + std::to_string(net::kMaxGroups) +
                             " are allowed");
    }
  }

  std::string resolve(const std::string& file) const {
    fs::path p(file);
    if (p.is_absolute() || base_dir_.empty()) return file;
    return (base_dir_ / p).lexically_normal().string();
  }

  void load_group_file(const std::string& file, int line, std::vector<net::Cidr>& out) {
    std::string text;
    if (int error = read_file(file, text); error != 0) {
      fail(line, "cidr_file " + quote(file) + ": " + cannot_open(error));
      return;
    }
    std::vector<Error> found;
    parse_cidr_text(text, file, out, found);
    for (Error& error : found) errors_.push_back(Found{line, std::move(error)});
  }

  void load_neighbors(const Entry& section) {
    config_.neighbors.clear();
    std::map<std::string, int> names;
    for_each_mapping(
        section, "neighbors", [&](const YAML::Node& node, const std::string& at, int line) {
          Neighbor n;
          bool has_name = false;
          bool has_request = false;
          for (const Entry& e : entries(node, "neighbors", kNeighborKeys)) {
            std::string path = at + "." + e.key;
            if (e.key == "name") {
              has_name = true;
              if (!get_string(e, path, n.name)) continue;
              if (trim(n.name).empty()) {
                fail(e.line, path + ": must not be empty");
              } else if (auto [first, inserted] = names.emplace(n.name, e.line); !inserted) {
                fail(e.line, path + ": duplicate neighbor name " + quote(n.name) +
                                 " (first at line " + std::to_string(first->second) + ")");
              }
            } else if (e.key == "announce_request") {
              has_request = true;
              if (!get_string(e, path, n.announce_request)) continue;
              std::string_view url = trim(n.announce_request);
              if (!text::is_http_url(url) || url.size() <= 7) {
                fail(e.line, path + ": must be an http:// URL, got " + quote(url));
              } else if (url.find("{info_hash}") == std::string_view::npos) {
                fail(e.line, path + ": must contain {info_hash}, got " + quote(url));
              }
              n.announce_request = std::string(url);
            } else if (e.key == "refresh_interval") {
              set_duration(e, path, 1, n.refresh_interval);
            } else if (e.key == "peers_expiry_interval") {
              set_duration(e, path, 1, n.peers_expiry_interval);
            } else if (e.key == "timeout") {
              set_duration(e, path, 1, n.timeout);
            } else if (e.key == "max_concurrent") {
              set_u32(e, path, 1, kMaxU32, n.max_concurrent);
            }
          }
          if (!has_name) fail(line, at + ": missing 'name'");
          if (!has_request) fail(line, at + ": missing 'announce_request'");
          config_.neighbors.push_back(std::move(n));
        });
  }

  void load_forwarding(const Entry& section) {
    Forwarding& f = config_.forwarding;
    for (const Entry& e : section_entries(section, kForwardingKeys)) {
      std::string path = "forwarding." + e.key;
      if (e.key == "enabled") {
        set_bool(e, path, f.enabled);
      } else if (e.key == "mode") {
        std::string text;
        if (!get_string(e, path, text)) continue;
        std::string mode = lower(trim(text));
        if (mode == "when_needed") {
          f.mode = Forwarding::Mode::when_needed;
        } else if (mode == "always") {
          f.mode = Forwarding::Mode::always;
        } else {
          fail(e.line, path + ": must be when_needed or always, got " + quote(text));
        }
      } else if (e.key == "timeout") {
        set_duration(e, path, 1, f.timeout);
      } else if (e.key == "max_concurrent") {
        set_u32(e, path, 1, kMaxU32, f.max_concurrent);
      } else if (e.key == "pass_client_ip") {
        set_bool(e, path, f.pass_client_ip);
      } else if (e.key == "allowed_destinations") {
        set_cidr_list(e, path, f.allowed_destinations);
      } else if (e.key == "dns_servers") {
        f.dns_servers.clear();
        for_each_item(e, path, [&](std::string_view text, int line) {
          const std::string_view item = trim(text);
          auto endpoint = net::Endpoint::parse(item);
          if (!endpoint) {
            if (auto address = net::IpAddress::parse(item)) endpoint = net::Endpoint{*address, 53};
          }
          if (!endpoint) {
            fail(line, path + ": " + quote(text) +
                           " is not a DNS server address (expected a.b.c.d[:port], v6 or "
                           "[v6]:port)");
          } else if (endpoint->port == 0) {
            fail(line, path + ": " + quote(text) + ": port must be 1-65535");
          } else {
            f.dns_servers.push_back(*endpoint);
          }
        });
      }
    }
  }

  void load_hashlist(const Entry& section) {
    Hashlist& h = config_.hashlist;
    for (const Entry& e : section_entries(section, kHashlistKeys)) {
      std::string path = "hashlist." + e.key;
      if (e.key == "path") {
        std::string text;
        if (!get_string(e, path, text)) continue;
        if (trim(text).empty()) {
          fail(e.line, path + ": must name a file");
        } else {
          h.path = text;
        }
      } else if (e.key == "interval") {
        set_duration(e, path, 0, h.interval);
      } else if (e.key == "groups") {
        h.groups.clear();
        hashlist_groups_.clear();
        for_each_item(e, path, [&](std::string_view text, int line) {
          h.groups.emplace_back(text);
          hashlist_groups_.emplace_back(std::string(text), line);
        });
      } else if (e.key == "min_seeders") {
        set_u32(e, path, 1, kMaxU32, h.min_seeders);
      }
    }
  }

  void cross_checks() {
    const Tracker& t = config_.tracker;
    if ((numwant_default_line_ || numwant_max_line_) && t.numwant_default > t.numwant_max) {
      fail(numwant_default_line_ ? numwant_default_line_ : numwant_max_line_,
           "tracker.numwant_default (" + std::to_string(t.numwant_default) +
               ") must not exceed tracker.numwant_max (" + std::to_string(t.numwant_max) + ")");
    }
    if ((min_interval_line_ || announce_interval_line_) && t.min_interval > t.announce_interval) {
      fail(min_interval_line_ ? min_interval_line_ : announce_interval_line_,
           "tracker.min_interval (" + std::to_string(t.min_interval) +
               ") must not exceed tracker.announce_interval (" +
               std::to_string(t.announce_interval) + ")");
    }
    for (const auto& [group, line] : hashlist_groups_) {
      if (!group_lines_.contains(group)) {
        fail(line, "hashlist.groups: no peer group is named " + quote(group));
      }
    }
  }
};

}  // namespace

LoadResult load_string(std::string_view text, const std::string& name) {
  return Loader(name).run(text);
}

LoadResult load_file(const std::string& path) {
  std::string text;
  if (int error = read_file(path, text); error != 0) {
    LoadResult result;
    result.errors.push_back(Error{path, 0, cannot_open(error)});
    return result;
  }
  return Loader(path).run(text);
}

std::vector<Error> load_cidr_file(const std::string& path, std::vector<net::Cidr>& out) {
  std::vector<Error> errors;
  std::string text;
  if (int error = read_file(path, text); error != 0) {
    errors.push_back(Error{path, 0, cannot_open(error)});
    return errors;
  }
  parse_cidr_text(text, path, out, errors);
  return errors;
}

std::vector<Error> parse_cidr_list(std::string_view text, const std::string& name,
                                   std::vector<net::Cidr>& out) {
  std::vector<Error> errors;
  parse_cidr_text(text, name, out, errors);
  return errors;
}

}  // namespace btrt::config

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
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
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

// ---------------------------------------------------------------------------------------
// The key tables: each key of a section is declared once, with what the loader needs to read
// it and what the reference (docs/operations.md, btrt.conf(5)) says about it.

class Loader;

enum class Reload { sighup, restart };
enum class Presence { optional, required };  // required: list items' "missing 'name'"

// How a key's value is read and its default shown. `custom` values read with their `load`.
enum class Kind { u32, duration, u64, boolean, text, names, cidrs, endpoints, custom };

template <typename S>
using LoadFn = void (*)(Loader& loader, const Entry& e, const std::string& path, S& out);
template <typename S>
using ShowFn = std::string (*)(const S& defaults);

template <typename S>
struct Value {
  Kind kind = Kind::custom;
  // Numbers: the range accepted; max 0 = the type's own limit (a year for durations).
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  // The field of S the key sets, the one of its kind (none for `custom` values).
  std::uint32_t S::*u32 = nullptr;
  core::Duration S::*seconds = nullptr;
  std::uint64_t S::*u64 = nullptr;
  bool S::*flag = nullptr;
  std::string S::*text = nullptr;
  std::vector<std::string> S::*names = nullptr;
  std::vector<net::Cidr> S::*cidrs = nullptr;
  std::vector<net::Endpoint> S::*endpoints = nullptr;
  LoadFn<S> load = nullptr;  // reads the value instead of the kind's own reading
  // The reference's type: for numbers appended to the range ("integer ≥ 1" + this).
  std::string_view type = {};
  // The default as the reference shows it; by default taken from the field of a default S.
  ShowFn<S> show = nullptr;
  std::string_view shown = {};
};

template <typename S>
struct Key {
  std::string_view name;
  Value<S> value;
  Reload reload;
  std::string_view doc;  // Markdown, one line
  Presence presence = Presence::optional;
};

// The values, one function per kind (`more` adds to the reference's type).
template <typename S>
Value<S> integer(std::uint32_t S::*field, std::uint64_t min = 0, std::uint64_t max = 0,
                 std::string_view more = {}) {
  return {.kind = Kind::u32, .min = min, .max = max, .u32 = field, .type = more};
}
template <typename S>
Value<S> integer(std::uint64_t S::*field) {
  return {.kind = Kind::u64, .u64 = field};
}
template <typename S>
Value<S> duration(core::Duration S::*field, std::uint64_t min, std::string_view more = {}) {
  return {.kind = Kind::duration, .min = min, .seconds = field, .type = more};
}
template <typename S>
Value<S> boolean(bool S::*field) {
  return {.kind = Kind::boolean, .flag = field};
}
template <typename S>
Value<S> text(std::string S::*field, std::string_view type,
              std::type_identity_t<LoadFn<S>> load = nullptr) {
  return {.kind = Kind::text, .text = field, .load = load, .type = type};
}
template <typename S>
Value<S> list(std::vector<std::string> S::*field, std::string_view type,
              std::type_identity_t<LoadFn<S>> load) {
  return {.kind = Kind::names, .names = field, .load = load, .type = type};
}
template <typename S>
Value<S> list(std::vector<net::Endpoint> S::*field, std::string_view type,
              std::type_identity_t<LoadFn<S>> load) {
  return {.kind = Kind::endpoints, .endpoints = field, .load = load, .type = type};
}
template <typename S>
Value<S> cidr_list(std::vector<net::Cidr> S::*field, std::string_view shown = {}) {
  return {.kind = Kind::cidrs, .cidrs = field, .type = "CIDR list", .shown = shown};
}
template <typename S>
Value<S> custom(std::type_identity_t<LoadFn<S>> load, std::string_view type,
                std::type_identity_t<ShowFn<S>> show) {
  return {.load = load, .type = type, .show = show};
}

// The reference's text of a default: a value in backticks, as YAML would write it.
std::string code(std::string_view yaml) {
  return "`" + std::string(yaml) + "`";
}

std::string yaml_string(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

template <typename T, typename F>
std::string yaml_list(const std::vector<T>& items, F&& text) {
  std::string out = "[";
  for (const T& item : items) {
    if (out.size() > 1) out += ", ";
    out += yaml_string(text(item));
  }
  return out + "]";
}

template <typename S>
std::string type_of(const Value<S>& value) {
  std::string range;
  switch (value.kind) {
    case Kind::duration:
      range = "duration ≥ " + std::to_string(value.min);
      break;
    case Kind::u32:
    case Kind::u64:
      range = value.max == 0
                  ? "integer ≥ " + std::to_string(value.min)
                  : "integer " + std::to_string(value.min) + "–" + std::to_string(value.max);
      break;
    case Kind::boolean:
      range = "boolean";
      break;
    default:
      break;
  }
  return range + std::string(value.type);
}

template <typename S>
std::string default_of(const Value<S>& value) {
  static const S defaults{};
  if (!value.shown.empty()) return std::string(value.shown);
  if (value.show) return value.show(defaults);
  switch (value.kind) {
    case Kind::u32:
      return code(std::to_string(defaults.*value.u32));
    case Kind::duration:
      return code(std::to_string((defaults.*value.seconds).count()));
    case Kind::u64:
      return code(std::to_string(defaults.*value.u64));
    case Kind::boolean:
      return code(defaults.*value.flag ? "true" : "false");
    case Kind::text:
      return code(yaml_string(defaults.*value.text));
    case Kind::names:
      return code(yaml_list(defaults.*value.names, [](const std::string& s) { return s; }));
    case Kind::cidrs:
      return code(
          yaml_list(defaults.*value.cidrs, [](const net::Cidr& c) { return c.to_string(); }));
    case Kind::endpoints:
      return code(yaml_list(defaults.*value.endpoints,
                            [](const net::Endpoint& e) { return e.to_string(); }));
    case Kind::custom:
      break;
  }
  return "";
}

template <typename S>
void describe_keys(std::span<const Key<S>> keys, std::string_view prefix,
                   std::vector<KeyReference>& out) {
  for (const Key<S>& key : keys) {
    bool required = key.presence == Presence::required;
    out.push_back(KeyReference{std::string(prefix) + std::string(key.name), type_of(key.value),
                               required ? "—" : default_of(key.value),
                               key.reload == Reload::sighup ? "SIGHUP" : "restart",
                               std::string(key.doc)});
  }
}

template <typename S>
std::vector<std::string_view> names_of(std::span<const Key<S>> keys) {
  std::vector<std::string_view> out;
  for (const Key<S>& key : keys) out.push_back(key.name);
  return out;
}

// The tables' `load` functions and the sections use the loader's helpers: all public.
class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {
    base_dir_ = fs::path(name_).parent_path();
  }

  LoadResult run(std::string_view text);  // below the tables

  struct Found {
    int order;  // the line of the configuration file the error belongs to
    Error error;
  };

  std::string name_;
  fs::path base_dir_;
  Config config_;
  std::vector<Found> errors_;

  std::map<std::string, int> given_;  // key path -> line, of every key the file gives
  std::vector<std::pair<std::string, int>> hashlist_groups_;  // explicit, with lines
  std::map<std::string, int> group_lines_;                    // name -> line
  std::map<std::string, int> neighbor_lines_;                 // name -> line
  std::vector<net::Cidr> group_file_cidrs_;                   // of the peer group being read

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
                    core::Duration& out) {
    std::uint64_t seconds = 0;
    if (get_uint(e, path, min, kMaxDuration, seconds)) {
      out = core::Duration{static_cast<std::uint32_t>(seconds)};
    }
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

  // ---- driven by the key tables

  int given(const std::string& path) const {
    auto it = given_.find(path);
    return it == given_.end() ? 0 : it->second;
  }

  // The keys of one mapping into `out`; `section` names it in messages ("server",
  // "peer_groups"), `prefix` starts each key's path ("server.", "peer_groups[0].").
  template <typename S>
  void load_keys(const YAML::Node& map, std::string_view section, const std::string& prefix,
                 std::span<const Key<S>> keys, S& out) {
    for (const Entry& e : entries(map, section, names_of(keys))) {
      const Key<S>& key =
          *std::find_if(keys.begin(), keys.end(), [&](const Key<S>& k) { return k.name == e.key; });
      std::string path = prefix + e.key;
      given_[path] = e.line;
      load_value(key, e, path, out);
    }
  }

  template <typename S>
  void load_value(const Key<S>& key, const Entry& e, const std::string& path, S& out) {
    const Value<S>& value = key.value;
    if (value.load) return value.load(*this, e, path, out);
    switch (value.kind) {
      case Kind::u32:
        return set_u32(e, path, value.min, value.max == 0 ? kMaxU32 : value.max, out.*value.u32);
      case Kind::duration:
        return set_duration(e, path, value.min, out.*value.seconds);
      case Kind::u64:
        return set_u64(e, path, value.min, value.max == 0 ? kMaxU64 : value.max, out.*value.u64);
      case Kind::boolean:
        return set_bool(e, path, out.*value.flag);
      case Kind::text:
        get_string(e, path, out.*value.text);
        return;
      case Kind::cidrs:
        return set_cidr_list(e, path, out.*value.cidrs);
      case Kind::names:
      case Kind::endpoints:
      case Kind::custom:
        break;  // these have a `load`
    }
  }

  // A section that is one mapping (server:, tracker:, ...).
  template <typename S>
  void load_section(const Entry& section, std::span<const Key<S>> keys, S& out) {
    if (section.value.IsNull()) return;
    if (!section.value.IsMap()) {
      fail(section.line,
           section.key + ": expected a mapping of keys, got " + describe(section.value));
      return;
    }
    load_keys(section.value, section.key, section.key + ".", keys, out);
  }

  // A section that is a list of mappings (peer_groups:, neighbors:); `done(item, line)` sees
  // each item once read.
  template <typename S, typename F>
  void load_list(const Entry& section, std::string_view what, std::span<const Key<S>> keys,
                 std::vector<S>& out, F&& done) {
    out.clear();
    for_each_mapping(section, what, [&](const YAML::Node& node, const std::string& at, int line) {
      S item;
      load_keys(node, section.key, at + ".", keys, item);
      for (const Key<S>& key : keys) {
        if (key.presence == Presence::required && !given(at + "." + std::string(key.name))) {
          fail(line, at + ": missing '" + std::string(key.name) + "'");
        }
      }
      done(item, line);
      out.push_back(std::move(item));
    });
  }

  void cross_checks() {
    const Tracker& t = config_.tracker;
    int numwant_default_line = given("tracker.numwant_default");
    int numwant_max_line = given("tracker.numwant_max");
    if ((numwant_default_line || numwant_max_line) && t.numwant_default > t.numwant_max) {
      fail(numwant_default_line ? numwant_default_line : numwant_max_line,
           "tracker.numwant_default (" + std::to_string(t.numwant_default) +
               ") must not exceed tracker.numwant_max (" + std::to_string(t.numwant_max) + ")");
    }
    int min_interval_line = given("tracker.min_interval");
    int announce_interval_line = given("tracker.announce_interval");
    if ((min_interval_line || announce_interval_line) && t.min_interval > t.announce_interval) {
      fail(min_interval_line ? min_interval_line : announce_interval_line,
           "tracker.min_interval (" + std::to_string(t.min_interval.count()) +
               ") must not exceed tracker.announce_interval (" +
               std::to_string(t.announce_interval.count()) + ")");
    }
    for (const auto& [group, line] : hashlist_groups_) {
      if (!group_lines_.contains(group)) {
        fail(line, "hashlist.groups: no peer group is named " + quote(group));
      }
    }
  }
};

// ---------------------------------------------------------------------------------------
// The tables, and the readers of the keys that check more than their type and range

// Returns false when the list had an error.
bool read_endpoints(Loader& l, const Entry& e, const std::string& path,
                    std::vector<net::Endpoint>& out) {
  out.clear();
  std::size_t errors_before = l.errors_.size();
  l.for_each_item(e, path, [&](std::string_view text, int line) {
    auto endpoint = net::Endpoint::parse(trim(text));
    if (!endpoint) {
      l.fail(line, path + ": " + quote(text) +
                       " is not a listen address (expected a.b.c.d:port or [v6]:port)");
    } else if (endpoint->port == 0) {
      l.fail(line, path + ": " + quote(text) + ": port must be 1-65535");
    } else if (std::find(out.begin(), out.end(), *endpoint) != out.end()) {
      l.fail(line, path + ": " + quote(text) + " is listed twice");
    } else {
      out.push_back(*endpoint);
    }
  });
  return l.errors_.size() == errors_before;
}

void load_listen(Loader& l, const Entry& e, const std::string& path, Server& s) {
  if (read_endpoints(l, e, path, s.listen) && s.listen.empty()) {
    l.fail(e.line, path + ": at least one listen address is required");
  }
}

void load_udp_listen(Loader& l, const Entry& e, const std::string& path, Server& s) {
  read_endpoints(l, e, path, s.udp_listen);
}

void load_hostnames(Loader& l, const Entry& e, const std::string& path, Server& s) {
  s.hostnames.clear();
  l.for_each_item(e, path, [&](std::string_view text, int line) {
    std::string name = lower(trim(text));
    bool bad = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
                 return is_space(c) || c == '/' || static_cast<unsigned char>(c) < 0x20;
               });
    if (bad) {
      l.fail(line, path + ": " + quote(text) + " is not a host name");
    } else {
      s.hostnames.push_back(std::move(name));
    }
  });
}

const Key<Server> kServerKeys[] = {
    {"listen",
     list(&Server::listen,
          "list of `\"a.b.c.d:port\"` / `\"[v6]:port\"`, at least one, no duplicates", load_listen),
     Reload::restart,
     "HTTP listen addresses. An IPv6 address listens for IPv6 only: add `\"[::]:80\"` next to "
     "`\"0.0.0.0:80\"` for both. Quote IPv6 addresses."},
    {"udp_listen",
     list(&Server::udp_listen, "list of `\"a.b.c.d:port\"` / `\"[v6]:port\"`, no duplicates",
          load_udp_listen),
     Reload::restart,
     "UDP tracker (BEP 15) addresses, e.g. `[\"0.0.0.0:6969\", \"[::]:6969\"]`; empty: no UDP "
     "tracker. An IPv6 address serves IPv6 only, as for `listen` (see [UDP tracker](udp.md))."},
    {"threads", integer(&Server::threads, 0, 1024), Reload::restart,
     "Worker threads; 0 = one per CPU core."},
    {"hostnames", list(&Server::hostnames, "list of host names", load_hostnames), Reload::restart,
     "Host header values (any port, case-insensitive, trailing dot ignored) that mean \"this "
     "tracker\". From a trusted source, a request whose Host is neither one of these nor an IP "
     "literal equal to a listen address is a forwarded announce (see [DPI "
     "integration](dpi-integration.md))."},
    {"trusted_sources", cidr_list(&Server::trusted_sources), Reload::restart,
     "The DPI boxes (or proxies): only these may send forwarded announces, and only from these are "
     "`X-Forwarded-For`, `X-Real-IP` and `ip=`/`ipv4=`/`ipv6=` honoured. Never put subscribers' "
     "networks here."},
    {"max_connections", integer(&Server::max_connections, 1), Reload::restart,
     "Simultaneous client connections; beyond it a connection's request is read (at most 2 s) and "
     "answered `503 too many connections`, then the connection is closed. Keep it below the "
     "open-files limit."},
    {"request_timeout", duration(&Server::request_timeout, 1), Reload::restart,
     "Seconds a client has to send a whole request."},
    {"keepalive_timeout", duration(&Server::keepalive_timeout, 1), Reload::restart,
     "Seconds an idle keep-alive connection is kept open."},
    {"admin_allow", cidr_list(&Server::admin_allow), Reload::restart,
     "Who may read `/metrics` and `/stats`; everyone else gets 403. (`/health` is open to all.)"},
};

// The limits across keys ("≤ ...") are checked by cross_checks().
const Key<Tracker> kTrackerKeys[] = {
    {"announce_interval", duration(&Tracker::announce_interval, 1), Reload::sighup,
     "`interval` sent to clients."},
    {"min_interval", duration(&Tracker::min_interval, 1, ", ≤ `announce_interval`"), Reload::sighup,
     "`min interval` sent to clients; also the lowest `interval` of an origin tracker that btrt "
     "uses (the highest is 86400 s), for the subscriber's answer and for how long the origin's "
     "answer and peers are kept (see [Origin answers](#origin-answers))."},
    {"peer_expiry", duration(&Tracker::peer_expiry, 1), Reload::sighup,
     "A local peer that has not announced for this long is dropped, and from then on never counted "
     "in `complete`/`incomplete` (see [Counts](#counts))."},
    {"numwant_default", integer(&Tracker::numwant_default, 0, 0, ", ≤ `numwant_max`"),
     Reload::sighup, "Peers returned when the client does not send `numwant`."},
    {"numwant_max", integer(&Tracker::numwant_max, 1), Reload::sighup,
     "Upper limit of a client's `numwant`. Also the most peers taken from one origin answer, and a "
     "torrent keeps at most 5 × this many learned peers (neighbours' and origins', together; see "
     "[Origin answers](#origin-answers))."},
    {"locality_cutoff", integer(&Tracker::locality_cutoff), Reload::sighup,
     "Once an answer holds this many peers, no peers of a worse-ranked priority level are added "
     "(see [locality cutoff](local-retracking.md#the-locality-cutoff)). 0 = never leave peers out, "
     "only order them (the seed product's behaviour)."},
    {"locality_seeders", integer(&Tracker::locality_seeders), Reload::sighup,
     "Once an answer holds this many seeders, no peers of a worse-ranked priority level are added "
     "either (see [locality cutoff](local-retracking.md#the-locality-cutoff)). 0 = off."},
    {"max_scrape_hashes", integer(&Tracker::max_scrape_hashes, 1), Reload::sighup,
     "`info_hash` parameters accepted in one `/scrape`."},
    {"full_scrape", boolean(&Tracker::full_scrape), Reload::sighup,
     "Allow `/scrape` without `info_hash` (every torrent)."},
    {"max_torrents", integer(&Tracker::max_torrents), Reload::sighup,
     "Torrents tracked at most; 0 = no limit. When reached, announces for new torrents get the "
     "failure reason \"tracker is full\"; known torrents keep working."},
    {"max_peers_per_torrent", integer(&Tracker::max_peers_per_torrent), Reload::sighup,
     "Peers kept per torrent at most; 0 = no limit. A new peer of a full torrent is answered but "
     "not stored."},
};

void load_log_path(Loader& l, const Entry& e, const std::string& path, Logging& out) {
  std::string text;
  if (!l.get_string(e, path, text)) return;
  if (text.empty()) {
    l.fail(e.line, path + ": must name a directory");
  } else {
    out.path = text;
  }
}

void load_log_level(Loader& l, const Entry& e, const std::string& path, Logging& out) {
  std::string text;
  if (!l.get_string(e, path, text)) return;
  if (auto level = parse_log_level(trim(text))) {
    out.level = *level;
  } else {
    l.fail(e.line, path +
                       " must be one of critical, error, warning, info, diagnostic, debug, got " +
                       quote(text));
  }
}

std::string show_log_level(const Logging& d) {
  return code(yaml_string(to_string(d.level)));
}

void load_switch_time(Loader& l, const Entry& e, const std::string& path, Logging& out) {
  std::string text;
  if (!l.get_string(e, path, text)) return;
  if (auto seconds = Loader::parse_time_of_day(trim(text))) {
    out.switch_time = *seconds;
  } else {
    l.fail(e.line, path + ": expected HH:MM:SS (00:00:00 to 23:59:59), got " + quote(text));
  }
}

std::string show_switch_time(const Logging& d) {
  char text[16];
  std::snprintf(text, sizeof text, "%02u:%02u:%02u", d.switch_time / 3600, d.switch_time / 60 % 60,
                d.switch_time % 60);
  return code(yaml_string(text));
}

const Key<Logging> kLoggingKeys[] = {
    {"path", text(&Logging::path, "directory", load_log_path), Reload::restart,
     "Directory of the log files (created if missing). Relative paths are relative to btrt's "
     "working directory."},
    {"level",
     custom<Logging>(load_log_level,
                     "`critical`, `error`, `warning`, `info`, `diagnostic`, `debug`",
                     show_log_level),
     Reload::sighup, "Least severe level written (see [Logs](#logs))."},
    {"switch_time", custom<Logging>(load_switch_time, "`\"HH:MM:SS\"`", show_switch_time),
     Reload::restart, "Local time of day at which a new log file begins."},
    {"keep_days", integer(&Logging::keep_days, 0, 100000), Reload::restart,
     "Days a dated log file (`btrt-YYYY-MM-DD.log`) is kept: older ones are deleted at the switch "
     "and at start, other files never; 0 = keep all."},
};

void load_database_url(Loader& l, const Entry& e, const std::string& path, Database& out) {
  std::string text;
  if (l.get_string(e, path, text)) l.set_database_url(trim(text), e.line, out);
}

const Key<Database> kDatabaseKeys[] = {
    {"url",
     text(&Database::url, "`sqlite://PATH`, `tcp://HOST[:PORT]`, `unix:///PATH`",
          load_database_url),
     Reload::restart,
     "The database: embedded SQLite file (`sqlite:///var/lib/btrt/btrt.db` is the absolute path "
     "`/var/lib/btrt/btrt.db`), or MySQL/MariaDB over TCP (port 3306 when left out; IPv6 as "
     "`tcp://[::1]:3306`) or a Unix socket."},
    {"user", text(&Database::user, "string"), Reload::restart, "MySQL only: account name."},
    {"password", text(&Database::password, "string"), Reload::restart,
     "MySQL only: password. Keep `btrt.conf` mode 0640 `root:btrt`."},
    // Checked by the section: the URL says whether it is MySQL.
    {"schema", text(&Database::schema, "string, not empty for MySQL"), Reload::restart,
     "MySQL only: schema (database) name."},
    {"flush_interval", duration(&Database::flush_interval, 1), Reload::restart,
     "Seconds between write-behind flushes; what a crash can lose."},
    {"max_pending", integer(&Database::max_pending), Reload::restart,
     "Peer changes kept in memory while the database is unreachable (and only then: while it "
     "is up every change is written); beyond it the oldest peer updates are dropped first, "
     "removals of stopped peers only when they alone exceed it (with a warning saying how "
     "many); completion counts are never dropped. 0 = keep no peer change through an outage."},
};

void load_group_name(Loader& l, const Entry& e, const std::string& path, PeerGroup& out) {
  if (!l.get_string(e, path, out.name)) return;
  if (trim(out.name).empty()) {
    l.fail(e.line, path + ": must not be empty");
  } else if (out.name == "other") {
    l.fail(e.line,
           path + ": 'other' is the implicit group of peers in no group; choose another name");
  } else if (auto [first, inserted] = l.group_lines_.emplace(out.name, e.line); !inserted) {
    l.fail(e.line, path + ": duplicate peer group name " + quote(out.name) + " (first at line " +
                       std::to_string(first->second) + ")");
  }
}

// The file's prefixes are added after the item's cidr_list (in whatever order both come).
void load_cidr_file(Loader& l, const Entry& e, const std::string& path, PeerGroup& out) {
  std::string file;
  if (!l.get_string(e, path, file) || trim(file).empty()) return;
  out.cidr_file = l.resolve(std::string(trim(file)));
  l.load_group_file(out.cidr_file, e.line, l.group_file_cidrs_);
}

const Key<PeerGroup> kGroupKeys[] = {
    {"name", text(&PeerGroup::name, "string, required, unique, not `other`", load_group_name),
     Reload::sighup,
     "Name of the group: shown in logs, `/metrics` (`group` label), `/stats`, and used by "
     "`hashlist.groups`.",
     Presence::required},
    {"priority", integer(&PeerGroup::priority, 0, 0, ", required"), Reload::sighup,
     "Rank: 0 is the most preferred. Groups of equal priority form one level.", Presence::required},
    {"cidr_file",
     custom<PeerGroup>(load_cidr_file, "path",
                       [](const PeerGroup&) { return std::string("none"); }),
     Reload::sighup,
     "File of prefixes: one prefix or bare address per line, IPv4 or IPv6, `#` starts a comment, "
     "blank lines ignored. Must exist; every bad line is an error `FILE:LINE`. A relative path is "
     "relative to the configuration file's directory. Re-read on every SIGHUP."},
    {"cidr_list", cidr_list(&PeerGroup::cidrs, "empty"), Reload::sighup,
     "Prefixes given inline, in addition to the file's."},
};

void load_neighbor_name(Loader& l, const Entry& e, const std::string& path, Neighbor& out) {
  if (!l.get_string(e, path, out.name)) return;
  if (trim(out.name).empty()) {
    l.fail(e.line, path + ": must not be empty");
  } else if (auto [first, inserted] = l.neighbor_lines_.emplace(out.name, e.line); !inserted) {
    l.fail(e.line, path + ": duplicate neighbor name " + quote(out.name) + " (first at line " +
                       std::to_string(first->second) + ")");
  }
}

void load_announce_request(Loader& l, const Entry& e, const std::string& path, Neighbor& out) {
  if (!l.get_string(e, path, out.announce_request)) return;
  std::string_view url = trim(out.announce_request);
  if (!text::is_http_url(url) || url.size() <= 7) {
    l.fail(e.line, path + ": must be an http:// URL, got " + quote(url));
  } else if (url.find("{info_hash}") == std::string_view::npos) {
    l.fail(e.line, path + ": must contain {info_hash}, got " + quote(url));
  }
  out.announce_request = std::string(url);
}

const Key<Neighbor> kNeighborKeys[] = {
    {"name", text(&Neighbor::name, "string, required, unique", load_neighbor_name), Reload::sighup,
     "Name: peers learned get the source `neighbor:<name>` (metrics, `/stats`).",
     Presence::required},
    {"refresh_interval", duration(&Neighbor::refresh_interval, 1), Reload::sighup,
     "Seconds between two requests for one torrent; requests are spread evenly over it."},
    {"peers_expiry_interval", duration(&Neighbor::peers_expiry_interval, 1), Reload::sighup,
     "A peer learned from this neighbour is kept this long unless a later answer repeats it."},
    {"announce_request",
     text(&Neighbor::announce_request, "`http://` URL containing `{info_hash}`, required",
          load_announce_request),
     Reload::sighup,
     "Request template; `{info_hash}` is replaced by the percent-encoded 20-byte info-hash.",
     Presence::required},
    {"timeout", duration(&Neighbor::timeout, 1), Reload::sighup, "Seconds to wait for one answer."},
    {"max_concurrent", integer(&Neighbor::max_concurrent, 1), Reload::sighup,
     "Requests in flight to this neighbour at most."},
};

void load_forwarding_mode(Loader& l, const Entry& e, const std::string& path, Forwarding& out) {
  std::string text;
  if (!l.get_string(e, path, text)) return;
  std::string mode = lower(trim(text));
  if (mode == "when_needed") {
    out.mode = Forwarding::Mode::when_needed;
  } else if (mode == "always") {
    out.mode = Forwarding::Mode::always;
  } else {
    l.fail(e.line, path + ": must be when_needed or always, got " + quote(text));
  }
}

std::string show_forwarding_mode(const Forwarding& d) {
  return code(yaml_string(d.mode == Forwarding::Mode::always ? "always" : "when_needed"));
}

void load_dns_servers(Loader& l, const Entry& e, const std::string& path, Forwarding& f) {
  f.dns_servers.clear();
  l.for_each_item(e, path, [&](std::string_view text, int line) {
    const std::string_view item = trim(text);
    auto endpoint = net::Endpoint::parse(item);
    if (!endpoint) {
      if (auto address = net::IpAddress::parse(item)) endpoint = net::Endpoint{*address, 53};
    }
    if (!endpoint) {
      l.fail(line, path + ": " + quote(text) +
                       " is not a DNS server address (expected a.b.c.d[:port], v6 or "
                       "[v6]:port)");
    } else if (endpoint->port == 0) {
      l.fail(line, path + ": " + quote(text) + ": port must be 1-65535");
    } else {
      f.dns_servers.push_back(*endpoint);
    }
  });
}

const Key<Forwarding> kForwardingKeys[] = {
    {"enabled", boolean(&Forwarding::enabled), Reload::sighup,
     "Ask origins at all. With `false`, forwarded announces are still accepted from trusted "
     "sources and answered from what btrt knows, without contacting the origin."},
    {"mode",
     custom<Forwarding>(load_forwarding_mode, "`when_needed` or `always`", show_forwarding_mode),
     Reload::sighup,
     "`when_needed`: ask the origin on `started`/`completed`/`stopped` and when btrt has no answer "
     "of it for the torrent younger than the origin's own `interval`. `always`: forward every "
     "announce."},
    {"timeout", duration(&Forwarding::timeout, 1), Reload::sighup,
     "Seconds to wait for the origin, name resolution included, before answering the subscriber "
     "without it."},
    {"max_concurrent", integer(&Forwarding::max_concurrent, 1), Reload::sighup,
     "Upstream requests in flight, all origins together; beyond it subscribers are answered "
     "without asking the origin. One origin (`host:port`), and one address it resolves to, gets at "
     "most an eighth of them (at least 1), so that an origin that never answers cannot take every "
     "slot."},
    {"pass_client_ip", boolean(&Forwarding::pass_client_ip), Reload::sighup,
     "Add `ip=<subscriber address>` to the upstream announce (replacing the subscriber's own "
     "`ip`/`ipv4`/`ipv6`)."},
    {"allowed_destinations", cidr_list(&Forwarding::allowed_destinations), Reload::sighup,
     "Origins btrt may contact although their address is loopback, private, shared (100.64/10), "
     "link-local, multicast, reserved or unspecified. Peers an origin lists at loopback, "
     "multicast, broadcast or unspecified addresses are handed out only when they are in this list "
     "too (an origin on btrt's own host, a test bed)."},
    {"dns_servers",
     list(&Forwarding::dns_servers, "list of `a.b.c.d`, `a.b.c.d:port`, `[v6]:port`",
          load_dns_servers),
     Reload::restart,
     "DNS servers asked for origins' names; empty: those of `/etc/resolv.conf`. `/etc/hosts` is "
     "read first either way; the search domains of `/etc/resolv.conf` are not used (a tracker's "
     "host is a full name)."},
};

void load_tcp_intercept(Loader& l, const Entry& e, const std::string& path, Interception& i) {
  read_endpoints(l, e, path, i.tcp_listen);
}

void load_udp_intercept(Loader& l, const Entry& e, const std::string& path, Interception& i) {
  read_endpoints(l, e, path, i.udp_listen);
}

const Key<Interception> kInterceptionKeys[] = {
    {"tcp_listen",
     list(&Interception::tcp_listen, "list of `\"a.b.c.d:port\"` / `\"[v6]:port\"`, no duplicates",
          load_tcp_intercept),
     Reload::restart,
     "Transparent (`IP_TRANSPARENT`) listeners for the HTTP connections the router diverts with "
     "nftables `tproxy`: a request naming an `info_hash` is a forwarded announce for its Host "
     "(else its original destination), anything else is answered 502. Needs `CAP_NET_ADMIN`; "
     "empty: no "
     "interception (see [Interception](interception.md))."},
    {"udp_listen",
     list(&Interception::udp_listen, "list of `\"a.b.c.d:port\"` / `\"[v6]:port\"`, no duplicates",
          load_udp_intercept),
     Reload::restart,
     "Transparent (`IP_TRANSPARENT`) listeners for the UDP (BEP 15) packets the router diverts "
     "with nftables `tproxy`: btrt answers connects itself and asks the origin (the original "
     "destination) over BEP 15 for announces, answering from the origin's address. Needs "
     "`CAP_NET_ADMIN`; empty: no interception of UDP (see [Interception](interception.md))."},
    {"spoof_source", boolean(&Interception::spoof_source), Reload::restart,
     "Ask origins of intercepted announces from the subscriber's own address (a transparent "
     "bind), so that the origin registers the subscriber; the router must then deliver the "
     "origin's replies to btrt (`socket transparent 1`, see [Interception](interception.md))."},
    {"mark", integer(&Interception::mark, 0, 0xffffffffu), Reload::restart,
     "`SO_MARK` on btrt's requests to origins, so that the router's rules "
     "never divert them back to btrt; 0 = none. Needs `CAP_NET_ADMIN`."},
};

void load_hashlist_path(Loader& l, const Entry& e, const std::string& path, Hashlist& out) {
  std::string text;
  if (!l.get_string(e, path, text)) return;
  if (trim(text).empty()) {
    l.fail(e.line, path + ": must name a file");
  } else {
    out.path = text;
  }
}

// The names given are checked against the peer groups by cross_checks().
void load_hashlist_groups(Loader& l, const Entry& e, const std::string& path, Hashlist& out) {
  out.groups.clear();
  l.hashlist_groups_.clear();
  l.for_each_item(e, path, [&](std::string_view text, int line) {
    out.groups.emplace_back(text);
    l.hashlist_groups_.emplace_back(std::string(text), line);
  });
}

const Key<Hashlist> kHashlistKeys[] = {
    {"path", text(&Hashlist::path, "file path", load_hashlist_path), Reload::sighup,
     "File written, atomically. Its directory must be writable by btrt (and listed in the unit's "
     "`ReadWritePaths`)."},
    {"interval", duration(&Hashlist::interval, 0), Reload::sighup,
     "Seconds between writes by `btrt run` (it also writes at start and at once after a SIGHUP); 0 "
     "= `btrt run` never writes it, only `btrt hashlist` does."},
    {"groups", list(&Hashlist::groups, "list of peer group names", load_hashlist_groups),
     Reload::sighup,
     "Peer groups whose seeders make a torrent \"local\". A name given here explicitly must be a "
     "configured peer group (else a configuration error); the default selects nothing when no "
     "group of that name exists."},
    {"min_seeders", integer(&Hashlist::min_seeders, 1), Reload::sighup,
     "Live seeders in those groups a torrent needs to be listed."},
};

void check_database(Loader& l, const Entry& section) {
  const Database& d = l.config_.database;
  if (d.kind != Database::Kind::sqlite && trim(d.schema).empty()) {
    int url_line = l.given("database.url");
    l.fail(url_line ? url_line : section.line,
           "database.schema: a MySQL database needs a schema name");
  }
}

void load_peer_groups(Loader& l, const Entry& section) {
  l.group_lines_.clear();
  l.load_list<PeerGroup>(section, "peer groups", kGroupKeys, l.config_.peer_groups,
                         [&](PeerGroup& group, int) {
                           group.cidrs.insert(group.cidrs.end(), l.group_file_cidrs_.begin(),
                                              l.group_file_cidrs_.end());
                           l.group_file_cidrs_.clear();
                         });
  if (l.config_.peer_groups.size() > net::kMaxGroups) {
    l.fail(section.line, "peer_groups: " + std::to_string(l.config_.peer_groups.size()) +
                             " groups; at most " + std::to_string(net::kMaxGroups) +
                             " are allowed");
  }
}

void load_neighbors(Loader& l, const Entry& section) {
  l.neighbor_lines_.clear();
  l.load_list<Neighbor>(section, "neighbors", kNeighborKeys, l.config_.neighbors,
                        [](Neighbor&, int) {});
}

// The sections, in the reference's order: how each is read and described.
struct Section {
  std::string_view name;
  std::function<void(Loader& loader, const Entry& section)> load;
  std::function<void(std::vector<KeyReference>& out)> describe;
};

template <typename S, std::size_t N>
std::function<void(std::vector<KeyReference>&)> describe(const Key<S> (&keys)[N],
                                                         std::string prefix) {
  return [&keys, prefix](std::vector<KeyReference>& out) { describe_keys<S>(keys, prefix, out); };
}

// A section that is one mapping of keys into its struct; `check` looks at the whole.
template <typename S, std::size_t N>
Section mapping(std::string_view name, const Key<S> (&keys)[N], S Config::*member,
                void (*check)(Loader&, const Entry&) = nullptr) {
  return {name,
          [&keys, member, check](Loader& l, const Entry& section) {
            l.load_section<S>(section, keys, l.config_.*member);
            if (check) check(l, section);
          },
          describe(keys, std::string(name) + ".")};
}

const Section kSections[] = {
    mapping("server", kServerKeys, &Config::server),
    mapping("tracker", kTrackerKeys, &Config::tracker),
    mapping("logging", kLoggingKeys, &Config::logging),
    mapping("database", kDatabaseKeys, &Config::database, check_database),
    {"peer_groups", load_peer_groups, describe(kGroupKeys, "peer_groups[].")},
    {"neighbors", load_neighbors, describe(kNeighborKeys, "neighbors[].")},
    mapping("forwarding", kForwardingKeys, &Config::forwarding),
    mapping("interception", kInterceptionKeys, &Config::interception),
    mapping("hashlist", kHashlistKeys, &Config::hashlist),
};

LoadResult Loader::run(std::string_view text) {
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
  std::vector<std::string_view> names;
  for (const Section& section : kSections) names.push_back(section.name);
  for (const Entry& entry : entries(root, "", names)) {
    for (const Section& section : kSections) {
      if (section.name == entry.key) section.load(*this, entry);
    }
  }
  cross_checks();
  return finish();
}

}  // namespace

std::vector<KeyReference> key_reference() {
  std::vector<KeyReference> out;
  for (const Section& section : kSections) section.describe(out);
  return out;
}

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

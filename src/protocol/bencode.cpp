#include "protocol/bencode.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <new>

namespace btrt::protocol::bencode {

Encoder& Encoder::integer(std::int64_t value) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out_ += 'i';
  out_.append(buf, res.ptr);
  out_ += 'e';
  return *this;
}

Encoder& Encoder::string(std::string_view value) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value.size());
  out_.append(buf, res.ptr);
  out_ += ':';
  out_.append(value);
  return *this;
}

const Value* Value::find(std::string_view key) const {
  if (!is_dict()) return nullptr;
  for (const auto& [k, v] : as_dict()) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// An open list or dict. Dicts also track a key waiting for its value and whether the keys
// seen so far arrived in strictly increasing order (then a duplicate can only be the last key).
struct Frame {
  Value value;
  std::string key;
  bool has_key = false;
  bool keys_sorted = true;
};

class Decoder {
 public:
  Decoder(std::string_view in, const Limits& limits) : in_(in), limits_(limits) {}

  std::variant<Value, DecodeError> run() {
    if (in_.size() > limits_.max_input) return fail(0, "input too large");
    if (in_.empty()) return fail(0, "empty input");
    while (true) {
      if (pos_ >= in_.size()) return fail(pos_, "truncated input");
      const std::size_t start = pos_;
      const char c = in_[pos_];

      if (c == 'e') {
        if (stack_.empty()) return fail(start, "unexpected 'e'");
        Frame& top = stack_.back();
        if (top.has_key) return fail(start, "dict key without value");
        ++pos_;
        if (top.value.is_dict() && !top.keys_sorted && has_duplicate_keys(top.value)) {
          return fail(start, "duplicate dict key");
        }
        Value done = std::move(top.value);
        stack_.pop_back();
        if (auto err = complete(std::move(done))) return *err;
        if (finished_) break;
        continue;
      }

      if (!count_item()) return fail(start, "too many values");

      // A dict waiting for a key accepts only a string.
      const bool want_key =
          !stack_.empty() && stack_.back().value.is_dict() && !stack_.back().has_key;
      if (want_key && !is_digit(c)) return fail(start, "dict key is not a string");

      if (c == 'l' || c == 'd') {
        if (stack_.size() >= limits_.max_depth) return fail(start, "nesting too deep");
        ++pos_;
        Frame f;
        if (c == 'd')
          f.value.data = Dict{};
        else
          f.value.data = List{};
        stack_.push_back(std::move(f));
        continue;
      }

      if (c == 'i') {
        std::int64_t v = 0;
        if (auto err = parse_int(v)) return *err;
        if (auto err = complete(Value{v})) return *err;
        if (finished_) break;
        continue;
      }

      if (is_digit(c)) {
        std::string_view s;
        if (auto err = parse_string(s)) return *err;
        if (want_key) {
          Frame& top = stack_.back();
          const Dict& d = top.value.as_dict();
          if (!d.empty()) {
            const std::string& prev = d.back().first;
            if (s == prev) return fail(start, "duplicate dict key");
            if (s < std::string_view(prev)) top.keys_sorted = false;
          }
          top.key.assign(s);
          top.has_key = true;
          continue;
        }
        if (auto err = complete(Value{std::string(s)})) return *err;
        if (finished_) break;
        continue;
      }

      return fail(start, "unexpected byte");
    }
    if (pos_ != in_.size()) return fail(pos_, "trailing bytes after value");
    return std::move(result_);
  }

 private:
  static DecodeError fail(std::size_t offset, const char* message) {
    return DecodeError{offset, message};
  }

  bool count_item() { return ++items_ <= limits_.max_items; }

  // Places a finished value into its parent, or makes it the result.
  std::optional<DecodeError> complete(Value v) {
    if (stack_.empty()) {
      result_ = std::move(v);
      finished_ = true;
      return std::nullopt;
    }
    Frame& top = stack_.back();
    if (top.value.is_list()) {
      std::get<List>(top.value.data).push_back(std::move(v));
    } else {
      std::get<Dict>(top.value.data).emplace_back(std::move(top.key), std::move(v));
      top.key.clear();
      top.has_key = false;
    }
    return std::nullopt;
  }

  static bool has_duplicate_keys(const Value& dict) {
    const Dict& d = dict.as_dict();
    std::vector<std::string_view> keys;
    keys.reserve(d.size());
    for (const auto& entry : d) keys.emplace_back(entry.first);
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
  }

  // i<digits>e at pos_.
  std::optional<DecodeError> parse_int(std::int64_t& out) {
    const std::size_t start = pos_;
    std::size_t p = pos_ + 1;
    const std::size_t digits_begin = p;
    if (p < in_.size() && in_[p] == '-') ++p;
    const std::size_t first_digit = p;
    while (p < in_.size() && is_digit(in_[p])) ++p;
    if (p >= in_.size()) return fail(start, "truncated integer");
    if (in_[p] != 'e') return fail(p, "invalid integer");
    const std::size_t ndigits = p - first_digit;
    if (ndigits == 0) return fail(start, "empty integer");
    if (in_[first_digit] == '0' && (ndigits > 1 || first_digit != digits_begin)) {
      return fail(start, ndigits > 1 ? "integer with leading zero" : "negative zero");
    }
    const char* b = in_.data() + digits_begin;
    const char* e = in_.data() + p;
    auto res = std::from_chars(b, e, out);
    if (res.ec != std::errc{} || res.ptr != e) return fail(start, "integer out of range");
    pos_ = p + 1;
    return std::nullopt;
  }

  // <len>:<bytes> at pos_; the view points into the input.
  std::optional<DecodeError> parse_string(std::string_view& out) {
    const std::size_t start = pos_;
    std::size_t p = pos_;
    while (p < in_.size() && is_digit(in_[p])) ++p;
    if (p >= in_.size()) return fail(start, "truncated string length");
    if (in_[p] != ':') return fail(p, "invalid string length");
    if (in_[start] == '0' && p - start > 1) return fail(start, "string length with leading zero");
    std::size_t len = 0;
    auto res = std::from_chars(in_.data() + start, in_.data() + p, len);
    const std::size_t remaining = in_.size() - (p + 1);
    if (res.ec != std::errc{} || len > remaining) {
      return fail(start, "string length beyond end of input");
    }
    out = in_.substr(p + 1, len);
    pos_ = p + 1 + len;
    return std::nullopt;
  }

  std::string_view in_;
  const Limits& limits_;
  std::size_t pos_ = 0;
  std::size_t items_ = 0;
  std::vector<Frame> stack_;
  Value result_;
  bool finished_ = false;
};

}  // namespace

std::variant<Value, DecodeError> decode(std::string_view input, const Limits& limits) {
  try {
    return Decoder(input, limits).run();
  } catch (const std::bad_alloc&) {
    return DecodeError{0, "out of memory"};
  }
}

}  // namespace btrt::protocol::bencode

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace btrt::protocol::bencode {

// Streaming encoder appending to a caller-owned (reusable) buffer. The caller writes dict
// keys in sorted order, as BEP 3 requires.
class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  Encoder& integer(std::int64_t value);
  Encoder& string(std::string_view value);
  Encoder& begin_dict() {
    out_ += 'd';
    return *this;
  }
  Encoder& begin_list() {
    out_ += 'l';
    return *this;
  }
  Encoder& end() {
    out_ += 'e';
    return *this;
  }

 private:
  std::string& out_;
};

// A decoded value. Dictionaries keep their entries in input order.
struct Value;
struct DictEntry;
using List = std::vector<Value>;
using Dict = std::vector<DictEntry>;
struct Value {
  std::variant<std::int64_t, std::string, List, Dict> data;

  bool is_int() const { return std::holds_alternative<std::int64_t>(data); }
  bool is_string() const { return std::holds_alternative<std::string>(data); }
  bool is_list() const { return std::holds_alternative<List>(data); }
  bool is_dict() const { return std::holds_alternative<Dict>(data); }
  std::int64_t as_int() const { return std::get<std::int64_t>(data); }
  const std::string& as_string() const { return std::get<std::string>(data); }
  const List& as_list() const { return std::get<List>(data); }
  const Dict& as_dict() const { return std::get<Dict>(data); }
  // The value of `key` when this is a dict holding it, else nullptr.
  const Value* find(std::string_view key) const;
};
// One dict entry, shaped like std::pair (which clang cannot instantiate here with libstdc++).
struct DictEntry {
  DictEntry() = default;
  DictEntry(std::string k, Value v) : first(std::move(k)), second(std::move(v)) {}
  std::string first;
  Value second;
};

struct Limits {
  std::size_t max_input = 1 << 20;  // bytes
  std::size_t max_depth = 32;       // nesting of lists and dicts
  std::size_t max_items = 1 << 18;  // values in total
};

struct DecodeError {
  std::size_t offset = 0;
  std::string message;
};

// Decodes exactly one value that spans the whole input. Rejects leading zeros, "-0",
// integers outside int64, truncated input, trailing bytes, duplicate dict keys and
// anything past the limits. Never throws and never recurses past max_depth.
std::variant<Value, DecodeError> decode(std::string_view input, const Limits& limits = {});

}  // namespace btrt::protocol::bencode

// Decodes arbitrary bytes. Strict bencode has one encoding per value (dicts keep their input
// order), so whatever decodes must re-encode to exactly the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/bencode.hpp"

namespace bencode = btrt::protocol::bencode;

namespace {

void encode_value(const bencode::Value& v, bencode::Encoder& enc) {
  if (v.is_int()) {
    enc.integer(v.as_int());
  } else if (v.is_string()) {
    enc.string(v.as_string());
  } else if (v.is_list()) {
    enc.begin_list();
    for (const auto& item : v.as_list()) encode_value(item, enc);
    enc.end();
  } else {
    enc.begin_dict();
    for (const auto& [key, item] : v.as_dict()) {
      enc.string(key);
      encode_value(item, enc);
    }
    enc.end();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  bencode::Limits limits;
  limits.max_depth = 16;
  limits.max_items = 4096;
  auto result = bencode::decode(input, limits);
  if (const auto* value = std::get_if<bencode::Value>(&result)) {
    std::string out;
    bencode::Encoder enc(out);
    encode_value(*value, enc);
    if (out != input) std::abort();
    if (value->is_dict()) {
      for (const auto& [key, item] : value->as_dict()) {
        if (value->find(key) != &item) std::abort();  // keys are unique
      }
    }
  } else {
    const auto& err = std::get<bencode::DecodeError>(result);
    if (err.offset > size || err.message.empty()) std::abort();
  }
  return 0;
}

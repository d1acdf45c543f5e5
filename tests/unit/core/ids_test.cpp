#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace btrt::core {
namespace {

InfoHash with(std::size_t index, std::uint8_t value) {
  InfoHash id;
  id.bytes.fill(0x80);
  id.bytes[index] = value;
  return id;
}

TEST(Id20, OrdersAsItsBytesDoInEveryPosition) {
  // A difference in the leading word and one past it both decide; so does the last byte.
  for (std::size_t index : {0u, 7u, 8u, 19u}) {
    const InfoHash low = with(index, 0x01);
    const InfoHash high = with(index, 0xfe);
    EXPECT_LT(low, high) << index;
    EXPECT_GT(high, low) << index;
    EXPECT_NE(low, high) << index;
    EXPECT_EQ(low <=> with(index, 0x01), std::strong_ordering::equal) << index;
  }
}

TEST(Id20, SortsLikeMemcmp) {
  std::vector<InfoHash> ids;
  std::uint32_t state = 12345;
  for (int i = 0; i < 200; ++i) {
    InfoHash id;
    for (auto& b : id.bytes) {
      state = state * 1103515245u + 12345u;
      b = static_cast<std::uint8_t>(state >> 16);
    }
    if (i % 3 == 0) std::memset(id.bytes.data(), 0x42, 8);  // ties in the leading word
    ids.push_back(id);
  }
  std::vector<InfoHash> by_bytes = ids;
  std::sort(ids.begin(), ids.end());
  std::sort(by_bytes.begin(), by_bytes.end(), [](const InfoHash& a, const InfoHash& b) {
    return std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) < 0;
  });
  EXPECT_EQ(ids, by_bytes);
}

TEST(Id20, HexIsLowercaseTwoDigitsPerByte) {
  InfoHash id;
  id.bytes[0] = 0x0f;
  id.bytes[19] = 0xa0;
  EXPECT_EQ(id.hex(), "0f" + std::string(36, '0') + "a0");
}

}  // namespace
}  // namespace btrt::core

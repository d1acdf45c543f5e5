#include "metrics/histogram.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/counters.hpp"

namespace btrt::metrics {
namespace {

TEST(Histogram, BucketsAreLessThanOrEqualTheirBound) {
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(0.005), 0u);
  EXPECT_EQ(Histogram::bucket_of(0.0051), 1u);
  EXPECT_EQ(Histogram::bucket_of(1.0), 7u);
  EXPECT_EQ(Histogram::bucket_of(10.0), 10u);
  EXPECT_EQ(Histogram::bucket_of(10.5), 11u);  // +Inf
}

TEST(Histogram, CountsSumsAndIgnoresNonsense) {
  Histogram h;
  h.observe(0.003);
  h.observe(0.2);
  h.observe(0.2);
  h.observe(60);
  h.observe(-1);  // a clock step backwards: counted as instant
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.buckets[0], 2u);
  EXPECT_EQ(s.buckets[Histogram::bucket_of(0.2)], 2u);
  EXPECT_EQ(s.buckets[Histogram::kBuckets - 1], 1u);
  EXPECT_NEAR(s.sum, 60.403, 1e-6);
}

TEST(Histogram, SumsTheSlotsOfManyThreads) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 1000; ++i) h.observe(0.02);
    });
  }
  for (auto& t : threads) t.join();
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 4000u);
  EXPECT_EQ(s.buckets[Histogram::bucket_of(0.02)], 4000u);
  EXPECT_NEAR(s.sum, 80.0, 1e-6);
}

TEST(Histogram, AThreadKeepsApartTheSlotsOfTwoHistograms) {
  Histogram a;
  Histogram b;
  for (int i = 0; i < 10; ++i) {
    a.observe(0.001);
    b.observe(1.5);
  }
  EXPECT_EQ(a.snapshot().count, 10u);
  EXPECT_EQ(b.snapshot().count, 10u);
  EXPECT_EQ(a.snapshot().buckets[0], 10u);
}

TEST(Histogram, ANewHistogramStartsEmptyWhereAnOldOneWas) {
  for (int round = 0; round < 3; ++round) {
    auto h = std::make_unique<Histogram>();
    EXPECT_EQ(h->snapshot().count, 0u);
    h->observe(0.1);
    EXPECT_EQ(h->snapshot().count, 1u);
  }
}

TEST(Latency, NamedHistogramsAreSeparate) {
  const auto before = Latency::of(Latency::db_flush).snapshot().count;
  const auto upstream_before = Latency::of(Latency::upstream).snapshot().count;
  Latency::observe(Latency::db_flush, 0.3);
  EXPECT_EQ(Latency::of(Latency::db_flush).snapshot().count, before + 1);
  EXPECT_EQ(Latency::of(Latency::upstream).snapshot().count, upstream_before);
}

}  // namespace
}  // namespace btrt::metrics

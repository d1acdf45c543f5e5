// Target (docs/performance.md): 1,000,000 CIDR prefixes load in under 2 s; classification is
// O(prefix length). Loads a generated CIDR file through the same path as `btrt run`
// (config::load_cidr_file, then net::Classifier), then measures classification with Google
// Benchmark.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "config/config.hpp"
#include "net/classifier.hpp"

namespace {

using btrt::net::Classifier;
using btrt::net::IpAddress;

std::filesystem::path write_prefixes(std::size_t count) {
  auto path = std::filesystem::temp_directory_path() / "btrt-bench-cidrs.conf";
  std::ofstream out(path);
  std::mt19937 rng(7);  // 32-bit results
  out << "# generated: " << count << " prefixes, mixed lengths, one in ten IPv6\n";
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 10 == 9) {
      out << "2001:db8:" << std::hex << (rng() & 0xffff) << ':' << (rng() & 0xffff) << std::dec
          << "::/" << 48 + rng() % 17 << '\n';
    } else {
      auto a = static_cast<std::uint32_t>(rng());
      out << (a >> 24) << '.' << ((a >> 16) & 255) << '.' << ((a >> 8) & 255) << '.' << (a & 255)
          << '/' << 16 + rng() % 17 << '\n';
    }
  }
  return path;
}

std::shared_ptr<Classifier> load(const std::filesystem::path& path, bool report) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  std::vector<btrt::net::Cidr> prefixes;
  auto errors = btrt::config::load_cidr_file(path.string(), prefixes);
  auto t1 = Clock::now();
  std::size_t count = prefixes.size();
  auto classifier = std::make_shared<Classifier>(
      std::vector<btrt::net::GroupSpec>{{"local peers", 0, std::move(prefixes)}});
  auto t2 = Clock::now();
  if (report) {
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    std::printf(
        "load %zu prefixes (%zu errors): parse %.0f ms + table %.0f ms = %.0f ms (target < 2000 "
        "ms); %zu distinct prefixes\n",
        count, errors.size(), ms(t1 - t0), ms(t2 - t1), ms(t2 - t0), classifier->prefix_count());
  }
  return classifier;
}

const std::filesystem::path& prefixes_file() {
  static const auto path = write_prefixes(1'000'000);
  return path;
}

void BM_LoadMillionPrefixes(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(load(prefixes_file(), false));
}
BENCHMARK(BM_LoadMillionPrefixes)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_ClassifyIpv4(benchmark::State& state) {
  static auto classifier = load(prefixes_file(), false);
  std::mt19937 rng(11);
  std::vector<IpAddress> addresses;
  for (int i = 0; i < 4096; ++i)
    addresses.push_back(IpAddress::from_v4(static_cast<std::uint32_t>(rng())));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(classifier->classify(addresses[i++ & 4095]));
}
BENCHMARK(BM_ClassifyIpv4);

}  // namespace

int main(int argc, char** argv) {
  load(prefixes_file(), true);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  std::filesystem::remove(prefixes_file());
  return 0;
}

// Helpers shared by the benchmarks/bench_*.cpp executables: seeded uniform fills, so every run
// (and every peer in a run) sees the same data. Benchmark-only; standard library only, so
// any benchmark may include it (convolution cases are in bench_conv_util.hpp).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace octet::bench {

// n floats uniform in [lo, hi) from mt19937(seed).
inline std::vector<float> rnd(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace octet::bench

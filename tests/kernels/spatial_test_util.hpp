// Shared helpers for the spatial kernel tests: seeded random fills and a relative comparison.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace octet::test {

inline std::vector<float> random_vec(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(gen);
  return v;
}

// |a - b| <= tol * max(1, |b|) element-wise; reports the first mismatch with its index.
inline void require_close(const std::vector<float>& got, const std::vector<float>& want,
                          float tol = 1e-4f, const std::string& what = "") {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const float scale = std::max(1.f, std::fabs(want[i]));
    if (!(std::fabs(got[i] - want[i]) <= tol * scale)) {
      INFO(what << " index " << i << " got " << got[i] << " want " << want[i]);
      REQUIRE(std::fabs(got[i] - want[i]) <= tol * scale);
    }
  }
}

}  // namespace octet::test

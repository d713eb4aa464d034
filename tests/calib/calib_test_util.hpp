// Shared by the calibration tests: a small Data-layer LMDB to calibrate on.
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <vector>

#include "../test_util.hpp"
#include "octet/data/lmdb.hpp"

namespace octet::calib_test {

// `records` records of 1x2x8x8 standard-normal floats (all zeros with `zeros`), label r % 4.
inline void write_lmdb(const std::filesystem::path& dir, int records, std::uint32_t seed, bool zeros = false) {
  data::LmdbWriter w(dir);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int r = 0; r < records; ++r) {
    std::vector<float> v(1 * 2 * 8 * 8);
    for (auto& x : v) x = zeros ? 0.f : nd(rng);
    w.put(data::Sample::from<float>({1, 2, 8, 8}, v, DType::F32, r % 4));
  }
  w.close();
}

}  // namespace octet::calib_test

#include <catch2/catch.hpp>

#include <cmath>

#include "octet/core/parallel.hpp"
#include "octet/kernels/batch_norm.hpp"
#include "octet/kernels/scale.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

TEST_CASE("batch_norm hand-computed with Caffe's moving-average factor") {
  // Stored sums mean*f: mean {2, -4}, var {8, 0}; factor blob 2 -> scale_factor 0.5.
  const std::vector<float> x{3, 1, -2, 0}, mean{2, -4}, var{8, 0};
  BatchNormParams p;
  p.eps = 0.f;
  p.scale_factor = 0.5f;
  std::vector<float> y(4), ref(4);
  batch_norm(p, {1, 2, 2}, x.data(), mean.data(), var.data(), y.data());
  // channel 0: (x - 1) / 2; channel 1 var 0 + eps 0 -> divide by 0 avoided below with eps.
  CHECK(y[0] == Approx(1.f));
  CHECK(y[1] == Approx(0.f));
  p.eps = 1.f;
  batch_norm(p, {1, 2, 2}, x.data(), mean.data(), var.data(), y.data());
  CHECK(y[0] == Approx(2.f / std::sqrt(5.f)));
  CHECK(y[2] == Approx(0.f));   // -2 - (-2) = 0
  CHECK(y[3] == Approx(2.f));   // (0 + 2) / 1
  // Factor 0 (Caffe: scale_factor 0): mean and var vanish, y = x / sqrt(eps).
  p.scale_factor = 0.f;
  p.eps = 4.f;
  batch_norm(p, {1, 2, 2}, x.data(), mean.data(), var.data(), y.data());
  CHECK(y == std::vector<float>{1.5f, 0.5f, -1.f, 0.f});
}

TEST_CASE("batch_norm and scale match reference, in place too") {
  std::mt19937 gen(2);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 40; ++iter) {
    const ChannelShape s{r(1, 3), r(1, 9), r(1, 40)};
    const int64_t n = s.outer * s.channels * s.inner;
    auto x = random_vec(n, iter), m = random_vec(s.channels, iter + 1);
    auto v = random_vec(s.channels, iter + 2, 0.1f, 3.f), b = random_vec(s.channels, iter + 3);
    BatchNormParams p;
    p.eps = 1e-3f;
    p.scale_factor = r(0, 1) ? 1.f : 1.f / 999.f;
    std::vector<float> want(n), got = x;
    reference::batch_norm(p, s, x.data(), m.data(), v.data(), want.data());
    set_num_threads(r(1, 2));
    batch_norm(p, s, got.data(), m.data(), v.data(), got.data());
    require_close(got, want, 1e-5f, "bn");
    const float* bias = r(0, 1) ? b.data() : nullptr;
    reference::scale(s, x.data(), m.data(), bias, want.data());
    got = x;
    scale(s, got.data(), m.data(), bias, got.data());
    set_num_threads(1);
    require_close(got, want, 1e-6f, "scale");
  }
}

TEST_CASE("scale hand-computed over inner dims and over the last axis") {
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  const std::vector<float> a{2, -1}, b{10, 20};
  std::vector<float> y(6);
  scale({1, 2, 3}, x.data(), a.data(), b.data(), y.data());   // [1, C=2, 3]
  CHECK(y == std::vector<float>{12, 14, 16, 16, 15, 14});
  scale({3, 2, 1}, x.data(), a.data(), static_cast<const float*>(nullptr), y.data());  // [3, 2]
  CHECK(y == std::vector<float>{2, -2, 6, -4, 10, -6});
}

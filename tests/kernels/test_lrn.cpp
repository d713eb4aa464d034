#include <catch2/catch.hpp>

#include <cmath>

#include "octet/core/parallel.hpp"
#include "octet/kernels/lrn.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

TEST_CASE("lrn across channels hand-computed") {
  // 3 channels of one pixel: x = {1, 2, 3}, size 3, alpha 3, beta 1, k 1:
  // c0: 1 + (1+4)   = 6  -> 1/6;  c1: 1 + (1+4+9) = 15 -> 2/15;  c2: 1 + (4+9) = 14 -> 3/14
  const std::vector<float> x{1, 2, 3};
  LrnParams p;
  p.size = 3; p.alpha = 3.f; p.beta = 1.f; p.k = 1.f;
  std::vector<float> y(3), ref(3);
  lrn(p, {1, 3, 1, 1}, x.data(), y.data());
  reference::lrn(p, {1, 3, 1, 1}, x.data(), ref.data());
  CHECK(y[0] == Approx(1.f / 6));
  CHECK(y[1] == Approx(2.f / 15));
  CHECK(y[2] == Approx(3.f / 14));
  require_close(y, ref, 1e-6f);
  // Even size (ONNX): size 2 window is [c, c+1]. alpha 2 -> alpha/size = 1.
  p.size = 2; p.alpha = 2.f;
  lrn(p, {1, 3, 1, 1}, x.data(), y.data());
  CHECK(y[0] == Approx(1.f / 6));
  CHECK(y[1] == Approx(2.f / 14));
  CHECK(y[2] == Approx(3.f / 10));
}

TEST_CASE("lrn within channel hand-computed (zero-padded window, divides by size^2)") {
  // 1x1x2x2 plane {1,2,3,4}, size 3: every window covers the whole plane, sum x^2 = 30.
  const std::vector<float> x{1, 2, 3, 4};
  LrnParams p;
  p.region = LrnParams::Region::WithinChannel;
  p.size = 3; p.alpha = 9.f; p.beta = 0.5f; p.k = 1.f;
  std::vector<float> y(4);
  lrn(p, {1, 1, 2, 2}, x.data(), y.data());
  for (int i = 0; i < 4; ++i) CHECK(y[static_cast<size_t>(i)] == Approx(x[static_cast<size_t>(i)] / std::sqrt(31.f)));
  p.size = 2;
  CHECK_THROWS_AS(lrn(p, {1, 1, 2, 2}, x.data(), y.data()), ShapeError);
}

TEST_CASE("lrn matches reference on random shapes") {
  std::mt19937 gen(4);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  const float betas[] = {0.75f, 0.5f, 1.f, 0.6f};
  for (int iter = 0; iter < 60; ++iter) {
    LrnParams p;
    p.region = r(0, 1) ? LrnParams::Region::AcrossChannels : LrnParams::Region::WithinChannel;
    p.size = p.region == LrnParams::Region::WithinChannel ? 2 * r(0, 3) + 1 : r(1, 7);
    p.alpha = 1e-2f * static_cast<float>(r(1, 300));
    p.beta = betas[r(0, 3)];
    p.k = r(0, 1) ? 1.f : 2.f;
    const LrnShape s{r(1, 2), r(1, 10), r(1, 9), r(1, 140)};
    auto x = random_vec(s.batch * s.channels * s.height * s.width, iter, -3.f, 3.f);
    std::vector<float> want(x.size()), got(x.size());
    reference::lrn(p, s, x.data(), want.data());
    set_num_threads(r(1, 2));
    lrn(p, s, x.data(), got.data());
    set_num_threads(1);
    INFO("size " << p.size << " region " << static_cast<int>(p.region) << " beta " << p.beta);
    require_close(got, want, 1e-5f);
  }
}

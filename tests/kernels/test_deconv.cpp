#include <catch2/catch.hpp>

#include "octet/core/parallel.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/deconv.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

namespace {

Deconv2dParams dparams(int64_t kh, int64_t kw, int64_t sh = 1, int64_t sw = 1, int64_t pt = 0,
                       int64_t pl = 0, int64_t pb = 0, int64_t pr = 0, int64_t dh = 1, int64_t dw = 1,
                       int64_t oph = 0, int64_t opw = 0, int64_t g = 1) {
  Deconv2dParams p;
  p.kernel_h = kh; p.kernel_w = kw; p.stride_h = sh; p.stride_w = sw;
  p.pad_top = pt; p.pad_left = pl; p.pad_bottom = pb; p.pad_right = pr;
  p.dilation_h = dh; p.dilation_w = dw; p.output_pad_h = oph; p.output_pad_w = opw; p.group = g;
  return p;
}

void check(const Deconv2dParams& p, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
           int threads, uint32_t seed, bool with_bias) {
  const auto s = deconv2d_shape(p, n, c, h, w, o);
  auto in = random_vec(n * c * h * w, seed);
  auto wt = random_vec(c * (o / p.group) * p.kernel_h * p.kernel_w, seed + 1);
  auto b = random_vec(o, seed + 2);
  const int64_t count = s.batch * s.out_c * s.out_h * s.out_w;
  std::vector<float> want(count), got(count, -777.f);
  reference::deconv2d(p, s, in.data(), wt.data(), with_bias ? b.data() : nullptr, want.data());
  set_num_threads(threads);
  std::vector<float> scratch(deconv2d_scratch_size(p, s));
  deconv2d(p, s, in.data(), wt.data(), with_bias ? b.data() : nullptr, got.data(), std::span<float>(scratch));
  set_num_threads(1);
  INFO("n" << n << " c" << c << " " << h << "x" << w << " o" << o << " k" << p.kernel_h << "x"
           << p.kernel_w << " s" << p.stride_h << "," << p.stride_w << " pad " << p.pad_top << ","
           << p.pad_left << "," << p.pad_bottom << "," << p.pad_right << " d" << p.dilation_h << ","
           << p.dilation_w << " op" << p.output_pad_h << "," << p.output_pad_w << " g" << p.group
           << " threads " << threads);
  require_close(got, want, 1e-4f);
}

}  // namespace

TEST_CASE("deconv2d hand-computed stride 2 upsampling") {
  // 1x1x2x2 input [[1,2],[3,4]], 2x2 kernel of ones, stride 2: each pixel becomes a 2x2 block.
  std::vector<float> in{1, 2, 3, 4}, w{1, 1, 1, 1}, b{0.25f};
  const auto p = dparams(2, 2, 2, 2);
  const auto s = deconv2d_shape(p, 1, 1, 2, 2, 1);
  REQUIRE(s.out_h == 4);
  REQUIRE(s.out_w == 4);
  std::vector<float> out(16), scratch(deconv2d_scratch_size(p, s));
  deconv2d(p, s, in.data(), w.data(), b.data(), out.data(), std::span<float>(scratch));
  const std::vector<float> want{1.25f, 1.25f, 2.25f, 2.25f, 1.25f, 1.25f, 2.25f, 2.25f,
                                3.25f, 3.25f, 4.25f, 4.25f, 3.25f, 3.25f, 4.25f, 4.25f};
  CHECK(out == want);
}

TEST_CASE("deconv2d hand-computed overlap, pad and output_padding") {
  // 1-D along w: input [1,2], kernel [1,10,100], stride 1 -> full output [1,12,120,200];
  // pad_left 1 drops the first; output_pad 1 with stride 2 appends a column.
  std::vector<float> in{1, 2}, w{1, 10, 100};
  auto p = dparams(1, 3);
  auto s = deconv2d_shape(p, 1, 1, 1, 2, 1);
  REQUIRE(s.out_w == 4);
  std::vector<float> out(4), scratch(deconv2d_scratch_size(p, s));
  deconv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{1, 12, 120, 200});
  p.pad_left = 1;
  s = deconv2d_shape(p, 1, 1, 1, 2, 1);
  REQUIRE(s.out_w == 3);
  out.assign(3, 0);
  deconv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{12, 120, 200});
  // stride 2: [1,10,100+2,20,200], output_pad 1 -> trailing 0
  p = dparams(1, 3, 1, 2);
  p.output_pad_w = 1;
  s = deconv2d_shape(p, 1, 1, 1, 2, 1);
  REQUIRE(s.out_w == 6);
  out.assign(6, -1);
  scratch.resize(deconv2d_scratch_size(p, s));
  deconv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{1, 10, 102, 20, 200, 0});
}

TEST_CASE("deconv2d is the adjoint of conv2d") {
  // <conv(x), y> == <x, deconv(y)> with the same weights (weight [O,I,kh,kw] read as [I',O',..]).
  Conv2dParams cp;
  cp.kernel_h = 3; cp.kernel_w = 2; cp.stride_h = 2; cp.stride_w = 1;
  cp.pad_top = 1; cp.pad_left = 0; cp.pad_bottom = 1; cp.pad_right = 1; cp.dilation_h = 2;
  const auto cs = conv2d_shape(cp, 1, 3, 9, 6, 4);
  auto p = dparams(3, 2, 2, 1, 1, 0, 1, 1, 2, 1);
  // Conv output 4 x (..) becomes deconv input; the output size may need output_pad to reach 9.
  p.output_pad_h = 9 - deconv_out_size(cs.out_h, 3, 2, 1, 1, 2, 0);
  p.output_pad_w = 6 - deconv_out_size(cs.out_w, 2, 1, 0, 1, 1, 0);
  const auto ds = deconv2d_shape(p, 1, 4, cs.out_h, cs.out_w, 3);
  REQUIRE(ds.out_h == 9);
  REQUIRE(ds.out_w == 6);
  auto x = random_vec(3 * 9 * 6, 1), y = random_vec(4 * cs.out_h * cs.out_w, 2), w = random_vec(4 * 3 * 6, 3);
  std::vector<float> cx(y.size()), dy(x.size());
  std::vector<float> s1(conv2d_scratch_size(cp, cs)), s2(deconv2d_scratch_size(p, ds));
  conv2d(cp, cs, x.data(), w.data(), static_cast<const float*>(nullptr), cx.data(), std::span<float>(s1));
  deconv2d(p, ds, y.data(), w.data(), static_cast<const float*>(nullptr), dy.data(), std::span<float>(s2));
  double a = 0, b = 0;
  for (size_t i = 0; i < y.size(); ++i) a += double(cx[i]) * y[i];
  for (size_t i = 0; i < x.size(); ++i) b += double(x[i]) * dy[i];
  CHECK(a == Approx(b).epsilon(1e-4));
}

TEST_CASE("deconv2d optimised matches reference") {
  struct C { Deconv2dParams p; int64_t n, c, h, w, o; };
  const std::vector<C> cases = {
      {dparams(1, 1), 1, 1, 1, 1, 1},
      {dparams(2, 2, 2, 2), 2, 3, 4, 5, 4},
      {dparams(4, 4, 2, 2, 1, 1, 1, 1), 1, 4, 5, 5, 2},
      {dparams(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1), 2, 2, 3, 4, 3},     // output_padding
      {dparams(3, 2, 3, 1, 0, 1, 2, 0, 2, 1), 1, 3, 4, 6, 2},            // asym pads, dilation
      {dparams(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2), 2, 4, 5, 5, 6},   // groups
      {dparams(4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 6), 1, 6, 3, 3, 6},   // depthwise upsample
      {dparams(1, 1, 3, 3), 1, 2, 3, 3, 2},                             // stride > kernel
      {dparams(5, 3, 2, 3, 4, 2, 3, 1, 1, 2, 1, 2), 3, 2, 4, 3, 2},
  };
  uint32_t seed = 7;
  for (const auto& c : cases)
    for (int t : {1, 2}) {
      check(c.p, c.n, c.c, c.h, c.w, c.o, t, seed, true);
      check(c.p, c.n, c.c, c.h, c.w, c.o, t, seed + 3, false);
      seed += 11;
    }
  std::mt19937 gen(9);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 80; ++iter) {
    const int g = r(0, 2) == 0 ? r(2, 3) : 1;
    auto p = dparams(r(1, 4), r(1, 4), r(1, 3), r(1, 3), r(0, 2), r(0, 2), r(0, 2), r(0, 2), r(1, 2), r(1, 2));
    p.group = g;
    p.output_pad_h = r(0, p.stride_h - 1);
    p.output_pad_w = r(0, p.stride_w - 1);
    const int64_t h = r(2, 7), w = r(2, 7);
    if (deconv_out_size(h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h, p.output_pad_h) < 1 ||
        deconv_out_size(w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w, p.output_pad_w) < 1)
      continue;
    check(p, r(1, 3), g * r(1, 3), h, w, g * r(1, 3), r(1, 2), 500 + static_cast<uint32_t>(iter), r(0, 1));
  }
}

TEST_CASE("deconv2d rejects bad shapes") {
  CHECK_THROWS_AS(deconv2d_shape(dparams(1, 1, 1, 1, 1, 1, 1, 1), 1, 1, 1, 1, 1), ShapeError);
  CHECK_THROWS_AS(deconv2d_shape(dparams(3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 2), 1, 3, 4, 4, 2), ShapeError);
}

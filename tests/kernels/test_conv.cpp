#include <catch2/catch.hpp>

#include "octet/core/parallel.hpp"
#include "octet/kernels/conv.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

namespace {

struct Case {
  int64_t n, c, h, w, o;
  Conv2dParams p;
};

// Runs the optimised conv with `threads` threads and compares it with the reference.
void check_case(const Case& k, int threads, uint32_t seed, bool with_bias = true) {
  const Conv2dShape s = conv2d_shape(k.p, k.n, k.c, k.h, k.w, k.o);
  auto in = random_vec(k.n * k.c * k.h * k.w, seed);
  auto wt = random_vec(k.o * (k.c / k.p.group) * k.p.kernel_h * k.p.kernel_w, seed + 1);
  auto b = random_vec(k.o, seed + 2);
  const int64_t out_n = s.batch * s.out_c * s.out_h * s.out_w;
  std::vector<float> want(out_n), got(out_n, -777.f);
  reference::conv2d(k.p, s, in.data(), wt.data(), with_bias ? b.data() : nullptr, want.data());
  set_num_threads(threads);
  std::vector<float> scratch(conv2d_scratch_size(k.p, s));
  conv2d(k.p, s, in.data(), wt.data(), with_bias ? b.data() : nullptr, got.data(),
         std::span<float>(scratch));
  set_num_threads(1);
  INFO("n" << k.n << " c" << k.c << " " << k.h << "x" << k.w << " o" << k.o << " k" << k.p.kernel_h
           << "x" << k.p.kernel_w << " s" << k.p.stride_h << "," << k.p.stride_w << " pad "
           << k.p.pad_top << "," << k.p.pad_left << "," << k.p.pad_bottom << "," << k.p.pad_right
           << " d" << k.p.dilation_h << "," << k.p.dilation_w << " g" << k.p.group << " algo "
           << static_cast<int>(conv2d_algo(k.p, s)) << " threads " << threads);
  require_close(got, want, 1e-4f);
}

Conv2dParams params(int64_t kh, int64_t kw, int64_t sh = 1, int64_t sw = 1, int64_t pt = 0,
                    int64_t pl = 0, int64_t pb = 0, int64_t pr = 0, int64_t dh = 1, int64_t dw = 1,
                    int64_t g = 1) {
  Conv2dParams p;
  p.kernel_h = kh; p.kernel_w = kw; p.stride_h = sh; p.stride_w = sw;
  p.pad_top = pt; p.pad_left = pl; p.pad_bottom = pb; p.pad_right = pr;
  p.dilation_h = dh; p.dilation_w = dw; p.group = g;
  return p;
}

}  // namespace

TEST_CASE("conv2d hand-computed 3x3 input, 2x2 kernel") {
  // in = 1..9, w = [[1,0],[0,-1]] -> out[i][j] = in[i][j] - in[i+1][j+1] = -4 everywhere; bias 0.5
  std::vector<float> in{1, 2, 3, 4, 5, 6, 7, 8, 9}, w{1, 0, 0, -1}, b{0.5f};
  const Conv2dParams p = params(2, 2);
  const auto s = conv2d_shape(p, 1, 1, 3, 3, 1);
  REQUIRE(s.out_h == 2);
  REQUIRE(s.out_w == 2);
  std::vector<float> out(4), ref(4), scratch(conv2d_scratch_size(p, s));
  conv2d(p, s, in.data(), w.data(), b.data(), out.data(), std::span<float>(scratch));
  reference::conv2d(p, s, in.data(), w.data(), b.data(), ref.data());
  CHECK(out == std::vector<float>{-3.5f, -3.5f, -3.5f, -3.5f});
  CHECK(ref == out);
}

TEST_CASE("conv2d hand-computed asymmetric pad and stride") {
  // 1x3 input [1,2,3], kernel 1x2 [1,1], pad_left 1, pad_right 0, stride 2:
  // windows [0,1],[2,3] -> outputs 1, 5; with pad_right 1 a third window [3,0] -> 3.
  std::vector<float> in{1, 2, 3}, w{1, 1};
  Conv2dParams p = params(1, 2, 1, 2, 0, 1, 0, 0);
  auto s = conv2d_shape(p, 1, 1, 1, 3, 1);
  REQUIRE(s.out_w == 2);
  std::vector<float> out(2), scratch(conv2d_scratch_size(p, s));
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{1, 5});
  p.pad_right = 1;
  s = conv2d_shape(p, 1, 1, 1, 3, 1);
  REQUIRE(s.out_w == 2);  // (3 + 1 + 1 - 2) / 2 + 1 = 2
  p.stride_w = 1;
  s = conv2d_shape(p, 1, 1, 1, 3, 1);
  REQUIRE(s.out_w == 4);
  out.assign(4, 0);
  scratch.resize(conv2d_scratch_size(p, s));
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{1, 3, 5, 3});
}

TEST_CASE("conv2d hand-computed dilation and fused activations") {
  // 1x5 input, kernel 1x2 dilation 3: out[j] = in[j] + in[j+3]
  std::vector<float> in{1, -2, 3, -4, 5}, w{1, 1};
  Conv2dParams p = params(1, 2, 1, 1, 0, 0, 0, 0, 1, 3);
  auto s = conv2d_shape(p, 1, 1, 1, 5, 1);
  REQUIRE(s.out_w == 2);
  std::vector<float> out(2), scratch(conv2d_scratch_size(p, s));
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{-3, 3});
  p.activation = FusedActivation::relu();
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{0, 3});
  p.activation = FusedActivation::relu(0.5f);
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{-1.5f, 3});
  p.activation = FusedActivation::clip(-1.f, 2.f);
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{-1, 2});
  std::vector<float> big{10, -20, 30, 40, 50};
  p.activation = FusedActivation::relu6();
  conv2d(p, s, big.data(), w.data(), static_cast<const float*>(nullptr), out.data(), std::span<float>(scratch));
  CHECK(out == std::vector<float>{6, 6});
}

TEST_CASE("conv2d output size and validation") {
  CHECK(conv_out_size(224, 7, 2, 3, 3, 1) == 112);
  CHECK(conv_out_size(5, 3, 1, 0, 0, 2) == 1);
  CHECK(conv_out_size(5, 3, 1, 1, 0, 1) == 4);
  CHECK_THROWS_AS(conv2d_shape(params(3, 3), 1, 3, 2, 2, 4), ShapeError);
  CHECK_THROWS_AS(conv2d_shape(params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2), 1, 3, 4, 4, 4), ShapeError);
  CHECK_THROWS_AS(conv2d_shape(params(1, 1, 0), 1, 3, 4, 4, 4), ShapeError);
}

TEST_CASE("conv2d picks its algorithm") {
  CHECK(conv2d_algo(params(1, 1), conv2d_shape(params(1, 1), 1, 8, 4, 4, 8)) == Conv2dAlgo::Gemm1x1);
  const auto dw = params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8);
  CHECK(conv2d_algo(dw, conv2d_shape(dw, 1, 8, 4, 4, 8)) == Conv2dAlgo::Depthwise);
  const auto k1s2 = params(1, 1, 2, 2);
  CHECK(conv2d_algo(k1s2, conv2d_shape(k1s2, 1, 8, 4, 4, 8)) == Conv2dAlgo::Im2colGemm);
  // 1x1 stride 2: im2col of 8 channels x 2x2, or (direct, AVX-512) 4 phase planes of 2x2 each.
  CHECK(conv2d_scratch_size(k1s2, conv2d_shape(k1s2, 1, 8, 4, 4, 8), 1) ==
        (conv_gemm::kDirectAvailable ? 8 * 4 * 2 * 2 : 8 * 2 * 2));
}

TEST_CASE("conv2d optimised matches reference on odd shapes") {
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, params(1, 1)},
      {2, 8, 5, 7, 6, params(1, 1)},                                  // 1x1 direct GEMM
      {3, 6, 9, 4, 4, params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2)},       // 1x1 grouped
      {1, 3, 7, 9, 5, params(3, 3, 1, 1, 1, 1, 1, 1)},
      {2, 4, 8, 6, 3, params(2, 3, 1, 2, 0, 1, 1, 0)},                 // non-square, asym pad
      {1, 2, 10, 11, 3, params(1, 1, 3, 3)},                          // stride > kernel
      {1, 3, 7, 7, 2, params(3, 3, 4, 2, 2, 2, 2, 2)},                 // pad > k/2, stride > k
      {2, 4, 9, 9, 6, params(3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2)},       // dilation + groups
      {1, 3, 13, 8, 4, params(5, 2, 2, 1, 2, 0, 1, 3, 2, 3)},          // dilation asym
      {5, 2, 6, 6, 2, params(3, 3, 2, 2, 0, 0, 1, 1)},                 // ONNX SAME_UPPER-like
      {1, 12, 8, 8, 12, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12)},    // depthwise 3x3 s1
      {2, 12, 9, 11, 12, params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 12)},   // depthwise 3x3 s2
      {1, 5, 10, 7, 5, params(3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 5)},      // depthwise asym pad
      {1, 4, 7, 8, 8, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4)},       // depthwise multiplier 2
      {2, 6, 12, 10, 6, params(5, 3, 1, 3, 2, 1, 2, 1, 2, 1, 6)},     // depthwise generic
      {1, 4, 6, 6, 4, params(3, 3, 1, 1, 0, 0, 0, 0, 1, 2, 4)},       // depthwise dilated w
      {1, 3, 2, 2, 3, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3)},       // depthwise tiny plane
      {1, 3, 1, 5, 2, params(1, 3, 1, 1, 0, 1, 0, 1)},                 // H == 1
      {1, 3, 9, 50, 4, params(3, 3, 2, 2, 1, 1, 1, 1)},                // stride-2 rows of 25
      {2, 3, 30, 41, 8, params(7, 7, 2, 2, 3, 3, 3, 3)},               // resnet-style 7x7 s2 stem
  };
  uint32_t seed = 100;
  for (const auto& c : cases) {
    for (int threads : {1, 2}) {
      check_case(c, threads, seed);
      check_case(c, threads, seed + 7, false);
      seed += 13;
    }
  }
}

TEST_CASE("conv2d randomized shapes vs reference") {
  std::mt19937 gen(42);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 150; ++iter) {
    Case k;
    const int g = r(0, 3) == 0 ? r(2, 4) : 1;
    k.n = r(1, 3);
    k.c = g * r(1, 4);
    k.o = g * r(1, 4);
    k.p = params(r(1, 4), r(1, 4), r(1, 3), r(1, 3), r(0, 3), r(0, 3), r(0, 3), r(0, 3), r(1, 2),
                 r(1, 2), g);
    if (r(0, 4) == 0) {  // depthwise
      k.p.group = k.c;
      k.o = k.c * r(1, 2);
    }
    k.p.activation = r(0, 1) ? FusedActivation::relu(r(0, 1) ? 0.1f : 0.f) : FusedActivation::none();
    const int64_t eff_h = k.p.dilation_h * (k.p.kernel_h - 1) + 1;
    const int64_t eff_w = k.p.dilation_w * (k.p.kernel_w - 1) + 1;
    k.h = std::max<int64_t>(r(1, 12), eff_h);
    k.w = std::max<int64_t>(r(1, 12), eff_w);
    check_case(k, r(1, 2), 1000 + static_cast<uint32_t>(iter));
  }
}

TEST_CASE("conv2d direct same-width convolutions (stride 1 and strided) match the reference") {
  // OW == W and stride 1 reads the input straight through masked loads (AVX-512): tiles that
  // cross output rows, partial last tiles and weight blocks, taps in the padding on every
  // side, dilation, top/bottom pads that change OH, and 1 or 2 threads on either split.
  const std::vector<Case> cases = {
      {1, 3, 7, 9, 5, params(3, 3, 1, 1, 1, 1, 1, 1)},
      {2, 16, 28, 28, 16, params(3, 3, 1, 1, 1, 1, 1, 1)},             // resnet8's first block
      {3, 64, 7, 7, 64, params(3, 3, 1, 1, 1, 1, 1, 1)},               // 7x7 maps, tiles span rows
      {1, 32, 30, 30, 40, params(3, 3, 1, 1, 1, 1, 1, 1)},             // big enough for 2 threads
      {1, 20, 6, 6, 200, params(3, 3, 1, 1, 1, 1, 1, 1)},              // many weight blocks, few tiles
      {2, 5, 11, 13, 9, params(5, 5, 1, 1, 2, 2, 2, 2)},
      {1, 4, 12, 10, 7, params(3, 3, 1, 1, 2, 2, 2, 2, 2, 2)},         // dilated
      {1, 6, 9, 8, 3, params(1, 3, 1, 1, 0, 1, 0, 1)},                 // 1x3
      {2, 3, 10, 9, 4, params(3, 3, 1, 1, 0, 1, 2, 1)},                // pads change OH only
      {1, 2, 3, 50, 3, params(7, 3, 1, 1, 3, 0, 3, 2)},                // asymmetric left/right
      {1, 1, 1, 1, 1, params(3, 3, 1, 1, 1, 1, 1, 1)},
      // Strided: OW == ceil(W / s), the input split into phase planes first.
      {2, 16, 28, 28, 32, params(3, 3, 2, 2, 1, 1, 1, 1)},             // resnet8's downsampling conv
      {1, 5, 13, 11, 9, params(3, 3, 2, 2, 1, 1, 1, 1)},               // odd sizes: phases differ
      {3, 16, 14, 14, 24, params(1, 1, 2, 2)},                         // 1x1 shortcut: one phase
      {1, 3, 30, 38, 16, params(7, 7, 2, 2, 3, 3, 3, 3)},              // resnet stem
      {1, 4, 17, 16, 5, params(3, 3, 3, 3, 1, 1, 1, 1)},               // stride 3
      {1, 3, 15, 14, 4, params(3, 3, 2, 2, 2, 2, 2, 2, 2, 2)},         // dilated and strided
      {2, 40, 20, 20, 48, params(3, 3, 2, 2, 1, 1, 1, 1)},             // enough work for 2 threads
  };
  uint32_t seed = 500;
  for (auto c : cases) {
    if (conv_gemm::kDirectAvailable) CHECK(conv_detail::direct_conv(c.p, conv2d_shape(c.p, c.n, c.c, c.h, c.w, c.o)));
    for (int threads : {1, 2}) {
      c.p.activation = threads == 2 ? FusedActivation::relu(0.f) : FusedActivation::none();
      check_case(c, threads, seed);
      check_case(c, threads, seed + 7, false);
      seed += 13;
    }
  }
}

TEST_CASE("conv2d vectorised depthwise on small planes matches the reference") {
  // Stride 1, output rows as wide as input rows, planes narrower than 32: 16 pixels per vector
  // with masked loads on AVX-512 (tails, every padding side, dilation, 5x5, each activation).
  const std::vector<Case> cases = {
      {1, 12, 7, 7, 12, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12)},
      {2, 9, 14, 14, 9, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 9)},
      {1, 40, 28, 28, 40, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40)},
      {1, 300, 28, 28, 300, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 300)},  // enough work for 2 threads
      {3, 5, 11, 13, 5, params(5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 5)},
      {1, 4, 9, 10, 4, params(3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4)},   // dilated
      {1, 3, 6, 8, 3, params(3, 3, 1, 1, 0, 1, 2, 1, 1, 1, 3)},    // pads change OH only
      {1, 2, 1, 1, 2, params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2)},
  };
  const FusedActivation acts[] = {FusedActivation::none(), FusedActivation::relu(0.f), FusedActivation::relu(0.2f),
                                  FusedActivation::relu6(), FusedActivation::clip(-0.5f, 0.25f)};
  uint32_t seed = 900;
  for (auto c : cases) {
    if (conv_gemm::kDirectAvailable) {
      const auto s = conv2d_shape(c.p, c.n, c.c, c.h, c.w, c.o);
      CHECK(conv2d_algo(c.p, s) == Conv2dAlgo::Depthwise);
#if defined(__AVX512F__)
      CHECK(conv_detail::depthwise_vectorised(c.p, s));
#endif
    }
    for (const auto& a : acts)
      for (int threads : {1, 2}) {
        c.p.activation = a;
        check_case(c, threads, seed, threads == 1);
        seed += 5;
      }
  }
}

TEST_CASE("conv2d with less scratch than threads still runs, too little throws") {
  const Conv2dParams p = params(3, 3, 2, 2);  // stride 2, no pad: OW 2 != ceil(6 / 2), the im2col path
  const auto s = conv2d_shape(p, 4, 3, 6, 6, 4);
  REQUIRE_FALSE(conv_detail::direct_conv(p, s));
  auto in = random_vec(4 * 3 * 36, 5), w = random_vec(4 * 3 * 9, 6);
  std::vector<float> want(4 * 4 * 4), got(want.size());
  reference::conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), want.data());
  std::vector<float> scratch(conv2d_scratch_size(p, s, 1));
  set_num_threads(2);
  conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), got.data(), std::span<float>(scratch));
  std::vector<float> tiny(3);
  CHECK_THROWS_AS(conv2d(p, s, in.data(), w.data(), static_cast<const float*>(nullptr), got.data(),
                         std::span<float>(tiny)),
                  ShapeError);
  set_num_threads(1);
  require_close(got, want);
}

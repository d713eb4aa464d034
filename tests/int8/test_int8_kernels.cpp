// The int8 GEMM / conv / inner-product fast paths equal their plain reference loops bit for
// bit: random shapes (edges of the micro-tile and panel sizes), every conv algorithm, both
// activation types, and the extreme codes (-128, 127, 255) where a saturating int16 pair sum
// (vpmaddubsw) would go wrong.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "octet/fixed/requant.hpp"
#include "octet/kernels/int8_conv.hpp"
#include "octet/kernels/int8_deconv.hpp"
#include "octet/kernels/int8_gemm.hpp"

using namespace octet;
using namespace octet::kernels;

namespace {

template <typename T>
std::vector<T> random_codes(size_t n, std::mt19937& rng, int mode = 0) {
  std::vector<T> v(n);
  constexpr int lo = std::is_signed_v<T> ? -128 : 0, hi = std::is_signed_v<T> ? 127 : 255;
  std::uniform_int_distribution<int> d(lo, hi), pick(0, 3);
  for (auto& x : v) {
    int c = d(rng);
    if (mode == 1) c = pick(rng) == 0 ? lo : hi;  // extremes only
    if (mode == 2) c = hi;
    if (mode == 3) c = lo;
    x = static_cast<T>(c);
  }
  return v;
}

template <typename TB>
void check_gemm(int64_t M, int64_t N, int64_t K, std::mt19937& rng, int mode_a, int mode_b) {
  const auto A = random_codes<std::int8_t>(static_cast<size_t>(M * K), rng, mode_a);
  const auto B = random_codes<TB>(static_cast<size_t>(K * N), rng, mode_b);
  std::vector<std::int32_t> ref(static_cast<size_t>(M * N)), got(static_cast<size_t>(M * N), 7);
  reference::gemm_s8(M, N, K, A.data(), B.data(), N, ref.data(), N);
  PackedInt8A pa(A.data(), M, K);
  gemm_s8(pa, B.data(), N, N, got.data(), N);
  INFO("M=" << M << " N=" << N << " K=" << K << " modes " << mode_a << "," << mode_b << " path "
            << int8_gemm_path());
  REQUIRE(got == ref);
}

Int8Requant random_requant(int64_t channels, std::mt19937& rng, bool per_channel, int out_min, int out_max) {
  Int8Requant rq;
  std::uniform_real_distribution<double> sc(1e-4, 2e-2);
  std::uniform_int_distribution<std::int32_t> bias(-20000, 20000);
  rq.multiplier.clear();
  rq.shift.clear();
  for (int64_t c = 0; c < (per_channel ? channels : 1); ++c) {
    const auto q = fixed::quantize_multiplier(sc(rng));
    rq.multiplier.push_back(q.multiplier);
    rq.shift.push_back(q.shift);
  }
  for (int64_t c = 0; c < channels; ++c) rq.bias.push_back(bias(rng));
  rq.out_min = out_min;
  rq.out_max = out_max;
  return rq;
}

// Returns the conv (after the checks) so callers can ask which kernel ran.
template <typename TI, typename TO>
Int8Conv2d check_conv(const Conv2dParams& p, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc,
                const Int8Requant& rq, std::mt19937& rng, int mode) {
  const Conv2dShape s = conv2d_shape(p, n, c, h, w, oc);
  const auto in = random_codes<TI>(static_cast<size_t>(n * c * h * w), rng, mode);
  const auto wt = random_codes<std::int8_t>(static_cast<size_t>(oc * (c / p.group) * p.kernel_h * p.kernel_w), rng, mode);
  const size_t outn = static_cast<size_t>(n * oc * s.out_h * s.out_w);
  std::vector<TO> ref(outn), got(outn);
  reference::conv2d_s8(p, s, in.data(), wt.data(), rq, ref.data());
  Int8Conv2d conv;
  conv.setup(p, s, wt.data(), rq);
  conv.template forward<TI, TO>(in.data(), got.data());
  INFO("conv k" << p.kernel_h << "x" << p.kernel_w << " s" << p.stride_h << " g" << p.group << " c" << c << " oc" << oc
                << " " << h << "x" << w << " algo " << static_cast<int>(conv.algo()) << " mode " << mode);
  REQUIRE(got == ref);
  // Twice: no state carried between calls.
  conv.template forward<TI, TO>(in.data(), got.data());
  REQUIRE(got == ref);
  return conv;
}

// Square kernel, equal strides, pads and dilations on both axes.
Conv2dParams square_conv(int64_t k, int64_t stride, int64_t pad, int64_t dil = 1, int64_t group = 1) {
  Conv2dParams p;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.dilation_h = p.dilation_w = dil;
  p.group = group;
  return p;
}

// The input/output type pairs the fast kernels take (int8 and uint8 in and out with per-channel
// and per-tensor requantisation, the raw int32 sums); returns the int8 -> int8 conv so the
// caller can ask which kernel ran.
Int8Conv2d check_conv_types(const Conv2dParams& p, int64_t c, int64_t h, int64_t w, int64_t oc, std::mt19937& rng,
                            int mode) {
  auto conv = check_conv<std::int8_t, std::int8_t>(p, 3, c, h, w, oc, random_requant(oc, rng, true, -127, 127), rng, mode);
  check_conv<std::uint8_t, std::uint8_t>(p, 2, c, h, w, oc, random_requant(oc, rng, false, 0, 255), rng, mode);
  check_conv<std::int8_t, std::int32_t>(p, 1, c, h, w, oc, int8_requant_identity(), rng, mode);
  check_conv<std::uint8_t, std::int32_t>(p, 1, c, h, w, oc, int8_requant_identity(), rng, mode);
  return conv;
}

// f() once with 1 thread and once with 2, then back to 1.
template <typename F>
void with_1_and_2_threads(F&& f) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    f();
  }
  set_num_threads(1);
}

}  // namespace

TEST_CASE("int8 gemm: fast path equals the reference on random shapes", "[int8][gemm]") {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> dm(1, 37), dn(1, 70), dk(1, 150);
  for (int it = 0; it < 60; ++it) {
    const int64_t M = dm(rng), N = dn(rng), K = dk(rng);
    check_gemm<std::int8_t>(M, N, K, rng, 0, 0);
    check_gemm<std::uint8_t>(M, N, K, rng, 0, 0);
  }
}

TEST_CASE("int8 gemm: extreme codes do not saturate anywhere", "[int8][gemm]") {
  std::mt19937 rng(2);
  for (int64_t K : {1, 2, 3, 4, 5, 31, 64, 255, 1023, 4096}) {
    for (int ma : {1, 2, 3})
      for (int mb : {1, 2, 3}) {
        check_gemm<std::int8_t>(9, 35, K, rng, ma, mb);
        check_gemm<std::uint8_t>(9, 35, K, rng, ma, mb);
      }
  }
  // The worst case of a saturating u8*s8 pair sum: 255 * -128 * 2 and 255 * 127 * 2.
  const int64_t K = 2, M = 1, N = 1;
  std::vector<std::int8_t> A{-128, -128};
  std::vector<std::uint8_t> B{255, 255};
  std::int32_t c = 0;
  PackedInt8A pa(A.data(), M, K);
  gemm_s8(pa, B.data(), N, N, &c, N);
  REQUIRE(c == -65280);
  A = {127, 127};
  pa.pack(A.data(), M, K);
  gemm_s8(pa, B.data(), N, N, &c, N);
  REQUIRE(c == 64770);
}

TEST_CASE("int8 gemm: threaded panels give the same result", "[int8][gemm]") {
  std::mt19937 rng(3);
  set_num_threads(2);
  check_gemm<std::int8_t>(33, 257, 77, rng, 0, 0);
  check_gemm<std::uint8_t>(64, 1024, 144, rng, 0, 0);
  set_num_threads(1);
}

TEST_CASE("int8 conv: every algorithm equals the reference", "[int8][conv]") {
  std::mt19937 rng(4);
  struct Case {
    int64_t k, s, pad, dil, group, c, oc, h, w;
  };
  const std::vector<Case> cases = {
      {1, 1, 0, 1, 1, 8, 16, 5, 7},     // Gemm1x1
      {1, 1, 0, 1, 2, 8, 6, 4, 4},      // Gemm1x1 grouped
      {3, 1, 1, 1, 1, 3, 16, 9, 11},    // Im2col
      {3, 2, 1, 1, 1, 16, 32, 8, 8},    // strided
      {3, 1, 2, 2, 1, 4, 5, 7, 6},      // dilated
      {5, 2, 2, 1, 4, 8, 12, 9, 9},     // grouped
      {3, 1, 1, 1, 8, 8, 8, 10, 9},     // depthwise
      {3, 2, 1, 1, 6, 6, 12, 9, 8},     // depthwise, channel multiplier 2
      {3, 1, 1, 1, 8, 8, 8, 5, 40},     // depthwise, rows wide enough for the fused 16-column pass
      {5, 1, 2, 1, 4, 4, 8, 6, 37},     // depthwise 5x5, multiplier 2, fused pass + tails
      {3, 1, 2, 2, 3, 3, 3, 7, 35},     // depthwise dilated, fused pass
      {1, 2, 0, 1, 1, 5, 7, 6, 6},      // 1x1 strided (im2col)
      {5, 1, 2, 1, 1, 4, 6, 6, 7},      // 5x5 "same" (shifted-plane im2col)
      {3, 1, 1, 1, 1, 16, 16, 1, 1},    // 1x1 plane, 3x3 same
      {3, 1, 1, 1, 1, 2, 4, 2, 9},      // plane narrower than the kernel in H
  };
  for (const auto& cs : cases) {
    const Conv2dParams p = square_conv(cs.k, cs.s, cs.pad, cs.dil, cs.group);
    for (int mode : {0, 1, 2}) {
      const auto rq8 = random_requant(cs.oc, rng, true, -127, 127);
      const auto rqu = random_requant(cs.oc, rng, false, 0, 255);
      check_conv<std::int8_t, std::int8_t>(p, 2, cs.c, cs.h, cs.w, cs.oc, rq8, rng, mode);
      check_conv<std::uint8_t, std::uint8_t>(p, 2, cs.c, cs.h, cs.w, cs.oc, rqu, rng, mode);
      check_conv<std::uint8_t, std::int8_t>(p, 1, cs.c, cs.h, cs.w, cs.oc, rq8, rng, mode);
      check_conv<std::int8_t, std::int32_t>(p, 1, cs.c, cs.h, cs.w, cs.oc, int8_requant_identity(), rng, mode);
      check_conv<std::uint8_t, std::int32_t>(p, 1, cs.c, cs.h, cs.w, cs.oc, int8_requant_identity(), rng, mode);
    }
  }
}

TEST_CASE("int8 conv: the direct kernel (channel-quad planes, phase planes) equals the reference", "[int8][conv]") {
  std::mt19937 rng(9);
  struct Case {
    int64_t k, s, pad, c, oc, h, w;
  };
  // Channels not a multiple of 4 (missing quad lanes), out channels not a multiple of the
  // 8-row tile, planes of 1-3 tiles with ragged ends, strides 2-4 (phase planes), 1x1 strided.
  const std::vector<Case> cases = {
      {3, 1, 1, 1, 16, 28, 28}, {3, 1, 1, 5, 9, 7, 7},   {3, 1, 1, 16, 32, 14, 14}, {3, 2, 1, 16, 32, 28, 28},
      {1, 2, 0, 16, 32, 28, 28}, {3, 2, 1, 6, 8, 7, 9},  {7, 2, 3, 3, 8, 17, 15},   {3, 3, 1, 4, 4, 10, 11},
      {5, 4, 2, 7, 3, 13, 9},    {5, 1, 2, 12, 17, 5, 50}, {3, 1, 1, 64, 64, 7, 7},
  };
  with_1_and_2_threads([&] {
    for (const auto& cs : cases)
      for (int mode : {0, 1, 2}) {
        INFO("k" << cs.k << " s" << cs.s << " " << cs.h << "x" << cs.w);
        const auto conv = check_conv_types(square_conv(cs.k, cs.s, cs.pad), cs.c, cs.h, cs.w, cs.oc, rng, mode);
        // Fewer than 4 input channels take the tap-quad kernel where the CPU has VBMI.
        REQUIRE((conv.direct() || conv.tap_quad()) == int8_direct::kAvailable);
      }
  });
}

TEST_CASE("int8 conv with 1-3 input channels: the tap-quad kernel equals the reference", "[int8][conv]") {
  std::mt19937 rng(12);
  struct Case {
    int64_t kh, kw, s, pt, pl, pb, pr, dil, c, oc, h, w;
  };
  // Stems (3x3 s1/s2, 7x7 s2 pad 3), "valid" and asymmetric pads, dilation, 5-wide kernels (two
  // quads), out channels not a multiple of 8, rows of 1-4 blocks with ragged ends.
  const std::vector<Case> cases = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 16, 28, 28}, {3, 3, 2, 1, 1, 1, 1, 1, 3, 8, 15, 17}, {7, 7, 2, 3, 3, 3, 3, 1, 3, 9, 23, 40},
      {5, 5, 1, 0, 0, 0, 0, 1, 2, 5, 9, 12},   {3, 5, 1, 0, 2, 1, 0, 1, 1, 4, 6, 7},   {3, 3, 1, 2, 2, 2, 2, 2, 2, 3, 8, 70},
      {1, 1, 2, 0, 0, 0, 0, 1, 3, 6, 7, 9},    {3, 3, 4, 1, 1, 1, 1, 1, 1, 2, 13, 13},
  };
  with_1_and_2_threads([&] {
    for (const auto& cs : cases) {
      Conv2dParams p = square_conv(cs.kh, cs.s, 0, cs.dil);
      p.kernel_w = cs.kw;
      p.pad_top = cs.pt, p.pad_left = cs.pl, p.pad_bottom = cs.pb, p.pad_right = cs.pr;
      for (int mode : {0, 1, 2}) {
        INFO("k" << cs.kh << "x" << cs.kw << " s" << cs.s << " c" << cs.c << " " << cs.h << "x" << cs.w);
        const auto conv = check_conv_types(p, cs.c, cs.h, cs.w, cs.oc, rng, mode);
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
        REQUIRE(conv.tap_quad());
#endif
      }
    }
  });
}

TEST_CASE("int8 depthwise: the permute + vpdpbusd kernel equals the reference", "[int8][conv]") {
  std::mt19937 rng(11);
  struct Case {
    int64_t k, s, pad, dil, c, h, w;
  };
  // 3x3 and 5x5/7x7 (two weight quads), strides 1-4, dilation, rows of 1-8 pixel blocks with
  // ragged ends, pads wider than the kernel reach.
  const std::vector<Case> cases = {
      {3, 1, 1, 1, 16, 56, 56}, {3, 2, 1, 1, 8, 28, 29}, {5, 1, 2, 1, 5, 9, 17}, {7, 2, 3, 1, 4, 15, 15},
      {3, 1, 2, 2, 3, 7, 35},   {3, 4, 1, 1, 6, 13, 70}, {1, 1, 0, 1, 4, 3, 5},  {3, 1, 3, 1, 2, 4, 4},
      {3, 1, 1, 1, 9, 7, 7},    {5, 2, 2, 1, 3, 112, 112},
  };
  with_1_and_2_threads([&] {
    for (const auto& cs : cases)
      for (int mode : {0, 1, 2}) {
        INFO("k" << cs.k << " s" << cs.s << " pad " << cs.pad << " d" << cs.dil << " " << cs.h << "x" << cs.w);
        const auto conv =
            check_conv_types(square_conv(cs.k, cs.s, cs.pad, cs.dil, cs.c), cs.c, cs.h, cs.w, cs.c, rng, mode);
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
        REQUIRE(conv.depthwise_vbmi());
#endif
      }
  });
}

TEST_CASE("int8 conv: asymmetric 'same' pads and depthwise with dilation", "[int8][conv]") {
  std::mt19937 rng(8);
  Conv2dParams p;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = 0, p.pad_bottom = 2, p.pad_left = 2, p.pad_right = 0;
  for (int mode : {0, 1}) {
    check_conv<std::int8_t, std::int8_t>(p, 2, 5, 6, 8, 7, random_requant(7, rng, true, -127, 127), rng, mode);
    check_conv<std::uint8_t, std::int32_t>(p, 1, 5, 6, 8, 7, int8_requant_identity(), rng, mode);
  }
  Conv2dParams d;
  d.kernel_h = d.kernel_w = 3;
  d.dilation_h = d.dilation_w = 2;
  d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 2;
  d.stride_w = 2;
  d.group = 6;
  check_conv<std::uint8_t, std::uint8_t>(d, 2, 6, 9, 11, 6, random_requant(6, rng, true, 0, 255), rng, 0);
}

TEST_CASE("int8 deconv equals the reference: strides, pads, dilation, groups, output padding", "[int8][deconv]") {
  std::mt19937 rng(10);
  struct Case {
    int64_t k, s, pad, dil, group, opad, c, oc, h, w;
  };
  const std::vector<Case> cases = {
      {2, 2, 0, 1, 1, 0, 8, 4, 5, 6},   // the usual 2x upsampling
      {4, 2, 1, 1, 1, 0, 6, 3, 4, 7},   // FCN/DCGAN 4x4 stride 2 pad 1
      {3, 1, 1, 1, 1, 0, 5, 7, 6, 5},   // stride 1 (a conv's adjoint)
      {3, 2, 1, 1, 1, 1, 4, 4, 5, 5},   // output padding
      {3, 3, 2, 2, 2, 0, 6, 4, 4, 3},   // dilated, grouped
      {4, 2, 1, 1, 8, 0, 8, 8, 6, 6},   // depthwise (bilinear-upsampling style)
      {1, 1, 0, 1, 1, 0, 33, 17, 3, 9}, // 1x1: a plain GEMM, ragged tiles
  };
  with_1_and_2_threads([&] {
    for (const auto& cs : cases) {
      Deconv2dParams p;
      p.kernel_h = p.kernel_w = cs.k;
      p.stride_h = p.stride_w = cs.s;
      p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cs.pad;
      p.dilation_h = p.dilation_w = cs.dil;
      p.group = cs.group;
      p.output_pad_h = p.output_pad_w = cs.opad;
      const Deconv2dShape s = deconv2d_shape(p, 2, cs.c, cs.h, cs.w, cs.oc);
      for (int mode : {0, 1, 2}) {
        auto run = [&](auto in_tag, auto out_tag, const Int8Requant& rq) {
          using TI = decltype(in_tag);
          using TO = decltype(out_tag);
          const auto in = random_codes<TI>(static_cast<size_t>(2 * cs.c * cs.h * cs.w), rng, mode);
          const auto wt = random_codes<std::int8_t>(static_cast<size_t>(cs.c * (cs.oc / cs.group) * cs.k * cs.k), rng, mode);
          const size_t outn = static_cast<size_t>(2 * cs.oc * s.out_h * s.out_w);
          std::vector<TO> ref(outn), got(outn);
          reference::deconv2d_s8(p, s, in.data(), wt.data(), rq, ref.data());
          Int8Deconv2d d;
          d.setup(p, s, wt.data(), rq);
          d.template forward<TI, TO>(in.data(), got.data());
          INFO("deconv k" << cs.k << " s" << cs.s << " g" << cs.group << " opad " << cs.opad << " mode " << mode);
          REQUIRE(got == ref);
          d.template forward<TI, TO>(in.data(), got.data());
          REQUIRE(got == ref);
          if constexpr (std::is_same_v<TO, std::int32_t>) {
            // The raw int32 sums equal the fp32 reference deconv's double sums on the same
            // integers (both scatter through deconv2d_scatter_add): no int32 overflow anywhere.
            const std::vector<float> fin(in.begin(), in.end()), fw(wt.begin(), wt.end());
            std::vector<float> f(outn);
            reference::deconv2d(p, s, fin.data(), fw.data(), static_cast<const float*>(nullptr), f.data());
            const std::vector<float> ref_f(ref.begin(), ref.end());
            REQUIRE(ref_f == f);
          }
        };
        run(std::int8_t{}, std::int8_t{}, random_requant(cs.oc, rng, true, -127, 127));
        run(std::uint8_t{}, std::uint8_t{}, random_requant(cs.oc, rng, false, 0, 255));
        run(std::int8_t{}, std::int32_t{}, int8_requant_identity());
        run(std::uint8_t{}, std::int32_t{}, int8_requant_identity());
      }
    }
  });
}

TEST_CASE("int8 inner product equals the reference, plain and transposed weights", "[int8][fc]") {
  std::mt19937 rng(5);
  for (int64_t batch : {1, 3, 64})
    for (int64_t K : {1, 17, 256})
      for (int64_t M : {1, 10, 33})
        for (int mode : {0, 1}) {
          const auto in = random_codes<std::uint8_t>(static_cast<size_t>(batch * K), rng, mode);
          const auto w = random_codes<std::int8_t>(static_cast<size_t>(M * K), rng, mode);
          std::vector<std::int8_t> wt(w.size());
          for (int64_t m = 0; m < M; ++m)
            for (int64_t k = 0; k < K; ++k) wt[static_cast<size_t>(k * M + m)] = w[static_cast<size_t>(m * K + k)];
          const auto rq = random_requant(M, rng, true, -127, 127);
          std::vector<std::int8_t> ref(static_cast<size_t>(batch * M)), got(ref.size()), got_t(ref.size());
          reference::inner_product_s8(batch, K, M, in.data(), w.data(), rq, ref.data());
          Int8InnerProduct ip, ipt;
          ip.setup(batch, K, M, w.data(), false, rq);
          ip.forward(in.data(), got.data());
          ipt.setup(batch, K, M, wt.data(), true, rq);
          ipt.forward(in.data(), got_t.data());
          INFO("batch " << batch << " K " << K << " M " << M);
          REQUIRE(got == ref);
          REQUIRE(got_t == ref);
        }
}

TEST_CASE("int8 requant: the row rule is the fixed/ rule", "[int8][requant]") {
  Int8Requant rq;
  rq.bias = {std::numeric_limits<std::int32_t>::max(), -5, 0};
  const auto q = fixed::quantize_multiplier(0.37);
  rq.multiplier = {q.multiplier};
  rq.shift = {q.shift};
  // Saturation of acc + bias, then the one rounding, then the output clamp.
  REQUIRE(rq.apply(100, 0) == 127);
  REQUIRE(rq.apply(-100, 1) == fixed::clamp_to(fixed::multiply_by_quantized_multiplier(-105, q), -127, 127));
  REQUIRE(rq.apply(-1000, 2) == -127);
  Int8Requant bad;
  bad.multiplier = {1, 2};
  bad.shift = {1};
  REQUIRE_THROWS_AS(bad.check(2), ModelError);
}

TEST_CASE("int8 requant: the vectorised row equals Int8Requant::apply on extremes and random values", "[int8][requant]") {
  std::mt19937 rng(6);
  std::uniform_int_distribution<std::int32_t> any(std::numeric_limits<std::int32_t>::min(),
                                                  std::numeric_limits<std::int32_t>::max());
  std::vector<std::int32_t> acc = {0, 1, -1, 2, -2, 3, -3, std::numeric_limits<std::int32_t>::min(),
                                   std::numeric_limits<std::int32_t>::max(), 1 << 20, -(1 << 20), 12345, -12345};
  for (int i = 0; i < 2000; ++i) acc.push_back(i % 3 == 0 ? any(rng) : any(rng) >> (i % 31));
  const std::vector<std::int32_t> mults = {0, 1, 2, 1 << 30, std::numeric_limits<std::int32_t>::max(), 1518500250};
  const std::vector<std::int32_t> shifts = {0, 1, 2, 15, 30, 31, 32, 47, 62, 63};
  const std::vector<std::int32_t> biases = {0, 7, -7, std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min()};
  for (auto m : mults)
    for (auto sh : shifts)
      for (auto b : biases) {
        Int8Requant rq;
        rq.multiplier = {m};
        rq.shift = {sh};
        rq.bias = {b};
        for (auto range : {std::pair{-127, 127}, std::pair{0, 255}, std::pair{-128, 127}}) {
          rq.out_min = range.first, rq.out_max = range.second;
          std::vector<std::uint8_t> gu(acc.size());
          std::vector<std::int8_t> gs(acc.size());
          if (range.first == 0) int8_conv_detail::requant_row(rq, 0, acc.data(), static_cast<int64_t>(acc.size()), gu.data());
          else int8_conv_detail::requant_row(rq, 0, acc.data(), static_cast<int64_t>(acc.size()), gs.data());
          for (size_t i = 0; i < acc.size(); ++i) {
            const int want = rq.apply(acc[i], 0);
            const int got = range.first == 0 ? gu[i] : gs[i];
            if (got != want) FAIL("acc " << acc[i] << " m " << m << " sh " << sh << " b " << b << ": " << got << " vs " << want);
          }
        }
        Int8Requant id = rq;
        id.out_min = std::numeric_limits<std::int32_t>::min();
        id.out_max = std::numeric_limits<std::int32_t>::max();
        std::vector<std::int32_t> g32(acc.size());
        int8_conv_detail::requant_row(id, 0, acc.data(), static_cast<int64_t>(acc.size()), g32.data());
        for (size_t i = 0; i < acc.size(); ++i)
          if (g32[i] != id.apply(acc[i], 0)) FAIL("int32 out: acc " << acc[i] << " m " << m << " sh " << sh << " b " << b);
      }
  SUCCEED();
}

TEST_CASE("int8 eltwise rounding row equals rounding_right_shift + clamp", "[int8][requant]") {
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> acc = {0, 1, -1, 2, -2, 3, -3, (std::int64_t{1} << 61), -(std::int64_t{1} << 61)};
  for (int i = 0; i < 4000; ++i) acc.push_back(static_cast<std::int64_t>(rng()) >> (2 + i % 60));
  for (int sh : {0, 1, 2, 7, 20, 31, 40, 62, 63}) {
    std::vector<std::int8_t> g8(acc.size());
    std::vector<std::uint8_t> gu(acc.size());
    std::vector<std::int32_t> g32(acc.size());
    int8_conv_detail::round_shift_row(acc.data(), static_cast<int64_t>(acc.size()), sh, -127, 127, g8.data());
    int8_conv_detail::round_shift_row(acc.data(), static_cast<int64_t>(acc.size()), sh, 0, 255, gu.data());
    int8_conv_detail::round_shift_row(acc.data(), static_cast<int64_t>(acc.size()), sh, std::numeric_limits<std::int32_t>::min(),
                                      std::numeric_limits<std::int32_t>::max(), g32.data());
    for (size_t i = 0; i < acc.size(); ++i) {
      const std::int64_t r = fixed::rounding_right_shift(acc[i], sh);
      if (g8[i] != fixed::clamp_to<std::int64_t>(r, -127, 127) || gu[i] != fixed::clamp_to<std::int64_t>(r, 0, 255) ||
          g32[i] != fixed::saturate_int32(r))
        FAIL("acc " << acc[i] << " shift " << sh);
    }
  }
  SUCCEED();
}

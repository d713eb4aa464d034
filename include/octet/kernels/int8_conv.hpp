// Int8 convolution and inner product with BM1684X-style requantisation (docs/arithmetic.md,
// docs/int8-umodel.md): acc = sum q_in * q_w (int32, exact) ; v = sat32(acc + bias_c) ;
// q_out = clamp(multiply_by_quantized_multiplier(v, m_c, sh_c), out_min, out_max).
// BM1684's shift-only rule is the same call with m_c = 1.
//
//   reference::conv2d_s8 / inner_product_s8   plain loop nests, the definition.
//   Int8Conv2d      weights packed once (setup), then forward picks
//                     Gemm1x1    1x1 stride 1 unpadded: GEMM straight over the input,
//                     Depthwise  group == in_c: (AVX-512 VBMI + VNNI, multiplier 1) 4 taps per
//                                vpdpbusd from permuted padded rows (int8_direct.hpp); else
//                                direct loops over int32 row accumulators,
//                     tap quads  (AVX-512 VBMI + VNNI) fewer than 4 input channels: quads of
//                                kernel-row taps from permuted padded rows (int8_direct.hpp),
//                     direct     (AVX-512 VNNI) what the fp32 direct kernel takes: taps read
//                                from channel-quad planes of the input (int8_direct.hpp),
//                     Im2colGemm everything else: int8 im2col into an owned buffer + GEMM.
//   Int8InnerProduct  packed weights, input transposed into an owned buffer, GEMM.
// Output type TO is int8, uint8, or int32 (tests: identity requant shows the raw accumulator).
// Reuses Conv2dParams / Conv2dShape / conv2d_shape from kernels/conv.hpp; the fused activation
// field of Conv2dParams is ignored (an int8 top's range is the activation).
// Depends on core/, fixed/ and kernels/ only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/fixed/requant.hpp"
#include "octet/fixed/saturate.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/im2col.hpp"
#include "octet/kernels/int8_direct.hpp"
#include "octet/kernels/int8_gemm.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace octet::kernels {

template <typename T>
concept Int8Output = std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t> ||
                     std::is_same_v<T, std::int32_t>;

// Per-output-channel bias and requantisation. multiplier/shift have one entry (whole layer)
// or one per channel; bias is empty (no bias) or one per channel.
struct Int8Requant {
  std::vector<std::int32_t> bias;
  std::vector<std::int32_t> multiplier{1 << 30};
  std::vector<std::int32_t> shift{30};
  std::int32_t out_min = -127, out_max = 127;

  void check(int64_t channels) const {
    auto n = static_cast<size_t>(channels);
    if (!bias.empty() && bias.size() != n)
      throw ModelError("int8 requant: " + std::to_string(bias.size()) + " bias values for " +
                       std::to_string(channels) + " output channels");
    if (multiplier.size() != shift.size() || (multiplier.size() != 1 && multiplier.size() != n))
      throw ModelError("int8 requant: " + std::to_string(multiplier.size()) + " multipliers and " +
                       std::to_string(shift.size()) + " shifts for " + std::to_string(channels) +
                       " output channels (need 1 or one per channel of each)");
    for (auto s : shift)
      if (s < 0 || s > fixed::kMaxRequantShift)
        throw ModelError("int8 requant: shift " + std::to_string(s) + " outside [0, 63]");
    for (auto m : multiplier)
      if (m < 0) throw ModelError("int8 requant: negative multiplier " + std::to_string(m));
    if (out_min > out_max) throw ModelError("int8 requant: empty output range");
  }
  std::int32_t bias_of(int64_t c) const { return bias.empty() ? 0 : bias[static_cast<size_t>(c)]; }
  std::int32_t mult_of(int64_t c) const { return multiplier[multiplier.size() == 1 ? 0 : static_cast<size_t>(c)]; }
  int shift_of(int64_t c) const { return shift[shift.size() == 1 ? 0 : static_cast<size_t>(c)]; }

  // The one scalar definition.
  std::int32_t apply(std::int32_t acc, int64_t c) const {
    const std::int32_t v = fixed::saturate_int32(static_cast<std::int64_t>(acc) + bias_of(c));
    const std::int32_t r = fixed::multiply_by_quantized_multiplier(v, mult_of(c), shift_of(c));
    return fixed::clamp_to(r, out_min, out_max);
  }
};

// Identity requantisation into int32 (for tests and for callers that want the accumulator).
inline Int8Requant int8_requant_identity() {
  Int8Requant r;
  r.multiplier = {1};
  r.shift = {0};
  r.out_min = std::numeric_limits<std::int32_t>::min();
  r.out_max = std::numeric_limits<std::int32_t>::max();
  return r;
}

namespace int8_conv_detail {

// Requantises one row segment of one channel: out[j] = rq.apply(acc[j], c). The loop body is
// the scalar rule; bias/multiplier/shift are hoisted per call.
template <Int8Output TO>
inline void requant_row(const Int8Requant& rq, int64_t c, const std::int32_t* acc, int64_t n, TO* out) {
  const std::int64_t b = rq.bias_of(c);
  const std::int32_t m = rq.mult_of(c);
  const int sh = rq.shift_of(c);
  const std::int32_t lo = rq.out_min, hi = rq.out_max;
  int64_t j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  // The same rule on 8 int64 lanes: v = clamp32(acc + b); p = v * m (exact: |p| < 2^62);
  // rounding_right_shift(p, sh) = sign(p) * ((|p| + 2^(sh-1)) >> sh), which is its
  // (|p| >> sh) + bit_{sh-1}(|p|) form without overflow since |p| + 2^62 < 2^63; then the
  // output clamp (inside int32, so saturate_int32 is implied). Checked against the scalar
  // fixed/ path by tests/int8/test_int8_kernels.cpp.
  {
    const __m512i vb = _mm512_set1_epi64(b), vm = _mm512_set1_epi64(m);
    const __m512i i32lo = _mm512_set1_epi64(std::numeric_limits<std::int32_t>::min());
    const __m512i i32hi = _mm512_set1_epi64(std::numeric_limits<std::int32_t>::max());
    const __m512i vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    const __m512i half = _mm512_set1_epi64(sh > 0 ? static_cast<long long>(std::uint64_t{1} << (sh - 1)) : 0);
    const __m128i cnt = _mm_cvtsi32_si128(sh);
    const __m512i zero = _mm512_setzero_si512();
    auto eight = [&](__m256i a32) {
      __m512i v = _mm512_add_epi64(_mm512_cvtepi32_epi64(a32), vb);
      v = _mm512_min_epi64(_mm512_max_epi64(v, i32lo), i32hi);
      const __m512i p = _mm512_mul_epi32(v, vm);
      const __mmask8 neg = _mm512_cmplt_epi64_mask(p, zero);
      __m512i r = _mm512_srl_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), cnt);
      r = _mm512_mask_sub_epi64(r, neg, zero, r);
      return _mm512_min_epi64(_mm512_max_epi64(r, vlo), vhi);
    };
    if constexpr (!std::is_same_v<TO, std::int32_t>) {
      // 16 lanes for 8-bit outputs: magnitudes through the unsigned 32x32->64 multiply
      // (|v| <= 2^31 fits u32, so even INT_MIN is exact), even and odd lanes separately, then
      // the sign back and the output clamp in int32 lanes. Magnitudes are capped at 2^31 - 1
      // first, which changes nothing once the result is clamped to an 8-bit range.
      const __m512i lim = _mm512_set1_epi32(b >= 0 ? static_cast<std::int32_t>(std::numeric_limits<std::int32_t>::max() - b)
                                                   : static_cast<std::int32_t>(std::numeric_limits<std::int32_t>::min() - b));
      const __m512i b32 = _mm512_set1_epi32(static_cast<std::int32_t>(b)), m32 = _mm512_set1_epi64(m);
      const __m512i cap = _mm512_set1_epi64(std::numeric_limits<std::int32_t>::max());
      const __m512i lo32 = _mm512_set1_epi32(lo), hi32 = _mm512_set1_epi32(hi);
      const __m512i zero32 = _mm512_setzero_si512();
      auto magnitude = [&](__m512i a) {  // min((a_lo32 * m + half) >> sh, 2^31 - 1) per int64 lane
        return _mm512_min_epu64(_mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(a, m32), half), cnt), cap);
      };
      for (; j + 16 <= n; j += 16) {
        __m512i v = _mm512_loadu_si512(acc + j);
        // saturate_int32(acc + b) without widening: clip acc to where the add cannot overflow.
        v = _mm512_add_epi32(b >= 0 ? _mm512_min_epi32(v, lim) : _mm512_max_epi32(v, lim), b32);
        const __mmask16 neg = _mm512_cmplt_epi32_mask(v, zero32);
        const __m512i a = _mm512_abs_epi32(v);
        const __m512i re = magnitude(a), ro = magnitude(_mm512_srli_epi64(a, 32));
        __m512i r = _mm512_mask_blend_epi32(0xAAAA, re, _mm512_slli_epi64(ro, 32));
        r = _mm512_mask_sub_epi32(r, neg, zero32, r);
        r = _mm512_min_epi32(_mm512_max_epi32(r, lo32), hi32);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm512_cvtepi32_epi8(r));
      }
    }
    for (; j + 8 <= n; j += 8) {
      const __m512i r = eight(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j)));
      if constexpr (std::is_same_v<TO, std::int32_t>)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm512_cvtepi64_epi32(r));
      else
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + j), _mm512_cvtepi64_epi8(r));
    }
  }
#endif
  for (; j < n; ++j) {
    const std::int32_t v = fixed::saturate_int32(static_cast<std::int64_t>(acc[j]) + b);
    out[j] = static_cast<TO>(fixed::clamp_to(fixed::multiply_by_quantized_multiplier(v, m, sh), lo, hi));
  }
}

// out[j] = clamp(rounding_right_shift(acc[j], sh), lo, hi) for int64 sums with |acc| < 2^62
// (Eltwise SUM: sum of q_i * m_i). Same vector form as requant_row.
template <Int8Output TO>
inline void round_shift_row(const std::int64_t* acc, int64_t n, int sh, std::int32_t lo, std::int32_t hi, TO* out) {
  int64_t j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  {
    const __m512i vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    const __m512i half = _mm512_set1_epi64(sh > 0 ? static_cast<long long>(std::uint64_t{1} << (sh - 1)) : 0);
    const __m128i cnt = _mm_cvtsi32_si128(sh);
    const __m512i zero = _mm512_setzero_si512();
    for (; j + 8 <= n; j += 8) {
      const __m512i p = _mm512_loadu_si512(acc + j);
      const __mmask8 neg = _mm512_cmplt_epi64_mask(p, zero);
      __m512i r = _mm512_srl_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), cnt);
      r = _mm512_mask_sub_epi64(r, neg, zero, r);
      r = _mm512_min_epi64(_mm512_max_epi64(r, vlo), vhi);
      if constexpr (std::is_same_v<TO, std::int32_t>)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm512_cvtepi64_epi32(r));
      else
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + j), _mm512_cvtepi64_epi8(r));
    }
  }
#endif
  for (; j < n; ++j)
    out[j] = static_cast<TO>(fixed::clamp_to<std::int64_t>(fixed::rounding_right_shift(acc[j], sh), lo, hi));
}

// im2col for the common "same" stride-1 case (out = in size, dilation 1): each column row is
// the input plane shifted by (kh - pad_top, kw - pad_left), so the valid rows are one
// contiguous copy; only the wrapped-around edge columns are zeroed afterwards. Avoids the
// per-output-row copies of the generic im2col, which dominate on small planes (28x28, 7x7).
inline bool same_stride1(const Conv2dParams& p, const Conv2dShape& s) {
  return p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 && s.out_h == s.in_h &&
         s.out_w == s.in_w && p.pad_top < p.kernel_h && p.pad_left < p.kernel_w;
}

template <typename T>
void im2col_same_s1(const Conv2dParams& p, const Conv2dShape& s, const T* im, T* col, int64_t c) {
  const int64_t H = s.in_h, W = s.in_w, plane = H * W;
  const T* src = im + c * plane;
  for (int64_t kh = 0; kh < p.kernel_h; ++kh)
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      T* dst = col + ((c * p.kernel_h + kh) * p.kernel_w + kw) * plane;
      const int64_t dy = kh - p.pad_top, dx = kw - p.pad_left;
      const int64_t oh_lo = std::clamp<int64_t>(-dy, 0, H), oh_hi = std::clamp<int64_t>(H - dy, oh_lo, H);
      // Only call fill when there is something to clear: these rows are a few dozen bytes and
      // an empty memset call per tap and channel cost ~15 % of resnet8's int8 convs.
      if (oh_lo > 0) std::fill(dst, dst + oh_lo * W, T(0));
      if (oh_hi < H) std::fill(dst + oh_hi * W, dst + plane, T(0));
      if (oh_hi <= oh_lo) continue;
      const int64_t off = dy * W + dx;
      const int64_t a = std::max(oh_lo * W, -off), b = std::min(oh_hi * W, plane - off);
      if (b > a) std::memcpy(dst + a, src + a + off, static_cast<size_t>(b - a) * sizeof(T));
      // Columns whose source lies outside the row (and the clipped ends above) are padding.
      const int64_t zlo = std::clamp<int64_t>(-dx, 0, W), zhi = std::clamp<int64_t>(W - dx, 0, W);
      for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
        T* r = dst + oh * W;
        for (int64_t ow = 0; ow < zlo; ++ow) r[ow] = T(0);
        for (int64_t ow = zhi; ow < W; ++ow) r[ow] = T(0);
      }
    }
}

// acc[ow] += w * r[ow] for ow in [lo, hi). Separate restrict pointers: an int8/uint8 pointer
// may alias anything, which otherwise keeps the compiler from vectorising the loop.
template <Int8Activation TI>
inline void tap_row(std::int32_t* __restrict acc, const TI* __restrict r, std::int32_t w, int64_t lo, int64_t hi) {
  for (int64_t ow = lo; ow < hi; ++ow) acc[ow] += w * static_cast<std::int32_t>(r[ow]);
}

}  // namespace int8_conv_detail

namespace reference {

// Output codes of an int8 convolution: in [N, C, H, W] codes, w [O, C/group, kh, kw] int8.
template <Int8Activation TI, Int8Output TO>
void conv2d_s8(const Conv2dParams& p, const Conv2dShape& s, const TI* in, const std::int8_t* w,
               const Int8Requant& rq, TO* out) {
  const int64_t cin_g = s.in_c / p.group, cout_g = s.out_c / p.group;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.out_c; ++o) {
      const int64_t g = o / cout_g;
      for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          std::int32_t acc = 0;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t kh = 0; kh < p.kernel_h; ++kh)
              for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                const int64_t c = g * cin_g + ci;
                acc += static_cast<std::int32_t>(in[((n * s.in_c + c) * s.in_h + ih) * s.in_w + iw]) *
                       static_cast<std::int32_t>(w[((o * cin_g + ci) * p.kernel_h + kh) * p.kernel_w + kw]);
              }
          out[((n * s.out_c + o) * s.out_h + oh) * s.out_w + ow] = static_cast<TO>(rq.apply(acc, o));
        }
    }
}

// in [batch, K] codes, w [M, K] int8 -> out [batch, M].
template <Int8Activation TI, Int8Output TO>
void inner_product_s8(int64_t batch, int64_t K, int64_t M, const TI* in, const std::int8_t* w,
                      const Int8Requant& rq, TO* out) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t m = 0; m < M; ++m) {
      std::int32_t acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<std::int32_t>(in[b * K + k]) * static_cast<std::int32_t>(w[m * K + k]);
      out[b * M + m] = static_cast<TO>(rq.apply(acc, m));
    }
}

}  // namespace reference

class Int8Conv2d {
 public:
  // w: [O, C/group, kh, kw] int8 (copied and packed here).
  void setup(const Conv2dParams& p, const Conv2dShape& s, const std::int8_t* w, Int8Requant rq) {
    p_ = p;
    s_ = s;
    rq_ = std::move(rq);
    rq_.check(s.out_c);
    algo_ = conv2d_algo(p, s);
    // A second setup must not keep the last one's kernel or buffers.
    direct_ = dw_vbmi_ = tap_quad_ = false;
    packed_.clear();
    wdw_.clear();
    col_.clear();
    const int64_t cin_g = s.in_c / p.group, cout_g = s.out_c / p.group;
    const int64_t kg = cin_g * p.kernel_h * p.kernel_w;
    if (kg * 255 * 128 >= (int64_t{1} << 31))
      throw UnsupportedError("int8 convolution: reduction length " + std::to_string(kg) +
                             " could overflow the int32 accumulator");
    if (algo_ == Conv2dAlgo::Depthwise) {
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
      dw_vbmi_ = int8_direct::depthwise_applies(p, s);
      if (dw_vbmi_) {
        dw_.setup(p, s, w);
        return;
      }
#endif
      wdw_.assign(w, w + s.out_c * p.kernel_h * p.kernel_w);
      return;
    }
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
    tap_quad_ = algo_ == Conv2dAlgo::Im2colGemm && int8_direct::tap_quad_applies(p, s);
    if (tap_quad_) {
      tq_.setup(p, s, w);
      return;
    }
#endif
#if defined(OCTET_INT8_DIRECT)
    direct_ = algo_ == Conv2dAlgo::Im2colGemm && int8_direct::applies(p, s);
    if (direct_) {
      direct_conv_.setup(p, s, w);
      return;
    }
#endif
    packed_.resize(static_cast<size_t>(p.group));
    for (int64_t g = 0; g < p.group; ++g) packed_[static_cast<size_t>(g)].pack(w + g * cout_g * kg, cout_g, kg);
    if (algo_ == Conv2dAlgo::Im2colGemm)
      col_.resize(static_cast<size_t>(s.in_c * p.kernel_h * p.kernel_w * s.out_h * s.out_w));
  }

  const Conv2dShape& shape() const { return s_; }
  Conv2dAlgo algo() const { return algo_; }
  bool direct() const { return direct_; }
  bool depthwise_vbmi() const { return dw_vbmi_; }
  bool tap_quad() const { return tap_quad_; }
  const Int8Requant& requant() const { return rq_; }

  template <Int8Activation TI, Int8Output TO>
  void forward(const TI* in, TO* out) {
    const Conv2dShape& s = s_;
    const int64_t ipl = s.in_h * s.in_w, opl = s.out_h * s.out_w;
    if (algo_ == Conv2dAlgo::Depthwise) {
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
      if (dw_vbmi_) {
        dw_.run(in, [&](int64_t n, int64_t c, const std::int32_t* acc) {
          int8_conv_detail::requant_row(rq_, c, acc, opl, out + (n * s.out_c + c) * opl);
        });
        return;
      }
#endif
      depthwise(in, out);
      return;
    }
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
    if (tap_quad_) {
      tq_.run(in, [&](int64_t n, const std::int32_t* acc) {
        for (int64_t m = 0; m < s.out_c; ++m)
          int8_conv_detail::requant_row(rq_, m, acc + m * tq_.channel_stride(), opl, out + (n * s.out_c + m) * opl);
      });
      return;
    }
#endif
#if defined(OCTET_INT8_DIRECT)
    if (direct_) {
      direct_conv_.run(in, 0, s.batch, [&](int64_t n, int64_t m, int64_t px0, int64_t cnt, const std::int32_t* acc) {
        int8_conv_detail::requant_row(rq_, m, acc, cnt, out + (n * s.out_c + m) * opl + px0);
      });
      return;
    }
#endif
    const int64_t cin_g = s.in_c / p_.group, cout_g = s.out_c / p_.group;
    const int64_t kg = cin_g * p_.kernel_h * p_.kernel_w;
    for (int64_t n = 0; n < s.batch; ++n) {
      const TI* img = in + n * s.in_c * ipl;
      const TI* B = img;
      if (algo_ == Conv2dAlgo::Im2colGemm) {
        TI* col = reinterpret_cast<TI*>(col_.data());
        Im2colGeometry g{s.in_c, s.in_h, s.in_w, p_.kernel_h, p_.kernel_w, p_.pad_top, p_.pad_left,
                         p_.stride_h, p_.stride_w, p_.dilation_h, p_.dilation_w, s.out_h, s.out_w};
        if (int8_conv_detail::same_stride1(p_, s))
          parallel_for(0, s.in_c, [&](int64_t c) { int8_conv_detail::im2col_same_s1(p_, s, img, col, c); }, 8);
        else
          parallel_for(0, s.in_c, [&](int64_t c) { im2col(g, img, col, c, c + 1); }, 8);
        B = col;
      }
      TO* o = out + n * s.out_c * opl;
      for (int64_t g = 0; g < p_.group; ++g) {
        const int64_t c0 = g * cout_g;
        gemm_s8(packed_[static_cast<size_t>(g)], B + g * kg * opl, opl, opl,
                [&](int64_t m, int64_t n0, int64_t cnt, const std::int32_t* acc) {
                  int8_conv_detail::requant_row(rq_, c0 + m, acc, cnt, o + (c0 + m) * opl + n0);
                });
      }
    }
  }

 private:
  template <Int8Activation TI, Int8Output TO>
  void depthwise(const TI* in, TO* out) {
    const Conv2dShape& s = s_;
    const Conv2dParams& p = p_;
    const int64_t mult = s.out_c / s.in_c;
    const int64_t ipl = s.in_h * s.in_w, opl = s.out_h * s.out_w;
    const int64_t KH = p.kernel_h, KW = p.kernel_w, W = s.in_w, OW = s.out_w;
    parallel_for(0, s.batch * s.out_c, [&](int64_t i) {
      const int64_t n = i / s.out_c, o = i % s.out_c;
      const TI* plane = in + (n * s.in_c + o / mult) * ipl;
      const std::int8_t* w = wdw_.data() + o * KH * KW;
      TO* op = out + (n * s.out_c + o) * opl;
      std::int32_t* acc = int8_gemm_detail::thread_buffer<std::int32_t>(static_cast<size_t>(OW + 2 + 6 * KW));
      // Per kernel column: input offset and the output range it covers (same for every row).
      int64_t* offs = reinterpret_cast<int64_t*>(acc + ((OW + 1) & ~int64_t{1}));
      for (int64_t kw = 0; kw < KW; ++kw) {
        offs[3 * kw] = kw * p.dilation_w - p.pad_left;
        valid_output_range(offs[3 * kw], p.stride_w, W, OW, offs[3 * kw + 1], offs[3 * kw + 2]);
      }
      // Stride 1: columns whose every tap is inside the row take all taps in one pass, 16
      // outputs at a time in registers; the rest go tap by tap below.
      int64_t ilo = 0, ihi = OW;
      for (int64_t kw = 0; kw < KW; ++kw) ilo = std::max(ilo, offs[3 * kw + 1]), ihi = std::min(ihi, offs[3 * kw + 2]);
      const bool fused = p.stride_w == 1 && ihi - ilo >= 16;
      const int64_t fhi = fused ? ilo + (ihi - ilo) / 16 * 16 : ilo;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        std::fill(acc, acc + OW, 0);
        if (fused) {
          for (int64_t ow0 = ilo; ow0 < fhi; ow0 += 16) {
            std::int32_t v[16] = {};
            for (int64_t kh = 0; kh < KH; ++kh) {
              const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              if (ih < 0 || ih >= s.in_h) continue;
              const TI* row = plane + ih * W + ow0;
              for (int64_t kw = 0; kw < KW; ++kw) {
                const std::int32_t wv = w[kh * KW + kw];
                const TI* r = row + offs[3 * kw];
                for (int j = 0; j < 16; ++j) v[j] += wv * static_cast<std::int32_t>(r[j]);
              }
            }
            std::memcpy(acc + ow0, v, sizeof v);
          }
        }
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= s.in_h) continue;
          const TI* row = plane + ih * W;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const std::int32_t wv = w[kh * KW + kw];
            const int64_t off = offs[3 * kw], lo = offs[3 * kw + 1], hi = offs[3 * kw + 2];
            if (p.stride_w == 1) {
              // Skip the columns the fused pass did.
              int8_conv_detail::tap_row(acc, row + off, wv, lo, std::min(hi, ilo));
              int8_conv_detail::tap_row(acc, row + off, wv, std::max(lo, fhi), hi);
            } else {
              for (int64_t ow = lo; ow < hi; ++ow)
                acc[ow] += wv * static_cast<std::int32_t>(row[ow * p.stride_w + off]);
            }
          }
        }
        int8_conv_detail::requant_row(rq_, o, acc, OW, op + oh * OW);
      }
    }, 2);
  }

  Conv2dParams p_;
  Conv2dShape s_;
  Int8Requant rq_;
  Conv2dAlgo algo_ = Conv2dAlgo::Im2colGemm;
  bool direct_ = false;
  bool dw_vbmi_ = false;
  bool tap_quad_ = false;
#if defined(OCTET_INT8_DIRECT)
  int8_direct::Conv direct_conv_;
#endif
#if defined(OCTET_INT8_DEPTHWISE_VBMI)
  int8_direct::Depthwise dw_;
  int8_direct::TapQuadConv tq_;
#endif
  std::vector<PackedInt8A> packed_;
  std::vector<std::int8_t> wdw_;
  std::vector<std::uint8_t> col_;  // im2col buffer, reinterpreted as the input code type
};

class Int8InnerProduct {
 public:
  // w: [M, K] int8, or [K, M] when transpose is true (Caffe inner_product_param.transpose).
  void setup(int64_t batch, int64_t K, int64_t M, const std::int8_t* w, bool transpose, Int8Requant rq) {
    batch_ = batch, K_ = K, M_ = M;
    rq_ = std::move(rq);
    rq_.check(M);
    if (K * 255 * 128 >= (int64_t{1} << 31))
      throw UnsupportedError("int8 inner product: reduction length " + std::to_string(K) +
                             " could overflow the int32 accumulator");
    std::vector<std::int8_t> wm(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) wm[static_cast<size_t>(m * K + k)] = transpose ? w[k * M + m] : w[m * K + k];
    packed_.pack(wm.data(), M, K);
    bt_.resize(static_cast<size_t>(K * batch));
  }

  template <Int8Activation TI, Int8Output TO>
  void forward(const TI* in, TO* out) {
    TI* bt = reinterpret_cast<TI*>(bt_.data());
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t k = 0; k < K_; ++k) bt[k * batch_ + b] = in[b * K_ + k];
    const int64_t M = M_;
    gemm_s8(packed_, static_cast<const TI*>(bt), batch_, batch_,
            [&](int64_t m, int64_t n0, int64_t cnt, const std::int32_t* acc) {
              TO tmp[int8_gemm_detail::kNR];
              int8_conv_detail::requant_row(rq_, m, acc, cnt, tmp);
              for (int64_t j = 0; j < cnt; ++j) out[(n0 + j) * M + m] = tmp[j];
            });
  }

 private:
  int64_t batch_ = 0, K_ = 0, M_ = 0;
  Int8Requant rq_;
  PackedInt8A packed_;
  std::vector<std::uint8_t> bt_;
};

}  // namespace octet::kernels

// The fp32 convolution GEMM: C[M x N] = act(A[M x K] * B[K x N] + bias), A the conv weights
// packed once at build (pack_a), B the im2col matrix or, for 1x1 convs, the input itself
// (row-major, row pitch ldb), C the output planes. Unlike a general GEMM it never packs the
// weights per call and only copies B in small KC x NR panels (each reused by every weight
// block), starts the accumulators from the bias and applies the activation while
// the tile is still in L1, so conv + bias + activation is one pass over the output.
// Blocking: K in KC-deep slices (the NR-wide B panel of a slice stays in L1 while every
// MR-row block of weights streams past it from L2). Threads split the N tiles, or the M
// blocks when N is small (deep layers at batch 1).
// Available (kAvailable) with AVX-512F or AVX2+FMA; callers fall back to gemm.hpp otherwise.
// Depends on core/ and fused_activation.hpp only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <type_traits>

#include "octet/core/parallel.hpp"
#include "octet/kernels/fused_activation.hpp"

namespace octet::kernels::conv_gemm {

#if defined(__AVX512F__)
inline constexpr bool kAvailable = true;
inline constexpr int kVL = 16, kNV = 3;  // 8 x 3 accumulators of 32 registers
using Vec = __m512;
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec vset1(float x) { return _mm512_set1_ps(x); }
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm512_min_ps(a, b); }
inline Vec vleaky(Vec v, float slope) {  // v > 0 ? v : v * slope
  return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LE_OQ), v, _mm512_set1_ps(slope));
}
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr bool kAvailable = true;
inline constexpr int kVL = 8, kNV = 1;
using Vec = __m256;
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vset1(float x) { return _mm256_set1_ps(x); }
#else
inline constexpr bool kAvailable = false;
inline constexpr int kVL = 4, kNV = 1;
#endif

inline constexpr int64_t kMR = 8;              // weight rows per micro-tile
inline constexpr int64_t kNR = kVL * kNV;      // pixels per micro-tile
inline constexpr int64_t kKC = 128;            // K slice: a 16 KB B panel

inline int64_t m_blocks(int64_t M) { return (M + kMR - 1) / kMR; }
// Floats pack_a writes for an M x K matrix.
inline int64_t packed_a_size(int64_t M, int64_t K) { return m_blocks(M) * kMR * K; }

// out[(mb * K + k) * MR + i] = A[mb * MR + i][k], rows past M zero.
inline void pack_a(int64_t M, int64_t K, const float* A, int64_t lda, float* out) {
  for (int64_t mb = 0; mb < m_blocks(M); ++mb)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < kMR; ++i) {
        const int64_t m = mb * kMR + i;
        out[(mb * K + k) * kMR + i] = m < M ? A[m * lda + k] : 0.f;
      }
}

#if defined(__AVX512F__)
// The fused activation on one vector, for the AVX-512 depthwise kernel, which applies it in
// registers. The constant goes first: x86 min/max return their second operand when either is
// NaN, so NaN passes through as it does in bias_activation. The GEMM micro-kernels do not use
// it: with the activation in their epilogue GCC kept the accumulators in memory and stored
// them on every k step (2x slower); they store the tile and run bias_activation over it in L1.
inline Vec vactivate(Vec v, const FusedActivation& a) {
  switch (a.kind) {
    case FusedActivation::Kind::None: return v;
    case FusedActivation::Kind::Relu: return a.negative_slope == 0.f ? vmax(vset1(0.f), v) : vleaky(v, a.negative_slope);
    case FusedActivation::Kind::Relu6: return vmin(vset1(6.f), vmax(vset1(0.f), v));
    case FusedActivation::Kind::Clip: return vmin(vset1(a.max), vmax(vset1(a.min), v));
  }
  return v;
}
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// MR x NV*VL tile over kc rows. first: start from bias (or zero) instead of C.
template <int NV>
inline void micro(int64_t kc, const float* __restrict a, const float* __restrict b, int64_t ldb, float* c,
                  int64_t ldc, bool first, const float* bias) {
  constexpr int kNV = NV;
  Vec acc[kMR][kNV];
  for (int64_t i = 0; i < kMR; ++i)
    for (int v = 0; v < kNV; ++v)
      acc[i][v] = first ? vset1(bias ? bias[i] : 0.f) : vload(c + i * ldc + v * kVL);
  for (int64_t k = 0; k < kc; ++k) {
    Vec bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = vload(b + k * ldb + v * kVL);
    const float* ak = a + k * kMR;
#pragma GCC unroll 8
    for (int64_t i = 0; i < kMR; ++i) {
      const Vec w = vset1(ak[i]);
      for (int v = 0; v < kNV; ++v) acc[i][v] = vfma(w, bv[v], acc[i][v]);
    }
  }
  for (int64_t i = 0; i < kMR; ++i)
    for (int v = 0; v < kNV; ++v) vstore(c + i * ldc + v * kVL, acc[i][v]);
}
#endif

// Where column n of C lives. A plain matrix is one image (cols_per_image >= N); a convolution
// over a whole batch has columns image-major (n = image * pixels + pixel) and NCHW output, so
// column n of row m is at C + (n / cols_per_image) * image_stride + m * ldc + n % cols_per_image.
struct ColumnMap {
  int64_t cols_per_image = 0;
  int64_t image_stride = 0;
  int64_t ldc = 0;
};

// Calls f(j, offset, len) for the runs of tile columns [n0, n0 + nr) that stay in one image:
// tile column j maps to C + offset (row 0), for len columns.
template <typename F>
inline void for_each_column_run(const ColumnMap& cm, int64_t n0, int64_t nr, F&& f) {
  for (int64_t j = 0; j < nr;) {
    const int64_t n = n0 + j, img = n / cm.cols_per_image, px = n % cm.cols_per_image;
    const int64_t len = std::min(nr - j, cm.cols_per_image - px);
    f(j, img * cm.image_stride + px, len);
    j += len;
  }
}

// K slices of at most kKC, balanced (K = 144 runs as 72 + 72, not 128 + 16: every slice
// reloads and stores the C tile, so a thin last slice costs nearly as much as a full one).
inline int64_t k_slice(int64_t K) {
  const int64_t slices = (K + kKC - 1) / kKC;
  return (K + slices - 1) / slices;
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// M blocks [mb0, mb1) of one tile (columns [n0, n0 + nr)) over one K slice. compute(nv, ap, c,
// ldc, bias) runs the MR x nv*VL micro-kernel for weight block ap into c (from bias when
// `first`, else accumulating onto c); this function finds where the tile lives, goes through
// a local tile when it is partial or crosses an image, and applies the activation after the
// `last` slice. ap points at the block's first packed weight of the slice (k0).
template <typename Compute>
inline void tile_mblocks(int64_t M, int64_t K, const float* Ap, int64_t k0, int64_t n0, int64_t nr,
                         const float* bias, float* C, const ColumnMap& cm, const FusedActivation& act, int64_t mb0,
                         int64_t mb1, bool first, bool last, Compute&& compute) {
  alignas(64) float ct[kMR * kNR];
  alignas(64) float bpad[kMR];
  const int64_t px0 = n0 % cm.cols_per_image;
  const bool direct = nr == kNR && px0 + kNR <= cm.cols_per_image;
  const int64_t cbase = (n0 / cm.cols_per_image) * cm.image_stride + px0;
  for (int64_t mb = mb0; mb < mb1; ++mb) {
    const int64_t m0 = mb * kMR, mr = std::min(kMR, M - m0);
    const float* ap = Ap + (mb * K + k0) * kMR;
    const float* bias_p = bias ? bias + m0 : nullptr;
    if (bias && mr < kMR) {
      std::fill(bpad, bpad + kMR, 0.f);
      std::copy(bias + m0, bias + m0 + mr, bpad);
      bias_p = bpad;
    }
    if (direct && mr == kMR) {
      float* cp = C + cbase + m0 * cm.ldc;
      compute(kNV, ap, cp, cm.ldc, bias_p);
      if (last && act.kind != FusedActivation::Kind::None)
        for (int64_t i = 0; i < kMR; ++i) bias_activation(cp + i * cm.ldc, kNR, 0.f, act);
      continue;
    }
    if (!first)
      for_each_column_run(cm, n0, nr, [&](int64_t j, int64_t off, int64_t len) {
        for (int64_t i = 0; i < mr; ++i) {
          const float* src = C + off + (m0 + i) * cm.ldc;
          std::copy(src, src + len, ct + i * kNR + j);
        }
      });
    compute(static_cast<int>(std::min<int64_t>(kNV, (nr + kVL - 1) / kVL)), ap, ct, kNR, bias_p);
    if (last)
      for (int64_t i = 0; i < mr; ++i) bias_activation(ct + i * kNR, nr, 0.f, act);
    for_each_column_run(cm, n0, nr, [&](int64_t j, int64_t off, int64_t len) {
      for (int64_t i = 0; i < mr; ++i) std::copy(ct + i * kNR + j, ct + i * kNR + j + len, C + off + (m0 + i) * cm.ldc);
    });
  }
}

// The micro-kernel of width nv vectors (1 <= nv <= kNV) as a runtime choice.
template <typename F>
inline void with_width(int nv, F&& f) {
  if (nv >= kNV) f(std::integral_constant<int, kNV>{});
  else if (nv == 1) f(std::integral_constant<int, 1>{});
  else f(std::integral_constant<int, (kNV > 2 ? 2 : 1)>{});
}
#endif

// ---- Direct convolution -------------------------------------------------------------------
// Convolutions whose output rows are as wide as the rows they read, so B never needs im2col:
// with stride 1 and OW == W ("same" padding) output pixel n = oh * W + ow reads, for tap
// (kh, kw), input element n + dy * W + dx of each channel (dy = kh*dh - pad_top, dx likewise):
// a row of B is a slice of the input plane at a fixed offset, loaded with the lanes that fall
// into the padding masked to zero. With stride s the input is first split into s x s phase
// planes (rows ih = s*r + py, columns iw = s*c + px), each ceil(W/s) wide; when OW == ceil(W/s)
// (every "same" strided conv: 3x3 pad 1, 1x1 pad 0, 7x7 pad 3 at stride 2) a tap reads one
// phase plane at a fixed offset the same way. No im2col, no panel copy: at 16-64 channels
// im2col cost as much as the GEMM. AVX-512 only (masked loads never fault on masked-off lanes).
#if defined(__AVX512F__)
inline constexpr bool kDirectAvailable = true;
inline constexpr int kMaxTaps = 64;

// One kernel tap: the (phase) plane element read for output pixel (oh, ow) is (oh + dy,
// ow + dx), valid below (rows, cols); offset = plane offset + dy * out_w + dx.
struct DirectTap {
  int64_t dy = 0, dx = 0, rows = 0, cols = 0, offset = 0;
};

struct DirectGeometry {
  int64_t out_h = 0, out_w = 0;  // out_w is also the row pitch of the (phase) planes
  int64_t channel_stride = 0;    // floats between input channels
  int64_t taps = 0;              // in weight order (kh, kw)
  DirectTap tap[kMaxTaps];
};

// Per tile: each tap's input offset and, per vector of the tile, the lanes to load.
struct DirectTile {
  int64_t taps = 0;
  int64_t offset[kMaxTaps];
  __mmask16 mask[kMaxTaps][kNV];
};

// Output row and column of the 16 pixels n0 .. n0 + 15 of a plane out_w wide. n / out_w is
// exact: n < 2^24, so the float quotient is within half an ulp of the true one and
// floor((n + 0.5) / out_w) cannot cross an integer.
inline void pixel_coords(int64_t n0, int64_t out_w, __m512i& oh, __m512i& ow) {
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i n = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(n0)));
  // The maskz forms: GCC 12 warns that the plain ones' _mm512_undefined source is used
  // uninitialized when inlined into some callers (-Werror).
  const __m512 q = _mm512_div_ps(_mm512_add_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, n), _mm512_set1_ps(0.5f)),
                                 _mm512_set1_ps(static_cast<float>(out_w)));
  oh = _mm512_maskz_cvttps_epi32(0xFFFF, q);
  ow = _mm512_sub_epi32(n, _mm512_mullo_epi32(oh, _mm512_set1_epi32(static_cast<int>(out_w))));
}

// The lanes of `lanes` whose tap input (oh + dy, ow + dx) lies inside the tap's plane.
inline __mmask16 tap_mask(__mmask16 lanes, __m512i oh, __m512i ow, const DirectTap& tp) {
  const __m512i ih = _mm512_add_epi32(oh, _mm512_set1_epi32(static_cast<int>(tp.dy)));
  const __m512i iw = _mm512_add_epi32(ow, _mm512_set1_epi32(static_cast<int>(tp.dx)));
  __mmask16 m = _mm512_mask_cmpge_epi32_mask(lanes, ih, _mm512_setzero_si512());
  m = _mm512_mask_cmplt_epi32_mask(m, ih, _mm512_set1_epi32(static_cast<int>(tp.rows)));
  m = _mm512_mask_cmpge_epi32_mask(m, iw, _mm512_setzero_si512());
  return _mm512_mask_cmplt_epi32_mask(m, iw, _mm512_set1_epi32(static_cast<int>(tp.cols)));
}

// Offsets and masks for pixels [n0, n0 + nr) of the output plane.
inline void direct_tile(const DirectGeometry& g, int64_t n0, int64_t nr, DirectTile& t) {
  t.taps = g.taps;
  __m512i oh[kNV], ow[kNV];
  __mmask16 in_tile[kNV];
  for (int v = 0; v < kNV; ++v) {
    pixel_coords(n0 + v * kVL, g.out_w, oh[v], ow[v]);
    const int64_t lanes = std::clamp<int64_t>(nr - v * kVL, 0, kVL);
    in_tile[v] = static_cast<__mmask16>(lanes >= 16 ? 0xFFFFu : (1u << lanes) - 1u);
  }
  for (int64_t k = 0; k < g.taps; ++k) {
    t.offset[k] = g.tap[k].offset;
    for (int v = 0; v < kNV; ++v) t.mask[k][v] = tap_mask(in_tile[v], oh[v], ow[v], g.tap[k]);
  }
}

// MR x NV*16 tile: c = bias + sum over channels and taps of weights (packed, k = ch*taps + tap)
// times the input at `in` (the tile's first pixel of channel 0) + ch*plane + tap offset.
template <int NV>
inline void micro_direct(int64_t channels, int64_t plane, const DirectTile& t, const float* __restrict a,
                         const float* in, float* c, int64_t ldc, const float* bias) {
  Vec acc[kMR][NV];
  for (int64_t i = 0; i < kMR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = vset1(bias ? bias[i] : 0.f);
  for (int64_t ch = 0; ch < channels; ++ch, in += plane) {
    for (int64_t tap = 0; tap < t.taps; ++tap, a += kMR) {
      const float* src = in + t.offset[tap];
      Vec x[NV];
      for (int v = 0; v < NV; ++v) x[v] = _mm512_maskz_loadu_ps(t.mask[tap][v], src + v * kVL);
#pragma GCC unroll 8
      for (int64_t i = 0; i < kMR; ++i) {
        const Vec w = vset1(a[i]);
        for (int v = 0; v < NV; ++v) acc[i][v] = vfma(w, x[v], acc[i][v]);
      }
    }
  }
  for (int64_t i = 0; i < kMR; ++i)
    for (int v = 0; v < NV; ++v) vstore(c + i * ldc + v * kVL, acc[i][v]);
}

// Tiles [t0, t1) of one image's output plane (out_h * out_w pixels), M blocks [mb0, mb1).
// `in` is the image's input as g describes it (phase planes for strided convs), `C` its
// output; Ap from pack_a with K = channels * taps.
inline void run_direct_range(const DirectGeometry& g, int64_t channels, int64_t M, const float* Ap, const float* in,
                             const float* bias, float* C, const FusedActivation& act, int64_t mb0, int64_t mb1,
                             int64_t t0, int64_t t1) {
  const int64_t opl = g.out_h * g.out_w, K = channels * g.taps;
  const ColumnMap cm{opl, 0, opl};
  DirectTile dt;
  auto tile = [&](int64_t t, int64_t b0, int64_t b1) {
    const int64_t n0 = t * kNR, nr = std::min(kNR, opl - n0);
    direct_tile(g, n0, nr, dt);
    tile_mblocks(M, K, Ap, 0, n0, nr, bias, C, cm, act, b0, b1, true, true,
                 [&](int nv, const float* ap, float* c, int64_t ldc, const float* b) {
                   with_width(nv, [&](auto w) {
                     micro_direct<decltype(w)::value>(channels, g.channel_stride, dt, ap, in + n0, c, ldc, b);
                   });
                 });
  };
  // Weights past ~512 KB (resnet18's 512-channel layers: 9 MB) do not stay in L2 from one tile
  // to the next, so then each weight block goes through every tile before the next block.
  if (M * K * static_cast<int64_t>(sizeof(float)) > (int64_t{512} << 10)) {
    for (int64_t mb = mb0; mb < mb1; ++mb)
      for (int64_t t = t0; t < t1; ++t) tile(t, mb, mb + 1);
  } else {
    for (int64_t t = t0; t < t1; ++t) tile(t, mb0, mb1);
  }
}
#else
inline constexpr bool kDirectAvailable = false;
inline constexpr int kMaxTaps = 0;
#endif

// C = act(A * B + bias); Ap from pack_a(M, K, ...); bias has M values or is null; column n
// of C where cm puts it. Rows [m0, m1) of blocks and tiles [t0, t1) of N, for one thread.
inline void run_range(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, const float* bias,
                      float* C, const ColumnMap& cm, const FusedActivation& act, int64_t mb0, int64_t mb1, int64_t t0,
                      int64_t t1) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  alignas(64) float bt[kKC * kNR];  // the tile's B panel, contiguous, zero-padded past N
  const int64_t kstep = k_slice(K);
  for (int64_t k0 = 0; k0 < K; k0 += kstep) {
    const int64_t kc = std::min(kstep, K - k0);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * kNR, nr = std::min(kNR, N - n0);
      // Copy the kc x NR panel out of B once per tile: B's rows are ldb apart, and with ldb a
      // multiple of a large power of two the panel's lines fall into a few L1 sets and evict
      // each other on every M block; contiguous, it stays in L1 for all of them.
      const float* src = B + k0 * ldb + n0;
      if (nr == kNR) {
        for (int64_t k = 0; k < kc; ++k)
          for (int v = 0; v < kNV; ++v) vstore(bt + k * kNR + v * kVL, vload(src + k * ldb + v * kVL));
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          std::memcpy(bt + k * kNR, src + k * ldb, static_cast<size_t>(nr) * sizeof(float));
          std::memset(bt + k * kNR + nr, 0, static_cast<size_t>(kNR - nr) * sizeof(float));
        }
      }
      const bool first = k0 == 0;
      tile_mblocks(M, K, Ap, k0, n0, nr, bias, C, cm, act, mb0, mb1, first, k0 + kc >= K,
                   [&](int nv, const float* ap, float* c, int64_t ldc, const float* b) {
                     with_width(nv, [&](auto w) { micro<decltype(w)::value>(kc, ap, bt, kNR, c, ldc, first, b); });
                   });
    }
  }
#else
  (void)M, (void)N, (void)K, (void)Ap, (void)B, (void)ldb, (void)bias, (void)C, (void)cm, (void)act;
  (void)mb0, (void)mb1, (void)t0, (void)t1;
#endif
}

// The whole product; with parallel, split across octet threads (N tiles when there are enough,
// else M blocks).
inline void run(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, const float* bias,
                float* C, const ColumnMap& cm, const FusedActivation& act, bool parallel) {
  if (M <= 0 || N <= 0) return;
  const int64_t mbs = m_blocks(M), tiles = (N + kNR - 1) / kNR;
  const int64_t threads = parallel ? num_threads() : 1;
  // Below ~1M MACs per thread waking the workers (passive wait) costs more than it saves:
  // resnet8's batch-1 layers (~2M MACs) ran slower on 2 threads than on 1.
  if (threads <= 1 || M * N * K < (int64_t{1} << 20) * threads) {
    run_range(M, N, K, Ap, B, ldb, bias, C, cm, act, 0, mbs, 0, tiles);
    return;
  }
  if (tiles >= 4 * threads || mbs < threads) {
    parallel_for(0, threads, [&](int64_t w) {
      const int64_t a = tiles * w / threads, b = tiles * (w + 1) / threads;
      run_range(M, N, K, Ap, B, ldb, bias, C, cm, act, 0, mbs, a, b);
    });
  } else {
    parallel_for(0, threads, [&](int64_t w) {
      const int64_t a = mbs * w / threads, b = mbs * (w + 1) / threads;
      run_range(M, N, K, Ap, B, ldb, bias, C, cm, act, a, b, 0, tiles);
    });
  }
}

// A plain row-major C with row pitch ldc.
inline void run(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, const float* bias,
                float* C, int64_t ldc, const FusedActivation& act, bool parallel) {
  run(M, N, K, Ap, B, ldb, bias, C, ColumnMap{N, 0, ldc}, act, parallel);
}

}  // namespace octet::kernels::conv_gemm

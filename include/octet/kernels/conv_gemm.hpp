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

// C = act(A * B + bias); Ap from pack_a(M, K, ...); bias has M values or is null.
// Rows [m0, m1) of blocks and tiles [t0, t1) of N, for one thread.
inline void run_range(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, const float* bias,
                      float* C, int64_t ldc, const FusedActivation& act, int64_t mb0, int64_t mb1, int64_t t0,
                      int64_t t1) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  alignas(64) float bt[kKC * kNR];   // zero-padded B panel for the last, partial N tile
  alignas(64) float ct[kMR * kNR];   // C tile for partial tiles
  alignas(64) float bpad[kMR];
  for (int64_t k0 = 0; k0 < K; k0 += kKC) {
    const int64_t kc = std::min(kKC, K - k0);
    const bool first = k0 == 0, last = k0 + kc >= K;
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
      const float* bp = bt;
      const int64_t bld = kNR;
      for (int64_t mb = mb0; mb < mb1; ++mb) {
        const int64_t m0 = mb * kMR, mr = std::min(kMR, M - m0);
        const float* ap = Ap + (mb * K + k0) * kMR;
        const float* bias_p = bias ? bias + m0 : nullptr;
        if (bias && mr < kMR) {
          std::fill(bpad, bpad + kMR, 0.f);
          std::copy(bias + m0, bias + m0 + mr, bpad);
          bias_p = bpad;
        }
        float* cp = C + m0 * ldc + n0;
        if (mr == kMR && nr == kNR) {
          micro<kNV>(kc, ap, bp, bld, cp, ldc, first, bias_p);
          if (last && act.kind != FusedActivation::Kind::None)
            for (int64_t i = 0; i < kMR; ++i) bias_activation(cp + i * ldc, kNR, 0.f, act);
          continue;
        }
        if (!first)
          for (int64_t i = 0; i < mr; ++i) std::copy(cp + i * ldc, cp + i * ldc + nr, ct + i * kNR);
        // The narrowest micro-kernel that covers the tile's columns.
        const int64_t nv = (nr + kVL - 1) / kVL;
        if (nv >= kNV) micro<kNV>(kc, ap, bp, bld, ct, kNR, first, bias_p);
        else if (nv == 1) micro<1>(kc, ap, bp, bld, ct, kNR, first, bias_p);
        else micro<(kNV > 2 ? 2 : 1)>(kc, ap, bp, bld, ct, kNR, first, bias_p);
        for (int64_t i = 0; i < mr; ++i) {
          if (last) bias_activation(ct + i * kNR, nr, 0.f, act);
          std::copy(ct + i * kNR, ct + i * kNR + nr, cp + i * ldc);
        }
      }
    }
  }
#else
  (void)M, (void)N, (void)K, (void)Ap, (void)B, (void)ldb, (void)bias, (void)C, (void)ldc, (void)act;
  (void)mb0, (void)mb1, (void)t0, (void)t1;
#endif
}

// The whole product; with parallel, split across octet threads (N tiles when there are enough,
// else M blocks).
inline void run(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, const float* bias,
                float* C, int64_t ldc, const FusedActivation& act, bool parallel) {
  if (M <= 0 || N <= 0) return;
  const int64_t mbs = m_blocks(M), tiles = (N + kNR - 1) / kNR;
  const int64_t threads = parallel ? num_threads() : 1;
  // Below ~1M MACs per thread waking the workers (passive wait) costs more than it saves:
  // resnet8's batch-1 layers (~2M MACs) ran slower on 2 threads than on 1.
  if (threads <= 1 || M * N * K < (int64_t{1} << 20) * threads) {
    run_range(M, N, K, Ap, B, ldb, bias, C, ldc, act, 0, mbs, 0, tiles);
    return;
  }
  if (tiles >= 4 * threads || mbs < threads) {
    parallel_for(0, threads, [&](int64_t w) {
      const int64_t a = tiles * w / threads, b = tiles * (w + 1) / threads;
      run_range(M, N, K, Ap, B, ldb, bias, C, ldc, act, 0, mbs, a, b);
    });
  } else {
    parallel_for(0, threads, [&](int64_t w) {
      const int64_t a = mbs * w / threads, b = mbs * (w + 1) / threads;
      run_range(M, N, K, Ap, B, ldb, bias, C, ldc, act, a, b, 0, tiles);
    });
  }
}

}  // namespace octet::kernels::conv_gemm

// Integer GEMM for the int8 runtime: C[M,N] (int32) = A[M,K] (int8 weights) x B[K,N] (int8 or
// uint8 activations), exact: every product and sum is an exact int32 (the caller keeps
// K * 255 * 128 < 2^31, i.e. K < 65793, which conv/FC layers always do).
//
//   reference::gemm_s8   the plain triple loop, the definition every fast path must equal.
//   PackedInt8A          weights packed once at layer build time (rows padded to kMR, K padded
//                        to 4, per-row sums for the unsigned-offset trick).
//   gemm_s8(A, B, ...)   the fast path; it packs one panel of kNR columns of B at a time into a
//                        per-thread buffer (L1-sized) and hands each finished int32 row segment to
//                        an epilogue (requantisation) so no M x N int32 matrix is materialised.
// Instruction set, chosen at compile time (the build uses -march=native):
//   __AVX512VNNI__ (+BW)   vpdpbusd on zmm: u8 x s8, 4 products per int32 lane, no saturation.
//                          int8 activations are offset to uint8 (x ^ 0x80 == x + 128) and the
//                          128 * rowsum(A) term is subtracted: exact in int32 wrap-around
//                          arithmetic, and the true result fits int32.
//   __AVXVNNI__            the same on ymm.
//   __AVX2__               vpmaddwd on int16-widened operands (pairs of K): |255*127*2| fits
//                          int32, nothing saturates. vpmaddubsw is NOT used: its int16 pair sum
//                          saturates (255*127*2 > 32767).
//   otherwise              a portable loop the compiler vectorises.
// Depends on core/parallel.hpp and the standard library only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"

#if defined(__AVX2__) || defined(__AVX512VNNI__) || defined(__AVXVNNI__)
#include <immintrin.h>
#endif

namespace octet::kernels {

template <typename T>
concept Int8Activation = std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t>;

namespace reference {

// C[m*ldc + n] = sum_k A[m*K + k] * B[k*ldb + n].
template <Int8Activation TB>
void gemm_s8(int64_t M, int64_t N, int64_t K, const std::int8_t* A, const TB* B, int64_t ldb,
             std::int32_t* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      std::int32_t acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<std::int32_t>(A[m * K + k]) * static_cast<std::int32_t>(B[k * ldb + n]);
      C[m * ldc + n] = acc;
    }
}

}  // namespace reference

namespace int8_gemm_detail {

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define OCTET_INT8_VNNI 1
#define OCTET_INT8_PATH "avx512-vnni"
inline constexpr int64_t kLanes = 16;  // int32 lanes of a zmm
#elif defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#define OCTET_INT8_VNNI 1
#define OCTET_INT8_PATH "avx-vnni"
inline constexpr int64_t kLanes = 8;
#elif defined(__AVX2__)
#define OCTET_INT8_AVX2 1
#define OCTET_INT8_PATH "avx2"
inline constexpr int64_t kLanes = 8;
#else
#define OCTET_INT8_PATH "portable"
inline constexpr int64_t kLanes = 16;
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
// 8 rows x 2 zmm: 16 independent accumulators keep both vpdpbusd ports busy through its
// latency (4 rows left them half idle). Paths with 16 vector registers keep 4 rows.
inline constexpr int64_t kMR = 8;
#else
inline constexpr int64_t kMR = 4;           // rows of A per micro-tile
#endif
inline constexpr int64_t kNR = 2 * kLanes;  // columns per panel (two vectors)

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace int8_gemm_detail

// Which instruction path gemm_s8 compiled to (for benchmark labels and logs).
inline const char* int8_gemm_path() { return OCTET_INT8_PATH; }

// Weights packed once at layer build time. VNNI paths keep int8 rows of Kp (K rounded up to 4)
// bytes; the AVX2 path keeps int16 rows; the portable path keeps the int8 rows as given.
class PackedInt8A {
 public:
  PackedInt8A() = default;
  PackedInt8A(const std::int8_t* a, int64_t M, int64_t K) { pack(a, M, K); }

  void pack(const std::int8_t* a, int64_t M, int64_t K) {
    using namespace int8_gemm_detail;
    M_ = M;
    K_ = K;
    Kp_ = round_up(std::max<int64_t>(K, 1), 4);
    Mp_ = round_up(std::max<int64_t>(M, 1), kMR);
    row_sum_.assign(static_cast<size_t>(Mp_), 0);
#if defined(OCTET_INT8_AVX2)
    a16_.assign(static_cast<size_t>(Mp_ * Kp_), 0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) a16_[static_cast<size_t>(m * Kp_ + k)] = a[m * K + k];
#else
    a8_.assign(static_cast<size_t>(Mp_ * Kp_), 0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) a8_[static_cast<size_t>(m * Kp_ + k)] = a[m * K + k];
#endif
    for (int64_t m = 0; m < M; ++m) {
      std::int32_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += a[m * K + k];
      row_sum_[static_cast<size_t>(m)] = s;
    }
  }

  int64_t rows() const { return M_; }
  int64_t depth() const { return K_; }
  int64_t padded_rows() const { return Mp_; }
  int64_t padded_depth() const { return Kp_; }
  const std::int8_t* a8() const { return a8_.data(); }
  const std::int16_t* a16() const { return a16_.data(); }
  const std::int32_t* row_sums() const { return row_sum_.data(); }

 private:
  int64_t M_ = 0, K_ = 0, Mp_ = 0, Kp_ = 0;
  std::vector<std::int8_t> a8_;
  std::vector<std::int16_t> a16_;
  std::vector<std::int32_t> row_sum_;
};

namespace int8_gemm_detail {

// A growing per-thread buffer: allocates only the first time a size is seen.
template <typename T>
T* thread_buffer(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

#if defined(__AVX2__)
// dst[4i + j] = rows[j][i] ^ flip for i < n: four byte rows interleaved into n quads (the
// 4-byte groups vpdpbusd reads), 16 columns per two rounds of byte/word unpacks.
inline void interleave4(const std::uint8_t* const rows[4], int64_t n, std::uint8_t flip, std::uint8_t* dst) {
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i r[4];
    for (int j = 0; j < 4; ++j) r[j] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[j] + i)), f);
    const __m128i t01l = _mm_unpacklo_epi8(r[0], r[1]), t01h = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i t23l = _mm_unpacklo_epi8(r[2], r[3]), t23h = _mm_unpackhi_epi8(r[2], r[3]);
    auto* o = reinterpret_cast<__m128i*>(dst + 4 * i);
    _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(t01l, t23l));
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(t01l, t23l));
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(t01h, t23h));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(t01h, t23h));
  }
  for (; i < n; ++i)
    for (int j = 0; j < 4; ++j) dst[4 * i + j] = static_cast<std::uint8_t>(rows[j][i] ^ flip);
}
#endif

#if defined(OCTET_INT8_VNNI)
// B panel [Kp/4][kNR][4] uint8: column n's K-quad k4 at (k4*kNR + n)*4. Signed inputs are
// offset by 128 (xor 0x80). Columns past `cols` and rows past K are 0 (A's pad is 0 too).
template <Int8Activation TB>
void pack_b_panel(const TB* B, int64_t ldb, int64_t K, int64_t Kp, int64_t n0, int64_t cols,
                  std::uint8_t* dst) {
  constexpr std::uint8_t flip = std::is_same_v<TB, std::int8_t> ? 0x80 : 0x00;
  if (cols < kNR || K != Kp) std::memset(dst, 0, static_cast<size_t>(Kp * kNR));
  int64_t k = 0;
#if defined(__AVX2__)
  if (cols == kNR) {
    for (; k + 4 <= K; k += 4) {
      const auto* b = reinterpret_cast<const std::uint8_t*>(B) + k * ldb + n0;
      const std::uint8_t* rows[4] = {b, b + ldb, b + 2 * ldb, b + 3 * ldb};
      interleave4(rows, kNR, flip, dst + (k / 4) * kNR * 4);
    }
  }
#endif
  for (; k < K; ++k) {
    const TB* row = B + k * ldb + n0;
    std::uint8_t* d = dst + (k / 4) * kNR * 4 + (k % 4);
    for (int64_t n = 0; n < cols; ++n) d[n * 4] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(row[n]) ^ flip);
  }
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
using Vec = __m512i;
inline Vec vzero() { return _mm512_setzero_si512(); }
inline Vec vload(const void* p) { return _mm512_loadu_si512(p); }
inline void vstore(void* p, Vec v) { _mm512_storeu_si512(p, v); }
inline Vec vbroadcast(std::int32_t x) { return _mm512_set1_epi32(x); }
inline Vec vdot(Vec acc, Vec u8, Vec s8) { return _mm512_dpbusd_epi32(acc, u8, s8); }
#elif defined(__AVXVNNI__)
using Vec = __m256i;
inline Vec vzero() { return _mm256_setzero_si256(); }
inline Vec vload(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void vstore(void* p, Vec v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
inline Vec vbroadcast(std::int32_t x) { return _mm256_set1_epi32(x); }
inline Vec vdot(Vec acc, Vec u8, Vec s8) { return _mm256_dpbusd_avx_epi32(acc, u8, s8); }
#else
using Vec = __m256i;
inline Vec vzero() { return _mm256_setzero_si256(); }
inline Vec vload(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void vstore(void* p, Vec v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
inline Vec vbroadcast(std::int32_t x) { return _mm256_set1_epi32(x); }
inline Vec vdot(Vec acc, Vec u8, Vec s8) { return _mm256_dpbusd_epi32(acc, u8, s8); }
#endif

// tile[r][0..kNR) = sum over the panel for rows m0..m0+kMR of A.
inline void micro_tile(const std::int8_t* a, int64_t Kp, const std::uint8_t* bp, std::int32_t* tile) {
  Vec c[kMR][2];
  for (int64_t r = 0; r < kMR; ++r) c[r][0] = c[r][1] = vzero();
  for (int64_t k = 0; k < Kp; k += 4, bp += kNR * 4) {
    const Vec b0 = vload(bp), b1 = vload(bp + kLanes * 4);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      std::int32_t w;
      std::memcpy(&w, a + r * Kp + k, 4);
      const Vec av = vbroadcast(w);
      c[r][0] = vdot(c[r][0], b0, av);
      c[r][1] = vdot(c[r][1], b1, av);
    }
  }
  for (int64_t r = 0; r < kMR; ++r) vstore(tile + r * kNR, c[r][0]), vstore(tile + r * kNR + kLanes, c[r][1]);
}
#elif defined(OCTET_INT8_AVX2)
// B panel [Kp/2][kNR][2] int16: column n's K-pair k2 at (k2*kNR + n)*2.
template <Int8Activation TB>
void pack_b_panel(const TB* B, int64_t ldb, int64_t K, int64_t Kp, int64_t n0, int64_t cols,
                  std::int16_t* dst) {
  if (cols < kNR || K != Kp) std::memset(dst, 0, static_cast<size_t>(Kp * kNR) * sizeof(std::int16_t));
  for (int64_t k = 0; k < K; ++k) {
    const TB* row = B + k * ldb + n0;
    std::int16_t* d = dst + (k / 2) * kNR * 2 + (k % 2);
    for (int64_t n = 0; n < cols; ++n) d[n * 2] = static_cast<std::int16_t>(row[n]);
  }
}

inline void micro_tile(const std::int16_t* a, int64_t Kp, const std::int16_t* bp, std::int32_t* tile) {
  __m256i c[kMR][2];
  for (auto& r : c) r[0] = r[1] = _mm256_setzero_si256();
  for (int64_t k = 0; k < Kp; k += 2, bp += kNR * 2) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 16));
    for (int64_t r = 0; r < kMR; ++r) {
      std::int32_t w;
      std::memcpy(&w, a + r * Kp + k, 4);
      const __m256i av = _mm256_set1_epi32(w);
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(b0, av));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(b1, av));
    }
  }
  for (int64_t r = 0; r < kMR; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kNR), c[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kNR + kLanes), c[r][1]);
  }
}
#endif

}  // namespace int8_gemm_detail

// The fast GEMM. For every row m < M and every panel of columns [n0, n0 + cnt) it calls
// epilogue(m, n0, cnt, acc) with acc[j] = C[m][n0 + j] (exact int32). Panels run in parallel
// (parallel_for), so the epilogue must only write its own (m, n0..n0+cnt) outputs.
template <Int8Activation TB, typename Epilogue>
void gemm_s8(const PackedInt8A& A, const TB* B, int64_t ldb, int64_t N, Epilogue&& epilogue) {
  using namespace int8_gemm_detail;
  const int64_t M = A.rows(), K = A.depth(), Kp = A.padded_depth();
  if (M == 0 || N == 0) return;
  const int64_t panels = (N + kNR - 1) / kNR;
#if defined(OCTET_INT8_VNNI) || defined(OCTET_INT8_AVX2)
  const int64_t min_chunk = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, M * Kp / 64));
  parallel_for(0, panels, [&](int64_t p) {
    const int64_t n0 = p * kNR, cnt = std::min(kNR, N - n0);
    alignas(64) std::int32_t tile[kMR * kNR];
#if defined(OCTET_INT8_VNNI)
    std::uint8_t* bp = thread_buffer<std::uint8_t>(static_cast<size_t>(Kp * kNR));
    pack_b_panel(B, ldb, K, Kp, n0, cnt, bp);
    const std::int8_t* a = A.a8();
#else
    std::int16_t* bp = thread_buffer<std::int16_t>(static_cast<size_t>(Kp * kNR));
    pack_b_panel(B, ldb, K, Kp, n0, cnt, bp);
    const std::int16_t* a = A.a16();
#endif
    for (int64_t m0 = 0; m0 < M; m0 += kMR) {
      micro_tile(a + m0 * Kp, Kp, bp, tile);
      const int64_t rows = std::min(kMR, M - m0);
      for (int64_t r = 0; r < rows; ++r) {
        std::int32_t* t = tile + r * kNR;
#if defined(OCTET_INT8_VNNI)
        if constexpr (std::is_same_v<TB, std::int8_t>) {
          // Undo the +128 offset: sum (b+128)a - 128 sum a. Wrap-around int32 is exact here.
          const std::uint32_t corr = static_cast<std::uint32_t>(A.row_sums()[m0 + r]) * 128u;
          for (int64_t j = 0; j < cnt; ++j)
            t[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(t[j]) - corr);
        }
#endif
        epilogue(m0 + r, n0, cnt, static_cast<const std::int32_t*>(t));
      }
    }
  }, min_chunk);
#else
  (void)Kp;
  parallel_for(0, panels, [&](int64_t p) {
    const int64_t n0 = p * kNR, cnt = std::min(kNR, N - n0);
    alignas(64) std::int32_t acc[kNR];
    for (int64_t m = 0; m < M; ++m) {
      std::fill(acc, acc + kNR, 0);
      const std::int8_t* a = A.a8() + m * A.padded_depth();
      for (int64_t k = 0; k < K; ++k) {
        const std::int32_t w = a[k];
        const TB* b = B + k * ldb + n0;
        for (int64_t j = 0; j < cnt; ++j) acc[j] += w * static_cast<std::int32_t>(b[j]);
      }
      epilogue(m, n0, cnt, static_cast<const std::int32_t*>(acc));
    }
  });
#endif
}

// Convenience form writing the int32 matrix C[m*ldc + n].
template <Int8Activation TB>
void gemm_s8(const PackedInt8A& A, const TB* B, int64_t ldb, int64_t N, std::int32_t* C, int64_t ldc) {
  gemm_s8(A, B, ldb, N, [&](int64_t m, int64_t n0, int64_t cnt, const std::int32_t* acc) {
    std::memcpy(C + m * ldc + n0, acc, static_cast<size_t>(cnt) * sizeof(std::int32_t));
  });
}

}  // namespace octet::kernels

// Row-major GEMM on raw pointers, C = alpha * op(A) * op(B) + beta * C, BLAS-style leading
// dimensions. The one matrix-multiply entry point of conv, deconv, inner product and matmul:
// Eigen maps over the caller's memory (no copies). gemm_parallel splits the output into
// per-thread blocks with octet::parallel_for because Eigen is built with EIGEN_DONT_PARALLELIZE.
// Depends on core/ and Eigen only.
#pragma once
// GCC 12.2 reports false -Wmaybe-uninitialized from its AVX-512 intrinsic header when Eigen's
// GEMM packing (ptranspose) is inlined (GCC bug 105593); the diagnostic is located in that
// header, so silencing it where the header is first parsed is enough.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <algorithm>
#include <cstdint>

#include "octet/core/parallel.hpp"

namespace octet::kernels {

namespace gemm_detail {
template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using CMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using MMap = Eigen::Map<RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <typename T, typename A, typename B, typename C>
void run(const A& a, const B& b, T alpha, T beta, C&& c) {
  if (beta == T(0)) {
    // beta == 0 must not read C: it may hold garbage (NaN) from a fresh buffer.
    if (alpha == T(1)) c.noalias() = a * b;
    else c.noalias() = alpha * (a * b);
  } else {
    if (beta != T(1)) c *= beta;
    if (alpha == T(1)) c.noalias() += a * b;
    else c.noalias() += alpha * (a * b);
  }
}
}  // namespace gemm_detail

// op(A) is M x K (A stored K x M when trans_a), op(B) is K x N (B stored N x K when trans_b).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  using namespace gemm_detail;
  if (M <= 0 || N <= 0) return;
  MMap<T> c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K <= 0) {
    if (beta == T(0)) c.setZero();
    else c *= beta;
    return;
  }
  const CMap<T> a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
  const CMap<T> b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
  // A single output row or column is a matrix-vector product: Eigen picks its GEMV kernel only
  // when the vector shape is known at compile time, so say so (batch-1 inner product, matmul
  // with a vector).
  if (M == 1) {
    auto crow = c.row(0);
    if (trans_a) {
      if (trans_b) run(a.col(0).transpose(), b.transpose(), alpha, beta, crow);
      else run(a.col(0).transpose(), b, alpha, beta, crow);
    } else {
      if (trans_b) run(a.row(0), b.transpose(), alpha, beta, crow);
      else run(a.row(0), b, alpha, beta, crow);
    }
    return;
  }
  if (N == 1) {
    auto ccol = c.col(0);
    if (trans_b) {
      if (trans_a) run(a.transpose(), b.row(0).transpose(), alpha, beta, ccol);
      else run(a, b.row(0).transpose(), alpha, beta, ccol);
    } else {
      if (trans_a) run(a.transpose(), b.col(0), alpha, beta, ccol);
      else run(a, b.col(0), alpha, beta, ccol);
    }
    return;
  }
  if (!trans_a && !trans_b) run(a, b, alpha, beta, c);
  else if (!trans_a && trans_b) run(a, b.transpose(), alpha, beta, c);
  else if (trans_a && !trans_b) run(a.transpose(), b, alpha, beta, c);
  else run(a.transpose(), b.transpose(), alpha, beta, c);
}

// Same contract as gemm; with more than one thread configured, splits C into row blocks (or
// column blocks when M is small) and runs one Eigen GEMM per block.
template <typename T>
void gemm_parallel(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t threads = num_threads();
  // Below ~64k MACs per thread the fork/join costs more than it saves.
  if (threads <= 1 || M * N * std::max<int64_t>(K, 1) < 65536 * threads) {
    gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = M >= N || M >= 8 * threads;
  const int64_t extent = split_rows ? M : N;
  const int64_t align = split_rows ? 4 : 16;
  int64_t chunk = (extent + threads - 1) / threads;
  chunk = (chunk + align - 1) / align * align;
  const int64_t blocks = (extent + chunk - 1) / chunk;
  parallel_for(0, blocks, [&](int64_t i) {
    const int64_t b0 = i * chunk, len = std::min(chunk, extent - b0);
    if (split_rows) {
      gemm(trans_a, trans_b, len, N, K, alpha, trans_a ? A + b0 : A + b0 * lda, lda, B, ldb, beta,
           C + b0 * ldc, ldc);
    } else {
      gemm(trans_a, trans_b, M, len, K, alpha, A, lda, trans_b ? B + b0 * ldb : B + b0, ldb, beta,
           C + b0, ldc);
    }
  });
}

namespace reference {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + m] : A[m * lda + k];
        const T b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
        acc += static_cast<double>(a) * static_cast<double>(b);
      }
      T& c = C[m * ldc + n];
      c = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : static_cast<double>(beta) * c));
    }
  }
}

}  // namespace reference
}  // namespace octet::kernels

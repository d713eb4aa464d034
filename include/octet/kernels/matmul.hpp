// numpy matmul of two tensors: rank >= 2 operands multiply their last two dims and broadcast
// the leading (batch) dims; a 1-D left operand is promoted to [1, K] and a 1-D right operand
// to [K, 1], the promoted dim being dropped from the result (both 1-D: a scalar, shape []).
// transpose_a / transpose_b swap the last two dims of a rank >= 2 operand before the product
// (ignored for 1-D operands, as transposing a vector is a no-op). One Eigen GEMM per batch.
// Depends on core/ and Eigen only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"
#include "octet/kernels/gemm.hpp"

namespace octet::kernels {

struct MatMulParams {
  bool transpose_a = false, transpose_b = false;
};

// Everything the kernel needs, derived once from the operand shapes.
struct MatMulPlan {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;  // effective (false for promoted 1-D operands)
  Shape batch;                            // broadcast batch dims of the output
  Shape a_batch, b_batch;                 // operand batch dims, left-padded with 1 to batch.size()
  Shape out_shape;
  int64_t batch_count() const { return shape_count(batch); }
};

inline MatMulPlan matmul_plan(const MatMulParams& p, const Shape& a, const Shape& b) {
  auto fail = [&](const std::string& m) {
    throw ShapeError("matmul " + shape_str(a) + " x " + shape_str(b) + ": " + m);
  };
  if (a.empty() || b.empty()) fail("operands must have rank >= 1");
  MatMulPlan pl;
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  pl.trans_a = !a1 && p.transpose_a;
  pl.trans_b = !b1 && p.transpose_b;
  const size_t ra = a.size(), rb = b.size();
  int64_t ka;
  if (a1) {
    pl.M = 1;
    ka = a[0];
  } else {
    pl.M = pl.trans_a ? a[ra - 1] : a[ra - 2];
    ka = pl.trans_a ? a[ra - 2] : a[ra - 1];
  }
  int64_t kb;
  if (b1) {
    pl.N = 1;
    kb = b[0];
  } else {
    pl.N = pl.trans_b ? b[rb - 2] : b[rb - 1];
    kb = pl.trans_b ? b[rb - 1] : b[rb - 2];
  }
  if (ka != kb) fail("inner dimensions " + std::to_string(ka) + " and " + std::to_string(kb) + " differ");
  pl.K = ka;
  const Shape abatch(a.begin(), a.end() - (a1 ? 1 : 2));
  const Shape bbatch(b.begin(), b.end() - (b1 ? 1 : 2));
  const size_t nb = std::max(abatch.size(), bbatch.size());
  pl.a_batch.assign(nb - abatch.size(), 1);
  pl.a_batch.insert(pl.a_batch.end(), abatch.begin(), abatch.end());
  pl.b_batch.assign(nb - bbatch.size(), 1);
  pl.b_batch.insert(pl.b_batch.end(), bbatch.begin(), bbatch.end());
  pl.batch.resize(nb);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t x = pl.a_batch[i], y = pl.b_batch[i];
    if (x != y && x != 1 && y != 1)
      fail("batch dimension " + std::to_string(i) + " (" + std::to_string(x) + " vs " +
           std::to_string(y) + ") does not broadcast");
    pl.batch[i] = x == 1 ? y : x;
  }
  pl.out_shape = pl.batch;
  if (!a1) pl.out_shape.push_back(pl.M);
  if (!b1) pl.out_shape.push_back(pl.N);
  return pl;
}

inline Shape matmul_shape(const MatMulParams& p, const Shape& a, const Shape& b) {
  return matmul_plan(p, a, b).out_shape;
}

namespace matmul_detail {
// Offsets (in matrices) of output batch item `i` into a and b, broadcasting size-1 dims.
inline void batch_offsets(const MatMulPlan& pl, int64_t i, int64_t& ia, int64_t& ib) {
  ia = ib = 0;
  int64_t sa = 1, sb = 1;
  for (size_t d = pl.batch.size(); d-- > 0;) {
    const int64_t idx = i % pl.batch[d];
    i /= pl.batch[d];
    if (pl.a_batch[d] != 1) ia += idx * sa;
    if (pl.b_batch[d] != 1) ib += idx * sb;
    sa *= pl.a_batch[d];
    sb *= pl.b_batch[d];
  }
}
}  // namespace matmul_detail

template <typename T>
void matmul(const MatMulPlan& pl, const T* a, const T* b, T* out) {
  const int64_t batches = pl.batch_count();
  const int64_t amat = pl.M * pl.K, bmat = pl.K * pl.N, omat = pl.M * pl.N;
  const int64_t lda = pl.trans_a ? pl.M : pl.K, ldb = pl.trans_b ? pl.K : pl.N;
  auto one = [&](int64_t i, bool inner_parallel) {
    int64_t ia, ib;
    matmul_detail::batch_offsets(pl, i, ia, ib);
    if (inner_parallel)
      gemm_parallel(pl.trans_a, pl.trans_b, pl.M, pl.N, pl.K, T(1), a + ia * amat, lda, b + ib * bmat,
                    ldb, T(0), out + i * omat, pl.N);
    else
      gemm(pl.trans_a, pl.trans_b, pl.M, pl.N, pl.K, T(1), a + ia * amat, lda, b + ib * bmat, ldb,
           T(0), out + i * omat, pl.N);
  };
  if (num_threads() > 1 && batches >= num_threads()) {
    parallel_for(0, batches, [&](int64_t i) { one(i, false); });
  } else {
    for (int64_t i = 0; i < batches; ++i) one(i, true);
  }
}

template <typename T>
void matmul(const MatMulParams& p, const Shape& a_shape, const T* a, const Shape& b_shape,
            const T* b, T* out) {
  matmul(matmul_plan(p, a_shape, b_shape), a, b, out);
}

namespace reference {

// Independent of MatMulPlan: promotes, broadcasts and indexes by hand.
template <typename T>
void matmul(const MatMulParams& p, const Shape& a_shape, const T* a, const Shape& b_shape,
            const T* b, T* out) {
  Shape as = a_shape, bs = b_shape;
  bool ta = p.transpose_a, tb = p.transpose_b;
  if (as.size() == 1) { as.insert(as.begin(), 1); ta = false; }
  if (bs.size() == 1) { bs.push_back(1); tb = false; }
  const size_t rank = std::max(as.size(), bs.size());
  while (as.size() < rank) as.insert(as.begin(), 1);
  while (bs.size() < rank) bs.insert(bs.begin(), 1);
  const int64_t M = ta ? as[rank - 1] : as[rank - 2], K = ta ? as[rank - 2] : as[rank - 1];
  const int64_t N = tb ? bs[rank - 2] : bs[rank - 1];
  const int64_t ar = as[rank - 2], ac = as[rank - 1], br = bs[rank - 2], bc = bs[rank - 1];
  Shape ob(rank - 2);
  for (size_t d = 0; d + 2 < rank; ++d) ob[d] = std::max(as[d], bs[d]);
  const int64_t batches = shape_count(ob);
  for (int64_t i = 0; i < batches; ++i) {
    // Unravel i over ob, then ravel into a's and b's batch dims with broadcasting.
    int64_t rem = i, ai = 0, bi = 0, amul = 1, bmul = 1;
    for (size_t d = ob.size(); d-- > 0;) {
      const int64_t idx = rem % ob[d];
      rem /= ob[d];
      ai += (as[d] == 1 ? 0 : idx) * amul;
      bi += (bs[d] == 1 ? 0 : idx) * bmul;
      amul *= as[d];
      bmul *= bs[d];
    }
    const T* A = a + ai * ar * ac;
    const T* B = b + bi * br * bc;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = ta ? A[k * ac + m] : A[m * ac + k];
          const double y = tb ? B[n * bc + k] : B[k * bc + n];
          acc += x * y;
        }
        out[(i * M + m) * N + n] = static_cast<T>(acc);
      }
  }
}

}  // namespace reference

inline int64_t matmul_flops(const MatMulPlan& pl) { return 2 * pl.batch_count() * pl.M * pl.N * pl.K; }

}  // namespace octet::kernels

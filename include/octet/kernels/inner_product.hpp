// Caffe InnerProduct (fully connected): output[M, N] = act(input[M, K] x weight^T + bias), the
// input flattened at the layer's axis (dims before it are M, from it on K). Weight is [N, K]
// as Caffe stores it, or [K, N] when transpose is set. One Eigen GEMM split across threads.
// Depends on core/ and Eigen only (never ir/, engine/ or proto).
#pragma once
#include <cstdint>

#include "octet/core/parallel.hpp"
#include "octet/kernels/fused_activation.hpp"
#include "octet/kernels/gemm.hpp"

namespace octet::kernels {

struct InnerProductParams {
  bool transpose = false;  // weight stored [K, N] instead of [N, K]
  FusedActivation activation;
};

struct InnerProductShape {
  int64_t M = 0, K = 0, N = 0;
};

template <typename T>
void inner_product(const InnerProductParams& p, const InnerProductShape& s, const T* input,
                   const T* weight, const T* bias, T* output) {
  gemm_parallel(false, !p.transpose, s.M, s.N, s.K, T(1), input, s.K, weight,
                p.transpose ? s.N : s.K, T(0), output, s.N);
  if (bias == nullptr && p.activation.kind == FusedActivation::Kind::None) return;
  parallel_for(0, s.M, [&](int64_t m) {
    T* row = output + m * s.N;
    if (bias) {
      for (int64_t n = 0; n < s.N; ++n) row[n] += bias[n];
    }
    bias_activation(row, s.N, T(0), p.activation);
  }, 64);
}

namespace reference {

template <typename T>
void inner_product(const InnerProductParams& p, const InnerProductShape& s, const T* input,
                   const T* weight, const T* bias, T* output) {
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = bias ? static_cast<double>(bias[n]) : 0.0;
      for (int64_t k = 0; k < s.K; ++k) {
        const T w = p.transpose ? weight[k * s.N + n] : weight[n * s.K + k];
        acc += static_cast<double>(input[m * s.K + k]) * static_cast<double>(w);
      }
      output[m * s.N + n] = p.activation(static_cast<T>(acc));
    }
}

}  // namespace reference

inline int64_t inner_product_flops(const InnerProductShape& s) { return 2 * s.M * s.N * s.K; }

}  // namespace octet::kernels

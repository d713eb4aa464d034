// Caffe BatchNorm at inference: y = (x - mean*f) / sqrt(var*f + eps) per channel of axis 1,
// where mean/var are the stored running sums and f is Caffe's scale factor
// (blobs[2][0] == 0 ? 0 : 1 / blobs[2][0]; the layer computes it). Input is viewed as
// [outer, channels, inner]. The optimised kernel folds each channel to y = x*a + b.
// Depends on core/ only (never ir/, engine/ or proto).
#pragma once
#include <cmath>
#include <cstdint>

#include "octet/core/parallel.hpp"

namespace octet::kernels {

struct BatchNormParams {
  float eps = 1e-5f;
  float scale_factor = 1.f;  // multiplies the stored mean and variance
};

struct ChannelShape {
  int64_t outer = 1, channels = 1, inner = 1;
};

template <typename T>
void batch_norm(const BatchNormParams& p, const ChannelShape& s, const T* x, const T* mean,
                const T* var, T* y) {
  parallel_for(0, s.outer * s.channels, [&](int64_t i) {
    const int64_t c = i % s.channels;
    const T a = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var[c]) * p.scale_factor + p.eps));
    const T b = static_cast<T>(-static_cast<double>(mean[c]) * p.scale_factor) * a;
    const T* xi = x + i * s.inner;
    T* yi = y + i * s.inner;
    for (int64_t j = 0; j < s.inner; ++j) yi[j] = xi[j] * a + b;
  }, 16);
}

namespace reference {

template <typename T>
void batch_norm(const BatchNormParams& p, const ChannelShape& s, const T* x, const T* mean,
                const T* var, T* y) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.channels; ++c)
      for (int64_t j = 0; j < s.inner; ++j) {
        const int64_t i = (o * s.channels + c) * s.inner + j;
        const double m = static_cast<double>(mean[c]) * p.scale_factor;
        const double v = static_cast<double>(var[c]) * p.scale_factor;
        y[i] = static_cast<T>((static_cast<double>(x[i]) - m) / std::sqrt(v + p.eps));
      }
}

}  // namespace reference
}  // namespace octet::kernels

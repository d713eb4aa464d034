// Caffe Scale (and its bias_term): y = x * scale + bias, where scale/bias have the dims
// [axis, axis + num_axes) of x and broadcast over the outer and inner dims. The input is
// viewed as [outer, channels, inner] with channels = the product of the scaled dims.
// bias may be null. Works in place (y == x).
// Depends on core/ only (never ir/, engine/ or proto).
#pragma once
#include <cstdint>

#include "octet/core/parallel.hpp"
#include "octet/kernels/batch_norm.hpp"

namespace octet::kernels {

template <typename T>
void scale(const ChannelShape& s, const T* x, const T* scale_data, const T* bias, T* y) {
  if (s.inner == 1) {
    // Scale over the last dims (e.g. [N, C] after an inner product): vectorise along channels.
    parallel_for(0, s.outer, [&](int64_t o) {
      const T* xi = x + o * s.channels;
      T* yi = y + o * s.channels;
      if (bias) {
        for (int64_t c = 0; c < s.channels; ++c) yi[c] = xi[c] * scale_data[c] + bias[c];
      } else {
        for (int64_t c = 0; c < s.channels; ++c) yi[c] = xi[c] * scale_data[c];
      }
    }, 64);
    return;
  }
  parallel_for(0, s.outer * s.channels, [&](int64_t i) {
    const int64_t c = i % s.channels;
    const T a = scale_data[c], b = bias ? bias[c] : T(0);
    const T* xi = x + i * s.inner;
    T* yi = y + i * s.inner;
    for (int64_t j = 0; j < s.inner; ++j) yi[j] = xi[j] * a + b;
  }, 16);
}

namespace reference {

template <typename T>
void scale(const ChannelShape& s, const T* x, const T* scale_data, const T* bias, T* y) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.channels; ++c)
      for (int64_t j = 0; j < s.inner; ++j) {
        const int64_t i = (o * s.channels + c) * s.inner + j;
        y[i] = x[i] * scale_data[c] + (bias ? bias[c] : T(0));
      }
}

}  // namespace reference
}  // namespace octet::kernels

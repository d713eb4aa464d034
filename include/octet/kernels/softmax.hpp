// Softmax and LogSoftmax along one axis, numerically stable (the axis maximum is subtracted
// before exp, so inputs in the thousands do not overflow). The tensor is viewed as
// [outer, channels, inner]. The default path works on contiguous rows when inner == 1 and
// on stack tiles of `inner` otherwise, so it allocates nothing and may run in place.
// Depends only on core/ and Eigen.
#pragma once
#include "octet/kernels/eigen_array.hpp"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"

namespace octet::kernels {

struct SoftmaxParams {
  int axis = 1;
  bool log = false;  // LogSoftmax: x - max - log(sum(exp(x - max)))
};

struct AxisSplit {
  int64_t outer = 1, channels = 1, inner = 1;
};
inline AxisSplit split_at_axis(const Shape& s, int axis) {
  const auto a = static_cast<size_t>(canonical_axis(axis, s.size()));
  return {shape_count(s, 0, a), s[a], shape_count(s, a + 1)};
}

namespace reference {
template <typename T>
void softmax(const SoftmaxParams& p, const Shape& shape, const T* x, T* y) {
  const AxisSplit d = split_at_axis(shape, p.axis);
  for (int64_t o = 0; o < d.outer; ++o)
    for (int64_t i = 0; i < d.inner; ++i) {
      const T* xi = x + o * d.channels * d.inner + i;
      T* yi = y + o * d.channels * d.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < d.channels; ++c) m = std::max(m, xi[c * d.inner]);
      double sum = 0;
      for (int64_t c = 0; c < d.channels; ++c) sum += std::exp(double(xi[c * d.inner] - m));
      for (int64_t c = 0; c < d.channels; ++c) {
        const double e = double(xi[c * d.inner] - m);
        yi[c * d.inner] = p.log ? T(e - std::log(sum)) : T(std::exp(e) / sum);
      }
    }
}
}  // namespace reference

template <typename T>
void softmax(const SoftmaxParams& p, const Shape& shape, const T* x, T* y) {
  using A = Eigen::Array<T, Eigen::Dynamic, 1>;
  const AxisSplit d = split_at_axis(shape, p.axis);
  const int64_t C = d.channels, I = d.inner;
  if (C == 0 || shape_count(shape) == 0) return;
  if (I == 1) {
    parallel_for(
        0, d.outer,
        [&](int64_t o) {
          Eigen::Map<const A> in(x + o * C, C);
          Eigen::Map<A> out(y + o * C, C);
          const T m = in.maxCoeff();
          if (p.log) {
            const T lse = std::log((in - m).exp().sum());
            out = (in - m) - lse;  // (m + lse) first would round away lse at large m
          } else {
            out = (in - m).exp();
            out *= T(1) / out.sum();
          }
        },
        std::max<int64_t>(1, 4096 / C));
    return;
  }
  // Channels are strided by I: walk tiles of the inner axis so each pass is a contiguous,
  // vectorisable run and the per-position max/sum live on the stack.
  constexpr int64_t kTile = 256;
  const int64_t tiles = (I + kTile - 1) / kTile;
  parallel_for(
      0, d.outer * tiles,
      [&](int64_t job) {
        const int64_t o = job / tiles, j0 = (job % tiles) * kTile, w = std::min(kTile, I - j0);
        const T* xb = x + o * C * I + j0;
        T* yb = y + o * C * I + j0;
        alignas(64) T mx[kTile];
        alignas(64) T sum[kTile];
        for (int64_t j = 0; j < w; ++j) mx[j] = xb[j];
        for (int64_t c = 1; c < C; ++c)
          for (int64_t j = 0; j < w; ++j) mx[j] = std::max(mx[j], xb[c * I + j]);
        for (int64_t j = 0; j < w; ++j) sum[j] = 0;
        for (int64_t c = 0; c < C; ++c) {
          Eigen::Map<const A> in(xb + c * I, w);
          Eigen::Map<A> m(mx, w), s(sum, w);
          if (p.log) {
            s += (in - m).exp();
          } else {
            Eigen::Map<A> out(yb + c * I, w);
            out = (in - m).exp();
            s += out;
          }
        }
        Eigen::Map<A> m(mx, w), s(sum, w);
        if (p.log) {
          s = s.log();
          for (int64_t c = 0; c < C; ++c) {
            Eigen::Map<const A> in(xb + c * I, w);
            Eigen::Map<A> out(yb + c * I, w);
            out = (in - m) - s;
          }
        } else {
          s = s.inverse();
          for (int64_t c = 0; c < C; ++c) {
            Eigen::Map<A> out(yb + c * I, w);
            out *= s;
          }
        }
      },
      std::max<int64_t>(1, 4096 / (C * std::min(I, kTile))));
}

}  // namespace octet::kernels

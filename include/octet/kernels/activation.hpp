// Pointwise activation kernels: ReLU (leaky), PReLU, ReLU6, Clip, ELU, Sigmoid, TanH,
// HardSigmoid, HardSwish, Swish, AbsVal and Caffe's Power / Exp / Log layers.
// Each takes a count and raw pointers; every kernel may run in place (y == x).
// reference:: versions are scalar std:: maths; the default versions use Eigen arrays
// (vectorised exp/tanh/logistic) in blocks across threads, and are tested against reference.
// Depends only on core/ and Eigen.
#pragma once
#include "octet/kernels/eigen_array.hpp"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/kernels/eltwise.hpp"

namespace octet::kernels {

struct ReluParams {
  float negative_slope = 0.f;
};
struct ClipParams {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};
struct EluParams {
  float alpha = 1.f;
};
struct HardSigmoidParams {
  float alpha = 0.2f;
  float beta = 0.5f;
};
struct SwishParams {
  float beta = 1.f;
};
// Caffe Power: y = (shift + scale * x) ^ power.
struct PowerParams {
  float power = 1.f;
  float scale = 1.f;
  float shift = 0.f;
};
// Caffe Exp: y = base ^ (shift + scale * x); Caffe Log: y = log_base(shift + scale * x).
// base == -1 means e.
struct ExpLogParams {
  float base = -1.f;
  float scale = 1.f;
  float shift = 0.f;
};
// PReLU over [outer, channels, inner]; slopes has `channels` values, or one when shared.
struct PReluParams {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
  bool channel_shared = false;
};

inline float log_of_base(float base) {
  if (base == -1.f) return 1.f;
  if (!(base > 0.f)) throw ModelError("exp/log base must be positive or -1 (e), got " + std::to_string(base));
  return std::log(base);
}

namespace reference {
template <typename T, typename F>
void map(int64_t n, const T* x, T* y, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <typename T>
void relu(const ReluParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return v > 0 ? v : v * T(p.negative_slope); });
}
template <typename T>
void relu6(int64_t n, const T* x, T* y) {
  map(n, x, y, [](T v) { return std::min(std::max(v, T(0)), T(6)); });
}
template <typename T>
void clip(const ClipParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return std::min(std::max(v, T(p.min)), T(p.max)); });
}
template <typename T>
void elu(const EluParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return v > 0 ? v : T(p.alpha) * std::expm1(v); });
}
template <typename T>
void sigmoid(int64_t n, const T* x, T* y) {
  map(n, x, y, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
}
template <typename T>
void tanh(int64_t n, const T* x, T* y) {
  map(n, x, y, [](T v) { return std::tanh(v); });
}
template <typename T>
void hard_sigmoid(const HardSigmoidParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return std::max(T(0), std::min(T(1), T(p.alpha) * v + T(p.beta))); });
}
template <typename T>
void hard_swish(const HardSigmoidParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return v * std::max(T(0), std::min(T(1), T(p.alpha) * v + T(p.beta))); });
}
template <typename T>
void swish(const SwishParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return v / (T(1) + std::exp(-T(p.beta) * v)); });
}
template <typename T>
void absval(int64_t n, const T* x, T* y) {
  map(n, x, y, [](T v) { return std::abs(v); });
}
template <typename T>
void power(const PowerParams& p, int64_t n, const T* x, T* y) {
  map(n, x, y, [&](T v) { return std::pow(T(p.shift) + T(p.scale) * v, T(p.power)); });
}
template <typename T>
void exp(const ExpLogParams& p, int64_t n, const T* x, T* y) {
  const T lb = log_of_base(p.base);
  map(n, x, y, [&](T v) { return std::exp(lb * (T(p.shift) + T(p.scale) * v)); });
}
template <typename T>
void log(const ExpLogParams& p, int64_t n, const T* x, T* y) {
  const T lb = log_of_base(p.base);
  map(n, x, y, [&](T v) { return std::log(T(p.shift) + T(p.scale) * v) / lb; });
}
template <typename T>
void prelu(const PReluParams& p, const T* slopes, const T* x, T* y) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t c = 0; c < p.channels; ++c)
      for (int64_t i = 0; i < p.inner; ++i) {
        const int64_t k = (o * p.channels + c) * p.inner + i;
        const T s = slopes[p.channel_shared ? 0 : c];
        y[k] = x[k] > 0 ? x[k] : x[k] * s;
      }
}
}  // namespace reference

// Applies an Eigen array expression builder f(ArrayMap in) -> expression over blocks.
template <typename T, typename F>
void map_array(int64_t n, const T* x, T* y, F f) {
  using A = Eigen::Array<T, Eigen::Dynamic, 1>;
  for_blocks(n, [&](int64_t s, int64_t e) {
    Eigen::Map<const A> in(x + s, e - s);
    Eigen::Map<A> out(y + s, e - s);
    out = f(in);
  });
}

template <typename T>
void relu(const ReluParams& p, int64_t n, const T* x, T* y) {
  const T s = T(p.negative_slope);
  if (s == T(0))
    map_array(n, x, y, [](const auto& a) { return a.max(T(0)); });
  else
    map_array(n, x, y, [s](const auto& a) { return a.max(T(0)) + s * a.min(T(0)); });
}
template <typename T>
void relu6(int64_t n, const T* x, T* y) {
  map_array(n, x, y, [](const auto& a) { return a.max(T(0)).min(T(6)); });
}
template <typename T>
void clip(const ClipParams& p, int64_t n, const T* x, T* y) {
  map_array(n, x, y, [&](const auto& a) { return a.max(T(p.min)).min(T(p.max)); });
}
template <typename T>
void elu(const EluParams& p, int64_t n, const T* x, T* y) {
  const T al = T(p.alpha);
  map_array(n, x, y, [al](const auto& a) { return (a > T(0)).select(a, al * a.min(T(0)).expm1()); });
}
template <typename T>
void sigmoid(int64_t n, const T* x, T* y) {
  map_array(n, x, y, [](const auto& a) { return a.logistic(); });
}
template <typename T>
void tanh(int64_t n, const T* x, T* y) {
  map_array(n, x, y, [](const auto& a) { return a.tanh(); });
}
template <typename T>
void hard_sigmoid(const HardSigmoidParams& p, int64_t n, const T* x, T* y) {
  const T al = T(p.alpha), be = T(p.beta);
  map_array(n, x, y, [=](const auto& a) { return (al * a + be).max(T(0)).min(T(1)); });
}
template <typename T>
void hard_swish(const HardSigmoidParams& p, int64_t n, const T* x, T* y) {
  const T al = T(p.alpha), be = T(p.beta);
  map_array(n, x, y, [=](const auto& a) { return a * (al * a + be).max(T(0)).min(T(1)); });
}
template <typename T>
void swish(const SwishParams& p, int64_t n, const T* x, T* y) {
  const T be = T(p.beta);
  map_array(n, x, y, [be](const auto& a) { return a * (be * a).logistic(); });
}
template <typename T>
void absval(int64_t n, const T* x, T* y) {
  map_array(n, x, y, [](const auto& a) { return a.abs(); });
}
template <typename T>
void power(const PowerParams& p, int64_t n, const T* x, T* y) {
  const T sc = T(p.scale), sh = T(p.shift), pw = T(p.power);
  // Caffe's special cases are also the common ones: affine, square, sqrt.
  if (pw == T(1))
    map_array(n, x, y, [=](const auto& a) { return sc * a + sh; });
  else if (pw == T(2))
    map_array(n, x, y, [=](const auto& a) { return (sc * a + sh).square(); });
  else if (pw == T(0.5))
    map_array(n, x, y, [=](const auto& a) { return (sc * a + sh).sqrt(); });
  else
    map_array(n, x, y, [=](const auto& a) { return (sc * a + sh).pow(pw); });
}
template <typename T>
void exp(const ExpLogParams& p, int64_t n, const T* x, T* y) {
  const T lb = log_of_base(p.base);
  const T inner = lb * T(p.scale), outer = lb * T(p.shift);
  map_array(n, x, y, [=](const auto& a) { return (inner * a + outer).exp(); });
}
template <typename T>
void log(const ExpLogParams& p, int64_t n, const T* x, T* y) {
  const T inv = T(1) / log_of_base(p.base);
  const T sc = T(p.scale), sh = T(p.shift);
  map_array(n, x, y, [=](const auto& a) { return (sc * a + sh).log() * inv; });
}
template <typename T>
void prelu(const PReluParams& p, const T* slopes, const T* x, T* y) {
  using A = Eigen::Array<T, Eigen::Dynamic, 1>;
  parallel_for(
      0, p.outer * p.channels,
      [&](int64_t oc) {
        const int64_t c = oc % p.channels;
        const T s = slopes[p.channel_shared ? 0 : c];
        Eigen::Map<const A> in(x + oc * p.inner, p.inner);
        Eigen::Map<A> out(y + oc * p.inner, p.inner);
        out = in.max(T(0)) + s * in.min(T(0));
      },
      std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, p.inner)));
}

}  // namespace octet::kernels

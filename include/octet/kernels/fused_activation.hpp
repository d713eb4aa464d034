// The activation a weighted kernel (conv, deconv, inner product) applies while it writes its
// output, so conv + bias + activation is one pass over the output. Shared by the spatial
// kernels only; the standalone activation ops live in activation.hpp.
// Depends on nothing in Octet (kernels never include ir/, engine/ or proto headers).
#pragma once
#include <algorithm>
#include <cstdint>

namespace octet::kernels {

struct FusedActivation {
  enum class Kind : uint8_t { None, Relu, Relu6, Clip };
  Kind kind = Kind::None;
  float negative_slope = 0.f;  // Relu: Caffe's leaky slope (0 = plain ReLU)
  float min = 0.f;             // Clip bounds
  float max = 0.f;

  static FusedActivation none() { return {}; }
  static FusedActivation relu(float slope = 0.f) { return {Kind::Relu, slope, 0.f, 0.f}; }
  static FusedActivation relu6() { return {Kind::Relu6, 0.f, 0.f, 6.f}; }
  static FusedActivation clip(float lo, float hi) { return {Kind::Clip, 0.f, lo, hi}; }

  template <typename T>
  T operator()(T v) const {
    switch (kind) {
      case Kind::None: return v;
      case Kind::Relu: return v > T(0) ? v : static_cast<T>(v * negative_slope);
      case Kind::Relu6: return std::min(std::max(v, T(0)), T(6));
      case Kind::Clip: return std::min(std::max(v, static_cast<T>(min)), static_cast<T>(max));
    }
    return v;
  }
};

// y[i] = act(y[i] + bias) for i < n. The switch sits outside the loops so each loop
// vectorises on its own.
template <typename T>
void bias_activation(T* y, int64_t n, T bias, const FusedActivation& act) {
  switch (act.kind) {
    case FusedActivation::Kind::None:
      if (bias != T(0))
        for (int64_t i = 0; i < n; ++i) y[i] += bias;
      return;
    case FusedActivation::Kind::Relu: {
      const T s = static_cast<T>(act.negative_slope);
      if (s == T(0)) {
        for (int64_t i = 0; i < n; ++i) y[i] = std::max(y[i] + bias, T(0));
      } else {
        for (int64_t i = 0; i < n; ++i) {
          const T v = y[i] + bias;
          y[i] = v > T(0) ? v : v * s;
        }
      }
      return;
    }
    case FusedActivation::Kind::Relu6:
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(y[i] + bias, T(0)), T(6));
      return;
    case FusedActivation::Kind::Clip: {
      const T lo = static_cast<T>(act.min), hi = static_cast<T>(act.max);
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(y[i] + bias, lo), hi);
      return;
    }
  }
}

}  // namespace octet::kernels

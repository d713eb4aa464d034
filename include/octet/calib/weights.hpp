// Weight and bias quantisation (docs/calibration-math.md §4): symmetric max-abs per output
// channel (Octet default where the target supports it) or per tensor (NNTC's per-layer mode),
// the all-zero-channel guard, int32 bias with step s_in * s_c, and BM1684's int16 bias + shift.
// Uses the fixed/ rounding rule (half away from zero) so exported weights match the int8
// engine. Depends on fixed/ and core/error.hpp only; must not depend on proto, ir/ or the runtime.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/fixed/rounding.hpp"
#include "octet/fixed/saturate.hpp"

namespace octet::calib {

struct WeightQuant {
  std::vector<std::int8_t> q;                // same layout as the float weights
  std::vector<float> threshold;              // T_c per channel (1 channel per tensor mode)
  std::vector<float> scale;                  // s_c = T_c / qmax
  std::vector<std::size_t> zero_channels;    // channels where the zero guard set T_c = 1
};

namespace detail {
// Same quantiser as fixed::quantize_value (exact quotient in double, ties away from zero), for
// any symmetric |q| <= qmax (127; 31 for ncnn-style 6-bit weights).
inline std::int8_t quantize_sym(float w, float s, int qmax) {
  double q = static_cast<double>(w) / static_cast<double>(s);
  q = q < -qmax ? -qmax : (q > qmax ? qmax : q);
  return static_cast<std::int8_t>(std::round(q));
}
}  // namespace detail

// w is [channels, w.size()/channels] row-major (output channel outermost, as Caffe/ONNX conv
// and FC weights are; depthwise: one row per group). Non-finite weights are a ModelError.
inline WeightQuant quantize_weights_per_channel(std::span<const float> w, std::size_t channels,
                                                int qmax = 127, std::string_view what = "weights") {
  if (channels == 0 || w.size() % channels != 0)
    throw ShapeError(error_text(std::string(what), std::to_string(w.size()) + " weights do not split into " +
                                                       std::to_string(channels) + " output channels"));
  if (qmax < 1 || qmax > 127) throw UsageError(error_text(std::string(what), "qmax must be in [1, 127]"));
  const std::size_t per = w.size() / channels;
  WeightQuant r;
  r.q.assign(w.size(), 0);
  r.threshold.resize(channels);
  r.scale.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    const float* row = w.data() + c * per;
    float t = 0.0f;
    for (std::size_t k = 0; k < per; ++k) {
      const float a = std::fabs(row[k]);
      if (!(a <= FLT_MAX))
        throw ModelError(error_text(std::string(what), "channel " + std::to_string(c),
                                    "non-finite weight at index " + std::to_string(k)));
      t = a > t ? a : t;
    }
    if (t < FLT_MIN) {  // zero or subnormal: 1/s would overflow; store zeros, any finite T works
      r.threshold[c] = 1.0f;
      r.scale[c] = 1.0f / static_cast<float>(qmax);
      r.zero_channels.push_back(c);
      continue;
    }
    const float s = t / static_cast<float>(qmax);
    r.threshold[c] = t;
    r.scale[c] = s;
    for (std::size_t k = 0; k < per; ++k) r.q[c * per + k] = detail::quantize_sym(row[k], s, qmax);
  }
  return r;
}

// NNTC's -conv_group: output channels grouped by amplitude, one scale per group. A channel
// whose max-abs T_c lies in the octave (T_max / 2^(g+1), T_max / 2^g] joins group g (the last
// group takes everything smaller), and every channel of a group is quantised with the
// group's largest T_c. So no channel uses less than half of the int8 range (except in the
// last group), while the layer keeps a handful of scales instead of one per channel.
// All-zero channels get the zero guard as in per-channel mode.
inline constexpr int kMaxWeightGroups = 8;

inline WeightQuant quantize_weights_grouped(std::span<const float> w, std::size_t channels, int qmax = 127,
                                            std::string_view what = "weights") {
  WeightQuant r = quantize_weights_per_channel(w, channels, qmax, what);  // validates, T_c per channel
  std::vector<int> group(channels, 0);  // -1: zero channel (keeps its guard)
  for (std::size_t c : r.zero_channels) group[c] = -1;
  float tmax = 0.0f;
  for (std::size_t c = 0; c < channels; ++c)
    if (group[c] == 0) tmax = std::max(tmax, r.threshold[c]);
  if (tmax == 0.0f) return r;  // every channel is zero
  float gmax[kMaxWeightGroups] = {};
  for (std::size_t c = 0; c < channels; ++c) {
    if (group[c] < 0) continue;
    int e = 0;
    std::frexp(static_cast<double>(tmax) / static_cast<double>(r.threshold[c]), &e);  // ratio in [2^(e-1), 2^e)
    const int g = std::min(e - 1, kMaxWeightGroups - 1);
    group[c] = g;
    gmax[g] = std::max(gmax[g], r.threshold[c]);
  }
  const std::size_t per = w.size() / channels;
  for (std::size_t c = 0; c < channels; ++c) {
    if (group[c] < 0) continue;
    const float t = gmax[group[c]], s = t / static_cast<float>(qmax);
    r.threshold[c] = t;
    r.scale[c] = s;
    for (std::size_t k = 0; k < per; ++k) r.q[c * per + k] = detail::quantize_sym(w[c * per + k], s, qmax);
  }
  return r;
}

inline WeightQuant quantize_weights_per_tensor(std::span<const float> w, int qmax = 127,
                                               std::string_view what = "weights") {
  if (w.empty()) return WeightQuant{{}, {1.0f}, {1.0f / static_cast<float>(qmax)}, {0}};
  return quantize_weights_per_channel(w, 1, qmax, what);
}

struct BiasQuant {
  std::vector<std::int32_t> q;
  std::vector<std::size_t> saturated;  // channels whose bias did not fit int32 (clamped)
};

// b_q = round(b / (s_in * s_c)), ties away from zero; the step is the exact double product of
// the two float scales. weight_scale has one entry (per tensor) or one per channel.
inline BiasQuant quantize_bias(std::span<const float> b, float input_scale, std::span<const float> weight_scale,
                               std::string_view what = "bias") {
  if (weight_scale.size() != 1 && weight_scale.size() != b.size())
    throw ShapeError(error_text(std::string(what), std::to_string(b.size()) + " biases but " +
                                                       std::to_string(weight_scale.size()) + " weight scales"));
  BiasQuant r;
  r.q.resize(b.size());
  for (std::size_t c = 0; c < b.size(); ++c) {
    const float sw = weight_scale.size() == 1 ? weight_scale[0] : weight_scale[c];
    const double step = static_cast<double>(input_scale) * static_cast<double>(sw);
    if (!(step > 0) || !std::isfinite(step) || !std::isfinite(b[c]))
      throw ModelError(error_text(std::string(what), "channel " + std::to_string(c),
                                  "bias or scale not finite, or scale not > 0"));
    const double v = std::round(static_cast<double>(b[c]) / step);
    const double lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
    if (v < lo || v > hi) r.saturated.push_back(c);
    r.q[c] = static_cast<std::int32_t>(v < lo ? lo : (v > hi ? hi : v));
  }
  return r;
}

// BM1684 int16 bias: b32 ~= q16 * 2^lshift with one shift for the whole layer, the smallest
// lshift in [0, 17] for which every rounded value fits int16 (17 always does). Rounding is
// the Octet rule (half away from zero), so |b32 - q16 * 2^lshift| <= 2^(lshift-1).
// (How the chip applies the shift is not verified; see docs/arithmetic.md.)
struct Bias16 {
  std::vector<std::int16_t> q;
  int lshift = 0;
};

inline Bias16 bias_to_int16(std::span<const std::int32_t> b32) {
  Bias16 r;
  for (int l = 0; l <= 17; ++l) {
    bool fits = true;
    for (std::int32_t v : b32) {
      const std::int64_t s = fixed::rounding_right_shift(v, l);
      if (s < std::numeric_limits<std::int16_t>::min() || s > std::numeric_limits<std::int16_t>::max()) {
        fits = false;
        break;
      }
    }
    if (!fits) continue;
    r.lshift = l;
    r.q.reserve(b32.size());
    for (std::int32_t v : b32) r.q.push_back(fixed::saturate_int16(fixed::rounding_right_shift(v, l)));
    return r;
  }
  return r;  // unreachable: l = 17 always fits
}

}  // namespace octet::calib

// Float <-> int8/uint8 quantisation with a given scale: the one definition of q(x) used by
// calibration simulation, weight export, the int8 engine and the simulator's reference data.
// Contract (docs/arithmetic.md): q = clamp(round_half_away(x / s), q_min, q_max) where x / s
// is the exact quotient (computed in double, which cannot create or break a .5 tie for float
// operands); NaN -> 0; dequantised value = float(q) * s in float.
// Depends on nothing but the standard library.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace octet::fixed {

// Storage ranges. Octet default is the restricted symmetric int8 range (negation is exact);
// full int8 is an explicit per-target option for activations only; uint8 for non-negative
// tensors stored unsigned.
enum class QRange : std::uint8_t {
  int8_sym,   // [-127, 127]
  int8_full,  // [-128, 127]
  uint8,      // [0, 255]
};

constexpr int qmin(QRange r) noexcept {
  return r == QRange::int8_sym ? -127 : (r == QRange::int8_full ? -128 : 0);
}
// Full-scale code: the threshold T maps to this code, s = T / qmax.
constexpr int qmax(QRange r) noexcept { return r == QRange::uint8 ? 255 : 127; }
constexpr bool is_signed(QRange r) noexcept { return r != QRange::uint8; }

// s = T / q_max, a correctly rounded float division (the step every table stores as T/127).
inline float scale_from_threshold(float threshold, QRange r = QRange::int8_sym) noexcept {
  return threshold / static_cast<float>(qmax(r));
}

// The quantiser on a double value (LUT construction and weight export use it directly).
// Precondition: scale > 0.
inline int quantize_value(double v, double scale, QRange r = QRange::int8_sym) noexcept {
  if (std::isnan(v)) return 0;
  double q = v / scale;
  const double lo = qmin(r), hi = qmax(r);
  q = q < lo ? lo : (q > hi ? hi : q);  // clamp first: bounds are integers, so order is moot
  return static_cast<int>(std::round(q));  // std::round: ties away from zero
}

inline std::int8_t quantize_int8(float x, float scale, QRange r = QRange::int8_sym) noexcept {
  return static_cast<std::int8_t>(quantize_value(static_cast<double>(x), scale, r));
}
inline std::uint8_t quantize_uint8(float x, float scale) noexcept {
  return static_cast<std::uint8_t>(quantize_value(static_cast<double>(x), scale, QRange::uint8));
}

inline float dequantize(int q, float scale) noexcept { return static_cast<float>(q) * scale; }

inline void quantize_int8(std::span<const float> x, float scale, std::span<std::int8_t> out,
                          QRange r = QRange::int8_sym) noexcept {
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = quantize_int8(x[i], scale, r);
}
inline void quantize_uint8(std::span<const float> x, float scale,
                           std::span<std::uint8_t> out) noexcept {
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = quantize_uint8(x[i], scale);
}
template <typename Int>
inline void dequantize(std::span<const Int> q, float scale, std::span<float> out) noexcept {
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = dequantize(static_cast<int>(q[i]), scale);
}

}  // namespace octet::fixed

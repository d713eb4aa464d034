// Requantisation of int32 accumulators to a smaller scale: BM1684X-style multiplier + right
// shift (one rounding on the exact int64 product) and BM1684-style power-of-two right shift
// alone. Shared by the int8 engine, code generator and simulator so they agree bit for bit;
// contract in docs/arithmetic.md. Depends on fixed/rounding.hpp, fixed/saturate.hpp and
// core/error.hpp only.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "octet/core/error.hpp"
#include "octet/fixed/rounding.hpp"
#include "octet/fixed/saturate.hpp"

namespace octet::fixed {

// real_scale ~= multiplier * 2^-shift. multiplier in [2^30, 2^31) (Q31 mantissa in [0.5, 1)),
// except for real_scale == 0, which is {0, 0}.
struct QuantizedMultiplier {
  std::int32_t multiplier = 0;
  int shift = 0;
  double value() const { return std::ldexp(static_cast<double>(multiplier), -shift); }
};

inline constexpr int kMaxRequantShift = 63;  // the product is int64; a larger shift is always 0

// Splits a positive real scale into a Q31 multiplier and a right shift. The mantissa is
// rounded half away from zero; a mantissa that rounds up to 2^31 is renormalised to 2^30 with
// one less shift. Throws ModelError when the scale is negative, non-finite, or needs a shift
// outside [min_shift, max_shift] (the caller's target limits; default [0, 63]).
inline QuantizedMultiplier quantize_multiplier(double real_scale, int min_shift = 0,
                                               int max_shift = kMaxRequantShift) {
  if (!(real_scale >= 0) || !std::isfinite(real_scale))
    throw ModelError(error_text("quantize_multiplier", "scale " + std::to_string(real_scale),
                                "must be finite and >= 0"));
  if (real_scale == 0) return {0, 0};
  int ex = 0;
  const double f = std::frexp(real_scale, &ex);  // real = f * 2^ex, f in [0.5, 1)
  std::int64_t m = std::llround(std::ldexp(f, 31));
  if (m == (std::int64_t{1} << 31)) {
    m >>= 1;
    ++ex;
  }
  const int shift = 31 - ex;
  if (shift < min_shift || shift > max_shift)
    throw ModelError(error_text("quantize_multiplier", "scale " + std::to_string(real_scale),
                                "needs right shift " + std::to_string(shift) + ", outside [" +
                                    std::to_string(min_shift) + ", " + std::to_string(max_shift) +
                                    "]"));
  return {static_cast<std::int32_t>(m), shift};
}

// BM1684X-style requantisation: round(acc * multiplier / 2^shift), ties away from zero, on the
// exact int64 product (|acc*multiplier| <= 2^62, so no intermediate overflow), saturated to
// int32. One rounding only, unlike gemmlowp's doubling-high-mul + divide-by-POT (two).
// Precondition 0 <= shift <= 63.
constexpr std::int32_t multiply_by_quantized_multiplier(std::int32_t acc, std::int32_t multiplier,
                                                        int shift) noexcept {
  return saturate_int32(rounding_right_shift(static_cast<std::int64_t>(acc) * multiplier, shift));
}
constexpr std::int32_t multiply_by_quantized_multiplier(std::int32_t acc,
                                                        QuantizedMultiplier q) noexcept {
  return multiply_by_quantized_multiplier(acc, q.multiplier, q.shift);
}

// gemmlowp/TFLite two-rounding form, for parity tests against those runtimes only:
// RoundingDivideByPOT(SRDHM(acc, multiplier), shift - 31), with shift >= 31.
constexpr std::int32_t multiply_by_quantized_multiplier_gemmlowp(std::int32_t acc,
                                                                 std::int32_t multiplier,
                                                                 int shift) noexcept {
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc, multiplier), shift - 31);
}

// ---- BM1684: power-of-two requantisation (a right shift, no multiplier) -------------------

// real_scale == residual * 2^-shift exactly (residual is f or 2f of frexp, so no rounding).
// The residual is the factor the weights (and bias) must absorb: quantise them with
// s_w' = s_w / residual so that (sum w'_q x_q + b'_q) >> shift carries the right scale.
struct Pow2Requant {
  int shift = 0;
  double residual = 1.0;
};

enum class Pow2Rounding {
  nearest,    // residual in [1/sqrt2, sqrt2): nearest power of two in log domain (default)
  no_growth,  // residual in (1/2, 1]: weights only shrink, so int8 weights never saturate
};

// Throws ModelError for a scale that is not finite and > 0, or whose shift falls outside
// [min_shift, max_shift] (BM1684's conv right-shift field is 5 bits: [0, 31]).
inline Pow2Requant pow2_requant(double real_scale, Pow2Rounding rounding = Pow2Rounding::nearest,
                                int min_shift = 0, int max_shift = 31) {
  if (!(real_scale > 0) || !std::isfinite(real_scale))
    throw ModelError(error_text("pow2_requant", "scale " + std::to_string(real_scale),
                                "must be finite and > 0"));
  int ex = 0;
  const double f = std::frexp(real_scale, &ex);  // f in [0.5, 1)
  // Default: residual f, shift -ex. Move to 2f when that is closer to 1 (log domain) or, for
  // no_growth, when f is exactly 1/2 (2f == 1 is then allowed and better).
  bool take_double = false;
  if (rounding == Pow2Rounding::nearest)
    take_double = f < 0.70710678118654752440;  // f < 1/sqrt2 <=> |log2 2f| < |log2 f|
  else
    take_double = f == 0.5;
  Pow2Requant r;
  r.shift = take_double ? 1 - ex : -ex;
  r.residual = take_double ? 2 * f : f;
  if (r.shift < min_shift || r.shift > max_shift)
    throw ModelError(error_text("pow2_requant", "scale " + std::to_string(real_scale),
                                "needs right shift " + std::to_string(r.shift) + ", outside [" +
                                    std::to_string(min_shift) + ", " + std::to_string(max_shift) +
                                    "]"));
  return r;
}

// BM1684 requantisation proper: acc >> shift with the Octet rounding rule, saturated to int32
// (callers then saturate to int8/uint8 with the output range).
constexpr std::int32_t shift_requantize(std::int32_t acc, int shift) noexcept {
  return saturate_int32(rounding_right_shift(acc, shift));
}

}  // namespace octet::fixed

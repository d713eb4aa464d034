// 256-entry lookup tables for int8/uint8 nonlinear ops (sigmoid, tanh, hardswish, exp, ...):
// the int8 result for input code x is table[lut_index(x)], i.e. table[x + 128] for a signed
// input and table[x] for an unsigned one. Entry = quantize_value(f(dequantize(x, s_in)), s_out)
// with f evaluated in double. Engine, code generator (BM1684X static-memory tables) and
// simulator all use these tables. Depends on fixed/quantize.hpp and core/error.hpp.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "octet/core/error.hpp"
#include "octet/fixed/quantize.hpp"

namespace octet::fixed {

constexpr int lut_index(int x, bool in_signed) noexcept { return in_signed ? x + 128 : x; }

// Out is std::int8_t for a signed output range, std::uint8_t for QRange::uint8.
template <typename Out, typename Fn>
std::array<Out, 256> build_lut(float in_scale, bool in_signed, float out_scale, QRange out_range,
                               Fn&& fn) {
  static_assert(std::is_same_v<Out, std::int8_t> || std::is_same_v<Out, std::uint8_t>);
  if (std::is_same_v<Out, std::uint8_t> != (out_range == QRange::uint8))
    throw UsageError(error_text("build_lut", "output type and output range disagree in sign"));
  if (!(in_scale > 0) || !(out_scale > 0) || !std::isfinite(in_scale) || !std::isfinite(out_scale))
    throw UsageError(error_text("build_lut", "scales must be finite and > 0"));
  std::array<Out, 256> t{};
  for (int i = 0; i < 256; ++i) {
    const int x = in_signed ? i - 128 : i;
    const double y = fn(static_cast<double>(dequantize(x, in_scale)));
    t[static_cast<std::size_t>(i)] = static_cast<Out>(quantize_value(y, out_scale, out_range));
  }
  return t;
}

template <typename Out>
constexpr Out lut_lookup(const std::array<Out, 256>& t, int x, bool in_signed) noexcept {
  return t[static_cast<std::size_t>(lut_index(x, in_signed))];
}

// The float functions the tables are built from (double precision).
namespace lut_fn {
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double tanh(double x) { return std::tanh(x); }
inline double hardswish(double x) {
  const double r = x + 3.0;
  return x * (r < 0 ? 0 : (r > 6 ? 6 : r)) / 6.0;
}
inline double exp(double x) { return std::exp(x); }
}  // namespace lut_fn

}  // namespace octet::fixed

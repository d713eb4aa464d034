// Rounding shifts and the gemmlowp high multiply: the integer rounding rules of Octet's int8
// arithmetic (contract in docs/arithmetic.md). Shared by engine, code generator and simulator.
// Depends on nothing but the standard library.
#pragma once
#include <cstdint>
#include <limits>

namespace octet::fixed {

// x / 2^shift rounded to nearest, ties away from zero (the Octet default everywhere: it is
// symmetric under negation, like the restricted int8 range, and matches std::round on the
// float side). Equals gemmlowp's RoundingDivideByPOT on int32. Precondition 0 <= shift <= 63.
// Computed on the magnitude as floor(m/2^s) + bit(s-1) of m, so no addition can overflow:
// valid for every int64 including INT64_MIN.
constexpr std::int64_t rounding_right_shift(std::int64_t x, int shift) noexcept {
  if (shift <= 0) return x;
  const bool neg = x < 0;
  const std::uint64_t m = neg ? 0 - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
  const std::uint64_t r = (m >> shift) + ((m >> (shift - 1)) & 1u);
  return neg ? -static_cast<std::int64_t>(r) : static_cast<std::int64_t>(r);
}

// floor(x / 2^shift + 1/2): ties toward +infinity ("add half, arithmetic shift"), the rule of
// shifter hardware that adds 2^(s-1) before shifting (TPU-MLIR's ROUNDING_HALF_UP, used by its
// BM1684 path). Not the default; provided so a target that needs it names it explicitly.
// Precondition 0 <= shift <= 63; overflow-free for every int64.
constexpr std::int64_t rounding_right_shift_half_up(std::int64_t x, int shift) noexcept {
  if (shift <= 0) return x;
  return (x >> shift) + ((x >> (shift - 1)) & 1);
}

// Truncating-toward-floor shift (plain arithmetic shift), named so call sites say which one
// they mean.
constexpr std::int64_t floor_right_shift(std::int64_t x, int shift) noexcept {
  return shift <= 0 ? x : (x >> shift);
}

// gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31) with gemmlowp's nudge, i.e.
// ties toward +infinity (a positive .5 rounds up, a negative -.5 rounds toward zero), and the
// single overflow case INT32_MIN*INT32_MIN (= +1.0 in Q31) saturates to INT32_MAX.
constexpr std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) noexcept {
  if (a == std::numeric_limits<std::int32_t>::min() && b == a)
    return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
}

// gemmlowp RoundingDivideByPOT (ties away from zero) on int32, for TFLite-style two-step
// requantisation; same value as rounding_right_shift.
constexpr std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) noexcept {
  return static_cast<std::int32_t>(rounding_right_shift(x, exponent));
}

}  // namespace octet::fixed

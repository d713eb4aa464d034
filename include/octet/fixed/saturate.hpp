// Saturating integer narrowing shared by the int8 engine, the BM168X code generator and the
// cmodel simulator: every place that narrows an accumulator calls these, so all three agree
// bit for bit. Integer-to-integer only (float -> int goes through quantize.hpp, which owns the
// rounding rule). Depends on nothing but the standard library.
#pragma once
#include <concepts>
#include <cstdint>
#include <limits>

namespace octet::fixed {

// Clamps an integer of any width/signedness into To's range; never wraps, never UB.
template <std::integral To, std::integral From>
constexpr To saturate_cast(From v) noexcept {
  using LF = std::numeric_limits<From>;
  using LT = std::numeric_limits<To>;
  if constexpr (LF::is_signed == LT::is_signed) {
    if constexpr (LF::digits <= LT::digits) {
      return static_cast<To>(v);
    } else {
      if (v < static_cast<From>(LT::min())) return LT::min();
      if (v > static_cast<From>(LT::max())) return LT::max();
      return static_cast<To>(v);
    }
  } else if constexpr (LF::is_signed) {  // signed -> unsigned
    if (v < 0) return 0;
    if (static_cast<std::make_unsigned_t<From>>(v) > LT::max()) return LT::max();
    return static_cast<To>(v);
  } else {  // unsigned -> signed
    if (v > static_cast<std::make_unsigned_t<To>>(LT::max())) return LT::max();
    return static_cast<To>(v);
  }
}

template <std::integral From>
constexpr std::int8_t saturate_int8(From v) noexcept { return saturate_cast<std::int8_t>(v); }
template <std::integral From>
constexpr std::uint8_t saturate_uint8(From v) noexcept { return saturate_cast<std::uint8_t>(v); }
template <std::integral From>
constexpr std::int16_t saturate_int16(From v) noexcept { return saturate_cast<std::int16_t>(v); }
template <std::integral From>
constexpr std::int32_t saturate_int32(From v) noexcept { return saturate_cast<std::int32_t>(v); }

// Clamp into an arbitrary closed range, e.g. the restricted int8 range [-127, 127].
template <std::integral T>
constexpr T clamp_to(T v, T lo, T hi) noexcept { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace octet::fixed

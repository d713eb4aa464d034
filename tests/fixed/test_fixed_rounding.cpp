// Exhaustive and dense-random checks of fixed/saturate.hpp, fixed/rounding.hpp and
// fixed/requant.hpp against plainly written long-double / __int128 references.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "octet/fixed/fixed.hpp"

using namespace octet::fixed;
using i64 = std::int64_t;
using i32 = std::int32_t;

namespace {

// ---- references: obvious, slow, exact ----
template <typename To>
i64 ref_saturate(__int128 v) {
  const __int128 lo = std::numeric_limits<To>::min(), hi = std::numeric_limits<To>::max();
  return static_cast<i64>(v < lo ? lo : (v > hi ? hi : v));
}
// x / 2^s, ties away from zero. long double has a 64-bit mantissa: int64 and x/2^s are exact.
i64 ref_rshift_away(i64 x, int s) {
  const long double v = std::ldexp(static_cast<long double>(x), -s);
  return static_cast<i64>(std::round(v));
}
i64 ref_rshift_up(i64 x, int s) {
  const long double v = std::ldexp(static_cast<long double>(x), -s);
  return static_cast<i64>(std::floor(v + 0.5L));
}
i32 ref_srdhm(i32 a, i32 b) {
  const __int128 ab = static_cast<__int128>(a) * b;
  const long double v = std::ldexp(static_cast<long double>(static_cast<i64>(ab)), -31);
  const long double r = std::floor(v + 0.5L);  // gemmlowp: ties toward +inf
  return static_cast<i32>(ref_saturate<i32>(static_cast<__int128>(r)));
}
i32 ref_mbqm(i32 acc, i32 m, int s) {
  const i64 p = static_cast<i64>(acc) * m;  // |p| <= 2^62
  return static_cast<i32>(ref_saturate<i32>(ref_rshift_away(p, s)));
}

std::vector<i64> extremes64() {
  const i64 m64 = std::numeric_limits<i64>::min(), M64 = std::numeric_limits<i64>::max();
  const i64 m32 = std::numeric_limits<i32>::min(), M32 = std::numeric_limits<i32>::max();
  return {m64, m64 + 1, M64, M64 - 1, m32, m32 + 1, M32, M32 - 1, 0, 1, -1, 2, -2, 3, -3,
          127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769};
}

}  // namespace

TEST_CASE("saturate_cast: exhaustive over int16 and uint16 sources") {
  for (int v = -32768; v <= 32767; ++v) {
    const auto s = static_cast<std::int16_t>(v);
    REQUIRE(saturate_int8(s) == ref_saturate<std::int8_t>(v));
    REQUIRE(saturate_uint8(s) == ref_saturate<std::uint8_t>(v));
    REQUIRE(saturate_cast<std::uint16_t>(s) == ref_saturate<std::uint16_t>(v));
  }
  for (int v = 0; v <= 65535; ++v) {
    const auto u = static_cast<std::uint16_t>(v);
    REQUIRE(saturate_int8(u) == ref_saturate<std::int8_t>(v));
    REQUIRE(saturate_int16(u) == ref_saturate<std::int16_t>(v));
    REQUIRE(saturate_uint8(u) == ref_saturate<std::uint8_t>(v));
  }
}

TEST_CASE("saturate_cast: int32/int64/uint32/uint64 extremes and dense random") {
  std::mt19937_64 rng(1);
  std::vector<i64> xs = extremes64();
  for (int i = 0; i < 200000; ++i) xs.push_back(static_cast<i64>(rng()) >> (rng() % 64));
  for (i64 x : xs) {
    REQUIRE(saturate_int32(x) == ref_saturate<i32>(x));
    REQUIRE(saturate_int16(x) == ref_saturate<std::int16_t>(x));
    REQUIRE(saturate_int8(x) == ref_saturate<std::int8_t>(x));
    REQUIRE(saturate_uint8(x) == ref_saturate<std::uint8_t>(x));
    REQUIRE(static_cast<i64>(saturate_cast<std::uint32_t>(x)) == ref_saturate<std::uint32_t>(x));
    const auto x32 = static_cast<i32>(x);
    REQUIRE(saturate_int16(x32) == ref_saturate<std::int16_t>(x32));
    REQUIRE(saturate_int8(x32) == ref_saturate<std::int8_t>(x32));
    REQUIRE(saturate_uint8(x32) == ref_saturate<std::uint8_t>(x32));
    const auto u64 = static_cast<std::uint64_t>(x);
    REQUIRE(saturate_int32(u64) == ref_saturate<i32>(static_cast<__int128>(u64)));
    REQUIRE(saturate_cast<i64>(u64) == ref_saturate<i64>(static_cast<__int128>(u64)));
    const auto u32 = static_cast<std::uint32_t>(x);
    REQUIRE(saturate_int32(u32) == ref_saturate<i32>(u32));
    REQUIRE(saturate_int8(u32) == ref_saturate<std::int8_t>(u32));
  }
  STATIC_REQUIRE(saturate_int8(1000) == 127);
  STATIC_REQUIRE(saturate_int8(-1000) == -128);
  STATIC_REQUIRE(clamp_to<int>(-128, -127, 127) == -127);
}

TEST_CASE("rounding_right_shift: exhaustive int16 x all shifts 0..20") {
  for (int v = -32768; v <= 32767; ++v)
    for (int s = 0; s <= 20; ++s) {
      REQUIRE(rounding_right_shift(v, s) == ref_rshift_away(v, s));
      REQUIRE(rounding_right_shift_half_up(v, s) == ref_rshift_up(v, s));
    }
}

TEST_CASE("rounding_right_shift: int64 extremes, exact ties and dense random, shifts 0..63") {
  std::mt19937_64 rng(2);
  std::vector<i64> xs = extremes64();
  for (int i = 0; i < 100000; ++i) xs.push_back(static_cast<i64>(rng()) >> (rng() % 64));
  for (i64 x : xs)
    for (int s = 0; s <= 63; ++s) {
      REQUIRE(rounding_right_shift(x, s) == ref_rshift_away(x, s));
      REQUIRE(rounding_right_shift_half_up(x, s) == ref_rshift_up(x, s));
      REQUIRE(floor_right_shift(x, s) == static_cast<i64>(std::floor(std::ldexp(static_cast<long double>(x), -s))));
    }
  // exact .5 ties: (2k+1) * 2^(s-1)
  for (int s = 1; s <= 40; ++s)
    for (i64 k = -50; k <= 50; ++k) {
      const i64 x = (2 * k + 1) * (i64{1} << (s - 1));
      const i64 away = k >= 0 ? k + 1 : k;  // e.g. 0.5 -> 1, -0.5 -> -1, -1.5 -> -2
      REQUIRE(rounding_right_shift(x, s) == away);
      REQUIRE(rounding_right_shift_half_up(x, s) == k + 1);  // -0.5 -> 0, -1.5 -> -1
    }
  STATIC_REQUIRE(rounding_right_shift(-3, 1) == -2);
  STATIC_REQUIRE(rounding_right_shift_half_up(-3, 1) == -1);
  STATIC_REQUIRE(rounding_divide_by_pot(5, 1) == 3);
}

TEST_CASE("saturating_rounding_doubling_high_mul: gemmlowp semantics") {
  const i32 mn = std::numeric_limits<i32>::min(), mx = std::numeric_limits<i32>::max();
  REQUIRE(saturating_rounding_doubling_high_mul(mn, mn) == mx);
  REQUIRE(saturating_rounding_doubling_high_mul(mn, mx) == ref_srdhm(mn, mx));
  REQUIRE(saturating_rounding_doubling_high_mul(mx, mx) == mx - 1);
  REQUIRE(saturating_rounding_doubling_high_mul(mn, 1) == -1);
  REQUIRE(saturating_rounding_doubling_high_mul(0, mn) == 0);
  std::vector<i32> special = {mn, mn + 1, mx, mx - 1, 0, 1, -1, 2, -2, 1 << 30, -(1 << 30),
                              (1 << 30) + 1, 46341, -46341, 65536, -65536};
  for (i32 a : special)
    for (i32 b : special) REQUIRE(saturating_rounding_doubling_high_mul(a, b) == ref_srdhm(a, b));
  // exact ties: a odd, b = 2^30 -> a/2
  for (i32 a = -1001; a <= 1001; a += 2) {
    REQUIRE(saturating_rounding_doubling_high_mul(a, 1 << 30) == ref_srdhm(a, 1 << 30));
    REQUIRE(saturating_rounding_doubling_high_mul(a, 1 << 30) == (a + 1) / 2);  // ties toward +inf
  }
  REQUIRE(saturating_rounding_doubling_high_mul(-1, 1 << 30) == 0);   // -0.5 -> 0 (toward +inf)
  REQUIRE(saturating_rounding_doubling_high_mul(1, 1 << 30) == 1);    // +0.5 -> 1
  REQUIRE(saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1);  // -1.5 -> -1
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000000; ++i) {
    const auto a = static_cast<i32>(static_cast<i64>(rng()) >> (32 + rng() % 32));
    const auto b = static_cast<i32>(rng());
    REQUIRE(saturating_rounding_doubling_high_mul(a, b) == ref_srdhm(a, b));
  }
}

TEST_CASE("multiply_by_quantized_multiplier: single rounding on the int64 product") {
  const i32 mn = std::numeric_limits<i32>::min(), mx = std::numeric_limits<i32>::max();
  std::mt19937_64 rng(4);
  std::vector<i32> accs = {mn, mn + 1, mx, mx - 1, 0, 1, -1, 2, -2, 1000, -1000};
  for (int i = 0; i < 20000; ++i) accs.push_back(static_cast<i32>(static_cast<i64>(rng()) >> (32 + rng() % 32)));
  std::vector<i32> mults = {1 << 30, mx, (1 << 30) + 1, 1518500250, 0, 1, -1, mn};
  for (int i = 0; i < 20; ++i) mults.push_back(static_cast<i32>((1u << 30) + (rng() % (1u << 30))));
  for (i32 acc : accs)
    for (i32 m : mults)
      for (int s : {0, 1, 2, 15, 30, 31, 32, 33, 38, 40, 47, 55, 62, 63})
        REQUIRE(multiply_by_quantized_multiplier(acc, m, s) == ref_mbqm(acc, m, s));
  // ties: acc * 2^30 >> 31 = acc / 2
  for (i32 acc = -101; acc <= 101; acc += 2)
    REQUIRE(multiply_by_quantized_multiplier(acc, 1 << 30, 31) == (acc > 0 ? (acc + 1) / 2 : (acc - 1) / 2));
  // saturation: a scale > 1 on a large accumulator
  REQUIRE(multiply_by_quantized_multiplier(mx, mx, 30) == mx);
  REQUIRE(multiply_by_quantized_multiplier(mn, mx, 30) == mn);
}

TEST_CASE("quantize_multiplier: mantissa in [2^30, 2^31), nearest, shift checked") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> mant(0.5, 1.0);
  for (int i = 0; i < 200000; ++i) {
    const double real = std::ldexp(mant(rng), -static_cast<int>(rng() % 40) + 8);
    const auto q = quantize_multiplier(real);
    REQUIRE(q.multiplier >= (1 << 30));
    REQUIRE(q.shift >= 0);
    REQUIRE(q.shift <= 63);
    // nearest: |m - real*2^shift| <= 1/2, and multiplier == round(real * 2^shift)
    const long double exact = std::ldexp(static_cast<long double>(real), q.shift);
    REQUIRE(std::fabs(exact - q.multiplier) <= 0.5L);
    REQUIRE(std::fabs(q.value() / real - 1.0) <= std::ldexp(1.0, -31));
  }
  // powers of two and the renormalisation edge
  REQUIRE(quantize_multiplier(0.5).multiplier == (1 << 30));
  REQUIRE(quantize_multiplier(0.5).shift == 31);
  REQUIRE(quantize_multiplier(1.0).shift == 30);
  const double almost_one = std::nextafter(1.0, 0.0);  // mantissa rounds up to 2^31
  REQUIRE(quantize_multiplier(almost_one).multiplier == (1 << 30));
  REQUIRE(quantize_multiplier(almost_one).shift == 30);
  REQUIRE(quantize_multiplier(0.0).multiplier == 0);
  REQUIRE_THROWS_AS(quantize_multiplier(-1.0), octet::ModelError);
  REQUIRE_THROWS_AS(quantize_multiplier(std::nan("")), octet::ModelError);
  REQUIRE_THROWS_AS(quantize_multiplier(INFINITY), octet::ModelError);
  REQUIRE_THROWS_AS(quantize_multiplier(std::ldexp(1.0, 31)), octet::ModelError);   // shift -1
  REQUIRE_THROWS_AS(quantize_multiplier(std::ldexp(1.0, -40)), octet::ModelError);  // shift 71
  REQUIRE_THROWS_AS(quantize_multiplier(0.001, 0, 31), octet::ModelError);
  // end to end: requantising with (m, shift) is within one code of the real product
  for (int i = 0; i < 100000; ++i) {
    const double real = std::ldexp(mant(rng), -static_cast<int>(rng() % 20));
    const auto q = quantize_multiplier(real);
    const auto acc = static_cast<i32>(static_cast<i64>(rng()) >> 40);
    const i32 r = multiply_by_quantized_multiplier(acc, q);
    REQUIRE(std::fabs(static_cast<double>(r) - acc * real) <= 0.5 + std::fabs(acc * real) * std::ldexp(1.0, -30));
  }
}

TEST_CASE("gemmlowp two-rounding requantisation matches its definition") {
  std::mt19937_64 rng(6);
  for (int i = 0; i < 100000; ++i) {
    const auto acc = static_cast<i32>(rng());
    const auto m = static_cast<i32>((1u << 30) + (rng() % (1u << 30)));
    const int s = 31 + static_cast<int>(rng() % 20);
    REQUIRE(multiply_by_quantized_multiplier_gemmlowp(acc, m, s) ==
            static_cast<i32>(ref_rshift_away(ref_srdhm(acc, m), s - 31)));
  }
}

TEST_CASE("pow2_requant: residual absorbs the non-power-of-two part exactly") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> mant(0.5, 1.0);
  for (int i = 0; i < 100000; ++i) {
    const double real = std::ldexp(mant(rng), -static_cast<int>(rng() % 25) - 1);
    const auto n = pow2_requant(real);
    REQUIRE(std::ldexp(n.residual, -n.shift) == real);
    REQUIRE(n.residual >= std::sqrt(0.5));
    REQUIRE(n.residual < std::sqrt(2.0));
    const auto g = pow2_requant(real, Pow2Rounding::no_growth);
    REQUIRE(std::ldexp(g.residual, -g.shift) == real);
    REQUIRE(g.residual > 0.5);
    REQUIRE(g.residual <= 1.0);
  }
  REQUIRE(pow2_requant(0.25).shift == 2);
  REQUIRE(pow2_requant(0.25).residual == 1.0);
  REQUIRE(pow2_requant(0.25, Pow2Rounding::no_growth).residual == 1.0);
  REQUIRE(pow2_requant(0.3).shift == 2);            // 0.3 = 1.2 * 2^-2
  REQUIRE(pow2_requant(0.3, Pow2Rounding::no_growth).shift == 1);  // 0.6 * 2^-1
  REQUIRE(pow2_requant(0.4).shift == 1);            // 0.8 * 2^-1
  REQUIRE_THROWS_AS(pow2_requant(0.0), octet::ModelError);
  REQUIRE_THROWS_AS(pow2_requant(4.0), octet::ModelError);             // needs shift -2
  REQUIRE_THROWS_AS(pow2_requant(std::ldexp(1.0, -40)), octet::ModelError);  // > 31
  REQUIRE(shift_requantize(-3, 1) == -2);
  REQUIRE(shift_requantize(std::numeric_limits<i32>::min(), 0) == std::numeric_limits<i32>::min());
}

TEST_CASE("int8 x int8 operands, exhaustively: high-mul and requantisation of every product") {
  for (int a = -128; a <= 127; ++a)
    for (int b = -128; b <= 127; ++b) {
      // operands in the top byte exercise ties and the INT32_MIN corner
      const i32 A = static_cast<i32>(static_cast<std::uint32_t>(a) << 24), B = static_cast<i32>(static_cast<std::uint32_t>(b) << 24);
      REQUIRE(saturating_rounding_doubling_high_mul(A, B) == ref_srdhm(A, B));
      REQUIRE(saturating_rounding_doubling_high_mul(a, B) == ref_srdhm(a, B));
      const i32 acc = a * b;  // an int8 x int8 product as accumulator
      for (int s : {0, 1, 5, 7, 8, 13})
        REQUIRE(multiply_by_quantized_multiplier(acc, 1 << 30, 31 + s - 1) == ref_mbqm(acc, 1 << 30, 31 + s - 1));
      for (int s = 0; s <= 16; ++s) {
        REQUIRE(shift_requantize(acc, s) == ref_rshift_away(acc, s));
        REQUIRE(saturate_int8(shift_requantize(acc, s)) == ref_saturate<std::int8_t>(ref_rshift_away(acc, s)));
      }
    }
}

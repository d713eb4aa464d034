// fixed/quantize.hpp and fixed/lut.hpp: exhaustive over every int8/uint8 code, exact ties,
// and dense random floats against a long-double reference written out here.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "octet/fixed/fixed.hpp"

using namespace octet::fixed;

namespace {
int ref_quantize(long double x, long double s, int lo, int hi) {
  if (std::isnan(x)) return 0;
  const long double q = std::round(x / s);  // ties away from zero
  return q < lo ? lo : (q > hi ? hi : static_cast<int>(q));
}
}  // namespace

TEST_CASE("QRange constants") {
  REQUIRE(qmin(QRange::int8_sym) == -127);
  REQUIRE(qmin(QRange::int8_full) == -128);
  REQUIRE(qmin(QRange::uint8) == 0);
  REQUIRE(qmax(QRange::int8_sym) == 127);
  REQUIRE(qmax(QRange::uint8) == 255);
  REQUIRE(scale_from_threshold(127.0f) == 1.0f);
  REQUIRE(scale_from_threshold(255.0f, QRange::uint8) == 1.0f);
}

TEST_CASE("quantize: exact ties around every code round away from zero") {
  const float s = 0.0625f;  // power of two: (k + 0.5) * s is exact
  for (int k = -130; k <= 130; ++k) {
    const float up = (static_cast<float>(k) + 0.5f) * s;
    const float dn = (static_cast<float>(k) - 0.5f) * s;
    const int away_up = k >= 0 ? k + 1 : k;
    const int away_dn = k > 0 ? k : k - 1;
    REQUIRE(quantize_int8(up, s) == std::clamp(away_up, -127, 127));
    REQUIRE(quantize_int8(dn, s) == std::clamp(away_dn, -127, 127));
    REQUIRE(quantize_int8(up, s, QRange::int8_full) == std::clamp(away_up, -128, 127));
    REQUIRE(quantize_int8(dn, s, QRange::int8_full) == std::clamp(away_dn, -128, 127));
    REQUIRE(quantize_uint8(up, s) == std::clamp(away_up, 0, 255));
  }
  REQUIRE(quantize_int8(-0.5f, 1.0f) == -1);
  REQUIRE(quantize_int8(0.5f, 1.0f) == 1);
  REQUIRE(quantize_uint8(254.5f, 1.0f) == 255);
  REQUIRE(quantize_uint8(-0.4f, 1.0f) == 0);
}

TEST_CASE("quantize: specials saturate, NaN maps to zero") {
  const float inf = std::numeric_limits<float>::infinity();
  REQUIRE(quantize_int8(inf, 0.1f) == 127);
  REQUIRE(quantize_int8(-inf, 0.1f) == -127);
  REQUIRE(quantize_int8(-inf, 0.1f, QRange::int8_full) == -128);
  REQUIRE(quantize_int8(std::nanf(""), 0.1f) == 0);
  REQUIRE(quantize_uint8(std::nanf(""), 0.1f) == 0);
  REQUIRE(quantize_uint8(inf, 0.1f) == 255);
  REQUIRE(quantize_int8(3e38f, 1e-30f) == 127);
  REQUIRE(quantize_int8(-0.0f, 1.0f) == 0);
  REQUIRE(quantize_int8(std::numeric_limits<float>::denorm_min(), 1e-45f) == 1);
}

TEST_CASE("quantize: dense random floats and scales against the long-double reference") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> e(-30, 10);
  for (int i = 0; i < 1000000; ++i) {
    const float s = std::ldexp(std::fabs(u(rng)) + 0.01f, e(rng));
    const float x = u(rng) * s * 300.0f;
    REQUIRE(quantize_int8(x, s) == ref_quantize(x, s, -127, 127));
    REQUIRE(quantize_int8(x, s, QRange::int8_full) == ref_quantize(x, s, -128, 127));
    REQUIRE(quantize_uint8(x, s) == ref_quantize(x, s, 0, 255));
  }
  // values one ulp either side of the ties with a non-power-of-two scale
  const float s = 0.1f;
  for (int k = -127; k < 127; ++k) {
    const long double tie = (k + 0.5L) * static_cast<long double>(s);
    const float t = static_cast<float>(tie);
    for (float x : {std::nextafter(t, -1e9f), t, std::nextafter(t, 1e9f)})
      REQUIRE(quantize_int8(x, s) == ref_quantize(x, s, -127, 127));
  }
}

TEST_CASE("dequantize: exhaustive over all codes, and quantize(dequantize(q)) == q") {
  for (float s : {1.0f, 0.1f, 0.0123f, 3.5e-5f, 7.0f}) {
    for (int q = -128; q <= 127; ++q) {
      REQUIRE(dequantize(q, s) == static_cast<float>(q) * s);
      REQUIRE(quantize_int8(dequantize(q, s), s, QRange::int8_full) == q);
      if (q >= -127) REQUIRE(quantize_int8(dequantize(q, s), s) == q);
    }
    for (int q = 0; q <= 255; ++q) REQUIRE(quantize_uint8(dequantize(q, s), s) == q);
  }
  std::vector<float> x = {-1.0f, 0.26f, 0.0f, 99.0f};
  std::vector<std::int8_t> q(x.size());
  quantize_int8(x, 0.5f, q);
  REQUIRE(q == std::vector<std::int8_t>{-2, 1, 0, 127});
  std::vector<float> back(x.size());
  dequantize<std::int8_t>(q, 0.5f, back);
  REQUIRE(back == std::vector<float>{-1.0f, 0.5f, 0.0f, 63.5f});
}

TEST_CASE("LUT: every entry equals the plain reference, for int8 and uint8 in/out") {
  struct Case {
    const char* name;
    double (*fn)(double);
  };
  const Case fns[] = {{"sigmoid", lut_fn::sigmoid}, {"tanh", lut_fn::tanh},
                      {"hardswish", lut_fn::hardswish}, {"exp", lut_fn::exp}};
  for (const auto& c : fns) {
    INFO(c.name);
    for (bool in_signed : {true, false}) {
      const float s_in = in_signed ? 8.0f / 127 : 8.0f / 255;
      const float s_out = 1.5f / 127;
      const auto t = build_lut<std::int8_t>(s_in, in_signed, s_out, QRange::int8_sym, c.fn);
      const auto tf = build_lut<std::int8_t>(s_in, in_signed, s_out, QRange::int8_full, c.fn);
      const auto tu = build_lut<std::uint8_t>(s_in, in_signed, 1.0f / 255, QRange::uint8, c.fn);
      const int lo = in_signed ? -128 : 0, hi = in_signed ? 127 : 255;
      for (int x = lo; x <= hi; ++x) {
        const long double xin = static_cast<long double>(static_cast<float>(x) * s_in);
        const long double y = c.fn(static_cast<double>(xin));
        REQUIRE(lut_lookup(t, x, in_signed) == ref_quantize(y, s_out, -127, 127));
        REQUIRE(lut_lookup(tf, x, in_signed) == ref_quantize(y, s_out, -128, 127));
        REQUIRE(lut_lookup(tu, x, in_signed) == ref_quantize(y, 1.0L / 255 * 1.0L, 0, 255));
      }
    }
  }
  // spot values with hand-computed answers
  // s_out = 1/256 is exact, so sigmoid(0) = 0.5 is an exact tie at 128.
  const auto sig = build_lut<std::uint8_t>(1.0f / 16, true, 1.0f / 256, QRange::uint8, lut_fn::sigmoid);
  REQUIRE(sig[128] == 128);
  REQUIRE(sig[255] == 255);  // sigmoid(127/16) = 0.99964 -> 255.9 -> 255
  // float(1/255) is slightly above 1/255, so 0.5 lands just below the 127.5 tie
  const auto sig255 = build_lut<std::uint8_t>(1.0f / 16, true, 1.0f / 255, QRange::uint8, lut_fn::sigmoid);
  REQUIRE(sig255[128] == 127);
  REQUIRE(sig[0] == 0);
  const auto th = build_lut<std::int8_t>(1.0f / 16, true, 1.0f / 127, QRange::int8_sym, lut_fn::tanh);
  for (int x = -127; x <= 127; ++x) REQUIRE(lut_lookup(th, x, true) == -lut_lookup(th, -x, true));  // odd
  REQUIRE(lut_lookup(th, -128, true) == -127);
  const auto hs = build_lut<std::int8_t>(0.1f, true, 0.1f, QRange::int8_sym, lut_fn::hardswish);
  REQUIRE(lut_lookup(hs, -40, true) == 0);   // x = -4 -> 0
  REQUIRE(lut_lookup(hs, 50, true) == 50);   // x = 5 >= 3 -> identity
  REQUIRE(lut_lookup(hs, 10, true) == 7);    // x = 1: 1*4/6 = 0.667 -> 6.67 -> 7
  REQUIRE_THROWS_AS(build_lut<std::uint8_t>(0.1f, true, 0.1f, QRange::int8_sym, lut_fn::exp),
                    octet::UsageError);
  REQUIRE_THROWS_AS(build_lut<std::int8_t>(0.0f, true, 0.1f, QRange::int8_sym, lut_fn::exp),
                    octet::UsageError);
}

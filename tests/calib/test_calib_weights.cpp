// calib/weights.hpp: exact integers for per-channel / per-tensor weights, the zero guard,
// int32 bias and BM1684's int16 bias + shift.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "octet/calib/weights.hpp"
#include "octet/fixed/quantize.hpp"

using namespace octet::calib;
using V8 = std::vector<std::int8_t>;

TEST_CASE("Per-channel max-abs: exact codes, ties away from zero, zero guard reports channels") {
  // scales chosen exact (T = 127 -> s = 1, T = 254 -> s = 2)
  const std::vector<float> w = {
      63.5f, -127.0f, 31.75f, -0.5f,   // ch0: T 127, s 1
      254.0f, 0.0f, -254.0f, 127.0f,   // ch1: T 254, s 2
      0.0f, -0.0f, 0.0f, 0.0f,         // ch2: dead
      1e-40f, 0.0f, -1e-41f, 0.0f,     // ch3: subnormal max -> dead
  };
  auto r = quantize_weights_per_channel(w, 4);
  REQUIRE(r.q == V8{64, -127, 32, -1, 127, 0, -127, 64, 0, 0, 0, 0, 0, 0, 0, 0});
  REQUIRE(r.threshold == std::vector<float>{127.0f, 254.0f, 1.0f, 1.0f});
  REQUIRE(r.scale[0] == 1.0f);
  REQUIRE(r.scale[1] == 2.0f);
  REQUIRE(r.zero_channels == std::vector<std::size_t>{2, 3});
  for (float s : r.scale) {
    REQUIRE(std::isfinite(s));
    REQUIRE(s > 0);
  }
  // every channel's max-abs weight maps to +-127 (full scale used)
  auto g = quantize_weights_per_tensor(w);
  REQUIRE(g.threshold == std::vector<float>{254.0f});
  REQUIRE(g.q == V8{32, -64, 16, 0, 127, 0, -127, 64, 0, 0, 0, 0, 0, 0, 0, 0});  // 31.75/2 = 15.875 -> 16; -0.25 -> 0
  REQUIRE(g.zero_channels.empty());
}

TEST_CASE("Grouped weights (-conv_group): octaves of max-abs share the group's largest scale") {
  // max-abs per channel: 254, 200 (ratio 1.27: group 0), 127 (ratio 2: group 1), 100 (2.54:
  // group 1), 0 (zero guard), 1 (ratio 254: group 7, the last, which also takes smaller ones),
  // 0.5 (ratio 508: group 7).
  const std::vector<float> w = {254.f, -1.f, 200.f, 3.f, -127.f, 63.5f, 100.f, -50.f,
                                0.f,   0.f,  1.f,   -0.5f, 0.5f, 0.25f};
  auto r = quantize_weights_grouped(w, 7);
  REQUIRE(r.threshold == std::vector<float>{254.f, 254.f, 127.f, 127.f, 1.f, 1.f, 1.f});
  REQUIRE(r.zero_channels == std::vector<std::size_t>{4});
  // Codes with the group scale: -1 / 2 = -0.5 -> -1 and 3 / 2 = 1.5 -> 2 (ties away), 100 / 1,
  // the last group at s = 1/127: 0.5 -> 63.5 -> 64, 0.25 -> 31.75 -> 32.
  REQUIRE(r.q == V8{127, -1, 100, 2, -127, 64, 100, -50, 0, 0, 127, -64, 64, 32});
  // One channel, or all equal: the per-tensor result.
  const std::vector<float> one = {0.5f, -2.f, 1.f};
  REQUIRE(quantize_weights_grouped(one, 1).q == quantize_weights_per_tensor(one).q);
  // All zero: guarded, finite.
  const std::vector<float> zeros(6, 0.f);
  auto z = quantize_weights_grouped(zeros, 3);
  REQUIRE(z.zero_channels.size() == 3);
  for (float s : z.scale) REQUIRE(std::isfinite(s));
}

TEST_CASE("Per-channel weights agree with fixed::quantize_int8 and use +-127 at the max") {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> n(0.0f, 0.1f);
  std::vector<float> w(64 * 3 * 3 * 16);
  for (auto& v : w) v = n(rng);
  auto r = quantize_weights_per_channel(w, 64);
  const std::size_t per = w.size() / 64;
  for (std::size_t c = 0; c < 64; ++c) {
    REQUIRE(r.scale[c] == r.threshold[c] / 127.0f);
    int maxq = 0;
    for (std::size_t k = 0; k < per; ++k) {
      REQUIRE(r.q[c * per + k] == octet::fixed::quantize_int8(w[c * per + k], r.scale[c]));
      maxq = std::max(maxq, std::abs(static_cast<int>(r.q[c * per + k])));
    }
    REQUIRE(maxq == 127);
  }
  // ncnn-style 6-bit weights: |q| <= 31
  auto r6 = quantize_weights_per_channel(w, 64, 31);
  for (auto q : r6.q) REQUIRE(std::abs(static_cast<int>(q)) <= 31);
}

TEST_CASE("Weights: bad shapes and non-finite values are errors naming the tensor") {
  std::vector<float> w = {1, 2, 3};
  REQUIRE_THROWS_AS(quantize_weights_per_channel(w, 2, 127, "conv1"), octet::ShapeError);
  w[1] = std::numeric_limits<float>::quiet_NaN();
  try {
    quantize_weights_per_channel(w, 3, 127, "conv1");
    FAIL("NaN accepted");
  } catch (const octet::ModelError& e) {
    REQUIRE(std::string(e.what()).find("conv1") != std::string::npos);
    REQUIRE(std::string(e.what()).find("channel 1") != std::string::npos);
  }
}

TEST_CASE("Bias to int32 with step s_in * s_c") {
  const std::vector<float> b = {1.25f, -1.5f, 0.0f, 100.0f};
  const std::vector<float> sw = {1.0f, 2.0f, 0.25f, 0.5f};
  auto r = quantize_bias(b, 0.5f, sw);  // steps 0.5, 1, 0.125, 0.25
  REQUIRE(r.q == std::vector<std::int32_t>{3, -2, 0, 400});  // 2.5 -> 3, -1.5 -> -2
  REQUIRE(r.saturated.empty());
  const std::vector<float> one = {0.5f};
  auto t = quantize_bias(b, 0.5f, one);  // per-tensor: step 0.25
  REQUIRE(t.q == std::vector<std::int32_t>{5, -6, 0, 400});
  const std::vector<float> big = {1e10f, -1e10f};
  const std::vector<float> s1 = {1.0f};
  auto s = quantize_bias(big, 1.0f, s1);
  REQUIRE(s.q == std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min()});
  REQUIRE(s.saturated == std::vector<std::size_t>{0, 1});
  const std::vector<float> two = {1.0f, 1.0f};
  REQUIRE_THROWS_AS(quantize_bias(b, 0.5f, two), octet::ShapeError);
  REQUIRE_THROWS_AS(quantize_bias(b, 0.0f, sw), octet::ModelError);
}

TEST_CASE("BM1684 int16 bias + shift: smallest shift whose rounded values fit") {
  auto a = bias_to_int16(std::vector<std::int32_t>{100, -200, 32767, -32768});
  REQUIRE(a.lshift == 0);
  REQUIRE(a.q == std::vector<std::int16_t>{100, -200, 32767, -32768});
  // 65535 >> 1 rounds to 32768 (does not fit), so the shift is 2: 16383.75 -> 16384, -0.75 -> -1
  auto b = bias_to_int16(std::vector<std::int32_t>{65535, -3});
  REQUIRE(b.lshift == 2);
  REQUIRE(b.q == std::vector<std::int16_t>{16384, -1});
  auto c = bias_to_int16(std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min()});
  REQUIRE(c.lshift == 17);
  REQUIRE(c.q == std::vector<std::int16_t>{16384, -16384});
  auto d = bias_to_int16(std::vector<std::int32_t>{65534});
  REQUIRE(d.lshift == 1);
  REQUIRE(d.q == std::vector<std::int16_t>{32767});
  auto e = bias_to_int16(std::vector<std::int32_t>{});
  REQUIRE(e.lshift == 0);
  REQUIRE(e.q.empty());
  // error bound holds on random data
  std::mt19937_64 rng(4);
  std::vector<std::int32_t> v(1000);
  for (auto& x : v) x = static_cast<std::int32_t>(rng()) >> (rng() % 31);
  auto f = bias_to_int16(v);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::int64_t back = static_cast<std::int64_t>(f.q[i]) * (std::int64_t{1} << f.lshift);
    REQUIRE(std::llabs(back - v[i]) <= (f.lshift ? (std::int64_t{1} << (f.lshift - 1)) : 0));
  }
}

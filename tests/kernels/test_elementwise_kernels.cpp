// Elementwise, activation, unary and softmax kernels: hand-computed cases and the fast paths
// against their reference:: versions on odd shapes.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "octet/kernels/activation.hpp"
#include "octet/kernels/eltwise.hpp"
#include "octet/kernels/softmax.hpp"
#include "octet/kernels/unary.hpp"

using namespace octet;
using namespace octet::kernels;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {
std::vector<float> random_vec(int64_t n, float lo = -4.f, float hi = 4.f, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<float> iota_vec(int64_t n, float start = 0.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + float(i);
  return v;
}
void require_close(const std::vector<float>& a, const std::vector<float>& b, float tol = 1e-5f) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("index " << i << ": " << a[i] << " vs " << b[i]);
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;  // pow of a negative base
    REQUIRE(std::abs(a[i] - b[i]) <= tol * std::max(1.f, std::abs(b[i])));
  }
}
}  // namespace

TEST_CASE("broadcast_shape follows numpy and rejects incompatible dims", "[kernels][broadcast]") {
  CHECK(broadcast_shape({2, 3, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK(broadcast_shape({2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK(broadcast_shape({}, {5}) == Shape{5});
  CHECK(broadcast_shape({1}, {2, 3}) == Shape{2, 3});
  CHECK_THROWS_AS(broadcast_shape({2, 3, 4}, {3, 2}), ShapeError);
  CHECK_THROWS_AS(broadcast_shape({4}, {3}), ShapeError);
}

TEST_CASE("broadcast plan folds per-channel and scalar cases", "[kernels][broadcast]") {
  auto p = make_broadcast_plan({2, 3, 4, 5}, {1, 3, 1, 1});
  REQUIRE(p.rank == 3);  // [2, 3, 20]
  CHECK(p.dims[0] == 2);
  CHECK(p.dims[1] == 3);
  CHECK(p.dims[2] == 20);
  CHECK(p.stride_b[2] == 0);
  CHECK(p.stride_b[1] == 1);
  auto s = make_broadcast_plan({2, 3, 4}, {2, 3, 4});
  CHECK(s.rank == 1);
  CHECK(s.dims[0] == 24);
  auto sc = make_broadcast_plan({2, 3, 4}, {1});
  CHECK(sc.rank == 1);
  CHECK(sc.stride_b[0] == 0);
}

TEST_CASE("binary add broadcasts [2,3,4] + [3,1] exactly", "[kernels][binary]") {
  const auto a = iota_vec(24);
  const std::vector<float> b = {100, 200, 300};
  std::vector<float> out(24), ref(24);
  binary(BinaryOp::Add, {2, 3, 4}, a.data(), {3, 1}, b.data(), out.data());
  reference::binary(BinaryOp::Add, {2, 3, 4}, a.data(), {3, 1}, b.data(), ref.data());
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int w = 0; w < 4; ++w) {
        const int i = (n * 3 + c) * 4 + w;
        CHECK(out[i] == float(i) + b[c]);
        CHECK(ref[i] == out[i]);
      }
}

TEST_CASE("binary ops with scalar, [1] and const-first operands", "[kernels][binary]") {
  const std::vector<float> a = {1, 2, 4, 8};
  const std::vector<float> two = {2};
  std::vector<float> out(4);
  binary(BinaryOp::Sub, {4}, a.data(), {1}, two.data(), out.data());
  CHECK(out == std::vector<float>{-1, 0, 2, 6});
  binary(BinaryOp::Sub, {1}, two.data(), {4}, a.data(), out.data());  // constant first
  CHECK(out == std::vector<float>{1, 0, -2, -6});
  binary(BinaryOp::Div, {2, 2}, a.data(), {}, two.data(), out.data());
  CHECK(out == std::vector<float>{0.5f, 1, 2, 4});
  binary(BinaryOp::Pow, {4}, a.data(), {1}, two.data(), out.data());
  CHECK(out == std::vector<float>{1, 4, 16, 64});
  binary(BinaryOp::Max, {4}, a.data(), {1}, two.data(), out.data());
  CHECK(out == std::vector<float>{2, 2, 4, 8});
  binary(BinaryOp::Min, {4}, a.data(), {1}, two.data(), out.data());
  CHECK(out == std::vector<float>{1, 2, 2, 2});
  binary(BinaryOp::Mul, {4}, a.data(), {4}, a.data(), out.data());
  CHECK(out == std::vector<float>{1, 4, 16, 64});
  std::vector<float> scalar_out(1);
  binary(BinaryOp::Add, {}, two.data(), {1}, two.data(), scalar_out.data());
  CHECK(scalar_out[0] == 4);
}

TEST_CASE("binary fast path equals reference on odd broadcast patterns", "[kernels][binary]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 5, 7}, {3, 5, 7}}, {{3, 5, 7}, {7}},       {{3, 5, 7}, {5, 1}},  {{3, 1, 7}, {1, 5, 1}},
      {{1}, {3, 5, 7}},       {{2, 3, 5, 7}, {1, 3, 1, 1}}, {{5, 1}, {1, 6}},  {{2, 1, 3, 1, 2}, {1, 4, 1, 5, 1}},
      {{1, 1, 1}, {1}},       {{7, 1, 1, 9}, {7, 3, 4, 1}}, {{40000}, {40000}}, {{3, 20000}, {3, 1}}};
  for (const auto& [sa, sb] : cases) {
    const Shape os = broadcast_shape(sa, sb);
    const auto a = random_vec(shape_count(sa), -3, 3, 1), b = random_vec(shape_count(sb), 0.5f, 3, 2);
    for (int op = 0; op <= int(BinaryOp::Min); ++op) {
      std::vector<float> out(static_cast<size_t>(shape_count(os))), ref(out.size());
      binary(BinaryOp(op), sa, a.data(), sb, b.data(), out.data());
      reference::binary(BinaryOp(op), sa, a.data(), sb, b.data(), ref.data());
      INFO(shape_str(sa) << " op " << op << " " << shape_str(sb));
      require_close(out, ref, 1e-6f);
    }
  }
}

TEST_CASE("binary kernel may write over a full-shape operand", "[kernels][binary]") {
  auto a = iota_vec(12);
  const std::vector<float> b = {1, 2, 3};
  binary(BinaryOp::Mul, {4, 3}, a.data(), {3}, b.data(), a.data());
  CHECK(a[4] == 4.f * 2.f);
  CHECK(a[11] == 11.f * 3.f);
}

TEST_CASE("eltwise SUM with coefficients, PROD, MAX", "[kernels][eltwise]") {
  const std::vector<float> x = {1, -2, 3}, y = {4, 5, -6}, z = {0.5f, 0.5f, 0.5f};
  const float* in[3] = {x.data(), y.data(), z.data()};
  std::vector<float> out(3);
  const float coeffs[3] = {1.f, -1.f, 2.f};
  eltwise<float>({EltwiseOp::Sum, coeffs}, 3, in, out.data());
  CHECK(out == std::vector<float>{-2, -6, 10});
  eltwise<float>({EltwiseOp::Prod, {}}, 3, in, out.data());
  CHECK(out == std::vector<float>{2, -5, -9});
  eltwise<float>({EltwiseOp::Max, {}}, 3, in, out.data());
  CHECK(out == std::vector<float>{4, 5, 3});
  CHECK_THROWS_AS(eltwise<float>({EltwiseOp::Sum, std::span<const float>(coeffs, 2)}, 3, in, out.data()), ModelError);

  // In place over the first input, and fast vs reference on a long odd count.
  const int64_t n = 50001;
  auto a = random_vec(n, -1, 1, 3), b = random_vec(n, -1, 1, 4), c = random_vec(n, -1, 1, 5);
  for (auto op : {EltwiseOp::Sum, EltwiseOp::Prod, EltwiseOp::Max}) {
    std::vector<float> ref(static_cast<size_t>(n));
    auto inplace = a;
    const float* ins[3] = {inplace.data(), b.data(), c.data()};
    const float* rins[3] = {a.data(), b.data(), c.data()};
    const std::span<const float> cf = op == EltwiseOp::Sum ? std::span<const float>(coeffs, 3) : std::span<const float>();
    reference::eltwise<float>({op, cf}, n, rins, ref.data());
    eltwise<float>({op, cf}, n, ins, inplace.data());
    require_close(inplace, ref, 1e-6f);
  }
  // A fused activation (Add + ReLU, Add + Clip), 2 and 1 inputs.
  for (const auto& act : {FusedActivation::relu(0.f), FusedActivation::relu(0.25f), FusedActivation::clip(-0.3f, 0.4f)})
    for (size_t inputs : {size_t{1}, size_t{2}}) {
      std::vector<float> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      const float* ins[2] = {a.data(), b.data()};
      reference::eltwise<float>({EltwiseOp::Sum, {}}, n, std::span<const float* const>(ins, inputs), ref.data(), act);
      eltwise<float>({EltwiseOp::Sum, {}}, n, std::span<const float* const>(ins, inputs), got.data(), act);
      require_close(got, ref, 1e-6f);
      if (act.kind == FusedActivation::Kind::Relu && act.negative_slope == 0.f)
        CHECK(*std::min_element(got.begin(), got.end()) == 0.f);
    }
}

TEST_CASE("activations: hand values", "[kernels][activation]") {
  const std::vector<float> x = {-2, -0.5f, 0, 0.5f, 3, 7};
  std::vector<float> y(x.size());
  relu({}, 6, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 0, 0, 0.5f, 3, 7});
  relu({0.1f}, 6, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(-0.2, 1e-7));
  CHECK_THAT(y[1], WithinAbs(-0.05, 1e-7));
  relu6(6, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 0, 0, 0.5f, 3, 6});
  clip({-1, 1}, 6, x.data(), y.data());
  CHECK(y == std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1});
  elu({2.f}, 6, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(2 * (std::exp(-2.0) - 1), 1e-6));
  CHECK(y[4] == 3.f);
  hard_sigmoid({0.2f, 0.5f}, 6, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(0.1, 1e-6));
  CHECK(y[4] == 1.f);
  CHECK_THAT(y[2], WithinAbs(0.5, 1e-7));
  hard_swish({1.f / 6, 0.5f}, 6, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(-2 * (1.0 / 6), 1e-6));  // -2 * (-2/6 + 0.5)
  CHECK_THAT(y[3], WithinAbs(0.5 * (0.5 / 6 + 0.5), 1e-6));
  CHECK(y[4] == 3.f);
  sigmoid(6, x.data(), y.data());
  CHECK_THAT(y[2], WithinAbs(0.5, 1e-7));
  CHECK_THAT(y[0], WithinAbs(1 / (1 + std::exp(2.0)), 1e-6));
  tanh(6, x.data(), y.data());
  CHECK_THAT(y[3], WithinAbs(std::tanh(0.5), 1e-6));
  swish({1.f}, 6, x.data(), y.data());
  CHECK_THAT(y[4], WithinAbs(3 / (1 + std::exp(-3.0)), 1e-5));
  absval(6, x.data(), y.data());
  CHECK(y == std::vector<float>{2, 0.5f, 0, 0.5f, 3, 7});
  power({2.f, 2.f, 1.f}, 6, x.data(), y.data());  // (1 + 2x)^2
  CHECK(y == std::vector<float>{9, 0, 1, 4, 49, 225});
  power({3.f, 1.f, 0.f}, 6, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(-8, 1e-5));
  power({0.5f, 1.f, 2.f}, 6, x.data(), y.data());  // sqrt(2 + x)
  CHECK_THAT(y[3], WithinAbs(std::sqrt(2.5), 1e-6));
  exp({2.f, 1.f, 1.f}, 6, x.data(), y.data());  // 2^(1 + x)
  CHECK_THAT(y[4], WithinRel(16.0, 1e-6));
  CHECK_THAT(y[0], WithinRel(0.5, 1e-6));
  log({10.f, 2.f, 0.f}, 6, x.data(), y.data());  // log10(2x)
  CHECK_THAT(y[3], WithinAbs(0.0, 1e-6));
  CHECK_THAT(y[5], WithinAbs(std::log10(14.0), 1e-6));
  CHECK_THROWS_AS(exp({-3.f, 1.f, 0.f}, 6, x.data(), y.data()), ModelError);
}

TEST_CASE("activations: fast paths equal reference, in place, odd counts", "[kernels][activation]") {
  const int64_t n = 40013;
  const auto x = random_vec(n, -12, 12);
  const auto xp = random_vec(n, 0.01f, 12);
  auto check = [&](auto fast, auto ref, const std::vector<float>& in, float tol) {
    std::vector<float> a = in, b(in.size());
    fast(a.data(), a.data());  // in place
    ref(in.data(), b.data());
    require_close(a, b, tol);
  };
  check([&](const float* i, float* o) { relu({0.f}, n, i, o); }, [&](const float* i, float* o) { reference::relu({0.f}, n, i, o); }, x, 0);
  check([&](const float* i, float* o) { relu({0.3f}, n, i, o); }, [&](const float* i, float* o) { reference::relu({0.3f}, n, i, o); }, x, 1e-7f);
  check([&](const float* i, float* o) { relu6(n, i, o); }, [&](const float* i, float* o) { reference::relu6(n, i, o); }, x, 0);
  check([&](const float* i, float* o) { clip({-1.5f, 2.f}, n, i, o); }, [&](const float* i, float* o) { reference::clip({-1.5f, 2.f}, n, i, o); }, x, 0);
  check([&](const float* i, float* o) { elu({0.7f}, n, i, o); }, [&](const float* i, float* o) { reference::elu({0.7f}, n, i, o); }, x, 1e-6f);
  check([&](const float* i, float* o) { sigmoid(n, i, o); }, [&](const float* i, float* o) { reference::sigmoid(n, i, o); }, x, 1e-6f);
  check([&](const float* i, float* o) { tanh(n, i, o); }, [&](const float* i, float* o) { reference::tanh(n, i, o); }, x, 1e-6f);
  check([&](const float* i, float* o) { hard_sigmoid({0.2f, 0.5f}, n, i, o); }, [&](const float* i, float* o) { reference::hard_sigmoid({0.2f, 0.5f}, n, i, o); }, x, 1e-7f);
  check([&](const float* i, float* o) { hard_swish({1.f / 6, 0.5f}, n, i, o); }, [&](const float* i, float* o) { reference::hard_swish({1.f / 6, 0.5f}, n, i, o); }, x, 1e-6f);
  check([&](const float* i, float* o) { swish({1.3f}, n, i, o); }, [&](const float* i, float* o) { reference::swish({1.3f}, n, i, o); }, x, 1e-5f);
  check([&](const float* i, float* o) { absval(n, i, o); }, [&](const float* i, float* o) { reference::absval(n, i, o); }, x, 0);
  check([&](const float* i, float* o) { power({1.7f, 0.5f, 0.1f}, n, i, o); }, [&](const float* i, float* o) { reference::power({1.7f, 0.5f, 0.1f}, n, i, o); }, xp, 1e-5f);
  check([&](const float* i, float* o) { exp({-1.f, 0.5f, 0.2f}, n, i, o); }, [&](const float* i, float* o) { reference::exp({-1.f, 0.5f, 0.2f}, n, i, o); }, x, 1e-5f);
  check([&](const float* i, float* o) { log({2.f, 3.f, 0.f}, n, i, o); }, [&](const float* i, float* o) { reference::log({2.f, 3.f, 0.f}, n, i, o); }, xp, 1e-5f);
}

TEST_CASE("prelu per channel and shared", "[kernels][activation]") {
  const std::vector<float> x = {-1, 2, -3, 4, -5, 6, -7, 8};  // [2 outer, 2 channels, 2 inner]
  const std::vector<float> slopes = {0.5f, 0.25f};
  std::vector<float> y(8), r(8);
  prelu<float>({2, 2, 2, false}, slopes.data(), x.data(), y.data());
  CHECK(y == std::vector<float>{-0.5f, 2, -0.75f, 4, -2.5f, 6, -1.75f, 8});
  prelu<float>({2, 2, 2, true}, slopes.data(), x.data(), y.data());
  reference::prelu<float>({2, 2, 2, true}, slopes.data(), x.data(), r.data());
  CHECK(y == std::vector<float>{-0.5f, 2, -1.5f, 4, -2.5f, 6, -3.5f, 8});
  CHECK(y == r);
  const auto big = random_vec(3 * 17 * 31);
  const auto sl = random_vec(17, 0, 1);
  std::vector<float> f(big.size()), g(big.size());
  prelu<float>({3, 17, 31, false}, sl.data(), big.data(), f.data());
  reference::prelu<float>({3, 17, 31, false}, sl.data(), big.data(), g.data());
  require_close(f, g, 1e-7f);
}

TEST_CASE("unary ops: hand values and fast vs reference", "[kernels][unary]") {
  const std::vector<float> x = {0.25f, 1.f, 2.5f, 4.f};
  std::vector<float> y(4);
  unary(UnaryOp::Sqrt, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{0.5f, 1, std::sqrt(2.5f), 2});
  unary(UnaryOp::Reciprocal, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{4, 1, 0.4f, 0.25f});
  unary(UnaryOp::Neg, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{-0.25f, -1, -2.5f, -4});
  unary(UnaryOp::Floor, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 1, 2, 4});
  unary(UnaryOp::Ceil, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{1, 1, 3, 4});
  unary(UnaryOp::Square, 4, x.data(), y.data());
  CHECK(y == std::vector<float>{0.0625f, 1, 6.25f, 16});
  unary(UnaryOp::Erf, 4, x.data(), y.data());
  CHECK_THAT(y[1], WithinAbs(0.8427007929, 1e-6));

  const int64_t n = 20011;
  const auto xs = random_vec(n, -6, 6), xp = random_vec(n, 0.001f, 50);
  for (int op = 0; op <= int(UnaryOp::Cos); ++op) {
    const UnaryOp u = UnaryOp(op);
    const bool positive = u == UnaryOp::Sqrt || u == UnaryOp::Log;
    const auto& in = positive ? xp : xs;
    std::vector<float> a = in, b(in.size());
    unary(u, n, a.data(), a.data());
    reference::unary(u, n, in.data(), b.data());
    INFO("unary op " << op);
    require_close(a, b, 2e-6f);
  }
}

TEST_CASE("softmax is stable on large values", "[kernels][softmax]") {
  const std::vector<float> x = {1000, 1001, 1002, -1000, -1001, -1002};
  std::vector<float> y(6), r(6);
  softmax({1, false}, {2, 3}, x.data(), y.data());
  reference::softmax({1, false}, {2, 3}, x.data(), r.data());
  const double e0 = 0.09003057317038046, e1 = 0.24472847105479764, e2 = 0.6652409557748219;
  CHECK_THAT(y[0], WithinAbs(e0, 1e-6));
  CHECK_THAT(y[1], WithinAbs(e1, 1e-6));
  CHECK_THAT(y[2], WithinAbs(e2, 1e-6));
  CHECK_THAT(y[3], WithinAbs(e2, 1e-6));
  CHECK_THAT(y[5], WithinAbs(e0, 1e-6));
  require_close(y, r, 1e-6f);
  softmax({1, true}, {2, 3}, x.data(), y.data());
  CHECK_THAT(y[2], WithinAbs(std::log(e2), 1e-5));
  CHECK_THAT(y[0], WithinAbs(std::log(e0), 1e-5));
  for (float v : y) CHECK(std::isfinite(v));
}

TEST_CASE("softmax over a strided axis sums to one and equals reference", "[kernels][softmax]") {
  // Axis 1 of [2, 3, 2]: columns are strided by 2.
  const std::vector<float> x = {0, 10, 1, 10, 2, 10, 5, 5, 5, 5, 5, 5};
  std::vector<float> y(12);
  softmax({1, false}, {2, 3, 2}, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(0.09003057, 1e-6));
  CHECK_THAT(y[4], WithinAbs(0.66524096, 1e-6));
  CHECK_THAT(y[1], WithinAbs(1.0 / 3, 1e-6));
  CHECK_THAT(y[6], WithinAbs(1.0 / 3, 1e-6));

  const std::vector<Shape> shapes = {{3, 7}, {2, 5, 3}, {2, 13, 67}, {4, 3, 129, 1}, {1, 1000}, {5}, {2, 3, 600}, {2, 5, 300, 2}};
  for (const auto& s : shapes)
    for (int axis = 0; axis < int(s.size()); ++axis)
      for (bool lg : {false, true}) {
        const auto in = random_vec(shape_count(s), -30, 30);
        std::vector<float> a = in, b(in.size());
        softmax({axis, lg}, s, a.data(), a.data());  // in place
        reference::softmax({axis, lg}, s, in.data(), b.data());
        INFO(shape_str(s) << " axis " << axis << " log " << lg);
        require_close(a, b, 2e-5f);
      }
  // Negative axis resolves like Caffe/numpy.
  const auto in = random_vec(24);
  std::vector<float> a(24), b(24);
  softmax({-1, false}, {2, 3, 4}, in.data(), a.data());
  softmax({2, false}, {2, 3, 4}, in.data(), b.data());
  CHECK(a == b);
}

TEST_CASE("threaded fast paths equal reference", "[kernels][threads]") {
  set_num_threads(3);
  const Shape s = {3, 17, 50, 41};
  const int64_t n = shape_count(s);
  const auto x = random_vec(n, -5, 5, 21), c = random_vec(17, -1, 1, 22);
  std::vector<float> a(static_cast<size_t>(n)), b(a.size());
  binary(BinaryOp::Mul, s, x.data(), {17, 1, 1}, c.data(), a.data());
  reference::binary(BinaryOp::Mul, s, x.data(), {17, 1, 1}, c.data(), b.data());
  require_close(a, b, 0);
  binary(BinaryOp::Add, s, x.data(), s, x.data(), a.data());
  reference::binary(BinaryOp::Add, s, x.data(), s, x.data(), b.data());
  require_close(a, b, 0);
  for (int axis : {1, 3}) {
    softmax({axis, false}, s, x.data(), a.data());
    reference::softmax({axis, false}, s, x.data(), b.data());
    require_close(a, b, 2e-5f);
  }
  sigmoid(n, x.data(), a.data());
  reference::sigmoid(n, x.data(), b.data());
  require_close(a, b, 1e-6f);
  const float* in[2] = {x.data(), x.data()};
  eltwise<float>({EltwiseOp::Max, {}}, n, in, a.data());
  CHECK(a == x);
  set_num_threads(1);
}

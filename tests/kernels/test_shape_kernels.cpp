// Shape-changing kernels: concat/slice/reshape/flatten/transpose/tile, resize (interp and
// upsample), pad and reductions; hand-computed cases and fast paths against reference::.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "octet/kernels/pad.hpp"
#include "octet/kernels/reduce.hpp"
#include "octet/kernels/resize.hpp"
#include "octet/kernels/shape_ops.hpp"

using namespace octet;
using namespace octet::kernels;
using Catch::Matchers::WithinAbs;

namespace {
std::vector<float> random_vec(int64_t n, float lo = -4.f, float hi = 4.f, unsigned seed = 11) {
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
    REQUIRE(std::abs(a[i] - b[i]) <= tol * std::max(1.f, std::abs(b[i])));
  }
}
}  // namespace

TEST_CASE("concat and slice along an inner axis round-trip", "[kernels][concat]") {
  const Shape sa = {2, 1, 3}, sb = {2, 2, 3};
  const auto a = iota_vec(6), b = iota_vec(12, 100);
  const Shape shapes[2] = {sa, sb};
  REQUIRE(concat_shape(shapes, 1) == Shape{2, 3, 3});
  std::vector<float> out(18);
  const float* in[2] = {a.data(), b.data()};
  concat<float>(1, shapes, in, out.data());
  CHECK(out == std::vector<float>{0, 1, 2, 100, 101, 102, 103, 104, 105, 3, 4, 5, 106, 107, 108, 109, 110, 111});
  const Shape bad[2] = {sa, Shape{3, 2, 3}};
  CHECK_THROWS_AS(concat_shape(bad, 1), ShapeError);

  const int64_t pts[1] = {1};
  const auto outs = slice_shapes({2, 3, 3}, 1, pts, 2);
  REQUIRE(outs.size() == 2);
  CHECK(outs[0] == sa);
  CHECK(outs[1] == sb);
  std::vector<float> ra(6), rb(12);
  float* o[2] = {ra.data(), rb.data()};
  slice<float>(1, {2, 3, 3}, out.data(), outs, o);
  CHECK(ra == a);
  CHECK(rb == b);
  // Equal split and the errors.
  const auto eq = slice_shapes({4, 6}, -1, {}, 3);
  CHECK(eq[2] == Shape{4, 2});
  CHECK_THROWS_AS(slice_shapes({4, 7}, 1, {}, 3), ShapeError);
  const int64_t bad_pts[2] = {3, 2};
  CHECK_THROWS_AS(slice_shapes({4, 7}, 1, bad_pts, 3), ShapeError);
}

TEST_CASE("reshape follows Caffe: 0 copies, -1 infers, axis/num_axes", "[kernels][reshape]") {
  const Shape in = {2, 3, 4, 5};
  const int64_t d1[] = {0, -1};
  CHECK(reshape_shape(in, d1) == Shape{2, 60});
  const int64_t d2[] = {0, 0, -1, 1};
  CHECK(reshape_shape(in, d2) == Shape{2, 3, 20, 1});
  const int64_t d3[] = {-1};
  CHECK(reshape_shape(in, d3, 1) == Shape{2, 60});
  const int64_t d4[] = {2, 2};
  CHECK(reshape_shape(in, d4, 2, 1) == Shape{2, 3, 2, 2, 5});
  const int64_t d5[] = {1};
  CHECK(reshape_shape(in, d5, -1, 0) == Shape{2, 3, 4, 5, 1});  // append after last axis
  CHECK(reshape_shape(in, d5, 0, 0) == Shape{1, 2, 3, 4, 5});
  const int64_t bad1[] = {-1, -1};
  CHECK_THROWS_AS(reshape_shape(in, bad1), ShapeError);
  const int64_t bad2[] = {7, -1};
  CHECK_THROWS_AS(reshape_shape(in, bad2), ShapeError);
  const int64_t bad3[] = {3, 3};
  CHECK_THROWS_AS(reshape_shape(in, bad3), ShapeError);
  CHECK(flatten_shape(in, 1, -1) == Shape{2, 60});
  CHECK(flatten_shape(in, 1, 2) == Shape{2, 12, 5});
  CHECK(flatten_shape(in, 0, -1) == Shape{120});
}

TEST_CASE("transpose: hand case and fast vs reference for many orders", "[kernels][transpose]") {
  const auto x = iota_vec(6);  // [2, 3]
  const int ord[2] = {1, 0};
  std::vector<float> y(6);
  transpose<float>({2, 3}, ord, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 3, 1, 4, 2, 5});

  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{2, 3, 4, 5}, {0, 3, 1, 2}}, {{2, 3, 4, 5}, {3, 2, 1, 0}},
      {{2, 3, 4, 5}, {1, 0, 2, 3}}, {{1, 3, 1, 5}, {2, 3, 0, 1}}, {{7, 1, 9}, {2, 1, 0}},
      {{2, 3, 4, 5, 6}, {0, 1, 4, 2, 3}}, {{4, 5}, {0, 1}}, {{3, 2, 2, 3, 2, 2}, {5, 0, 4, 1, 3, 2}}};
  for (const auto& [s, o] : cases) {
    const auto order = transpose_order(o, s.size());
    const auto in = iota_vec(shape_count(s));
    std::vector<float> a(in.size()), b(in.size());
    transpose<float>(s, order, in.data(), a.data());
    reference::transpose<float>(s, order, in.data(), b.data());
    INFO(shape_str(s));
    CHECK(a == b);
  }
  CHECK(transpose_order({}, 3) == std::vector<int>{2, 1, 0});
  const int dup[3] = {0, 0, 1};
  CHECK_THROWS_AS(transpose_order(dup, 3), ShapeError);
  const int part[2] = {0, 2};
  CHECK(permute_order(part, 4) == std::vector<int>{0, 2, 1, 3});
}

TEST_CASE("tile repeats the block from axis", "[kernels][tile]") {
  const auto x = iota_vec(4);  // [2, 2]
  std::vector<float> y(12);
  REQUIRE(tile_shape({2, 2}, 1, 3) == Shape{2, 6});
  tile<float>({2, 2}, 1, 3, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3});
  std::vector<float> z(8);
  tile<float>({2, 2}, 0, 2, x.data(), z.data());
  CHECK(z == std::vector<float>{0, 1, 2, 3, 0, 1, 2, 3});
}

TEST_CASE("interp 2x2 -> 4x4: align_corners vs half_pixel by hand", "[kernels][resize]") {
  const std::vector<float> x = {1, 2, 3, 4};
  ResizeParams p;
  p.out_h = p.out_w = 4;
  p.coord = CoordTransform::AlignCorners;
  std::vector<float> y(16), r(16);
  resize(make_resize_plan(p, 2, 2), 1, x.data(), y.data());
  reference::resize(p, 1, 2, 2, x.data(), r.data());
  const double t = 1.0 / 3;
  const std::vector<double> ac = {1,         1 + t,     1 + 2 * t, 2,         1 + 2 * t, 2,         2 + t,     2 + 2 * t,
                                  2 + t,     2 + 2 * t, 3,         3 + t,     3,         3 + t,     3 + 2 * t, 4};
  for (size_t i = 0; i < 16; ++i) {
    CHECK_THAT(y[i], WithinAbs(ac[i], 1e-6));
    CHECK_THAT(r[i], WithinAbs(ac[i], 1e-6));
  }
  p.coord = CoordTransform::HalfPixel;
  resize(make_resize_plan(p, 2, 2), 1, x.data(), y.data());
  const std::vector<float> hp = {1,   1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                                 2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
  CHECK(y == hp);
  // Nearest, asymmetric + floor: each source pixel doubled.
  p.mode = ResizeMode::Nearest;
  p.coord = CoordTransform::Asymmetric;
  p.nearest = NearestMode::Floor;
  resize(make_resize_plan(p, 2, 2), 1, x.data(), y.data());
  CHECK(y == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  std::vector<float> u(16);
  upsample_nearest<float>(1, 2, 2, 2, 2, x.data(), u.data());
  CHECK(u == y);
}

TEST_CASE("interp uses the given scale for coordinates, and nearest modes round as ONNX", "[kernels][resize]") {
  // 1-D along width: in 4, scale 1.5 -> out floor(6) = 6; with asymmetric, x_in = x / 1.5.
  const std::vector<float> x = {0, 10, 20, 30};
  ResizeParams p;
  p.out_h = 1;
  p.out_w = 6;
  p.scale_h = 1.f;
  p.scale_w = 1.5f;
  p.coord = CoordTransform::Asymmetric;
  std::vector<float> y(6);
  resize(make_resize_plan(p, 1, 4), 1, x.data(), y.data());
  // x_in = 0, 0.667, 1.333, 2, 2.667, 3.333 (clamped to 3)
  const std::vector<double> want = {0, 6.6666667, 13.333333, 20, 26.666667, 30};
  for (size_t i = 0; i < 6; ++i) CHECK_THAT(y[i], WithinAbs(want[i], 1e-4));
  // With scale 1.4 (= out/in for out 7 from in 5 would be 1.4) the mapping must differ from
  // using out/in: in 5, scale 1.5 -> out 7, x_in(1) = 1/1.5 not 1/1.4.
  std::vector<float> x5 = {0, 10, 20, 30, 40}, y7(7);
  p.out_w = 7;
  resize(make_resize_plan(p, 1, 5), 1, x5.data(), y7.data());
  CHECK_THAT(y7[1], WithinAbs(10 / 1.5, 1e-4));
  // align_corners with a scale divides by in * scale - 1 (ONNX), not out - 1:
  // in 4, scale 0.6 -> out 2, x_in(1) = 3 / 1.4.
  p.coord = CoordTransform::AlignCorners;
  p.scale_w = 0.6f;
  p.out_w = 2;
  std::vector<float> y2(2);
  resize(make_resize_plan(p, 1, 4), 1, x.data(), y2.data());
  CHECK(y2[0] == 0.f);
  CHECK_THAT(y2[1], WithinAbs(10 * 3 / 1.4, 1e-4));

  // Nearest modes at exact halves: half_pixel 2 -> 4, x_in = -0.25, 0.25, 0.75, 1.25
  CHECK(resize_nearest_index(NearestMode::RoundPreferFloor, 0.5f, 4) == 0);
  CHECK(resize_nearest_index(NearestMode::RoundPreferCeil, 0.5f, 4) == 1);
  CHECK(resize_nearest_index(NearestMode::RoundPreferFloor, 1.5f, 4) == 1);
  CHECK(resize_nearest_index(NearestMode::RoundPreferCeil, 1.5f, 4) == 2);
  CHECK(resize_nearest_index(NearestMode::RoundPreferFloor, 1.6f, 4) == 2);
  CHECK(resize_nearest_index(NearestMode::Floor, 1.9f, 4) == 1);
  CHECK(resize_nearest_index(NearestMode::Ceil, 1.1f, 4) == 2);
  CHECK(resize_nearest_index(NearestMode::Ceil, 3.5f, 4) == 3);  // clamped
  CHECK(resize_nearest_index(NearestMode::Floor, -0.25f, 4) == 0);
  CHECK(resize_source_coord(CoordTransform::PytorchHalfPixel, 0, 5, 1, 0) == 0.f);
  CHECK(resize_source_coord(CoordTransform::HalfPixel, 0, 5, 1, 0) == 2.f);  // (0.5)/(0.2) - 0.5
}

TEST_CASE("resize plan equals reference over modes and odd sizes", "[kernels][resize]") {
  const std::vector<std::array<int64_t, 4>> sizes = {{5, 7, 11, 3}, {3, 3, 9, 9}, {8, 6, 3, 4}, {1, 5, 4, 1}, {4, 4, 4, 4}};
  for (auto [ih, iw, oh, ow] : sizes)
    for (int mode = 0; mode < 2; ++mode)
      for (int coord = 0; coord < 4; ++coord)
        for (int nm = 0; nm < 4; ++nm) {
          ResizeParams p;
          p.mode = ResizeMode(mode);
          p.coord = CoordTransform(coord);
          p.nearest = NearestMode(nm);
          p.out_h = oh;
          p.out_w = ow;
          const auto in = random_vec(3 * ih * iw);
          std::vector<float> a(static_cast<size_t>(3 * oh * ow)), b(a.size());
          resize(make_resize_plan(p, ih, iw), 3, in.data(), a.data());
          reference::resize(p, 3, ih, iw, in.data(), b.data());
          INFO(ih << "x" << iw << "->" << oh << "x" << ow << " mode " << mode << " coord " << coord << " nm " << nm);
          require_close(a, b, 1e-6f);
        }
  ResizeParams bad;
  CHECK_THROWS_AS(make_resize_plan(bad, 2, 2), ShapeError);
}

TEST_CASE("pad: constant, reflect and edge by hand", "[kernels][pad]") {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const int64_t pads[4] = {1, 2, 0, 1};                // begins {1, 2}, ends {0, 1}
  REQUIRE(pad_shape({2, 3}, pads) == Shape{3, 6});
  std::vector<float> y(18), r(18);
  pad<float>({pads, PadMode::Constant, -1.f}, {2, 3}, x.data(), y.data());
  CHECK(y == std::vector<float>{-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1});
  pad<float>({pads, PadMode::Reflect, 0.f}, {2, 3}, x.data(), y.data());
  // reflect rows: row -1 -> row 1; cols -2,-1 -> 2,1; col 3 -> 1
  CHECK(y == std::vector<float>{6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5});
  reference::pad<float>({pads, PadMode::Reflect, 0.f}, {2, 3}, x.data(), r.data());
  CHECK(r == y);
  pad<float>({pads, PadMode::Edge, 0.f}, {2, 3}, x.data(), y.data());
  CHECK(y == std::vector<float>{1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6});
  // Negative pads crop.
  const int64_t crop[4] = {0, -1, 0, -1};
  std::vector<float> c(2);
  pad<float>({crop, PadMode::Constant, 0.f}, {2, 3}, x.data(), c.data());
  CHECK(c == std::vector<float>{2, 5});
  CHECK_THROWS_AS(pad_shape({2, 3}, std::span<const int64_t>(pads, 2)), ShapeError);
  // numpy reflect past the edge repeats the mirror: [1,2,3] padded 4 on the left.
  const int64_t wide[2] = {4, 0};
  std::vector<float> w(7);
  pad<float>({wide, PadMode::Reflect, 0.f}, {3}, x.data(), w.data());
  CHECK(w == std::vector<float>{1, 2, 3, 2, 1, 2, 3});
}

TEST_CASE("pad fast path equals reference", "[kernels][pad]") {
  const Shape s = {2, 3, 5, 7};
  const auto in = random_vec(shape_count(s));
  const std::vector<std::vector<int64_t>> pad_sets = {
      {0, 0, 1, 2, 0, 0, 3, 1}, {1, 0, 0, 3, 0, 2, 4, 0}, {0, 1, -1, 2, 0, 0, 1, -3}, {0, 0, 4, 6, 0, 0, 4, 6}};
  for (const auto& ps : pad_sets)
    for (int m = 0; m < 3; ++m) {
      const Shape os = pad_shape(s, ps);
      std::vector<float> a(static_cast<size_t>(shape_count(os))), b(a.size());
      pad<float>({ps, PadMode(m), 2.5f}, s, in.data(), a.data());
      reference::pad<float>({ps, PadMode(m), 2.5f}, s, in.data(), b.data());
      INFO("mode " << m);
      CHECK(a == b);
    }
}

TEST_CASE("reduce: hand values, keepdims, axes", "[kernels][reduce]") {
  const auto x = iota_vec(6, 1);  // [[1,2,3],[4,5,6]]
  std::vector<float> y(3);
  ReduceParams p;
  p.op = ReduceOp::Sum;
  p.axes = {0};
  CHECK(reduce_shape({2, 3}, p) == Shape{1, 3});
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK(y == std::vector<float>{5, 7, 9});
  p.axes = {-1};
  p.keepdims = false;
  CHECK(reduce_shape({2, 3}, p) == Shape{2});
  p.op = ReduceOp::Mean;
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK(y[0] == 2.f);
  CHECK(y[1] == 5.f);
  p.op = ReduceOp::Max;
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK(y[1] == 6.f);
  p.op = ReduceOp::Min;
  p.axes = {};
  CHECK(reduce_shape({2, 3}, p) == Shape{});
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK(y[0] == 1.f);
  p.op = ReduceOp::Prod;
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK(y[0] == 720.f);
  p.op = ReduceOp::L2;
  p.axes = {1};
  reduce<float>(p, {2, 3}, x.data(), y.data());
  CHECK_THAT(y[0], WithinAbs(std::sqrt(14.0), 1e-6));
  p.op = ReduceOp::L1;
  const std::vector<float> neg = {-1, 2, -3, 4, -5, 6};
  reduce<float>(p, {2, 3}, neg.data(), y.data());
  CHECK(y[0] == 6.f);
  CHECK(y[1] == 15.f);
  p.axes = {0, 0};
  CHECK_THROWS_AS(reduce_shape({2, 3}, p), ShapeError);

  // Caffe Reduction: SUMSQ over axes 1.. of [2,3], coeff 0.5
  auto cp = caffe_reduction_params(CaffeReductionOp::SumSq, 1, 2, 0.5f);
  CHECK(reduce_shape({2, 3}, cp) == Shape{2});
  reduce<float>(cp, {2, 3}, x.data(), y.data());
  CHECK(y[0] == 7.f);
  CHECK(y[1] == 38.5f);
  auto ca = caffe_reduction_params(CaffeReductionOp::Asum, 0, 2, 1.f);
  CHECK(reduce_shape({2, 3}, ca) == Shape{});
  reduce<float>(ca, {2, 3}, neg.data(), y.data());
  CHECK(y[0] == 21.f);
}

TEST_CASE("reduce fast path equals reference on adjacent and split axes", "[kernels][reduce]") {
  const Shape s = {3, 4, 5, 6};
  const auto in = random_vec(shape_count(s), 0.5f, 1.5f);
  const std::vector<std::vector<int>> axes_sets = {{}, {0}, {1}, {3}, {2, 3}, {1, 2}, {0, 2}, {1, 3}, {0, 1, 2, 3}, {-1, -2}};
  for (const auto& ax : axes_sets)
    for (int op = 0; op <= int(ReduceOp::SumSq); ++op) {
      ReduceParams p;
      p.op = ReduceOp(op);
      p.axes = ax;
      const Shape os = reduce_shape(s, p);
      std::vector<float> a(static_cast<size_t>(shape_count(os))), b(a.size());
      reduce<float>(p, s, in.data(), a.data());
      reference::reduce<float>(p, s, in.data(), b.data());
      INFO("op " << op << " axes " << ax.size());
      require_close(a, b, 1e-4f);
    }
}

TEST_CASE("threaded shape kernels equal reference", "[kernels][threads]") {
  set_num_threads(3);
  const Shape s = {2, 9, 33, 47};
  const auto in = random_vec(shape_count(s), -2, 2, 31);
  const int ord[4] = {0, 2, 3, 1};
  std::vector<float> a(in.size()), b(in.size());
  transpose<float>(s, ord, in.data(), a.data());
  reference::transpose<float>(s, ord, in.data(), b.data());
  CHECK(a == b);
  const int64_t pads[8] = {0, 1, 2, 3, 0, 1, 3, 2};
  const Shape ps = pad_shape(s, pads);
  std::vector<float> pa(static_cast<size_t>(shape_count(ps))), pb(pa.size());
  pad<float>({pads, PadMode::Reflect, 0.f}, s, in.data(), pa.data());
  reference::pad<float>({pads, PadMode::Reflect, 0.f}, s, in.data(), pb.data());
  CHECK(pa == pb);
  ReduceParams rp;
  rp.op = ReduceOp::Mean;
  rp.axes = {2, 3};
  std::vector<float> ra(18), rb(18);
  reduce<float>(rp, s, in.data(), ra.data());
  reference::reduce<float>(rp, s, in.data(), rb.data());
  require_close(ra, rb, 1e-5f);
  ResizeParams p;
  p.out_h = 70;
  p.out_w = 90;
  std::vector<float> za(static_cast<size_t>(18 * 70 * 90)), zb(za.size());
  resize(make_resize_plan(p, 33, 47), 18, in.data(), za.data());
  reference::resize(p, 18, 33, 47, in.data(), zb.data());
  require_close(za, zb, 1e-6f);
  set_num_threads(1);
}

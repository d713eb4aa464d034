// Runtime layers that move or reshape data, built from a LayerParameter (text format),
// reshaped and run: Caffe/ONNX parameter semantics and error categories.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "layer_test_util.hpp"

using namespace octet;
using namespace octet::engine;
using Catch::Matchers::WithinAbs;
using namespace octet::test;  // registry, make_layer, run_layer, tensor, values

namespace {
std::vector<FloatTensor> run(const std::string& text, const std::vector<FloatTensor>& bottoms) {
  return run_layer(text, bottoms, -999.f);
}
std::vector<Shape> shapes_of(const std::string& text, const std::vector<Shape>& bottoms) {
  return make_layer(text)->reshape(bottoms);
}
FloatTensor iota(Shape s, float start = 0) {
  FloatTensor t(std::move(s));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = start + float(i);
  return t;
}
}  // namespace

TEST_CASE("shape layer types are all registered", "[layers][shape]") {
  for (const char* t : {"Concat", "Slice", "Split", "Flatten", "Reshape", "Dropout", "Permute", "Transpose", "Tile",
                        "Interp", "Upsample", "Pad", "Reduction", "Reduce"}) {
    INFO(t);
    CHECK(registry().has(t));
    CHECK(default_registry().has(t));
  }
}

TEST_CASE("Concat, Slice and Split", "[layers][shape]") {
  const FloatTensor a = iota({2, 1, 2}), b = iota({2, 2, 2}, 10);
  auto c = run(R"(type: "Concat")", {a, b});
  REQUIRE(c[0].shape() == Shape{2, 3, 2});
  CHECK(values(c[0]) == std::vector<float>{0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
  CHECK(shapes_of(R"(type: "Concat" concat_param { axis: -1 })", {{2, 3}, {2, 4}})[0] == Shape{2, 7});
  CHECK_THROWS_AS(shapes_of(R"(type: "Concat")", {{2, 3}, {3, 3}}), ShapeError);

  auto s = run(R"(type: "Slice" top: "a" top: "b" slice_param { axis: 1 slice_point: 1 })", {c[0]});
  REQUIRE(s.size() == 2);
  CHECK(values(s[0]) == values(a));
  CHECK(values(s[1]) == values(b));
  auto eq = shapes_of(R"(type: "Slice" top: "a" top: "b" top: "c" slice_param { axis: 1 })", {{2, 6, 5}});
  CHECK(eq == std::vector<Shape>{{2, 2, 5}, {2, 2, 5}, {2, 2, 5}});
  CHECK_THROWS_AS(shapes_of(R"(type: "Slice" top: "a" top: "b" slice_param { axis: 1 })", {{2, 5}}), ShapeError);
  CHECK_THROWS_AS(shapes_of(R"(type: "Slice" top: "a" slice_param { slice_point: 1 })", {{2, 5}}), ModelError);

  auto sp = run(R"(type: "Split" top: "x" top: "y")", {a});
  REQUIRE(sp.size() == 2);
  CHECK(values(sp[1]) == values(a));
}

TEST_CASE("Flatten, Reshape (0 and -1) and Dropout copy the data", "[layers][shape]") {
  const FloatTensor x = iota({2, 3, 4});
  auto f = run(R"(type: "Flatten")", {x});
  CHECK(f[0].shape() == Shape{2, 12});
  CHECK(values(f[0]) == values(x));
  CHECK(shapes_of(R"(type: "Flatten" flatten_param { axis: 0 end_axis: 1 })", {{2, 3, 4}})[0] == Shape{6, 4});
  auto r = run(R"(type: "Reshape" reshape_param { shape { dim: 0 dim: -1 dim: 2 } })", {x});
  CHECK(r[0].shape() == Shape{2, 6, 2});
  CHECK(values(r[0]) == values(x));
  CHECK(shapes_of(R"(type: "Reshape" reshape_param { shape { dim: 3 dim: 1 } axis: 1 num_axes: 1 })", {{2, 3, 4}})[0] ==
        Shape{2, 3, 1, 4});
  CHECK_THROWS_AS(shapes_of(R"(type: "Reshape" reshape_param { shape { dim: 5 dim: -1 } })", {{2, 3, 4}}), ShapeError);
  CHECK_THROWS_AS(make_layer(R"(type: "Reshape")"), ModelError);
  auto d = run(R"(type: "Dropout" dropout_param { dropout_ratio: 0.3 })", {x});
  CHECK(values(d[0]) == values(x));
  // Aliased top: nothing to do, data intact.
  auto layer = make_layer(R"(type: "Flatten")");
  FloatTensor y = x;
  layer->reshape({y.shape()});
  CHECK(layer->supports_in_place());
  layer->forward({&y}, {&y});
  CHECK(values(y) == values(x));
}

TEST_CASE("Permute (partial order) and Transpose (full or empty order)", "[layers][shape]") {
  const FloatTensor x = iota({1, 2, 3});
  auto p = run(R"(type: "Permute" permute_param { order: 0 order: 2 })", {x});  // -> order 0,2,1
  CHECK(p[0].shape() == Shape{1, 3, 2});
  CHECK(values(p[0]) == std::vector<float>{0, 3, 1, 4, 2, 5});
  auto t = run(R"(type: "Transpose")", {x});  // reverse
  CHECK(t[0].shape() == Shape{3, 2, 1});
  CHECK(values(t[0]) == std::vector<float>{0, 3, 1, 4, 2, 5});
  auto u = run(R"(type: "Transpose" transpose_param { order: 1 order: 0 order: 2 })", {x});
  CHECK(u[0].shape() == Shape{2, 1, 3});
  CHECK(values(u[0]) == values(x));
  CHECK_THROWS_AS(shapes_of(R"(type: "Transpose" transpose_param { order: 0 order: 1 })", {{1, 2, 3}}), ShapeError);
}

TEST_CASE("Tile repeats along axis", "[layers][shape]") {
  auto t = run(R"(type: "Tile" tile_param { axis: 1 tiles: 2 })", {iota({2, 2})});
  CHECK(t[0].shape() == Shape{2, 4});
  CHECK(values(t[0]) == std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3});
  CHECK_THROWS_AS(make_layer(R"(type: "Tile")"), ModelError);
}

TEST_CASE("Interp output size and coordinate mapping", "[layers][shape]") {
  const FloatTensor x = tensor({1, 1, 2, 2}, {1, 2, 3, 4});
  auto ac = run(R"(type: "Interp" interp_param { height: 4 width: 4 coordinate_transform: ALIGN_CORNERS })", {x});
  REQUIRE(ac[0].shape() == Shape{1, 1, 4, 4});
  CHECK_THAT(ac[0][1], WithinAbs(1 + 1.0 / 3, 1e-6));
  CHECK(ac[0][15] == 4.f);
  auto hp = run(R"(type: "Interp" interp_param { height: 4 width: 4 })", {x});
  CHECK(values(hp[0]) == std::vector<float>{1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3,
                                            3.25f, 3.75f, 4});
  // Scales: out = floor(in * scale), coordinates use the scale (asymmetric: x / 1.5).
  const FloatTensor row = tensor({1, 1, 1, 5}, {0, 10, 20, 30, 40});
  auto sc = run(R"(type: "Interp" interp_param { scale_h: 1 scale_w: 1.5 coordinate_transform: ASYMMETRIC })", {row});
  REQUIRE(sc[0].shape() == Shape{1, 1, 1, 7});
  CHECK_THAT(sc[0][1], WithinAbs(10 / 1.5, 1e-4));
  CHECK_THAT(sc[0][6], WithinAbs(40, 1e-4));
  // Nearest, ONNX default-ish (half_pixel + round_prefer_floor) from 2 to 4.
  auto nn = run(R"(type: "Interp" interp_param { height: 4 width: 4 mode: NEAREST nearest_mode: ROUND_PREFER_FLOOR })",
                {x});
  CHECK(values(nn[0]) == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // PSPNet zoom factor, and size from a second bottom.
  CHECK(shapes_of(R"(type: "Interp" interp_param { zoom_factor: 2 })", {{1, 3, 5, 7}})[0] == Shape{1, 3, 9, 13});
  CHECK(shapes_of(R"(type: "Interp" interp_param { shrink_factor: 2 })", {{1, 3, 5, 7}})[0] == Shape{1, 3, 3, 4});
  CHECK(shapes_of(R"(type: "Interp")", {{1, 3, 5, 7}, {1, 1, 8, 9}})[0] == Shape{1, 3, 8, 9});
  CHECK_THROWS_AS(shapes_of(R"(type: "Interp")", {{1, 3, 5, 7}}), ModelError);
  CHECK_THROWS_AS(make_layer(R"(type: "Interp" interp_param { height: 4 })"), ModelError);
}

TEST_CASE("Upsample by integer factors", "[layers][shape]") {
  auto u = run(R"(type: "Upsample" upsample_param { scale: 2 })", {iota({1, 1, 1, 2})});
  CHECK(u[0].shape() == Shape{1, 1, 2, 4});
  CHECK(values(u[0]) == std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1});
  CHECK(shapes_of(R"(type: "Upsample" upsample_param { scale_h: 3 scale_w: 1 })", {{1, 2, 2, 2}})[0] ==
        Shape{1, 2, 6, 2});
}

TEST_CASE("Pad modes through the layer", "[layers][shape]") {
  const FloatTensor x = iota({1, 3}, 1);  // [1,2,3]
  auto r = run(R"(type: "Pad" pad_param { pads: 0 pads: 2 pads: 0 pads: 2 mode: REFLECT })", {x});
  CHECK(values(r[0]) == std::vector<float>{3, 2, 1, 2, 3, 2, 1});
  auto e = run(R"(type: "Pad" pad_param { pads: 0 pads: 1 pads: 0 pads: 2 mode: EDGE })", {x});
  CHECK(values(e[0]) == std::vector<float>{1, 1, 2, 3, 3, 3});
  auto c = run(R"(type: "Pad" pad_param { pads: 1 pads: 0 pads: 0 pads: 1 value: 9 })", {x});
  CHECK(c[0].shape() == Shape{2, 4});
  CHECK(values(c[0]) == std::vector<float>{9, 9, 9, 9, 1, 2, 3, 9});
  CHECK_THROWS_AS(shapes_of(R"(type: "Pad" pad_param { pads: 1 pads: 1 })", {{1, 3}}), ShapeError);
}

TEST_CASE("Reduction (Caffe) and Reduce (axes, keepdims)", "[layers][shape]") {
  const FloatTensor x = iota({2, 3}, 1);
  auto m = run(R"(type: "Reduction" reduction_param { operation: MEAN axis: 1 })", {x});
  CHECK(m[0].shape() == Shape{2});
  CHECK(values(m[0]) == std::vector<float>{2, 5});
  auto all = run(R"(type: "Reduction" reduction_param { operation: SUM coeff: 2 })", {x});
  CHECK(all[0].shape() == Shape{});
  CHECK(all[0][0] == 42.f);
  auto r = run(R"(type: "Reduce" reduce_param { operation: MAX axes: 0 })", {x});
  CHECK(r[0].shape() == Shape{1, 3});
  CHECK(values(r[0]) == std::vector<float>{4, 5, 6});
  auto s = run(R"(type: "Reduce" reduce_param { operation: SUMSQ keepdims: false })", {x});
  CHECK(s[0].shape() == Shape{});
  CHECK(s[0][0] == 91.f);
  CHECK_THROWS_AS(shapes_of(R"(type: "Reduce" reduce_param { axes: 2 })", {{2, 3}}), ShapeError);
}

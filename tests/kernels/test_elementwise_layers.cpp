// Runtime layers for pointwise/elementwise ops, built straight from a LayerParameter (text
// format), reshaped and run: parameters, weights, in-place support and error categories.
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
  return run_layer(text, bottoms);
}
}  // namespace

TEST_CASE("elementwise layer types are all registered", "[layers][elementwise]") {
  for (const char* t : {"ReLU", "PReLU", "ReLU6", "Clip", "ELU", "Sigmoid", "TanH", "HardSigmoid", "HardSwish", "Swish",
                        "AbsVal", "Power", "Exp", "Log", "UnaryOp", "Eltwise", "BinaryOp", "Softmax", "LogSoftmax"}) {
    INFO(t);
    CHECK(registry().has(t));
    CHECK(default_registry().has(t));
  }
}

TEST_CASE("ReLU runs in place with negative_slope", "[layers][elementwise]") {
  auto layer = make_layer(R"(name: "r" type: "ReLU" relu_param { negative_slope: 0.5 })");
  CHECK(layer->supports_in_place());
  FloatTensor x = tensor({1, 4}, {-2, -1, 0, 3});
  REQUIRE(layer->reshape({x.shape()}) == std::vector<Shape>{{1, 4}});
  layer->forward({&x}, {&x});
  CHECK(values(x) == std::vector<float>{-1, -0.5f, 0, 3});
}

TEST_CASE("activation layers read their parameters and defaults", "[layers][elementwise]") {
  const FloatTensor x = tensor({6}, {-3, -1, 0, 1, 3, 8});
  CHECK(values(run(R"(type: "ReLU6")", {x})[0]) == std::vector<float>{0, 0, 0, 1, 3, 6});
  CHECK(values(run(R"(type: "Clip" clip_param { min: -1 max: 2 })", {x})[0]) == std::vector<float>{-1, -1, 0, 1, 2, 2});
  CHECK_THROWS_AS(make_layer(R"(type: "Clip")"), ModelError);
  CHECK_THROWS_AS(make_layer(R"(type: "Clip" clip_param { min: 2 max: 1 })"), ModelError);
  // HardSigmoid default alpha 0.2; HardSwish default alpha 1/6.
  auto hs = values(run(R"(type: "HardSigmoid")", {x})[0]);
  CHECK_THAT(hs[1], WithinAbs(0.3, 1e-6));
  auto hw = values(run(R"(type: "HardSwish")", {x})[0]);
  CHECK_THAT(hw[3], WithinAbs(1 * (1.0 / 6 + 0.5), 1e-6));
  CHECK_THAT(hw[0], WithinAbs(0.0, 1e-7));
  CHECK(hw[5] == 8.f);
  auto hw2 = values(run(R"(type: "HardSwish" hard_sigmoid_param { alpha: 0.25 beta: 0.25 })", {x})[0]);
  CHECK_THAT(hw2[3], WithinAbs(0.5, 1e-6));
  auto elu = values(run(R"(type: "ELU" elu_param { alpha: 0.5 })", {x})[0]);
  CHECK_THAT(elu[1], WithinAbs(0.5 * (std::exp(-1.0) - 1), 1e-6));
  auto sw = values(run(R"(type: "Swish" swish_param { beta: 2 })", {x})[0]);
  CHECK_THAT(sw[3], WithinAbs(1 / (1 + std::exp(-2.0)), 1e-6));
  auto sg = values(run(R"(type: "Sigmoid")", {x})[0]);
  CHECK_THAT(sg[2], WithinAbs(0.5, 1e-7));
  auto th = values(run(R"(type: "TanH")", {x})[0]);
  CHECK_THAT(th[3], WithinAbs(std::tanh(1.0), 1e-6));
  CHECK(values(run(R"(type: "AbsVal")", {x})[0]) == std::vector<float>{3, 1, 0, 1, 3, 8});
  CHECK(values(run(R"(type: "Power" power_param { power: 2 scale: 1 shift: 1 })", {x})[0]) ==
        std::vector<float>{4, 0, 1, 4, 16, 81});
  auto ex = values(run(R"(type: "Exp" exp_param { base: 2 scale: 1 shift: 0 })", {x})[0]);
  CHECK_THAT(ex[4], WithinAbs(8, 1e-5));
  auto lg = values(run(R"(type: "Log" log_param { base: 2 scale: 1 shift: 1 })", {x})[0]);
  CHECK_THAT(lg[4], WithinAbs(2, 1e-6));  // log2(1 + 3)
  CHECK_THROWS_AS(make_layer(R"(type: "Exp" exp_param { base: 0 })"), ModelError);
  auto un = values(run(R"(type: "UnaryOp" unary_op_param { operation: SQUARE })", {x})[0]);
  CHECK(un == std::vector<float>{9, 1, 0, 1, 9, 64});
  CHECK_THROWS_AS(run(R"(type: "ReLU")", {x, x}), ShapeError);
}

TEST_CASE("PReLU uses per-channel slopes from a legacy or N-D blob", "[layers][elementwise]") {
  const FloatTensor x = tensor({1, 2, 2}, {-2, 4, -2, 4});
  auto y = run(R"(type: "PReLU" blobs { num: 1 channels: 1 height: 1 width: 2 data: 0.5 data: 0.25 })", {x});
  CHECK(values(y[0]) == std::vector<float>{-1, 4, -0.5f, 4});
  auto s = run(R"(type: "PReLU" prelu_param { channel_shared: true } blobs { shape { dim: 1 } data: 0.1 })", {x});
  CHECK_THAT(s[0][2], WithinAbs(-0.2, 1e-7));
  CHECK_THROWS_AS(run(R"(type: "PReLU" blobs { shape { dim: 3 } data: 1 data: 2 data: 3 })", {x}), ShapeError);
  CHECK_THROWS_AS(make_layer(R"(type: "PReLU")"), ModelError);
}

TEST_CASE("Eltwise: SUM with coeff, PROD, MAX and shape checks", "[layers][elementwise]") {
  const FloatTensor a = tensor({2, 2}, {1, 2, 3, 4}), b = tensor({2, 2}, {10, 20, 30, 40});
  CHECK(values(run(R"(type: "Eltwise" eltwise_param { operation: SUM coeff: 1 coeff: -1 })", {a, b})[0]) ==
        std::vector<float>{-9, -18, -27, -36});
  CHECK(values(run(R"(type: "Eltwise" eltwise_param { operation: PROD })", {a, b, a})[0]) ==
        std::vector<float>{10, 80, 270, 640});
  CHECK(values(run(R"(type: "Eltwise" eltwise_param { operation: MAX })", {b, a})[0]) ==
        std::vector<float>{10, 20, 30, 40});
  CHECK(values(run(R"(type: "Eltwise")", {a, b})[0]) == std::vector<float>{11, 22, 33, 44});
  CHECK_THROWS_AS(run(R"(type: "Eltwise")", {a, tensor({4}, {1, 2, 3, 4})}), ShapeError);
  CHECK_THROWS_AS(run(R"(type: "Eltwise" eltwise_param { coeff: 1 })", {a, b}), ModelError);
  // In place over bottom 0.
  auto layer = make_layer(R"(type: "Eltwise" eltwise_param { operation: SUM coeff: 2 coeff: 1 })");
  FloatTensor x = a;
  layer->reshape({x.shape(), b.shape()});
  CHECK(layer->supports_in_place());
  layer->forward({&x, &b}, {&x});
  CHECK(values(x) == std::vector<float>{12, 24, 36, 48});
}

TEST_CASE("BinaryOp broadcasts bottoms and constants", "[layers][elementwise]") {
  FloatTensor a({2, 3, 4});
  for (int i = 0; i < 24; ++i) a[i] = float(i);
  const FloatTensor b = tensor({3, 1}, {100, 200, 300});
  auto y = run(R"(type: "BinaryOp" binary_op_param { operation: ADD })", {a, b});
  REQUIRE(y[0].shape() == Shape{2, 3, 4});
  CHECK(y[0][0] == 100.f);
  CHECK(y[0][5] == 205.f);
  CHECK(y[0][23] == 323.f);
  // Constant second (default) and first.
  const FloatTensor v = tensor({4}, {1, 2, 4, 8});
  CHECK(values(run(R"(type: "BinaryOp" binary_op_param { operation: SUB } blobs { shape { dim: 1 } data: 1 })", {v})[0]) ==
        std::vector<float>{0, 1, 3, 7});
  CHECK(values(run(R"(type: "BinaryOp" binary_op_param { operation: SUB const_first: true }
                     blobs { shape { dim: 1 } data: 1 })",
                   {v})[0]) == std::vector<float>{0, -1, -3, -7});
  CHECK(values(run(R"(type: "BinaryOp" binary_op_param { operation: DIV const_first: true }
                     blobs { shape { dim: 4 } data: 8 data: 8 data: 8 data: 8 })",
                   {v})[0]) == std::vector<float>{8, 4, 2, 1});
  CHECK(values(run(R"(type: "BinaryOp" binary_op_param { operation: POW } blobs { shape { } data: 2 })", {v})[0]) ==
        std::vector<float>{1, 4, 16, 64});
  CHECK_THROWS_AS(run(R"(type: "BinaryOp")", {a, tensor({2}, {1, 2})}), ShapeError);
  CHECK_THROWS_AS(run(R"(type: "BinaryOp")", {v}), ModelError);  // one bottom, no constant
  // In place only when bottom 0 already has the output shape.
  auto l1 = make_layer(R"(type: "BinaryOp" binary_op_param { operation: MUL })");
  l1->reshape({{2, 3, 4}, {3, 1}});
  CHECK(l1->supports_in_place());
  auto l2 = make_layer(R"(type: "BinaryOp" binary_op_param { operation: MUL })");
  l2->reshape({{3, 1}, {2, 3, 4}});
  CHECK_FALSE(l2->supports_in_place());
}

TEST_CASE("Softmax and LogSoftmax along the configured axis", "[layers][elementwise]") {
  const FloatTensor x = tensor({2, 3}, {1000, 1001, 1002, 0, 0, 0});
  auto y = values(run(R"(type: "Softmax")", {x})[0]);
  CHECK_THAT(y[2], WithinAbs(0.66524096, 1e-6));
  CHECK_THAT(y[3], WithinAbs(1.0 / 3, 1e-6));
  auto z = values(run(R"(type: "Softmax" softmax_param { axis: 0 })", {x})[0]);
  CHECK_THAT(z[0], WithinAbs(1.0, 1e-6));
  CHECK_THAT(z[3], WithinAbs(0.0, 1e-6));
  auto l = values(run(R"(type: "LogSoftmax")", {x})[0]);
  CHECK_THAT(l[3], WithinAbs(-std::log(3.0), 1e-6));
  CHECK_THROWS_AS(run(R"(type: "Softmax" softmax_param { axis: 2 })", {x}), ShapeError);
}

// The elementwise and shape layers inside a real Net from the default registry: in-place
// activation sharing the bottom's buffer, a BinaryOp constant from blobs, Flatten, Slice
// into two tops, Concat and Softmax, checked value by value.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "../test_util.hpp"
#include "octet/engine/net.hpp"

using namespace octet;
using namespace octet::engine;
using Catch::Matchers::WithinAbs;

TEST_CASE("a small net of elementwise and shape layers runs end to end", "[layers][net]") {
  const std::string text = R"(
    name: "ew"
    input: "data"
    input_shape { dim: 1 dim: 2 dim: 1 dim: 2 }
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" relu_param { negative_slope: 0.5 } }
    layer { name: "mul" type: "BinaryOp" bottom: "data" top: "mul" binary_op_param { operation: MUL }
            blobs { shape { dim: 2 dim: 1 dim: 1 } data: 1 data: 10 } }
    layer { name: "flat" type: "Flatten" bottom: "mul" top: "flat" }
    layer { name: "slice" type: "Slice" bottom: "flat" top: "a" top: "b" slice_param { axis: 1 slice_point: 1 } }
    layer { name: "cat" type: "Concat" bottom: "b" bottom: "a" top: "cat" }
    layer { name: "prob" type: "Softmax" bottom: "cat" top: "prob" }
  )";
  const ufw::NetParameter np = octet::test::parse_net(text);
  Net net(np);
  FloatTensor x({1, 2, 1, 2});
  x[0] = -2;
  x[1] = 1;
  x[2] = 0.5f;
  x[3] = -0.2f;
  net.set_input("data", x);
  net.forward();
  // relu in place: [-1, 1, 0.5, -0.1]; mul by [1, 10] per channel: [-1, 1, 5, -1]
  const auto& flat = net.blob("flat");
  REQUIRE(flat.shape() == Shape{1, 4});
  CHECK(flat[0] == -1.f);
  CHECK(flat[1] == 1.f);
  CHECK(flat[2] == 5.f);
  CHECK_THAT(flat[3], WithinAbs(-1.0, 1e-6));
  CHECK(net.blob("a").shape() == Shape{1, 1});
  const auto& cat = net.blob("cat");
  REQUIRE(cat.shape() == Shape{1, 4});
  CHECK(cat[0] == 1.f);
  CHECK(cat[3] == -1.f);
  const auto& prob = net.blob("prob");
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += prob[i];
  CHECK_THAT(sum, WithinAbs(1.0, 1e-6));
  CHECK_THAT(prob[1], WithinAbs(std::exp(5.0) / (std::exp(1.0) + std::exp(5.0) + 2 * std::exp(-1.0)), 1e-6));
  // The in-place ReLU ran in the input's own buffer.
  bool shared = false;
  for (const auto& l : net.layers())
    if (l.name == "relu") shared = l.shares_buffer;
  CHECK(shared);
}

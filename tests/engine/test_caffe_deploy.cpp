// BVLC-style deploy prototxts, written the way the BVLC model zoo writes them (Input layer with
// `shape: { … }`, `param { lr_mult }`, grouped convolution, LRN, Dropout, old `input_dim`),
// parse unchanged and run on the real layers with random weights.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "octet/engine/init_weights.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/net_bench.hpp"
#include "octet/ir/umodel.hpp"

using namespace octet;
using namespace octet::engine;

namespace {

// AlexNet's deploy.prototxt layer for layer, with the widths cut down so the test is quick.
const char* kAlexNetStyle = R"(name: "AlexNet"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 2 dim: 3 dim: 67 dim: 67 } }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param { num_output: 8 kernel_size: 11 stride: 4 }
}
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer {
  name: "norm1"
  type: "LRN"
  bottom: "conv1"
  top: "norm1"
  lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }
}
layer {
  name: "pool1"
  type: "Pooling"
  bottom: "norm1"
  top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 }
}
layer {
  name: "conv2"
  type: "Convolution"
  bottom: "pool1"
  top: "conv2"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param { num_output: 16 pad: 2 kernel_size: 5 group: 2 }
}
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer {
  name: "pool2"
  type: "Pooling"
  bottom: "conv2"
  top: "pool2"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 }
}
layer {
  name: "fc6"
  type: "InnerProduct"
  bottom: "pool2"
  top: "fc6"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 32 }
}
layer { name: "relu6" type: "ReLU" bottom: "fc6" top: "fc6" }
layer {
  name: "drop6"
  type: "Dropout"
  bottom: "fc6"
  top: "fc6"
  dropout_param { dropout_ratio: 0.5 }
}
layer {
  name: "fc8"
  type: "InnerProduct"
  bottom: "fc6"
  top: "fc8"
  inner_product_param { num_output: 10 }
}
layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }
)";

std::string missing_types(const ufw::NetParameter& p) {
  std::set<std::string> missing;
  for (const auto& l : p.layer())
    if (l.type() != "Input" && !default_registry().has(l.type())) missing.insert(l.type());
  std::string s;
  for (const auto& t : missing) s += (s.empty() ? "" : ", ") + t;
  return s;
}

}  // namespace

TEST_CASE("AlexNet-style BVLC deploy prototxt runs unchanged") {
  auto p = ir::parse_prototxt(kAlexNetStyle, "alexnet_deploy.prototxt");
  const std::string missing = missing_types(p);
  if (!missing.empty()) FAIL("layer types not registered in default_registry() yet: " << missing);
  auto w = init_random_weights(p, 4);
  // Grouped convolution weights are [O, I/group, kh, kw].
  CHECK(ir::blob_shape(w.layer(5).blobs(0)) == Shape{16, 4, 5, 5});
  Net net(w);
  CHECK(net.input_names() == std::vector<std::string>{"data"});
  CHECK(net.output_names() == std::vector<std::string>{"prob"});
  CHECK(net.blob_shape("conv1") == Shape{2, 8, 15, 15});
  CHECK(net.blob_shape("pool1") == Shape{2, 8, 7, 7});  // ceil((15-3)/2)+1
  CHECK(net.blob_shape("pool2") == Shape{2, 16, 3, 3});
  fill_random_inputs(net, 9);
  net.forward();
  const auto& prob = net.blob("prob");
  REQUIRE(prob.shape() == Shape{2, 10});
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int i = 0; i < 10; ++i) s += prob[r * 10 + i];
    CHECK(s == Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("old-style input_dim deploy with in-place Dropout at TEST time is the identity") {
  auto p = ir::parse_prototxt(R"(
name: "LeNet"
input: "data"
input_dim: 1
input_dim: 1
input_dim: 28
input_dim: 28
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 5 stride: 1 } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1" inner_product_param { num_output: 12 } }
layer { name: "drop" type: "Dropout" bottom: "ip1" top: "ip1" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip1" bottom: "label" top: "loss" include { phase: TRAIN } }
)");
  const std::string missing = missing_types(ir::filter_phase(p));
  if (!missing.empty()) FAIL("layer types not registered in default_registry() yet: " << missing);
  auto w = init_random_weights(p, 2);
  Net net(w);
  CHECK(net.blob_shape("pool1") == Shape{1, 4, 12, 12});
  CHECK(net.output_names() == std::vector<std::string>{"ip1"});
  fill_random_inputs(net, 1);
  net.forward();
  // Reference for ip1 from pool1 and the weights: Dropout must not change it at TEST time.
  const auto& pool1 = net.blob("pool1");
  const auto& W = w.layer(2).blobs(0);
  const auto& B = w.layer(2).blobs(1);
  for (int j = 0; j < 12; ++j) {
    double s = B.data(j);
    for (int64_t i = 0; i < pool1.size(); ++i) s += static_cast<double>(W.data(static_cast<int>(j * pool1.size() + i))) * pool1[i];
    CHECK(net.blob("ip1")[j] == Approx(s).margin(1e-4));
  }
}

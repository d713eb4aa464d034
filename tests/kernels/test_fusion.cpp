// NetOptions::fuse: Convolution -> BatchNorm -> Scale -> ReLU/ReLU6/Clip chains run as one conv
// with folded weights and a fused activation, Eltwise -> activation as one Eltwise. The fused net must give the unfused net's outputs
// (float tolerance), fuse only where the skipped blobs have no other reader, keep working after
// an input reshape, and leave the layer parameters (the file's weights) untouched.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "../test_util.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/net_bench.hpp"

using namespace octet;
using namespace octet::engine;

namespace {

// conv1 chain: separate tops (ONNX import style), ReLU. conv2 chain: in place (Caffe style),
// ReLU6. conv3: its output also feeds the eltwise, so BN must not fuse; the eltwise takes the
// following ReLU (a residual Add + ReLU). conv4: depthwise + Clip.
// conv5 -> leaky ReLU, whose conv output is a net output too (no fuse across it).
const char* kNet = R"(
name: "fuse"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 10 dim: 9 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: "b1" batch_norm_param { eps: 1e-5 } }
layer { name: "sc1" type: "Scale" bottom: "b1" top: "s1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "s1" top: "r1" }
layer { name: "conv2" type: "Convolution" bottom: "r1" top: "c2"
        convolution_param { num_output: 8 kernel_size: 1 } }
layer { name: "bn2" type: "BatchNorm" bottom: "c2" top: "c2" }
layer { name: "sc2" type: "Scale" bottom: "c2" top: "c2" scale_param { bias_term: true } }
layer { name: "relu2" type: "ReLU6" bottom: "c2" top: "c2" }
layer { name: "conv3" type: "Convolution" bottom: "c2" top: "c3"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 stride: 1 } }
layer { name: "bn3" type: "BatchNorm" bottom: "c3" top: "b3" }
layer { name: "add" type: "Eltwise" bottom: "b3" bottom: "c3" top: "e" }
layer { name: "relue" type: "ReLU" bottom: "e" top: "re" }
layer { name: "conv4" type: "Convolution" bottom: "re" top: "c4"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 8 } }
layer { name: "bn4" type: "BatchNorm" bottom: "c4" top: "b4" }
layer { name: "clip4" type: "Clip" bottom: "b4" top: "k4" clip_param { min: -0.5 max: 0.7 } }
layer { name: "sc4" type: "Scale" bottom: "k4" top: "s4" scale_param { bias_term: false } }
layer { name: "conv5" type: "Convolution" bottom: "s4" top: "c5"
        convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "relu5" type: "ReLU" bottom: "c5" top: "c5" relu_param { negative_slope: 0.1 } }
)";

ufw::NetParameter make_net() {
  return init_random_weights(octet::test::parse_net(kNet), 7);
}

void require_close_blob(const Net& a, const Net& b, const std::string& name) {
  const auto& x = a.blob(name);
  const auto& y = b.blob(name);
  REQUIRE(x.shape() == y.shape());
  for (int64_t i = 0; i < x.size(); ++i) {
    INFO(name << "[" << i << "]");
    REQUIRE(std::abs(x[i] - y[i]) <= 1e-4f + 1e-4f * std::abs(x[i]));
  }
}

}  // namespace

TEST_CASE("fusion folds conv+BN+Scale+activation chains and matches the unfused net") {
  const auto param = make_net();
  Net plain(param);
  NetOptions fo;
  fo.fuse = true;
  Net fused(param, fo);

  const auto names = fused.fused_layers();
  const std::vector<std::string> want{"bn1", "sc1", "relu1", "bn2", "sc2", "relu2", "relue", "bn4", "clip4", "relu5"};
  REQUIRE(names == want);
  REQUIRE(plain.fused_layers().empty());

  fill_random_inputs(plain, 3);
  fill_random_inputs(fused, 3);
  plain.forward();
  fused.forward();
  // Net outputs and every blob a non-fused layer reads agree.
  for (const char* b : {"r1", "c2", "c3", "b3", "re", "k4", "s4", "c5"}) require_close_blob(plain, fused, b);
  const auto& re = fused.blob("re");
  REQUIRE(*std::min_element(re.data(), re.data() + re.size()) >= 0.f);
  // The activation really ran: ReLU6 output bounded, Clip output bounded.
  const auto& c2 = fused.blob("c2");
  REQUIRE(*std::max_element(c2.data(), c2.data() + c2.size()) <= 6.f);
  REQUIRE(*std::min_element(c2.data(), c2.data() + c2.size()) >= 0.f);

  // The layers keep the file's weights (folding works on the runtime's own copy).
  const auto np = fused.net_param();
  for (int i = 0; i < np.layer_size(); ++i)
    for (int j = 0; j < param.layer_size(); ++j)
      if (param.layer(j).name() == np.layer(i).name() && param.layer(j).blobs_size() > 0)
        REQUIRE(np.layer(i).blobs(0).data(0) == param.layer(j).blobs(0).data(0));
}

TEST_CASE("fusion survives an input reshape") {
  const auto param = make_net();
  Net plain(param);
  NetOptions fo;
  fo.fuse = true;
  Net fused(param, fo);
  plain.reshape_input("data", {1, 3, 7, 12});
  fused.reshape_input("data", {1, 3, 7, 12});
  fill_random_inputs(plain, 5);
  fill_random_inputs(fused, 5);
  plain.forward();
  fused.forward();
  for (const char* b : {"r1", "c2", "re", "s4", "c5"}) require_close_blob(plain, fused, b);
}

// The spatial layers inside a real Net (Input -> Convolution -> in-place BatchNorm and Scale ->
// Pooling -> LRN -> InnerProduct), checked against the reference kernels composed by hand.
#include <catch2/catch.hpp>

#include "../test_util.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/engine/layers/input.hpp"
#include "octet/engine/layers/spatial.hpp"
#include "octet/engine/net.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::engine;
using octet::test::random_vec;
using octet::test::require_close;

namespace {

const char* kNet = R"(
name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 8 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "sc" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "lrn" type: "LRN" bottom: "pool" top: "lrn" lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 } }
layer { name: "fc" type: "InnerProduct" bottom: "lrn" top: "fc" inner_product_param { num_output: 5 } }
)";

std::vector<float> blob(const ufw::NetParameter& net, const std::string& layer, int i) {
  for (const auto& l : net.layer())
    if (l.name() == layer) return {l.blobs(i).data().begin(), l.blobs(i).data().end()};
  FAIL("no layer " << layer);
  return {};
}

}  // namespace

TEST_CASE("spatial layers run inside a Net and match the reference kernels composed by hand") {
  LayerRegistry reg;
  register_input_layers(reg);
  register_spatial_layers(reg);
  const ufw::NetParameter proto = octet::test::parse_net(kNet);
  NetOptions opts;
  opts.registry = &reg;
  const ufw::NetParameter weighted = init_random_weights(proto, 7, opts);
  Net net(weighted, reg);
  CHECK(net.blob_shape("conv") == Shape{2, 4, 9, 8});
  CHECK(net.blob_shape("pool") == Shape{2, 4, 4, 4});  // ceil((9-3)/2)+1, ceil((8-3)/2)+1
  CHECK(net.blob_shape("fc") == Shape{2, 5});

  const auto x = random_vec(2 * 3 * 9 * 8, 3);
  std::copy(x.begin(), x.end(), net.input("data").data());
  net.forward();

  using namespace octet::kernels;
  Conv2dParams cp;
  cp.kernel_h = cp.kernel_w = 3;
  cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = 1;
  const auto cs = conv2d_shape(cp, 2, 3, 9, 8, 4);
  std::vector<float> conv(2 * 4 * 72);
  reference::conv2d(cp, cs, x.data(), blob(weighted, "conv", 0).data(), blob(weighted, "conv", 1).data(), conv.data());
  const float f = blob(weighted, "bn", 2)[0];
  BatchNormParams bp;
  bp.scale_factor = f == 0.f ? 0.f : 1.f / f;
  reference::batch_norm(bp, {2, 4, 72}, conv.data(), blob(weighted, "bn", 0).data(), blob(weighted, "bn", 1).data(),
                        conv.data());
  reference::scale({2, 4, 72}, conv.data(), blob(weighted, "sc", 0).data(), blob(weighted, "sc", 1).data(), conv.data());
  require_close({net.blob("conv").data(), net.blob("conv").data() + net.blob("conv").size()}, conv, 1e-4f, "conv");
  Pool2dParams pp;
  pp.kernel_h = pp.kernel_w = 3;
  pp.stride_h = pp.stride_w = 2;
  const auto ps = pool2d_shape(pp, 2, 4, 9, 8);
  std::vector<float> pool(2 * 4 * 16), lrn_out(pool.size());
  reference::pool2d(pp, ps, conv.data(), pool.data());
  LrnParams lp;
  lp.size = 3; lp.alpha = 0.1f; lp.beta = 0.75f;
  reference::lrn(lp, {2, 4, 4, 4}, pool.data(), lrn_out.data());
  std::vector<float> fc(10);
  reference::inner_product({}, {2, 64, 5}, lrn_out.data(), blob(weighted, "fc", 0).data(), blob(weighted, "fc", 1).data(),
                           fc.data());
  require_close({net.blob("fc").data(), net.blob("fc").data() + 10}, fc, 1e-4f, "fc");
  // 2 x MACs for conv and fc.
  int64_t conv_flops = 0, fc_flops = 0;
  for (const auto& li : net.layers()) {
    if (li.name == "conv") conv_flops = li.flops;
    if (li.name == "fc") fc_flops = li.flops;
  }
  CHECK(conv_flops == 2 * 2 * 4 * 72 * 3 * 9);
  CHECK(fc_flops == 2 * 2 * 64 * 5);
}

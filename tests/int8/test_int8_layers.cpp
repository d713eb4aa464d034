// Every int8 layer of the int8 runtime, in a hand-built tiny int8 umodel, against a reference
// computed here with the fixed/ primitives: the runtime's codes must be equal, bit for bit.
#include "int8_test_util.hpp"

using namespace octet;
using namespace octet::int8_test;
using engine::Int8Net;

namespace {

const char* kConvNet = R"(
name: "conv"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 dim: 7 dim: 6 } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "y"
        convolution_param { num_output: GROUPS_OUT kernel_size: KS pad: PAD stride: STRIDE group: GROUP }
        top_quant { threshold: 6 dtype: OUTDT } }
)";

std::string replace_all(std::string s, const std::string& a, const std::string& b) {
  for (size_t p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
  return s;
}

void check_conv(int oc, int ks, int pad, int stride, int group, bool u8_out, bool per_channel) {
  std::string text = replace_all(kConvNet, "GROUPS_OUT", std::to_string(oc));
  text = replace_all(text, "KS", std::to_string(ks));
  text = replace_all(text, "PAD", std::to_string(pad));
  text = replace_all(text, "STRIDE", std::to_string(stride));
  text = replace_all(text, "GROUP", std::to_string(group));
  text = replace_all(text, "OUTDT", u8_out ? "UINT8" : "INT8");
  auto net = ir::parse_prototxt(text);
  const int C = 4, H = 7, W = 6, cg = C / group;
  const Shape ws{oc, cg, ks, ks};
  const auto w = random_floats(static_cast<size_t>(shape_count(ws)), -0.5f, 0.5f, 11);
  const auto b = random_floats(static_cast<size_t>(oc), -1.f, 1.f, 12);
  const float s_in = scale_of(2, false), s_out = scale_of(6, u8_out);
  const auto qw = set_int8_weights(layer(net, "conv"), w, ws, b, static_cast<size_t>(oc), s_in, s_out, per_channel);
  Int8Net n(net);
  REQUIRE(n.layers()[1].int8);
  const auto x = random_tensor({2, C, H, W}, -2.5f, 2.5f, 13);
  n.set_input("x", x);
  n.forward();
  const auto qx = quantize_all(x, s_in, false);
  const int OH = (H + 2 * pad - ks) / stride + 1, OW = (W + 2 * pad - ks) / stride + 1;
  REQUIRE(n.blob_shape("y") == Shape{2, oc, OH, OW});
  std::vector<int> want;
  const int og = oc / group;
  for (int nn = 0; nn < 2; ++nn)
    for (int o = 0; o < oc; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          std::int64_t acc = qw.bias[static_cast<size_t>(o)];
          for (int ci = 0; ci < cg; ++ci)
            for (int kh = 0; kh < ks; ++kh)
              for (int kw = 0; kw < ks; ++kw) {
                const int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int c = (o / og) * cg + ci;
                acc += qx[static_cast<size_t>(((nn * C + c) * H + ih) * W + iw)] *
                       qw.w[static_cast<size_t>(((o * cg + ci) * ks + kh) * ks + kw)];
              }
          const size_t k = per_channel ? static_cast<size_t>(o) : 0;
          want.push_back(requant(acc, qw.mult[k], qw.shift[k], u8_out));
        }
  REQUIRE(codes(n, "y") == want);
  // The dequantised view is code * scale.
  const auto yf = n.blob_float("y");
  REQUIRE(yf[5] == fixed::dequantize(want[5], s_out));
}

}  // namespace

TEST_CASE("int8 Convolution: plain, strided, grouped, depthwise, 1x1, uint8 out, per-tensor", "[int8][layers]") {
  check_conv(8, 3, 1, 1, 1, false, true);
  check_conv(8, 3, 1, 2, 1, true, true);
  check_conv(6, 3, 0, 1, 2, false, true);
  check_conv(4, 3, 1, 1, 4, false, true);   // depthwise
  check_conv(8, 3, 1, 2, 4, true, true);    // depthwise, multiplier 2
  check_conv(5, 1, 0, 1, 1, false, true);   // 1x1 direct
  check_conv(8, 3, 1, 1, 1, false, false);  // per-tensor weights
}

TEST_CASE("int8 InnerProduct on a 4-D uint8 bottom", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 3 dim: 2 dim: 3 dim: 3 } }
        top_quant { threshold: 1.5 dtype: UINT8 } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 5 }
        top_quant { threshold: 4 dtype: INT8 } }
)");
  const int K = 18, M = 5;
  const auto w = random_floats(M * K, -0.4f, 0.4f, 21);
  const auto b = random_floats(M, -0.5f, 0.5f, 22);
  const float s_in = scale_of(1.5f, true), s_out = scale_of(4, false);
  const auto qw = set_int8_weights(layer(net, "fc"), w, {M, K}, b, M, s_in, s_out);
  Int8Net n(net);
  REQUIRE(n.layers()[1].int8);
  const auto x = random_tensor({3, 2, 3, 3}, -0.2f, 1.8f, 23);
  n.set_input("x", x);
  n.forward();
  const auto qx = quantize_all(x, s_in, true);
  std::vector<int> want;
  for (int r = 0; r < 3; ++r)
    for (int m = 0; m < M; ++m) {
      std::int64_t acc = qw.bias[static_cast<size_t>(m)];
      for (int k = 0; k < K; ++k) acc += qx[static_cast<size_t>(r * K + k)] * qw.w[static_cast<size_t>(m * K + k)];
      want.push_back(requant(acc, qw.mult[static_cast<size_t>(m)], qw.shift[static_cast<size_t>(m)], false));
    }
  REQUIRE(codes(n, "y") == want);
}

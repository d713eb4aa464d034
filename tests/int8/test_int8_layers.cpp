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

TEST_CASE("int8 Deconvolution: grouped, strided, padded, output padding, bias; runs in int8", "[int8][layers]") {
  // x [2, 4, 5, 6] -> y [2, 6, OH, OW], weights [4, 6/2, 3, 3], group 2.
  const int N = 2, C = 4, H = 5, W = 6, O = 6, G = 2, K = 3, S = 2, P = 1, OP = 1;
  auto net = ir::parse_prototxt(R"(
name: "deconv"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 dim: 5 dim: 6 } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "up" type: "Deconvolution" bottom: "x" top: "y"
        convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 group: 2 output_pad_h: 1 output_pad_w: 1 }
        top_quant { threshold: 3 dtype: INT8 } }
)");
  const Shape ws{C, O / G, K, K};
  const auto w = random_floats(static_cast<size_t>(shape_count(ws)), -0.5f, 0.5f, 21);
  const auto b = random_floats(static_cast<size_t>(O), -1.f, 1.f, 22);
  const float s_in = scale_of(2, false), s_out = scale_of(3, false);
  // One weight scale for the layer: the per-channel scales of a [C, O/g, ...] blob follow the
  // output channel (calibration's rows_of), which this helper's row-major split does not.
  const auto qw = set_int8_weights(layer(net, "up"), w, ws, b, 1, s_in, s_out, false);
  Int8Net n(net);
  REQUIRE(n.layers()[1].int8);
  const auto x = random_tensor({N, C, H, W}, -2.5f, 2.5f, 23);
  n.set_input("x", x);
  n.forward();
  const auto qx = quantize_all(x, s_in, false);
  const int OH = (H - 1) * S - 2 * P + K + OP, OW = (W - 1) * S - 2 * P + K + OP;
  REQUIRE(n.blob_shape("y") == Shape{N, O, OH, OW});
  std::vector<std::int64_t> acc(static_cast<size_t>(N * O * OH * OW), 0);
  const int cg = C / G, og = O / G;
  for (int nn = 0; nn < N; ++nn)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j)
          for (int o = 0; o < og; ++o)
            for (int kh = 0; kh < K; ++kh)
              for (int kw = 0; kw < K; ++kw) {
                const int y = i * S - P + kh, xx = j * S - P + kw;
                if (y < 0 || y >= OH || xx < 0 || xx >= OW) continue;
                const int oc = (c / cg) * og + o;
                acc[static_cast<size_t>(((nn * O + oc) * OH + y) * OW + xx)] +=
                    qx[static_cast<size_t>(((nn * C + c) * H + i) * W + j)] *
                    qw.w[static_cast<size_t>(((c * og + o) * K + kh) * K + kw)];
              }
  std::vector<int> want;
  for (size_t k = 0; k < acc.size(); ++k) {
    const int oc = static_cast<int>(k / static_cast<size_t>(OH * OW)) % O;
    want.push_back(requant(acc[k] + qw.bias[static_cast<size_t>(oc)], qw.mult[0], qw.shift[0], false));
  }
  REQUIRE(codes(n, "y") == want);
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

namespace {

// Runs the fp32 Net of the same prototxt (top_quant / int8_param are ignored there) on the
// dequantised codes of `x`: the reference for data-movement ops and float fallbacks.
Tensor<float> fp32_on_codes(const ufw::NetParameter& net, const std::string& in, const Tensor<float>& x, float s_in,
                            bool u8, const std::string& out) {
  engine::Net f(net);
  Tensor<float> xd(x.shape());
  const auto q = quantize_all(x, s_in, u8);
  for (int64_t i = 0; i < x.size(); ++i) xd[i] = fixed::dequantize(q[static_cast<size_t>(i)], s_in);
  f.set_input(in, xd);
  f.forward();
  return f.blob(out);
}

std::vector<int> quantize_tensor(const Tensor<float>& t, float s, bool u8) { return quantize_all(t, s, u8); }

void add_mult(ufw::LayerParameter& l, double real) {
  const auto m = fixed::quantize_multiplier(real);
  l.mutable_int8_param()->add_multiplier(m.multiplier);
  l.mutable_int8_param()->add_shift(m.shift);
}

}  // namespace

TEST_CASE("int8 ReLU / ReLU6: codes clamped, then rescaled int8 -> uint8; in place", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 5 dim: 5 } }
        top_quant { threshold: 8 dtype: INT8 } }
layer { name: "r" type: "ReLU" bottom: "x" top: "r" top_quant { threshold: 7 dtype: UINT8 } }
layer { name: "r6" type: "ReLU6" bottom: "x" top: "r6" top_quant { threshold: 8 dtype: INT8 } }
layer { name: "cp" type: "Split" bottom: "x" top: "y" top_quant { threshold: 8 dtype: INT8 } }
layer { name: "ri" type: "ReLU" bottom: "y" top: "y" top_quant { threshold: 8 dtype: UINT8 } }
)");
  const float s_in = scale_of(8, false), s_r = scale_of(7, true), s_u = scale_of(8, true);
  add_mult(layer(net, "r"), double(s_in) / s_r);
  add_mult(layer(net, "ri"), double(s_in) / s_u);
  Int8Net n(net);
  for (const auto& l : n.layers()) REQUIRE(l.int8);
  const auto x = random_tensor({2, 3, 5, 5}, -9, 9, 31);
  n.set_input("x", x);
  n.forward();
  const auto q = quantize_all(x, s_in, false);
  const auto mr = fixed::quantize_multiplier(double(s_in) / s_r), mu = fixed::quantize_multiplier(double(s_in) / s_u);
  const int six = fixed::quantize_value(6.0, s_in);
  std::vector<int> want_r, want_r6, want_i;
  for (int v : q) {
    want_r.push_back(requant(std::max(v, 0), mr.multiplier, mr.shift, true));
    want_r6.push_back(std::min(std::max(v, 0), six));
    want_i.push_back(requant(std::max(v, 0), mu.multiplier, mu.shift, true));
  }
  REQUIRE(codes(n, "r") == want_r);
  REQUIRE(codes(n, "r6") == want_r6);
  REQUIRE(n.blob_raw("y").dtype() == DType::U8);  // the in-place name shows the ReLU's uint8 value
  REQUIRE(codes(n, "y") == want_i);
}

TEST_CASE("int8 Pooling MAX, AVE (Caffe and ONNX divisors), global AVE", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 7 dim: 6 } }
        top_quant { threshold: 3 dtype: INT8 } }
layer { name: "mx" type: "Pooling" bottom: "x" top: "mx" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }
        top_quant { threshold: 3 dtype: INT8 } }
layer { name: "av" type: "Pooling" bottom: "x" top: "av" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "avx" type: "Pooling" bottom: "x" top: "avx"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 pad_h_end: 1 pad_w_end: 1 count_include_pad: false }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "gl" type: "Pooling" bottom: "x" top: "gl" pooling_param { pool: AVE global_pooling: true }
        top_quant { threshold: 1 dtype: INT8 } }
)");
  const float s_in = scale_of(3, false), s_av = scale_of(2, false), s_gl = scale_of(1, false);
  for (int d = 1; d <= 9; ++d) {
    add_mult(layer(net, "av"), double(s_in) / (double(s_av) * d));
    add_mult(layer(net, "avx"), double(s_in) / (double(s_av) * d));
  }
  for (int d = 1; d <= 42; ++d) add_mult(layer(net, "gl"), double(s_in) / (double(s_gl) * d));
  Int8Net n(net);
  for (const auto& l : n.layers()) REQUIRE(l.int8);
  const auto x = random_tensor({2, 3, 7, 6}, -3.5f, 3.5f, 41);
  n.set_input("x", x);
  n.forward();
  const auto q = quantize_all(x, s_in, false);
  const int H = 7, W = 6;
  auto pool = [&](bool is_max, bool include_pad, const ufw::LayerParameter& l, int OH, int OW) {
    std::vector<int> out;
    for (int p = 0; p < 6; ++p)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          int hs = oh * 2 - 1, ws = ow * 2 - 1;
          int he = std::min(hs + 3, H + 1), we = std::min(ws + 3, W + 1);
          const int padded = (he - hs) * (we - ws);
          hs = std::max(hs, 0), ws = std::max(ws, 0), he = std::min(he, H), we = std::min(we, W);
          int m = -1000, sum = 0;
          for (int y = hs; y < he; ++y)
            for (int xx = ws; xx < we; ++xx) {
              const int v = q[static_cast<size_t>((p * H + y) * W + xx)];
              m = std::max(m, v), sum += v;
            }
          if (is_max) {
            out.push_back(m);
            continue;
          }
          const int d = include_pad ? padded : (he - hs) * (we - ws);
          out.push_back(requant(sum, l.int8_param().multiplier(d - 1), l.int8_param().shift(d - 1), false));
        }
    return out;
  };
  REQUIRE(n.blob_shape("av") == Shape{2, 3, 4, 4});
  REQUIRE(codes(n, "mx") == pool(true, true, layer(net, "mx"), 4, 4));
  REQUIRE(codes(n, "av") == pool(false, true, layer(net, "av"), 4, 4));
  REQUIRE(n.blob_shape("avx") == Shape{2, 3, 4, 4});
  REQUIRE(codes(n, "avx") == pool(false, false, layer(net, "avx"), 4, 4));
  std::vector<int> gl;
  for (int p = 0; p < 6; ++p) {
    int sum = 0;
    for (int i = 0; i < H * W; ++i) sum += q[static_cast<size_t>(p * H * W + i)];
    gl.push_back(requant(sum, layer(net, "gl").int8_param().multiplier(41), layer(net, "gl").int8_param().shift(41), false));
  }
  REQUIRE(codes(n, "gl") == gl);
}

TEST_CASE("int8 Eltwise SUM (coefficients folded) / MAX / PROD and BinaryOp ADD", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 2 dim: 4 dim: 3 dim: 3 } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "b" type: "Input" top: "b" input_param { shape { dim: 2 dim: 4 dim: 3 dim: 3 } }
        top_quant { threshold: 3 dtype: UINT8 } }
layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 }
        top_quant { threshold: 2.5 dtype: INT8 } }
layer { name: "mx" type: "Eltwise" bottom: "a" bottom: "b" top: "mx" eltwise_param { operation: MAX }
        top_quant { threshold: 3 dtype: INT8 } }
layer { name: "pr" type: "Eltwise" bottom: "a" bottom: "b" top: "pr" eltwise_param { operation: PROD }
        top_quant { threshold: 4 dtype: INT8 } }
layer { name: "add" type: "BinaryOp" bottom: "a" bottom: "b" top: "add" binary_op_param { operation: ADD }
        top_quant { threshold: 5 dtype: UINT8 } }
)");
  const float sa = scale_of(2, false), sb = scale_of(3, true);
  // One shared shift: from the largest factor; each multiplier = round(r_i * 2^shift).
  auto set_inputs = [&](const std::string& name, double ra, double rb) {
    const int sh = fixed::quantize_multiplier(std::max(std::fabs(ra), std::fabs(rb))).shift;
    auto* ip = layer(net, name).mutable_int8_param();
    ip->add_input_multiplier(static_cast<std::int32_t>(std::llround(std::ldexp(ra, sh))));
    ip->add_input_multiplier(static_cast<std::int32_t>(std::llround(std::ldexp(rb, sh))));
    ip->add_input_shift(sh);
  };
  const float s_sum = scale_of(2.5f, false), s_mx = scale_of(3, false), s_pr = scale_of(4, false), s_add = scale_of(5, true);
  set_inputs("sum", double(sa) / s_sum, -0.5 * double(sb) / s_sum);
  set_inputs("mx", double(sa) / s_mx, double(sb) / s_mx);
  add_mult(layer(net, "pr"), double(sa) * sb / s_pr);
  set_inputs("add", double(sa) / s_add, double(sb) / s_add);
  Int8Net n(net);
  for (const auto& l : n.layers()) REQUIRE(l.int8);
  const auto a = random_tensor({2, 4, 3, 3}, -2.2f, 2.2f, 51), b = random_tensor({2, 4, 3, 3}, -0.2f, 3.2f, 52);
  n.set_input("a", a);
  n.set_input("b", b);
  n.forward();
  const auto qa = quantize_all(a, sa, false), qb = quantize_all(b, sb, true);
  auto ip = [&](const std::string& l) { return layer(net, l).int8_param(); };
  std::vector<int> ws, wm, wp, wa;
  for (size_t i = 0; i < qa.size(); ++i) {
    const auto s = ip("sum"), m = ip("mx"), ad = ip("add");
    ws.push_back(fixed::clamp_to<std::int64_t>(
        fixed::rounding_right_shift(std::int64_t{qa[i]} * s.input_multiplier(0) + std::int64_t{qb[i]} * s.input_multiplier(1),
                                    s.input_shift(0)), -127, 127));
    wm.push_back(fixed::clamp_to<std::int64_t>(
        std::max(fixed::rounding_right_shift(std::int64_t{qa[i]} * m.input_multiplier(0), m.input_shift(0)),
                 fixed::rounding_right_shift(std::int64_t{qb[i]} * m.input_multiplier(1), m.input_shift(0))), -127, 127));
    wp.push_back(requant(qa[i] * qb[i], ip("pr").multiplier(0), ip("pr").shift(0), false));
    wa.push_back(fixed::clamp_to<std::int64_t>(
        fixed::rounding_right_shift(std::int64_t{qa[i]} * ad.input_multiplier(0) + std::int64_t{qb[i]} * ad.input_multiplier(1),
                                    ad.input_shift(0)), 0, 255));
  }
  REQUIRE(codes(n, "sum") == ws);
  REQUIRE(codes(n, "mx") == wm);
  REQUIRE(codes(n, "pr") == wp);
  REQUIRE(codes(n, "add") == wa);
  // Sanity: the int8 SUM approximates a - 0.5 b (a saturates at 2, b is uint8 in [0, 3]).
  const auto sf = n.blob_float("sum");
  for (int64_t i = 0; i < sf.size(); ++i)
    REQUIRE(std::fabs(sf[i] - std::clamp(std::clamp(a[i], -2.f, 2.f) - 0.5f * std::clamp(b[i], 0.f, 3.f), -2.5f, 2.5f)) < 0.025f);
}

TEST_CASE("int8 Concat rescales each input to the output scale", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 2 dim: 2 dim: 3 dim: 2 } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "b" type: "Input" top: "b" input_param { shape { dim: 2 dim: 3 dim: 3 dim: 2 } }
        top_quant { threshold: 5 dtype: UINT8 } }
layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" top_quant { threshold: 4 dtype: INT8 } }
)");
  const float sa = scale_of(2, false), sb = scale_of(5, true), sc = scale_of(4, false);
  auto* ip = layer(net, "c").mutable_int8_param();
  for (double r : {double(sa) / sc, double(sb) / sc}) {
    const auto m = fixed::quantize_multiplier(r);
    ip->add_input_multiplier(m.multiplier);
    ip->add_input_shift(m.shift);
  }
  Int8Net n(net);
  REQUIRE(n.layers()[2].int8);
  const auto a = random_tensor({2, 2, 3, 2}, -2, 2, 61), b = random_tensor({2, 3, 3, 2}, 0, 5, 62);
  n.set_input("a", a);
  n.set_input("b", b);
  n.forward();
  const auto qa = quantize_all(a, sa, false), qb = quantize_all(b, sb, true);
  std::vector<int> want;
  for (int nn = 0; nn < 2; ++nn) {
    for (int i = 0; i < 12; ++i) want.push_back(requant(qa[static_cast<size_t>(nn * 12 + i)], ip->input_multiplier(0), ip->input_shift(0), false));
    for (int i = 0; i < 18; ++i) want.push_back(requant(qb[static_cast<size_t>(nn * 18 + i)], ip->input_multiplier(1), ip->input_shift(1), false));
  }
  REQUIRE(codes(n, "c") == want);
}

TEST_CASE("int8 data-movement ops pass codes through unchanged", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 dim: 3 dim: 5 } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "rs" type: "Reshape" bottom: "x" top: "rs" reshape_param { shape { dim: 0 dim: -1 } } top_quant { threshold: 2 } }
layer { name: "fl" type: "Flatten" bottom: "x" top: "fl" top_quant { threshold: 2 } }
layer { name: "pm" type: "Permute" bottom: "x" top: "pm" permute_param { order: 0 order: 2 order: 3 order: 1 } top_quant { threshold: 2 } }
layer { name: "sl" type: "Slice" bottom: "x" top: "s1" top: "s2" slice_param { axis: 1 slice_point: 1 } top_quant { threshold: 2 } }
layer { name: "up" type: "Upsample" bottom: "x" top: "up" upsample_param { scale: 2 } top_quant { threshold: 2 } }
layer { name: "pd" type: "Pad" bottom: "x" top: "pd" pad_param { pads: 0 pads: 0 pads: 1 pads: 2 pads: 0 pads: 0 pads: 2 pads: 1 } top_quant { threshold: 2 } }
layer { name: "dp" type: "Dropout" bottom: "x" top: "dp" top_quant { threshold: 2 } }
)");
  Int8Net n(net);
  for (const auto& l : n.layers()) REQUIRE(l.int8);
  const auto x = random_tensor({2, 4, 3, 5}, -2.1f, 2.1f, 71);
  const float s = scale_of(2, false);
  n.set_input("x", x);
  n.forward();
  for (const char* out : {"rs", "fl", "pm", "s1", "s2", "up", "pd", "dp"}) {
    INFO(out);
    const auto ref = fp32_on_codes(net, "x", x, s, false, out);
    REQUIRE(n.blob_shape(out) == ref.shape());
    REQUIRE(codes(n, out) == quantize_tensor(ref, s, false));
  }
}

TEST_CASE("int8 lookup-table ops: lut[q + 128] for int8 input, lut[q] for uint8", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 3 dim: 50 } } top_quant { threshold: 6 dtype: INT8 } }
layer { name: "sg" type: "Sigmoid" bottom: "x" top: "sg" top_quant { threshold: 1 dtype: UINT8 } }
layer { name: "th" type: "TanH" bottom: "sg" top: "th" top_quant { threshold: 1 dtype: INT8 } }
)");
  const float s_in = scale_of(6, false), s_sg = scale_of(1, true), s_th = scale_of(1, false);
  const auto sg = fixed::build_lut<std::uint8_t>(s_in, true, s_sg, fixed::QRange::uint8, fixed::lut_fn::sigmoid);
  const auto th = fixed::build_lut<std::int8_t>(s_sg, false, s_th, fixed::QRange::int8_sym, fixed::lut_fn::tanh);
  layer(net, "sg").mutable_int8_param()->set_lut(std::string(reinterpret_cast<const char*>(sg.data()), 256));
  layer(net, "th").mutable_int8_param()->set_lut(std::string(reinterpret_cast<const char*>(th.data()), 256));
  Int8Net n(net);
  for (const auto& l : n.layers()) REQUIRE(l.int8);
  const auto x = random_tensor({3, 50}, -7, 7, 81);
  n.set_input("x", x);
  n.forward();
  const auto q = quantize_all(x, s_in, false);
  std::vector<int> want_sg, want_th;
  for (int v : q) {
    want_sg.push_back(fixed::lut_lookup(sg, v, true));
    want_th.push_back(fixed::lut_lookup(th, want_sg.back(), false));
  }
  REQUIRE(codes(n, "sg") == want_sg);
  REQUIRE(codes(n, "th") == want_th);
}

TEST_CASE("float fallback: dequantise, fp32 layer, quantise; float input into an int8 layer", "[int8][layers]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 10 } } top_quant { threshold: 4 dtype: FP32 } }
layer { name: "r" type: "ReLU" bottom: "x" top: "r" top_quant { threshold: 4 dtype: INT8 } }
layer { name: "sm" type: "Softmax" bottom: "r" top: "sm" top_quant { threshold: 1 dtype: UINT8 } }
layer { name: "smf" type: "Softmax" bottom: "r" top: "smf" top_quant { threshold: 1 dtype: FP32 } }
layer { name: "rf" type: "ReLU" bottom: "x" top: "rf" forward_with_float: true top_quant { threshold: 4 dtype: INT8 } }
)");
  Int8Net n(net);
  REQUIRE(n.layers()[1].int8);    // float input, int8 ReLU: quantised at the border with T/127
  REQUIRE(!n.layers()[2].int8);   // Softmax has no int8 kernel
  REQUIRE(!n.layers()[4].int8);   // forward_with_float
  const auto x = random_tensor({2, 10}, -4.2f, 4.2f, 91);
  n.set_input("x", x);
  REQUIRE(n.blob_raw("x").dtype() == DType::F32);
  n.forward();
  const float s = scale_of(4, false);
  const auto qx = quantize_all(x, s, false);
  std::vector<int> want_r;
  for (int v : qx) want_r.push_back(std::max(v, 0));
  REQUIRE(codes(n, "r") == want_r);
  const auto ref = fp32_on_codes(net, "x", x, s, false, "sm");
  REQUIRE(codes(n, "sm") == quantize_tensor(ref, scale_of(1, true), true));
  const auto smf = n.blob_float("smf");
  for (int64_t i = 0; i < ref.size(); ++i) REQUIRE(smf[i] == ref[i]);
  // The float ReLU's output is quantised into its INT8 top: the same codes here.
  std::vector<int> want_rf;
  for (int64_t i = 0; i < x.size(); ++i) want_rf.push_back(fixed::quantize_value(std::max(x[i], 0.f), s));
  REQUIRE(codes(n, "rf") == want_rf);
}

namespace {
// A data source like the Data layer: fills its top with known floats every forward.
struct Ramp : engine::Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>&) override { return {{2, 6}}; }
  void forward(const std::vector<const engine::FloatTensor*>&, const std::vector<engine::FloatTensor*>& t) override {
    for (int64_t i = 0; i < t[0]->size(); ++i) (*t[0])[i] = -1.5f + 0.31f * static_cast<float>(i);
  }
  bool is_data_source() const override { return true; }
};
}  // namespace

TEST_CASE("data-source layers run in float and are quantised with their top_quant", "[int8][net]") {
  engine::LayerRegistry reg = engine::default_registry();
  reg.add("Ramp", engine::make<Ramp>);
  auto net = ir::parse_prototxt(R"(
layer { name: "src" type: "Ramp" top: "x" top_quant { threshold: 2 dtype: INT8 } }
layer { name: "r" type: "ReLU" bottom: "x" top: "r" top_quant { threshold: 2 dtype: INT8 } }
)");
  engine::Int8NetOptions o;
  o.registry = &reg;
  Int8Net n(net, o);
  REQUIRE(!n.layers()[0].int8);
  REQUIRE(n.layers()[1].int8);
  n.forward();
  const float s = scale_of(2, false);
  std::vector<int> want_x, want_r;
  for (int i = 0; i < 12; ++i) {
    want_x.push_back(fixed::quantize_value(-1.5f + 0.31f * static_cast<float>(i), s));
    want_r.push_back(std::max(want_x.back(), 0));
  }
  REQUIRE(codes(n, "x") == want_x);
  REQUIRE(codes(n, "r") == want_r);
  REQUIRE(n.output_names() == std::vector<std::string>{"r"});
}

TEST_CASE("Int8Net reshape_input rebuilds for a new batch; bad inputs are errors", "[int8][net]") {
  auto net = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 } } top_quant { threshold: 1 dtype: INT8 } }
layer { name: "r" type: "ReLU" bottom: "x" top: "r" top_quant { threshold: 1 dtype: INT8 } }
)");
  Int8Net n(net);
  REQUIRE(n.input_names() == std::vector<std::string>{"x"});
  REQUIRE_THROWS_AS(n.set_input("x", Tensor<float>({2, 3})), ShapeError);
  REQUIRE_THROWS_AS(n.set_input("nope", Tensor<float>({1, 3})), ModelError);
  REQUIRE_THROWS_AS(n.blob_raw("nope"), ModelError);
  n.reshape_input("x", {2, 3});
  REQUIRE(n.blob_shape("r") == Shape{2, 3});
  Tensor<float> x({2, 3});
  for (int i = 0; i < 6; ++i) x[i] = static_cast<float>(i - 3) * 0.25f;
  n.set_input("x", x);
  n.forward();
  const auto r = n.blob_float("r");
  for (int i = 0; i < 6; ++i) REQUIRE(r[i] == fixed::dequantize(fixed::quantize_value(std::max(x[i], 0.f), scale_of(1, false)), scale_of(1, false)));
  // An INT8 top_quant without a threshold or scale is a model error naming the layer.
  auto bad = net;
  bad.mutable_layer(1)->mutable_top_quant(0)->clear_threshold();
  REQUIRE_THROWS_AS(Int8Net(bad), ModelError);
}

#include <catch2/catch.hpp>

#include <cmath>

#include "../test_util.hpp"
#include "octet/engine/layers/spatial.hpp"
#include "octet/engine/registry.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::engine;
using octet::test::parse_layer;
using octet::test::random_vec;
using octet::test::require_close;

namespace {

void add_blob(ufw::LayerParameter& p, const Shape& s, const std::vector<float>& v) {
  auto* b = p.add_blobs();
  for (int64_t d : s) b->mutable_shape()->add_dim(d);
  for (float x : v) b->add_data(x);
}

void add_random_blob(ufw::LayerParameter& p, const Shape& s, uint32_t seed) {
  add_blob(p, s, random_vec(shape_count(s), seed));
}

std::vector<float> blob_vec(const ufw::LayerParameter& p, int i) {
  return {p.blobs(i).data().begin(), p.blobs(i).data().end()};
}

// reshape + forward on random input; returns the top.
FloatTensor run(Layer& l, const std::vector<Shape>& bottoms, std::vector<FloatTensor>& ins, uint32_t seed = 1) {
  const auto tops = l.reshape(bottoms);
  REQUIRE(tops.size() == 1);
  ins.clear();
  for (size_t i = 0; i < bottoms.size(); ++i) {
    ins.emplace_back(bottoms[i]);
    auto v = random_vec(shape_count(bottoms[i]), seed + static_cast<uint32_t>(i));
    std::copy(v.begin(), v.end(), ins.back().data());
  }
  FloatTensor top(tops[0], -123.f);
  std::vector<const FloatTensor*> b;
  for (auto& t : ins) b.push_back(&t);
  l.forward(b, {&top});
  return top;
}

std::vector<float> vec(const FloatTensor& t) { return {t.data(), t.data() + t.size()}; }

}  // namespace

TEST_CASE("Convolution layer: Caffe fields, groups, bias, matches the reference kernel") {
  auto p = parse_layer(R"(name: "c" type: "Convolution" convolution_param {
      num_output: 6 kernel_size: 3 pad: 1 stride: 2 group: 2 })");
  add_random_blob(p, {6, 2, 3, 3}, 10);
  add_random_blob(p, {6}, 11);
  ConvolutionLayer l(p);
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{2, 4, 7, 6}}, ins);
  CHECK(top.shape() == Shape{2, 6, 4, 3});
  kernels::Conv2dParams kp;
  kp.kernel_h = kp.kernel_w = 3;
  kp.stride_h = kp.stride_w = 2;
  kp.pad_top = kp.pad_left = kp.pad_bottom = kp.pad_right = 1;
  kp.group = 2;
  const auto s = kernels::conv2d_shape(kp, 2, 4, 7, 6, 6);
  std::vector<float> want(static_cast<size_t>(top.size()));
  kernels::reference::conv2d(kp, s, ins[0].data(), blob_vec(p, 0).data(), blob_vec(p, 1).data(), want.data());
  require_close(vec(top), want);
  CHECK(l.flops({{2, 4, 7, 6}}, {top.shape()}) == 2 * 2 * 6 * 4 * 3 * 2 * 9);
  CHECK_FALSE(l.supports_in_place());
}

TEST_CASE("Convolution layer: kernel_h/w, pad_h/w with Octet end pads, dilation, no bias") {
  auto p = parse_layer(R"(name: "c" type: "Convolution" convolution_param {
      num_output: 3 bias_term: false kernel_h: 2 kernel_w: 3 pad_h: 0 pad_w: 1 pad_h_end: 1 pad_w_end: 0
      stride_h: 1 stride_w: 2 dilation: 2 dilation: 1 })");
  add_random_blob(p, {3, 2, 2, 3}, 20);
  ConvolutionLayer l(p);
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{1, 2, 5, 8}}, ins);
  // h: (5 + 0 + 1 - 2*1 - 1)/1 + 1 = 4; w: (8 + 1 + 0 - 2 - 1)/2 + 1 = 4
  CHECK(top.shape() == Shape{1, 3, 4, 4});
  const auto& kp = l.kernel_params();
  CHECK(kp.pad_top == 0);
  CHECK(kp.pad_bottom == 1);
  CHECK(kp.pad_left == 1);
  CHECK(kp.pad_right == 0);
  CHECK(kp.dilation_h == 2);
  CHECK(kp.dilation_w == 1);
  std::vector<float> want(static_cast<size_t>(top.size()));
  kernels::reference::conv2d(kp, kernels::conv2d_shape(kp, 1, 2, 5, 8, 3), ins[0].data(), blob_vec(p, 0).data(),
                             static_cast<const float*>(nullptr), want.data());
  require_close(vec(top), want);
}

TEST_CASE("Convolution layer: 1-D (N,C,L) bottom and legacy 4-D weight shape") {
  auto p = parse_layer(R"(name: "c" type: "Convolution" convolution_param { num_output: 2 kernel_size: 3 pad: 1 })");
  add_random_blob(p, {2, 3, 3}, 30);
  add_blob(p, {2}, {0.5f, -0.5f});
  ConvolutionLayer l(p);
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{1, 3, 5}}, ins);
  CHECK(top.shape() == Shape{1, 2, 5});
  // Legacy num/channels/height/width blob for a 2-D conv is accepted.
  auto q = parse_layer(R"(name: "c" type: "Convolution" convolution_param { num_output: 2 kernel_size: 1 bias_term: false })");
  auto* b = q.add_blobs();
  b->set_num(2); b->set_channels(3); b->set_height(1); b->set_width(1);
  for (int i = 0; i < 6; ++i) b->add_data(1.f);
  ConvolutionLayer lq(q);
  CHECK(lq.reshape({{1, 3, 4, 4}}) == std::vector<Shape>{{1, 2, 4, 4}});
}

TEST_CASE("Convolution layer: clear errors for bad weights and params") {
  auto p = parse_layer(R"(name: "c" type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 })");
  {
    ConvolutionLayer l(p);
    CHECK_THROWS_AS(l.reshape({{1, 2, 5, 5}}), ModelError);  // no weights
  }
  add_random_blob(p, {4, 3, 3, 3}, 1);
  add_random_blob(p, {4}, 2);
  {
    ConvolutionLayer l(p);
    CHECK_THROWS_WITH(l.reshape({{1, 2, 5, 5}}), Catch::Contains("weight has shape [4,3,3,3], expected [4,2,3,3]"));
    CHECK_THROWS_AS(l.reshape({{1, 3, 2, 2}}), ShapeError);   // kernel larger than input
    CHECK_THROWS_AS(l.reshape({{1, 3, 2, 2, 2}}), UnsupportedError);
    CHECK_NOTHROW(l.reshape({{1, 3, 5, 5}}));
  }
  p.mutable_blobs()->RemoveLast();
  {
    ConvolutionLayer l(p);
    CHECK_THROWS_WITH(l.reshape({{1, 3, 5, 5}}), Catch::Contains("bias"));
  }
  auto nok = parse_layer(R"(name: "c" type: "Convolution" convolution_param { num_output: 4 })");
  ConvolutionLayer ln(nok);
  CHECK_THROWS_AS(ln.reshape({{1, 3, 5, 5}}), ModelError);
}

TEST_CASE("Deconvolution layer: Caffe weight layout [I, O/g, kh, kw], output_pad") {
  auto p = parse_layer(R"(name: "d" type: "Deconvolution" convolution_param {
      num_output: 4 kernel_size: 3 stride: 2 pad: 1 output_pad_h: 1 output_pad_w: 1 group: 2 })");
  add_random_blob(p, {6, 2, 3, 3}, 40);
  add_random_blob(p, {4}, 41);
  DeconvolutionLayer l(p);
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{2, 6, 4, 5}}, ins);
  // (4-1)*2 - 2 + 3 + 1 = 8, (5-1)*2 - 2 + 3 + 1 = 10
  CHECK(top.shape() == Shape{2, 4, 8, 10});
  kernels::Deconv2dParams kp;
  kp.kernel_h = kp.kernel_w = 3;
  kp.stride_h = kp.stride_w = 2;
  kp.pad_top = kp.pad_left = kp.pad_bottom = kp.pad_right = 1;
  kp.output_pad_h = kp.output_pad_w = 1;
  kp.group = 2;
  std::vector<float> want(static_cast<size_t>(top.size()));
  kernels::reference::deconv2d(kp, kernels::deconv2d_shape(kp, 2, 6, 4, 5, 4), ins[0].data(), blob_vec(p, 0).data(),
                               blob_vec(p, 1).data(), want.data());
  require_close(vec(top), want);
  CHECK(l.flops({{2, 6, 4, 5}}, {top.shape()}) == 2 * 2 * 6 * 4 * 5 * 2 * 9);
}

TEST_CASE("Pooling layer: Caffe ceil, round_mode FLOOR, global, ONNX fields") {
  std::vector<FloatTensor> ins;
  {
    PoolingLayer l(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 })"));
    CHECK(l.reshape({{1, 2, 6, 6}}) == std::vector<Shape>{{1, 2, 3, 3}});
  }
  {
    PoolingLayer l(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR })"));
    CHECK(l.reshape({{1, 2, 6, 6}}) == std::vector<Shape>{{1, 2, 2, 2}});
  }
  {
    PoolingLayer l(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: AVE global_pooling: true })"));
    const auto top = run(l, {{2, 3, 4, 5}}, ins);
    CHECK(top.shape() == Shape{2, 3, 1, 1});
    double sum = 0;
    for (int i = 0; i < 20; ++i) sum += ins[0][i];
    CHECK(top[0] == Approx(sum / 20).epsilon(1e-5));
  }
  {
    // Caffe convention, stride > kernel without pad keeps the third window; ONNX-style drops it.
    PoolingLayer caffe(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 1 stride: 3 })"));
    CHECK(caffe.reshape({{1, 1, 5, 5}}) == std::vector<Shape>{{1, 1, 3, 3}});
    PoolingLayer onnx(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 1 stride: 3 pad_h_end: 0 pad_w_end: 0 })"));
    CHECK(onnx.reshape({{1, 1, 5, 5}}) == std::vector<Shape>{{1, 1, 2, 2}});
  }
  {
    // AVE 3x3 s1 pad 1 with count_include_pad false: corner divides by 4.
    PoolingLayer l(parse_layer(R"(name: "p" type: "Pooling" pooling_param {
        pool: AVE kernel_size: 3 stride: 1 pad: 1 round_mode: FLOOR count_include_pad: false })"));
    const auto top = run(l, {{1, 1, 3, 3}}, ins);
    CHECK(top.shape() == Shape{1, 1, 3, 3});
    CHECK(top[0] == Approx((ins[0][0] + ins[0][1] + ins[0][3] + ins[0][4]) / 4).epsilon(1e-5));
  }
  {
    // Asymmetric: kernel_h/w, pad_h 0 with pad_h_end 1.
    PoolingLayer l(parse_layer(R"(name: "p" type: "Pooling" pooling_param {
        pool: MAX kernel_h: 2 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 0 pad_h_end: 1 round_mode: FLOOR })"));
    CHECK(l.reshape({{1, 1, 5, 4}}) == std::vector<Shape>{{1, 1, 3, 4}});
  }
  PoolingLayer bad(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: MAX })"));
  CHECK_THROWS_AS(bad.reshape({{1, 1, 4, 4}}), ModelError);
  PoolingLayer sto(parse_layer(R"(name: "p" type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 })"));
  CHECK_THROWS_AS(sto.reshape({{1, 1, 4, 4}}), UnsupportedError);
}

TEST_CASE("InnerProduct layer: axis, transpose, bias") {
  auto p = parse_layer(R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 5 })");
  add_random_blob(p, {5, 60}, 50);
  add_random_blob(p, {5}, 51);
  InnerProductLayer l(p);
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{2, 3, 4, 5}}, ins);
  CHECK(top.shape() == Shape{2, 5});
  std::vector<float> want(10);
  kernels::reference::inner_product({}, {2, 60, 5}, ins[0].data(), blob_vec(p, 0).data(), blob_vec(p, 1).data(),
                                    want.data());
  require_close(vec(top), want);
  CHECK(l.flops({{2, 3, 4, 5}}, {{2, 5}}) == 2 * 2 * 60 * 5);

  auto q = parse_layer(R"(name: "fc" type: "InnerProduct" inner_product_param { num_output: 4 axis: -1 transpose: true bias_term: false })");
  add_random_blob(q, {5, 4}, 52);
  InnerProductLayer lq(q);
  const auto tq = run(lq, {{2, 3, 5}}, ins);
  CHECK(tq.shape() == Shape{2, 3, 4});
  std::vector<float> wq(24);
  kernels::InnerProductParams kp;
  kp.transpose = true;
  kernels::reference::inner_product(kp, {6, 5, 4}, ins[0].data(), blob_vec(q, 0).data(), static_cast<const float*>(nullptr),
                                    wq.data());
  require_close(vec(tq), wq);
  InnerProductLayer lbad(q);
  CHECK_THROWS_AS(lbad.reshape({{2, 3, 6}}), ShapeError);
}

TEST_CASE("MatMul layer: two bottoms with broadcast, constant right operand, transpose") {
  MatMulLayer l(parse_layer(R"(name: "mm" type: "MatMul")"));
  std::vector<FloatTensor> ins;
  const auto top = run(l, {{2, 1, 3, 4}, {5, 4, 2}}, ins);
  CHECK(top.shape() == Shape{2, 5, 3, 2});
  std::vector<float> want(static_cast<size_t>(top.size()));
  kernels::reference::matmul({}, {2, 1, 3, 4}, ins[0].data(), {5, 4, 2}, ins[1].data(), want.data());
  require_close(vec(top), want);

  auto p = parse_layer(R"(name: "mm" type: "MatMul" matmul_param { transpose_b: true })");
  add_random_blob(p, {6, 4}, 60);
  MatMulLayer lc(p);
  const auto tc = run(lc, {{3, 4}}, ins);
  CHECK(tc.shape() == Shape{3, 6});
  std::vector<float> wc(18);
  kernels::reference::matmul({false, true}, {3, 4}, ins[0].data(), {6, 4}, blob_vec(p, 0).data(), wc.data());
  require_close(vec(tc), wc);
  CHECK(lc.flops({{3, 4}}, {{3, 6}}) == 2 * 3 * 6 * 4);
  MatMulLayer lnone(parse_layer(R"(name: "mm" type: "MatMul")"));
  CHECK_THROWS_AS(lnone.reshape({{3, 4}}), ModelError);
  CHECK_THROWS_AS(l.reshape({{3, 4}, {5, 2}}), ShapeError);
}

TEST_CASE("BatchNorm layer: Caffe factor normalisation, eps, runs in place") {
  auto p = parse_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0.001 })");
  add_blob(p, {2}, {2.f, -4.f});   // mean sums
  add_blob(p, {2}, {8.f, 2.f});    // variance sums
  add_blob(p, {1}, {2.f});         // factor -> divide by 2
  BatchNormLayer l(p);
  CHECK(l.supports_in_place());
  CHECK(l.reshape({{1, 2, 1, 2}}) == std::vector<Shape>{{1, 2, 1, 2}});
  FloatTensor x({1, 2, 1, 2});
  const std::vector<float> xv{3, 1, -2, 0};
  std::copy(xv.begin(), xv.end(), x.data());
  l.forward({&x}, {&x});
  CHECK(x[0] == Approx(2.f / std::sqrt(4.001f)));
  CHECK(x[1] == Approx(0.f).margin(1e-6));
  CHECK(x[2] == Approx(0.f).margin(1e-6));
  CHECK(x[3] == Approx(2.f / std::sqrt(1.001f)));
  // Factor 0: Caffe zeroes mean and variance.
  p.mutable_blobs(2)->set_data(0, 0.f);
  BatchNormLayer l0(p);
  l0.reshape({{1, 2}});
  FloatTensor y({1, 2});
  y[0] = 1.f; y[1] = -1.f;
  l0.forward({&y}, {&y});
  CHECK(y[0] == Approx(1.f / std::sqrt(0.001f)));
  auto missing = parse_layer(R"(name: "bn" type: "BatchNorm")");
  add_blob(missing, {2}, {0, 0});
  BatchNormLayer lm(missing);
  CHECK_THROWS_AS(lm.reshape({{1, 2, 3, 3}}), ModelError);
}

TEST_CASE("Scale layer: blob scale with bias, num_axes, two-bottom form") {
  auto p = parse_layer(R"(name: "s" type: "Scale" scale_param { bias_term: true })");
  add_blob(p, {3}, {1.f, 2.f, -1.f});
  add_blob(p, {3}, {0.f, 1.f, 10.f});
  ScaleLayer l(p);
  CHECK(l.supports_in_place());
  std::vector<FloatTensor> ins;
  auto top = run(l, {{2, 3, 2}}, ins);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int j = 0; j < 2; ++j) {
        const int i = (n * 3 + c) * 2 + j;
        const float a[] = {1.f, 2.f, -1.f}, b[] = {0.f, 1.f, 10.f};
        CHECK(top[i] == Approx(ins[0][i] * a[c] + b[c]));
      }
  // axis 1, num_axes -1: scale over [3, 2].
  auto q = parse_layer(R"(name: "s" type: "Scale" scale_param { num_axes: -1 })");
  add_random_blob(q, {3, 2}, 70);
  ScaleLayer lq(q);
  top = run(lq, {{2, 3, 2}}, ins);
  for (int i = 0; i < 12; ++i) CHECK(top[i] == Approx(ins[0][i] * q.blobs(0).data(i % 6)));
  // Two bottoms: scale shape [3] at axis 1; bias comes from blobs[0].
  auto t = parse_layer(R"(name: "s" type: "Scale" scale_param { bias_term: true })");
  add_blob(t, {3}, {1.f, 1.f, 1.f});
  ScaleLayer lt(t);
  top = run(lt, {{2, 3, 2}, {3}}, ins);
  for (int i = 0; i < 12; ++i) CHECK(top[i] == Approx(ins[0][i] * ins[1][(i / 2) % 3] + 1.f));
  // Scalar second bottom scales everything.
  ScaleLayer ls(parse_layer(R"(name: "s" type: "Scale")"));
  top = run(ls, {{2, 3}, {}}, ins);
  for (int i = 0; i < 6; ++i) CHECK(top[i] == Approx(ins[0][i] * ins[1][0]));
  ScaleLayer lbad(parse_layer(R"(name: "s" type: "Scale")"));
  CHECK_THROWS_AS(lbad.reshape({{2, 3}, {4}}), ShapeError);
}

TEST_CASE("LRN layer: across channels uses k, within channel uses Caffe's shift 1") {
  std::vector<FloatTensor> ins;
  LrnLayer across(parse_layer(R"(name: "n" type: "LRN" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 })"));
  auto top = run(across, {{1, 4, 2, 3}}, ins);
  kernels::LrnParams kp;
  kp.size = 3; kp.alpha = 0.5f; kp.beta = 0.75f; kp.k = 2.f;
  std::vector<float> want(24);
  kernels::reference::lrn(kp, {1, 4, 2, 3}, ins[0].data(), want.data());
  require_close(vec(top), want, 1e-5f);
  LrnLayer within(parse_layer(R"(name: "n" type: "LRN" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 norm_region: WITHIN_CHANNEL })"));
  top = run(within, {{1, 4, 2, 3}}, ins);
  kp.region = kernels::LrnParams::Region::WithinChannel;
  kp.k = 1.f;
  kernels::reference::lrn(kp, {1, 4, 2, 3}, ins[0].data(), want.data());
  require_close(vec(top), want, 1e-5f);
  LrnLayer even(parse_layer(R"(name: "n" type: "LRN" lrn_param { local_size: 4 norm_region: WITHIN_CHANNEL })"));
  CHECK_THROWS_AS(even.reshape({{1, 4, 2, 3}}), ShapeError);
  CHECK_THROWS_AS(across.reshape({{4, 6}}), ShapeError);
}

TEST_CASE("spatial layers are registered under their Caffe type strings") {
  LayerRegistry r;
  register_spatial_layers(r);
  for (const char* t : {"Convolution", "Deconvolution", "Pooling", "InnerProduct", "MatMul", "BatchNorm", "Scale", "LRN"}) {
    INFO(t);
    CHECK(r.has(t));
    CHECK(default_registry().has(t));
  }
  auto p = parse_layer(R"(name: "x" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 })");
  auto l = r.create(p);
  CHECK(l->reshape({{1, 1, 4, 4}}) == std::vector<Shape>{{1, 1, 2, 2}});
}

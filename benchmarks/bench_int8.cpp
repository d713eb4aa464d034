// Int8 kernels and the int8 runtime against their fp32 peers on the same shapes, in the same
// run: conv 3x3 (im2col + GEMM), conv 1x1 (direct GEMM), depthwise 3x3, GEMM (inner product),
// and a whole ResNet-8-shaped net (Fashion-MNIST input, BatchNorm folded, batch 64) run by the
// Int8Net and by the fp32 Net. Report: time(fp32) / time(int8) per pair (> 1: int8 is faster).
// If OCTET_INT8_RESNET8=<prototxt>:<weights> names a calibrated int8 umodel (and
// OCTET_FP32_RESNET8 its fp32 deploy pair), that pair is benchmarked too.
// Second argument of every benchmark: the thread count.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/engine/blob_util.hpp"
#include "octet/engine/int8_net.hpp"
#include "octet/engine/net.hpp"
#include "octet/fixed/fixed.hpp"
#include "octet/calib/weights.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/umodel.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/inner_product.hpp"
#include "octet/kernels/int8_conv.hpp"

#include "bench_conv_util.hpp"
#include "bench_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::bench::ConvCase;
using octet::bench::conv_params;
using octet::bench::rnd;

namespace {

template <typename T>
std::vector<T> rnd_codes(int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> d(std::is_signed_v<T> ? -127 : 0, std::is_signed_v<T> ? 127 : 255);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

void run_conv_fp32(benchmark::State& state, const ConvCase& cc) {
  const int64_t batch = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  bench::FloatConv c(cc, batch);
  for (auto _ : state) {
    conv2d(c.p, c.s, c.in.data(), c.w.data(), c.b.data(), c.out.data(), std::span<float>(c.scratch));
    benchmark::DoNotOptimize(c.out.data());
    benchmark::ClobberMemory();
  }
  set_num_threads(1);
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(conv2d_flops(c.p, c.s)) / 2,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// uint8 input (a ReLU output), int8 weights, per-channel requant to uint8 (fused ReLU).
void run_conv_int8(benchmark::State& state, const ConvCase& cc) {
  const int64_t batch = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  const Conv2dParams p = conv_params(cc);
  const Conv2dShape s = conv2d_shape(p, batch, cc.c, cc.hw, cc.hw, cc.o);
  auto in = rnd_codes<std::uint8_t>(batch * cc.c * cc.hw * cc.hw, 1);
  auto w = rnd_codes<std::int8_t>(cc.o * (cc.c / cc.group) * cc.k * cc.k, 2);
  Int8Requant rq;
  rq.multiplier.clear();
  rq.shift.clear();
  for (int64_t c = 0; c < cc.o; ++c) {
    const auto m = fixed::quantize_multiplier(0.001 + 0.0001 * static_cast<double>(c));
    rq.multiplier.push_back(m.multiplier);
    rq.shift.push_back(m.shift);
    rq.bias.push_back(static_cast<std::int32_t>(c * 37 - 500));
  }
  rq.out_min = 0;
  rq.out_max = 255;
  Int8Conv2d conv;
  conv.setup(p, s, w.data(), rq);
  std::vector<std::uint8_t> out(static_cast<size_t>(batch * cc.o * s.out_h * s.out_w));
  for (auto _ : state) {
    conv.forward(in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_num_threads(1);
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(conv2d_flops(p, s)) / 2,
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(int8_gemm_path());
}

// ResNet-8 shapes at batch 64 (28x28 Fashion-MNIST: 16 ch at 28, 32 at 14, 64 at 7) and the
// usual ImageNet-style layers.
constexpr ConvCase kR8Stem{1, 16, 28, 3, 1, 1};
constexpr ConvCase kR8Conv16{16, 16, 28, 3, 1, 1};
constexpr ConvCase kR8Conv32{32, 32, 14, 3, 1, 1};
constexpr ConvCase kR8Conv64{64, 64, 7, 3, 1, 1};
constexpr ConvCase kConv3x3{64, 64, 56, 3, 1, 1};
constexpr ConvCase kConv1x1{256, 64, 56, 1, 1, 1};
constexpr ConvCase kDw3x3{144, 144, 56, 3, 1, 144};

#define OCTET_CONV_PAIR(NAME, CASE)                                              \
  void BM_##NAME##_fp32(benchmark::State& s) { run_conv_fp32(s, CASE); }         \
  void BM_##NAME##_int8(benchmark::State& s) { run_conv_int8(s, CASE); }
OCTET_CONV_PAIR(R8Stem_1x16_28, kR8Stem)
OCTET_CONV_PAIR(R8Conv3x3_16_28, kR8Conv16)
OCTET_CONV_PAIR(R8Conv3x3_32_14, kR8Conv32)
OCTET_CONV_PAIR(R8Conv3x3_64_7, kR8Conv64)
OCTET_CONV_PAIR(Conv3x3_64x64_56, kConv3x3)
OCTET_CONV_PAIR(Conv1x1_256x64_56, kConv1x1)
OCTET_CONV_PAIR(Depthwise3x3_144_56, kDw3x3)

#define OCTET_CONV_ARGS(NAME, BATCH)                                                                      \
  BENCHMARK(BM_##NAME##_fp32)->Args({BATCH, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();           \
  BENCHMARK(BM_##NAME##_int8)->Args({BATCH, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();
OCTET_CONV_ARGS(R8Stem_1x16_28, 64)
OCTET_CONV_ARGS(R8Conv3x3_16_28, 64)
OCTET_CONV_ARGS(R8Conv3x3_32_14, 64)
OCTET_CONV_ARGS(R8Conv3x3_64_7, 64)
OCTET_CONV_ARGS(Conv3x3_64x64_56, 1)
OCTET_CONV_ARGS(Conv1x1_256x64_56, 1)
OCTET_CONV_ARGS(Depthwise3x3_144_56, 1)

// GEMM as an inner product: [batch, K] x [M, K]^T.
void BM_Gemm_fp32(benchmark::State& state) {
  const InnerProductShape s{state.range(0), 512, 1000};
  set_num_threads(static_cast<int>(state.range(1)));
  auto in = rnd(s.M * s.K, 1), w = rnd(s.N * s.K, 2), b = rnd(s.N, 3);
  std::vector<float> out(static_cast<size_t>(s.M * s.N));
  for (auto _ : state) {
    inner_product({}, s, in.data(), w.data(), b.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_num_threads(1);
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(s.M * s.N * s.K), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_Gemm_int8(benchmark::State& state) {
  const int64_t batch = state.range(0), K = 512, M = 1000;
  set_num_threads(static_cast<int>(state.range(1)));
  auto in = rnd_codes<std::uint8_t>(batch * K, 1);
  auto w = rnd_codes<std::int8_t>(M * K, 2);
  Int8Requant rq;
  rq.multiplier = {fixed::quantize_multiplier(0.0007).multiplier};
  rq.shift = {fixed::quantize_multiplier(0.0007).shift};
  Int8InnerProduct ip;
  ip.setup(batch, K, M, w.data(), false, rq);
  std::vector<std::int8_t> out(static_cast<size_t>(batch * M));
  for (auto _ : state) {
    ip.forward(in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_num_threads(1);
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(batch * M * K), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(int8_gemm_path());
}
BENCHMARK(BM_Gemm_fp32)->Args({64, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Gemm_int8)->Args({64, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- whole net --------------------------------------------------------------------------

// ResNet-8 as the Fashion-MNIST model has it after BatchNorm folding: stem conv, three basic
// blocks (16, 32/2, 64/2; 1x1 projection shortcuts when downsampling), global AVE pool, FC 10.
std::string resnet8_prototxt(int64_t batch) {
  std::string s = "name: \"resnet8\"\nlayer { name: \"in\" type: \"Input\" top: \"x\" input_param { shape { dim: " +
                  std::to_string(batch) + " dim: 1 dim: 28 dim: 28 } } }\n";
  auto conv = [&](const std::string& n, const std::string& b, int o, int k, int st) {
    s += "layer { name: \"" + n + "\" type: \"Convolution\" bottom: \"" + b + "\" top: \"" + n +
         "\" convolution_param { num_output: " + std::to_string(o) + " kernel_size: " + std::to_string(k) +
         " pad: " + std::to_string(k / 2) + " stride: " + std::to_string(st) + " } }\n";
  };
  auto relu = [&](const std::string& n, const std::string& b) {
    s += "layer { name: \"" + n + "\" type: \"ReLU\" bottom: \"" + b + "\" top: \"" + n + "\" }\n";
  };
  conv("stem", "x", 16, 3, 1);
  relu("stem_r", "stem");
  std::string cur = "stem_r";
  int in_c = 16;
  for (int st = 0; st < 3; ++st) {
    const int o = 16 << st, stride = st == 0 ? 1 : 2;
    const std::string p = "b" + std::to_string(st);
    conv(p + "_c1", cur, o, 3, stride);
    relu(p + "_r1", p + "_c1");
    conv(p + "_c2", p + "_r1", o, 3, 1);
    std::string sc = cur;
    if (o != in_c || stride != 1) {
      conv(p + "_sc", cur, o, 1, stride);
      sc = p + "_sc";
    }
    s += "layer { name: \"" + p + "_add\" type: \"Eltwise\" bottom: \"" + p + "_c2\" bottom: \"" + sc + "\" top: \"" + p +
         "_add\" }\n";
    relu(p + "_r2", p + "_add");
    cur = p + "_r2";
    in_c = o;
  }
  s += "layer { name: \"gap\" type: \"Pooling\" bottom: \"" + cur +
       "\" top: \"gap\" pooling_param { pool: AVE global_pooling: true } }\n";
  s += "layer { name: \"fc\" type: \"InnerProduct\" bottom: \"gap\" top: \"fc\" inner_product_param { num_output: 10 } }\n";
  return s;
}

// Random fp32 weights (He-uniform) for every Convolution / InnerProduct of `net`.
void fill_weights(ufw::NetParameter& net) {
  engine::NetOptions o;
  uint32_t seed = 1;
  o.prepare_layer = [&](ufw::LayerParameter& l, const std::vector<Shape>& bottoms) {
    const auto want = ir::expected_param_shapes(l, bottoms);
    if (!want || !l.blobs().empty()) return;
    for (size_t j = 0; j < want->size(); ++j) {
      const Shape& ws = (*want)[j];
      const float a = j == 0 ? std::sqrt(6.f / static_cast<float>(shape_count(ws) / ws[0])) : 0.05f;
      Tensor<float> t(ws);
      const auto v = rnd(t.size(), seed++);
      for (int64_t i = 0; i < t.size(); ++i) t[i] = v[static_cast<size_t>(i)] * a;
      *l.add_blobs() = ir::tensor_to_blob(t);
    }
  };
  engine::Net n(net, o);
  net = n.net_param();
}

// The simplest int8 model of an fp32 net (what a max-abs calibration writes): threshold =
// absmax of each blob on one batch, ReLU / pooled-ReLU outputs UINT8, weights per channel.
ufw::NetParameter absmax_int8(const ufw::NetParameter& fp, engine::Net& f) {
  std::map<std::string, float> T;
  for (const auto& b : f.blob_names()) {
    float m = 0;
    for (float v : f.blob(b).span()) m = std::max(m, std::fabs(v));
    T[b] = m > 0 ? m : 1;
  }
  std::map<std::string, bool> u8;
  auto scale = [&](const std::string& b) {
    return fixed::scale_from_threshold(T.at(b), u8[b] ? fixed::QRange::uint8 : fixed::QRange::int8_sym);
  };
  ufw::NetParameter q = fp;
  for (auto& l : *q.mutable_layer()) {
    const std::string& top = l.top(0);
    u8[top] = l.type() == "ReLU" || (l.type() == "Pooling" && u8[l.bottom(0)]);
    auto* tq = l.add_top_quant();
    tq->set_threshold(T.at(top));
    tq->set_dtype(u8[top] ? ufw::BlobProto::UINT8 : ufw::BlobProto::INT8);
    if (l.type() == "Input") continue;
    const std::string& bot = l.bottom(0);
    auto* ip = l.mutable_int8_param();
    auto add = [&](double r) {
      const auto m = fixed::quantize_multiplier(r);
      ip->add_multiplier(m.multiplier);
      ip->add_shift(m.shift);
    };
    if (l.type() == "Convolution" || l.type() == "InnerProduct") {
      const auto w = engine::blob_to_tensor(l.blobs(0));
      const auto b = engine::blob_to_tensor(l.blobs(1));
      const auto wq = calib::quantize_weights_per_channel(w.span(), static_cast<size_t>(w.shape()[0]));
      const auto bq = calib::quantize_bias(b.span(), scale(bot), wq.scale);
      l.clear_blobs();
      auto* b0 = l.add_blobs();
      ir::set_blob_shape(*b0, w.shape());
      b0->set_dtype(ufw::BlobProto::INT8);
      b0->set_int8_data(std::string(reinterpret_cast<const char*>(wq.q.data()), wq.q.size()));
      b0->set_per_channel_en(true);
      for (float sc : wq.scale) b0->add_scaletofloatperchannel(sc);
      auto* b1 = l.add_blobs();
      ir::set_blob_shape(*b1, b.shape());
      b1->set_dtype(ufw::BlobProto::INT32);
      for (auto v : bq.q) b1->add_int32_data(v);
      for (float sc : wq.scale) add(double(scale(bot)) * sc / scale(top));
    } else if (l.type() == "ReLU") {
      add(double(scale(bot)) / scale(top));
    } else if (l.type() == "Pooling") {
      const int64_t area = f.blob_shape(bot)[2] * f.blob_shape(bot)[3];
      for (int64_t d = 1; d <= area; ++d) add(double(scale(bot)) / (double(scale(top)) * static_cast<double>(d)));
    } else if (l.type() == "Eltwise") {
      double rmax = 0;
      for (const auto& b : l.bottom()) rmax = std::max(rmax, double(scale(b)) / scale(top));
      const int sh = fixed::quantize_multiplier(rmax).shift;
      for (const auto& b : l.bottom())
        ip->add_input_multiplier(static_cast<std::int32_t>(std::llround(std::ldexp(double(scale(b)) / scale(top), sh))));
      ip->add_input_shift(sh);
    }
  }
  return q;
}

struct Resnet8Pair {
  std::unique_ptr<engine::Net> fp32;
  std::unique_ptr<engine::Int8Net> int8;
};

Resnet8Pair& resnet8_synthetic(int64_t batch) {
  static std::map<int64_t, Resnet8Pair> cache;
  auto& p = cache[batch];
  if (p.fp32) return p;
  auto fp = ir::parse_prototxt(resnet8_prototxt(batch));
  fill_weights(fp);
  p.fp32 = std::make_unique<engine::Net>(fp);
  Tensor<float> x({batch, 1, 28, 28});
  const auto v = rnd(x.size(), 77);
  std::copy(v.begin(), v.end(), x.data());
  p.fp32->set_input("x", x);
  p.fp32->forward();
  p.int8 = std::make_unique<engine::Int8Net>(absmax_int8(fp, *p.fp32));
  p.int8->set_input("x", x);
  return p;
}

void BM_Resnet8_fp32(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(1)));
  auto& p = resnet8_synthetic(state.range(0));
  for (auto _ : state) p.fp32->forward();
  set_num_threads(1);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_Resnet8_int8(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(1)));
  auto& p = resnet8_synthetic(state.range(0));
  for (auto _ : state) p.int8->forward();
  set_num_threads(1);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel(int8_gemm_path());
}
BENCHMARK(BM_Resnet8_fp32)->Args({64, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Resnet8_int8)->Args({64, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// A calibrated pair from the calibration tool, when named: OCTET_INT8_RESNET8=proto:weights,
// OCTET_FP32_RESNET8=proto:weights (the deploy fp32 net with the same blob names).
ufw::NetParameter load_pair(const char* env) {
  const std::string v = env;
  const auto colon = v.find(':');
  auto net = ir::load_umodel(v.substr(0, colon), colon == std::string::npos ? std::string() : v.substr(colon + 1));
  // Deploy nets exported at batch 1 may pin the batch in a Reshape; keep it ("0": copy).
  for (auto& l : *net.mutable_layer())
    if (l.type() == "Reshape" && l.reshape_param().shape().dim_size() > 0 && l.reshape_param().shape().dim(0) == 1)
      l.mutable_reshape_param()->mutable_shape()->set_dim(0, 0);
  return net;
}
void BM_Resnet8Calibrated_fp32(benchmark::State& state) {
  const char* e = std::getenv("OCTET_FP32_RESNET8");
  if (!e) {
    state.SkipWithError("set OCTET_FP32_RESNET8=<prototxt>:<weights>");
    return;
  }
  engine::NetOptions o;
  engine::Net n(load_pair(e), o);
  for (const auto& in : n.input_names()) n.reshape_input(in, {state.range(0), n.blob_shape(in)[1], n.blob_shape(in)[2], n.blob_shape(in)[3]});
  for (auto _ : state) n.forward();
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_Resnet8Calibrated_int8(benchmark::State& state) {
  const char* e = std::getenv("OCTET_INT8_RESNET8");
  if (!e) {
    state.SkipWithError("set OCTET_INT8_RESNET8=<prototxt>:<weights>");
    return;
  }
  const auto param = load_pair(e);
  engine::Int8NetOptions o;
  {
    engine::Int8Net probe(param);  // input shapes with the batch replaced
    for (const auto& in : probe.input_names()) {
      Shape s = probe.blob_shape(in);
      s[0] = state.range(0);
      o.input_shapes[in] = s;
    }
  }
  engine::Int8Net n(param, o);
  for (auto _ : state) n.forward();
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Resnet8Calibrated_fp32)->Args({64, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Resnet8Calibrated_int8)->Args({64, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// fp32 elementwise kernels, each optimised path beside its reference:: loop on the same data
// (the in-run peer): sigmoid/tanh (Eigen vectorised vs std::), per-channel broadcast add
// (BroadcastPlan vs index decomposition), softmax over channels of an NCHW map (stack tiles
// vs strided scalar loop), NCHW->NHWC transpose (folded vs per-element). Reports bytes/s.
#include <benchmark/benchmark.h>

#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/kernels/activation.hpp"
#include "octet/kernels/eltwise.hpp"
#include "octet/kernels/shape_ops.hpp"
#include "octet/kernels/softmax.hpp"

#include "bench_util.hpp"

using namespace octet;
using namespace octet::kernels;

namespace {
// Values in [-4, 4): both signs and past the activations' knees.
std::vector<float> rnd(int64_t n, uint32_t seed) { return bench::rnd(n, seed, -4.f, 4.f); }
constexpr int64_t kN = 1 << 20;
const Shape kMap = {1, 64, 56, 56};

void set_bytes(benchmark::State& st, int64_t elems) {
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * elems * 2 * int64_t(sizeof(float)));
}

template <bool Fast>
void BM_Sigmoid(benchmark::State& st) {
  const auto x = rnd(kN, 1);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    if constexpr (Fast) sigmoid(kN, x.data(), y.data());
    else reference::sigmoid(kN, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(st, kN);
}
template <bool Fast>
void BM_Tanh(benchmark::State& st) {
  const auto x = rnd(kN, 2);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    if constexpr (Fast) kernels::tanh(kN, x.data(), y.data());
    else reference::tanh(kN, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(st, kN);
}
template <bool Fast>
void BM_AddPerChannel(benchmark::State& st) {
  const int64_t n = shape_count(kMap);
  const auto x = rnd(n, 3), b = rnd(64, 4);
  std::vector<float> y(x.size());
  const Shape bs = {1, 64, 1, 1};
  const auto plan = make_broadcast_plan(kMap, bs);
  for (auto _ : st) {
    if constexpr (Fast) binary(BinaryOp::Add, plan, x.data(), b.data(), y.data());
    else reference::binary(BinaryOp::Add, kMap, x.data(), bs, b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(st, n);
}
template <bool Fast>
void BM_SoftmaxChannels(benchmark::State& st) {
  const Shape s = {1, 21, 64, 64};  // segmentation logits: softmax over the class axis
  const int64_t n = shape_count(s);
  const auto x = rnd(n, 5);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    if constexpr (Fast) softmax({1, false}, s, x.data(), y.data());
    else reference::softmax({1, false}, s, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(st, n);
}
template <bool Fast>
void BM_TransposeNCHWtoNHWC(benchmark::State& st) {
  const int64_t n = shape_count(kMap);
  const auto x = rnd(n, 6);
  std::vector<float> y(x.size());
  const std::vector<int> order = {0, 2, 3, 1};
  for (auto _ : st) {
    if constexpr (Fast) transpose<float>(kMap, order, x.data(), y.data());
    else reference::transpose<float>(kMap, order, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(st, n);
}
}  // namespace

BENCHMARK_TEMPLATE(BM_Sigmoid, true);
BENCHMARK_TEMPLATE(BM_Sigmoid, false);
BENCHMARK_TEMPLATE(BM_Tanh, true);
BENCHMARK_TEMPLATE(BM_Tanh, false);
BENCHMARK_TEMPLATE(BM_AddPerChannel, true);
BENCHMARK_TEMPLATE(BM_AddPerChannel, false);
BENCHMARK_TEMPLATE(BM_SoftmaxChannels, true);
BENCHMARK_TEMPLATE(BM_SoftmaxChannels, false);
BENCHMARK_TEMPLATE(BM_TransposeNCHWtoNHWC, true);
BENCHMARK_TEMPLATE(BM_TransposeNCHWtoNHWC, false);

// fp32 spatial kernels: conv (3x3 im2col+GEMM, 1x1 direct GEMM, depthwise direct), inner
// product, pooling. Each reports FLOP/s (2 x MACs) and, for the optimised kernels, is paired
// with the plain reference loops on the same shape as the in-run peer. The second argument is
// the thread count (octet::set_num_threads).
#include <benchmark/benchmark.h>

#include <thread>
#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/inner_product.hpp"
#include "octet/kernels/pooling.hpp"

#include "bench_conv_util.hpp"
#include "bench_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::bench::ConvCase;
using octet::bench::rnd;

namespace {

void run_conv(benchmark::State& state, const ConvCase& cc, bool reference_peer) {
  const int64_t batch = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  bench::FloatConv c(cc, batch);
  for (auto _ : state) {
    if (reference_peer) reference::conv2d(c.p, c.s, c.in.data(), c.w.data(), c.b.data(), c.out.data());
    else conv2d(c.p, c.s, c.in.data(), c.w.data(), c.b.data(), c.out.data(), std::span<float>(c.scratch));
    benchmark::DoNotOptimize(c.out.data());
    benchmark::ClobberMemory();
  }
  set_num_threads(1);
  const double flops = static_cast<double>(conv2d_flops(c.p, c.s));
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * batch);
}

constexpr ConvCase kConv3x3{64, 64, 56, 3, 1, 1};
constexpr ConvCase kConv1x1{256, 64, 56, 1, 1, 1};
constexpr ConvCase kDw3x3s1{144, 144, 56, 3, 1, 144};
constexpr ConvCase kDw3x3s2{144, 144, 56, 3, 2, 144};

void BM_Conv3x3_64x64_56(benchmark::State& s) { run_conv(s, kConv3x3, false); }
void BM_Conv3x3_64x64_56_Reference(benchmark::State& s) { run_conv(s, kConv3x3, true); }
void BM_Conv1x1_256x64_56(benchmark::State& s) { run_conv(s, kConv1x1, false); }
void BM_Conv1x1_256x64_56_Reference(benchmark::State& s) { run_conv(s, kConv1x1, true); }
void BM_Depthwise3x3s1_144_56(benchmark::State& s) { run_conv(s, kDw3x3s1, false); }
void BM_Depthwise3x3s1_144_56_Reference(benchmark::State& s) { run_conv(s, kDw3x3s1, true); }
void BM_Depthwise3x3s2_144_56(benchmark::State& s) { run_conv(s, kDw3x3s2, false); }
void BM_Depthwise3x3s2_144_56_Reference(benchmark::State& s) { run_conv(s, kDw3x3s2, true); }

void run_ip(benchmark::State& state, bool reference_peer) {
  const InnerProductShape s{state.range(0), 512, 1000};
  set_num_threads(static_cast<int>(state.range(1)));
  auto in = rnd(s.M * s.K, 1), w = rnd(s.N * s.K, 2), b = rnd(s.N, 3);
  std::vector<float> out(static_cast<size_t>(s.M * s.N));
  const InnerProductParams p;
  for (auto _ : state) {
    if (reference_peer) reference::inner_product(p, s, in.data(), w.data(), b.data(), out.data());
    else inner_product(p, s, in.data(), w.data(), b.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_num_threads(1);
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(inner_product_flops(s)),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * s.M);
}
void BM_InnerProduct_512x1000(benchmark::State& s) { run_ip(s, false); }
void BM_InnerProduct_512x1000_Reference(benchmark::State& s) { run_ip(s, true); }

void run_pool(benchmark::State& state, bool reference_peer) {
  Pool2dParams p;
  p.method = state.range(0) ? PoolMethod::Average : PoolMethod::Max;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  set_num_threads(static_cast<int>(state.range(1)));
  const Pool2dShape s = pool2d_shape(p, 1, 64, 112, 112);
  auto in = rnd(64 * 112 * 112, 1);
  std::vector<float> out(static_cast<size_t>(64 * s.out_h * s.out_w));
  for (auto _ : state) {
    if (reference_peer) reference::pool2d(p, s, in.data(), out.data());
    else pool2d(p, s, in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_num_threads(1);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in.size() * sizeof(float)));
}
void BM_Pool3x3s2_64_112(benchmark::State& s) { run_pool(s, false); }
void BM_Pool3x3s2_64_112_Reference(benchmark::State& s) { run_pool(s, true); }

// {batch, threads}: one thread, and every hardware thread when there is more than one.
void conv_args(benchmark::internal::Benchmark* b) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  b->Args({1, 1});
  if (hw > 1) b->Args({1, hw});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
void ip_args(benchmark::internal::Benchmark* b) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int batch : {1, 64}) {
    b->Args({batch, 1});
    if (hw > 1) b->Args({batch, hw});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void pool_args(benchmark::internal::Benchmark* b) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int ave : {0, 1}) {
    b->Args({ave, 1});
    if (hw > 1) b->Args({ave, hw});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void peer_args(benchmark::internal::Benchmark* b) { b->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime(); }

}  // namespace

BENCHMARK(BM_Conv3x3_64x64_56)->Apply(conv_args);
BENCHMARK(BM_Conv3x3_64x64_56_Reference)->Apply(peer_args);
BENCHMARK(BM_Conv1x1_256x64_56)->Apply(conv_args);
BENCHMARK(BM_Conv1x1_256x64_56_Reference)->Apply(peer_args);
BENCHMARK(BM_Depthwise3x3s1_144_56)->Apply(conv_args);
BENCHMARK(BM_Depthwise3x3s1_144_56_Reference)->Apply(peer_args);
BENCHMARK(BM_Depthwise3x3s2_144_56)->Apply(conv_args);
BENCHMARK(BM_Depthwise3x3s2_144_56_Reference)->Apply(peer_args);
BENCHMARK(BM_InnerProduct_512x1000)->Apply(ip_args);
BENCHMARK(BM_InnerProduct_512x1000_Reference)->Args({1, 1})->Args({64, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Pool3x3s2_64_112)->Apply(pool_args);
BENCHMARK(BM_Pool3x3s2_64_112_Reference)->Args({0, 1})->Args({1, 1})->Unit(benchmark::kMicrosecond)->UseRealTime();

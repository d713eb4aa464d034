// Calibration statistics and threshold search speed. Reports bytes/s of float activations for
// the histogram and range updates (target >= 1 GB/s per core) and time per blob for the full
// threshold searches over 2048 bins (target for KL: < 5 ms per blob).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "octet/calib/statistics.hpp"
#include "octet/calib/threshold.hpp"
#include "octet/core/parallel.hpp"

using namespace octet::calib;

namespace {
const std::vector<float>& activations() {
  static const std::vector<float> v = [] {
    std::vector<float> x(1u << 22);  // 16 MiB: a large blob, streamed from memory like real batches
    std::mt19937_64 rng(1);
    std::normal_distribution<float> g(0.0f, 2.0f);
    for (auto& f : x) {
      f = g(rng);
      if (f < 0 && (rng() & 1)) f = 0.0f;  // ReLU-like zero spike on half the negatives
    }
    return x;
  }();
  return v;
}

void BM_RangeUpdate(benchmark::State& st) {
  const auto& x = activations();
  octet::set_num_threads(1);
  for (auto _ : st) {
    RangeStats r;
    r.update(x);
    benchmark::DoNotOptimize(r);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(x.size() * sizeof(float)));
}
BENCHMARK(BM_RangeUpdate);

void BM_HistTwoPass(benchmark::State& st) {
  const auto& x = activations();
  octet::set_num_threads(static_cast<int>(st.range(1)));
  RangeStats r;
  r.update(x);
  for (auto _ : st) {
    auto h = Histogram::two_pass(static_cast<int>(st.range(0)), r.absmax);
    h.update(x);
    benchmark::DoNotOptimize(h);
  }
  octet::set_num_threads(1);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(x.size() * sizeof(float)));
}
BENCHMARK(BM_HistTwoPass)->Args({2048, 1})->Args({4096, 1})->Args({2048, 2});

// Peer: the textbook loop (ncnn-style per-element division, branch per zero/non-finite).
void BM_HistNaivePeer(benchmark::State& st) {
  const auto& x = activations();
  RangeStats r;
  r.update(x);
  const int N = 2048;
  const float w = r.absmax / static_cast<float>(N);
  for (auto _ : st) {
    std::vector<std::uint64_t> h(N, 0);
    for (float v : x) {
      if (v == 0.0f || !std::isfinite(v)) continue;
      const int k = std::min(static_cast<int>(std::fabs(v) / w), N - 1);
      ++h[static_cast<std::size_t>(k)];
    }
    benchmark::DoNotOptimize(h);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(x.size() * sizeof(float)));
}
BENCHMARK(BM_HistNaivePeer);

void BM_HistDyadic(benchmark::State& st) {
  const auto& x = activations();
  octet::set_num_threads(1);
  for (auto _ : st) {
    auto h = Histogram::dyadic(static_cast<int>(st.range(0)));
    h.update(x);
    benchmark::DoNotOptimize(h);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(x.size() * sizeof(float)));
}
BENCHMARK(BM_HistDyadic)->Arg(2048);

// Full single-pass collection (range + dyadic histogram), batches of 64 Ki floats.
void BM_StatsDyadicBatched(benchmark::State& st) {
  const auto& x = activations();
  octet::set_num_threads(1);
  const std::size_t batch = 1u << 16;
  for (auto _ : st) {
    auto t = TensorStats::dyadic(2048);
    for (std::size_t b = 0; b < x.size(); b += batch) t.update(std::span<const float>(x).subspan(b, batch));
    benchmark::DoNotOptimize(t);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(x.size() * sizeof(float)));
}
BENCHMARK(BM_StatsDyadicBatched);

// A pre-ReLU blob x (range-only, its threshold propagated) and y = ReLU(x) (histogram), sized
// like ResNet8's 7 pairs at batch 1, collected as collect_statistics does per forward. Arg 0:
// two StreamingStats updates (x then y); arg 1: StreamingStats::update_relu (one read of x).
void BM_ReluPair(benchmark::State& st) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> xs, ys;
  for (const std::size_t n : {12544, 12544, 12544, 6272, 6272, 3136, 3136}) {
    std::vector<float> x(n), y(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = g(rng), y[i] = x[i] > 0 ? x[i] : 0.0f;
    xs.push_back(std::move(x));
    ys.push_back(std::move(y));
  }
  std::vector<StreamingStats> a, b;
  for (std::size_t i = 0; i < xs.size(); ++i) a.emplace_back(2048, false), b.emplace_back(2048, true);
  std::int64_t values = 0;
  for (auto _ : st)
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (st.range(0)) {
        StreamingStats::update_relu(a[i], b[i], xs[i], ys[i]);
      } else {
        a[i].update(xs[i]);
        b[i].update(ys[i]);
      }
      values += static_cast<std::int64_t>(xs[i].size());
    }
  benchmark::DoNotOptimize(b[0].finish());
  st.SetBytesProcessed(values * static_cast<std::int64_t>(sizeof(float)));
}
BENCHMARK(BM_ReluPair)->Arg(0)->Arg(1)->ArgName("one_read");

// A realistic 2048-bin Mode A histogram (post-ReLU gaussian, 4 Mi samples) for the searches.
const TensorStats& blob_stats() {
  static const TensorStats t = [] {
    const auto& x = activations();
    auto s = TensorStats::two_pass(2048);
    s.pass1(x);
    s.begin_pass2();
    s.pass2(x);
    return s;
  }();
  return t;
}

void BM_Threshold(benchmark::State& st) {
  const auto m = static_cast<ThMethod>(st.range(0));
  const auto v = view(blob_stats());
  for (auto _ : st) {
    auto r = compute_threshold(m, v);
    benchmark::DoNotOptimize(r);
  }
  st.SetLabel(std::string(to_string(m)) + " per blob, 2048 bins");
}
BENCHMARK(BM_Threshold)
    ->DenseRange(0, 7)
    ->Unit(benchmark::kMillisecond);

// Peer for the KL search: the straightforward O(N^2) per-bin evaluation (what ncnn/MNN do),
// same definitions, measured in the same run.
void BM_KlNaivePerBin(benchmark::State& st) {
  const auto v = view(blob_stats());
  for (auto _ : st) {
    auto r = kl_family_direct_argmin(ThMethod::KL, v);
    benchmark::DoNotOptimize(r);
  }
  st.SetLabel("KL evaluated bin by bin, O(N^2), 2048 bins");
}
BENCHMARK(BM_KlNaivePerBin)->Unit(benchmark::kMillisecond);

// KL on a single-pass (dyadic, th_binnum 2048) view: up to 4096 occupied bins.
void BM_KlDyadicView(benchmark::State& st) {
  static const TensorStats t = [] {
    auto s = TensorStats::dyadic(2048);
    s.update(activations());
    return s;
  }();
  const auto v = view(t);
  for (auto _ : st) {
    auto r = threshold_kl(v);
    benchmark::DoNotOptimize(r);
  }
  st.SetLabel(std::to_string(v.h.size()) + " occupied bins");
}
BENCHMARK(BM_KlDyadicView)->Unit(benchmark::kMillisecond);
}  // namespace

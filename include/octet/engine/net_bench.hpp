// Whole-net latency: the one timing loop behind `ufw bench` and benchmarks/bench_net.cpp, so
// both measure the same code path (random inputs, warm-up, per-iteration wall time of
// Net::forward, median/min/max). Depends on engine/net.hpp.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/engine/net.hpp"

namespace octet::engine {

struct BenchStats {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int iters = 0;
  int threads = 1;
  int64_t batch = 0;

  // One JSON line, the format `ufw bench` prints.
  std::string json() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, \"iters\": %d, \"threads\": %d, "
                  "\"batch\": %lld}",
                  median_ms, min_ms, max_ms, iters, threads, static_cast<long long>(batch));
    return buf;
  }
};

// Fills every net input with seeded uniform values in [-1, 1).
inline void fill_random_inputs(Net& net, uint64_t seed = 1) {
  std::mt19937_64 gen(seed);
  for (const auto& name : net.input_names()) {
    FloatTensor& t = net.input(name);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(static_cast<double>(gen() >> 11) * 0x1.0p-52 - 1.0);
  }
}

// Wall time of one forward in milliseconds.
inline double timed_forward_ms(Net& net) {
  const auto t0 = std::chrono::steady_clock::now();
  net.forward();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// `warmup` untimed forwards, then `iters` timed ones. Uses the process thread setting
// (octet::set_num_threads) and reports it.
inline BenchStats bench_forward(Net& net, int iters, int warmup = 3) {
  if (iters < 1) throw UsageError("bench: iterations must be >= 1");
  for (int i = 0; i < warmup; ++i) net.forward();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(iters));
  for (int i = 0; i < iters; ++i) ms.push_back(timed_forward_ms(net));
  std::sort(ms.begin(), ms.end());
  BenchStats s;
  const size_t n = ms.size();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.iters = iters;
  s.threads = num_threads();
  const auto& ins = net.input_names();
  s.batch = ins.empty() || net.blob_shape(ins[0]).empty() ? 0 : net.blob_shape(ins[0])[0];
  return s;
}

}  // namespace octet::engine

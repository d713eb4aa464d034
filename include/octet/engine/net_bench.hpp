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

// Per-layer time of a forward: `iters` timed forwards after `warmup`, mean ms per layer.
struct LayerTime {
  std::string name, type;
  double ms = 0;       // mean per forward
  int64_t flops = 0;   // per forward (the `ufw info` convention)
};

inline std::vector<LayerTime> profile_forward(Net& net, int iters, int warmup = 3) {
  if (iters < 1) throw UsageError("bench: iterations must be >= 1");
  for (int i = 0; i < warmup; ++i) net.forward();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) net.forward_timed(ms);
  std::vector<LayerTime> out;
  const auto& infos = net.layers();
  for (size_t k = 0; k < infos.size(); ++k)
    out.push_back({infos[k].name, infos[k].type, ms[k] / iters, infos[k].flops});
  return out;
}

// The profile as a text table, slowest layers first, with each layer's share and GFLOP/s;
// layers under 0.1 % of the time are summed into one row.
inline std::string profile_table(std::vector<LayerTime> rows) {
  double total = 0;
  for (const auto& r : rows) total += r.ms;
  std::stable_sort(rows.begin(), rows.end(), [](const LayerTime& a, const LayerTime& b) { return a.ms > b.ms; });
  std::string out = "layer                                    type                 ms   share  GFLOP/s\n";
  char buf[256];
  double rest = 0;
  int rest_n = 0;
  for (const auto& r : rows) {
    if (total > 0 && r.ms < 0.001 * total) {
      rest += r.ms;
      ++rest_n;
      continue;
    }
    const double gflops = r.ms > 0 ? static_cast<double>(r.flops) / (r.ms * 1e6) : 0.0;
    std::snprintf(buf, sizeof buf, "%-40.40s %-14.14s %9.4f %6.1f%% %8.1f\n", r.name.c_str(), r.type.c_str(), r.ms,
                  total > 0 ? 100.0 * r.ms / total : 0.0, gflops);
    out += buf;
  }
  if (rest_n) {
    std::snprintf(buf, sizeof buf, "%-40.40s %-14.14s %9.4f %6.1f%%\n", ("(" + std::to_string(rest_n) + " more)").c_str(),
                  "", rest, total > 0 ? 100.0 * rest / total : 0.0);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%-40.40s %-14.14s %9.4f\n", "total", "", total);
  return out + buf;
}

}  // namespace octet::engine

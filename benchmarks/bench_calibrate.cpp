// calibration_use_pb quantize speed on the demo ResNet8 (or any net with a Data layer):
//   Fp32Forwards     N plain fp32 forwards over the Data layer (the floor)
//   Statistics       the same N forwards with the statistics as quantize collects them
//                    (skip_propagated:1, the target <= 1.25x) or with every blob's histogram (:0)
//   Interleaved      one Fp32Forwards run and one Statistics/skip_propagated:1 run per
//                    iteration, on one Net, each timed alone: both see the same machine load,
//                    so the per-iteration ratio (counter ratio_median) is the number to quote on
//                    a shared machine; ratio_of_minima divides the two minima. Arg: the
//                    CollectSchedule (0 automatic as quantize runs it, 1 serial, 2 pipelined;
//                    with one thread and no helper thread all three are serial)
//   Breakdown        per iteration: plain forwards, forwards with an empty per-layer hook, a
//                    statistics pass with every blob range-only, and one with the blobs as
//                    quantize collects them, neither with a helper thread; the last three as
//                    median ratios to the first
//   Quantize         the whole quantize (load, graph_transform + check, statistics, KL thresholds,
//                    int8 umodel, files) as the tool runs it, without the int8 cosine pass
// Peer: PyTorch FX PTQ (/work/shared/bench/torch_ptq_time.py), run by bench_calibrate.sh.
// Needs OCTET_CALIB_MODEL=<test prototxt with Data layer> OCTET_CALIB_WEIGHTS=<fp32umodel>
// (bench_calibrate.sh makes them from the demo); skips otherwise. N = OCTET_CALIB_ITERS (200);
// OCTET_CALIB_THREADS = quantize's -threads (default 0, as quantize's default: the kernels on
// one thread, and Statistics and Interleaved give the statistics a helper thread).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "octet/calib/calibrator.hpp"

namespace fs = std::filesystem;
using namespace octet;

namespace {

const char* env(const char* k) { return std::getenv(k); }
int iters() { return env("OCTET_CALIB_ITERS") ? std::atoi(env("OCTET_CALIB_ITERS")) : 200; }
int threads() { return env("OCTET_CALIB_THREADS") ? std::atoi(env("OCTET_CALIB_THREADS")) : 0; }
// As quantize decides it for -threads=0.
bool helper_thread() { return threads() == 0 && octet::available_cpus() >= 2; }

// Also applies OCTET_CALIB_THREADS to everything the benchmark runs.
bool have_model(benchmark::State& st) {
  octet::set_num_threads(std::max(threads(), 1));
  st.counters["threads"] = octet::num_threads();
  st.counters["helper"] = helper_thread();
  if (env("OCTET_CALIB_MODEL") && env("OCTET_CALIB_WEIGHTS")) return true;
  st.SkipWithError("set OCTET_CALIB_MODEL and OCTET_CALIB_WEIGHTS (see bench_calibrate.sh)");
  return false;
}

ufw::NetParameter optimised() {
  passes::TransformReport rep;
  return calib::strip_label_layers(
      passes::graph_transform(calib::load_checked(env("OCTET_CALIB_MODEL"), env("OCTET_CALIB_WEIGHTS")), {}, rep));
}

// n forwards of net from the Data layer's first record: the floor the statistics ride on.
void plain_forwards(engine::Net& net, int n) {
  calib::rewind_data(net);
  for (int i = 0; i < n; ++i) net.forward();
}

void Fp32Forwards(benchmark::State& st) {
  if (!have_model(st)) return;
  engine::Net net(optimised());
  const int n = iters();
  for (auto _ : st) plain_forwards(net, n);
  st.counters["images"] = n;
}

// The optimised net and what collect_statistics is given for it: label blobs skipped and, as
// quantize runs it, propagated blobs range-only (`propagated_range_only`).
struct StatsInput {
  ufw::NetParameter p = optimised();
  std::set<std::string> skip = calib::label_blobs(p), range_only;

  explicit StatsInput(bool propagated_range_only) {
    if (!propagated_range_only) return;
    engine::Net net(p);
    std::set<std::string> blobs;
    std::map<std::string, Shape> shapes;
    for (const auto& b : net.blob_names()) {
      shapes[b] = net.blob_shape(b);
      if (!skip.count(b)) blobs.insert(b);
    }
    range_only = calib::histogram_free_blobs(p, {}, shapes, blobs);
  }
};

// Arg 1: as quantize runs it (propagated blobs range-only); arg 0: every blob with a histogram.
void Statistics(benchmark::State& st) {
  if (!have_model(st)) return;
  const StatsInput in(st.range(0) != 0);
  engine::Net net(in.p);
  std::ostringstream warn;
  double pipelined = 0;
  for (auto _ : st)
    pipelined += calib::collect_statistics(net, iters(), 2048, in.skip, in.range_only, warn,
                                           calib::CollectSchedule::automatic, helper_thread())
                     .pipelined;
  st.counters["images"] = iters();
  st.counters["pipelined"] = benchmark::Counter(pipelined, benchmark::Counter::kAvgIterations);
  st.counters["range_only"] = static_cast<double>(in.range_only.size());
}

using Clock = std::chrono::steady_clock;
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Interleaved(benchmark::State& st) {
  if (!have_model(st)) return;
  const auto schedule = static_cast<calib::CollectSchedule>(st.range(0));
  const StatsInput in(true);
  engine::Net net(in.p);
  const int n = iters();
  std::ostringstream warn;
  std::vector<double> fwd, stats, ratio;
  double pipelined = 0;  // iterations whose statistics ran pipelined
  for (auto _ : st) {
    const auto t0 = Clock::now();
    plain_forwards(net, n);
    const auto t1 = Clock::now();
    pipelined += calib::collect_statistics(net, n, 2048, in.skip, in.range_only, warn, schedule, helper_thread())
                     .pipelined;
    const auto t2 = Clock::now();
    fwd.push_back(ms(t1 - t0));
    stats.push_back(ms(t2 - t1));
    ratio.push_back(stats.back() / fwd.back());
  }
  if (fwd.empty()) return;
  st.counters["fwd_min_ms"] = *std::min_element(fwd.begin(), fwd.end());
  st.counters["stats_min_ms"] = *std::min_element(stats.begin(), stats.end());
  st.counters["ratio_of_minima"] = st.counters["stats_min_ms"] / st.counters["fwd_min_ms"];
  st.counters["ratio_median"] = median(ratio);
  st.counters["pipelined"] = pipelined / static_cast<double>(ratio.size());
}

// Where the statistics pass's time goes, as ratios to the plain forwards timed in the same
// iteration (medians): `empty_hook` = the forwards with a per-layer hook that does nothing
// (the price of Net::forward(after_layer)); `range_only` = collect_statistics with every blob
// range-only (reads and scans, no histogram); `full` = as quantize collects them (= Interleaved).
void Breakdown(benchmark::State& st) {
  if (!have_model(st)) return;
  const StatsInput in(true);
  engine::Net net(in.p);
  const int n = iters();
  std::ostringstream warn;
  std::set<std::string> every_blob;
  for (const auto& b : net.blob_names())
    if (!in.skip.count(b)) every_blob.insert(b);
  std::vector<double> fwd, hook, range, full;
  std::size_t sink = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    plain_forwards(net, n);
    const auto t1 = Clock::now();
    calib::rewind_data(net);
    for (int i = 0; i < n; ++i) net.forward([&](size_t k) { sink += k; });
    const auto t2 = Clock::now();
    benchmark::DoNotOptimize(calib::collect_statistics(net, n, 2048, in.skip, every_blob, warn));
    const auto t3 = Clock::now();
    benchmark::DoNotOptimize(calib::collect_statistics(net, n, 2048, in.skip, in.range_only, warn));
    const auto t4 = Clock::now();
    fwd.push_back(ms(t1 - t0));
    hook.push_back(ms(t2 - t1) / fwd.back());
    range.push_back(ms(t3 - t2) / fwd.back());
    full.push_back(ms(t4 - t3) / fwd.back());
  }
  benchmark::DoNotOptimize(sink);
  if (fwd.empty()) return;
  st.counters["fwd_median_ms"] = median(fwd);
  st.counters["empty_hook"] = median(hook);
  st.counters["range_only"] = median(range);
  st.counters["full"] = median(full);
}

void Quantize(benchmark::State& st) {
  if (!have_model(st)) return;
  const fs::path dir = fs::temp_directory_path() / ("octet_bench_cal_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(env("OCTET_CALIB_WEIGHTS"), dir / "net.fp32umodel", fs::copy_options::overwrite_existing);
  calib::CalibOptions o;
  o.model = env("OCTET_CALIB_MODEL");
  o.weights = (dir / "net.fp32umodel").string();
  o.iterations = iters();
  o.threads = threads();
  o.per_channel = st.range(0) != 0;
  o.cosine = false;
  std::ostringstream log, warn;
  for (auto _ : st) benchmark::DoNotOptimize(calib::quantize(o, log, warn));
  st.counters["images"] = iters();
  fs::remove_all(dir);
}

}  // namespace

BENCHMARK(Fp32Forwards)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Statistics)->Arg(1)->Arg(0)->ArgName("skip_propagated")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Interleaved)->Arg(0)->Arg(1)->Arg(2)->ArgName("schedule")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK(Breakdown)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK(Quantize)->Arg(0)->Arg(1)->ArgName("per_channel")->Unit(benchmark::kMillisecond)->UseRealTime();

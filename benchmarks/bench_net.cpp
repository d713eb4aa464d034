// Whole-net fp32 latency through the exact code path of `ufw bench`: ufw_cmd::prepare_bench_net
// (load prototxt + weights, apply -shape, seeded random inputs) and engine::timed_forward_ms
// (one Net::forward, wall clock), reported as manual time per forward.
//
// Nets: examples/resnet_caffe (random weights written once to a temp file by init_weights) at
// batch 1 and 8, on 1 thread and on all cores; plus any net named by the environment:
//   OCTET_BENCH_MODEL=net.prototxt OCTET_BENCH_WEIGHTS=net.fp32umodel [OCTET_BENCH_SHAPE=1,3,224,224]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "octet/engine/ufw_commands.hpp"

namespace fs = std::filesystem;
using namespace octet;
namespace cmd = octet::engine::ufw_cmd;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("octet_bench_net_" + std::to_string(::getpid()));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const std::string& example_weights() {
  static const TempDir tmp;
  static const std::string path = [] {
    const fs::path dir = tmp.path;
    fs::create_directories(dir);
    const std::string w = (dir / "resnet_caffe.fp32umodel").string();
    std::ostringstream quiet;
    cmd::init_weights({std::string(OCTET_SOURCE_DIR) + "/examples/resnet_caffe/deploy.prototxt", w, 1, nullptr}, quiet,
                      quiet);
    return w;
  }();
  return path;
}

void run_net(benchmark::State& state, cmd::BenchOptions o) {
  o.threads = static_cast<int>(state.range(0));
  set_num_threads(o.threads);
  std::unique_ptr<engine::Net> holder;
  std::ostringstream warn;
  engine::Net* net = nullptr;
  try {
    net = &cmd::prepare_bench_net(holder, o, warn);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (int i = 0; i < o.warmup; ++i) net->forward();
  for (auto _ : state) state.SetIterationTime(engine::timed_forward_ms(*net) / 1e3);
  state.counters["threads"] = o.threads;
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(net->flops()) * 2e-9,
                                                  benchmark::Counter::kIsIterationInvariantRate);
  set_num_threads(1);
}

void BM_ResNetCaffe(benchmark::State& state, const std::string& shape) {
  cmd::BenchOptions o;
  o.model = {std::string(OCTET_SOURCE_DIR) + "/examples/resnet_caffe/deploy.prototxt", example_weights(), nullptr};
  o.shape = shape;
  run_net(state, o);
}

void BM_EnvNet(benchmark::State& state) {
  cmd::BenchOptions o;
  o.model = {std::getenv("OCTET_BENCH_MODEL"), std::getenv("OCTET_BENCH_WEIGHTS") ? std::getenv("OCTET_BENCH_WEIGHTS") : "",
             nullptr};
  o.shape = std::getenv("OCTET_BENCH_SHAPE") ? std::getenv("OCTET_BENCH_SHAPE") : "";
  run_net(state, o);
}

const int kCores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

const bool registered = [] {
  for (const char* shape : {"1,3,64,64", "8,3,64,64"}) {
    auto* b = benchmark::RegisterBenchmark((std::string("ResNetCaffe/") + shape).c_str(), BM_ResNetCaffe,
                                           std::string(shape));
    b->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
    if (kCores > 1) b->Arg(kCores);
  }
  if (std::getenv("OCTET_BENCH_MODEL")) {
    auto* b = benchmark::RegisterBenchmark("EnvNet", BM_EnvNet);
    b->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
    if (kCores > 1) b->Arg(kCores);
  }
  return true;
}();

}  // namespace

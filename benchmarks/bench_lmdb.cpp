// LMDB I/O: converting the 60,000 Fashion-MNIST training images (create_lmdb's path), and reading
// an LMDB back through the Data layer (records/s, MB/s of float32 tensor delivered). Peers in the
// same run: the same records parsed by protobuf's generated ufw::Datum parser, and a bare cursor
// walk (the LMDB floor). Targets: conversion <= 10 s, Data layer >= 200 MB/s on one core.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "octet/data/convert.hpp"
#include "octet/engine/layers/data.hpp"

namespace fs = std::filesystem;
using namespace octet;

namespace {

const char* kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const char* kLabels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";

fs::path bench_dir() {
  fs::path p = fs::temp_directory_path() / ("octet_bench_lmdb_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

data::ConvertOptions fmnist_options(const fs::path& out) {
  data::ConvertOptions o;
  o.idx = kImages;
  o.idx_labels = kLabels;
  o.output = out.string();
  o.mean = {72.93f};
  o.scale = {0.0111088f};
  o.batch_dim = true;
  o.progress = false;
  return o;
}

// The float32 training LMDB, built once per process.
const fs::path& train_lmdb() {
  static fs::path p = [] {
    fs::path out = bench_dir() / "train_f32";
    data::convert_to_lmdb(fmnist_options(out));
    return out;
  }();
  return p;
}

void BM_ConvertFashionMnistTrain(benchmark::State& state) {
  if (!fs::exists(kImages)) return state.SkipWithError("dataset-fashion-mnist is not installed");
  size_t n = 0;
  for (auto _ : state) {
    auto st = data::convert_to_lmdb(fmnist_options(bench_dir() / "convert"));
    n += st.written;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["images"] = static_cast<double>(n) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ConvertFashionMnistTrain)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

void BM_DataLayerRead(benchmark::State& state) {
  if (!fs::exists(kImages)) return state.SkipWithError("dataset-fashion-mnist is not installed");
  ufw::LayerParameter p;
  p.set_name("data");
  p.set_type("Data");
  p.add_top("data");
  p.add_top("label");
  p.mutable_data_param()->set_source(train_lmdb().string());
  p.mutable_data_param()->set_batch_size(static_cast<uint32_t>(state.range(0)));
  engine::DataLayer layer(p);
  auto shapes = layer.reshape({});
  engine::FloatTensor data(shapes[0]), label(shapes[1]);
  std::vector<engine::FloatTensor*> tops{&data, &label};
  const int64_t records = state.range(0) == 0 ? 1 : state.range(0);
  for (auto _ : state) {
    layer.forward({}, tops);
    benchmark::DoNotOptimize(data.data());
  }
  state.SetItemsProcessed(state.iterations() * records);
  state.SetBytesProcessed(state.iterations() * data.size() * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_DataLayerRead)->Arg(0)->Arg(32);

// Same records through a transform chain (crop + per-channel STAND on OpenCV).
void BM_DataLayerReadTransform(benchmark::State& state) {
  if (!fs::exists(kImages)) return state.SkipWithError("dataset-fashion-mnist is not installed");
  ufw::LayerParameter p;
  p.set_name("data");
  p.set_type("Data");
  p.add_top("data");
  p.mutable_data_param()->set_source(train_lmdb().string());
  p.mutable_data_param()->set_batch_size(0);
  auto* op = p.mutable_transform_param()->add_transform_op();
  op->set_op(ufw::TransformOp::CROP);
  op->set_crop_h(24);
  op->set_crop_w(24);
  op = p.mutable_transform_param()->add_transform_op();
  op->set_op(ufw::TransformOp::STAND);
  op->add_mean_value(0.5f);
  op->add_scale(2.f);
  engine::DataLayer layer(p);
  auto shapes = layer.reshape({});
  engine::FloatTensor data(shapes[0]);
  std::vector<engine::FloatTensor*> tops{&data};
  for (auto _ : state) {
    layer.forward({}, tops);
    benchmark::DoNotOptimize(data.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * data.size() * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_DataLayerReadTransform);

// Peer: protobuf's generated parser on the same values (what a straightforward reader does).
void BM_PeerProtobufParse(benchmark::State& state) {
  if (!fs::exists(kImages)) return state.SkipWithError("dataset-fashion-mnist is not installed");
  data::LmdbReader r(train_lmdb());
  ufw::Datum d;
  std::vector<float> out(784);
  std::string_view k, v;
  for (auto _ : state) {
    if (!r.next_raw(k, v)) {
      r.rewind();
      r.next_raw(k, v);
    }
    if (!d.ParseFromArray(v.data(), static_cast<int>(v.size()))) state.SkipWithError("parse failed");
    std::copy(d.float_data().begin(), d.float_data().end(), out.begin());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 784 * 4);
}
BENCHMARK(BM_PeerProtobufParse);

// Floor: walking the cursor without decoding.
void BM_PeerCursorWalk(benchmark::State& state) {
  if (!fs::exists(kImages)) return state.SkipWithError("dataset-fashion-mnist is not installed");
  data::LmdbReader r(train_lmdb());
  std::string_view k, v;
  for (auto _ : state) {
    if (!r.next_raw(k, v)) {
      r.rewind();
      r.next_raw(k, v);
    }
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 784 * 4);
}
BENCHMARK(BM_PeerCursorWalk);

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(bench_dir(), ec);
  }
} cleanup;

}  // namespace

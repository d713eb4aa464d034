// Real models against ONNX Runtime: each shared model is imported as on_to_umodel does, run in
// the fp32 runtime on ort_bench.js's seeded input, and compared with ONNX Runtime's output on
// the same input: cosine >= 0.99999 and max-abs-diff <= 1e-3 * max|output|. Skips (with the
// reason printed) only when node or onnxruntime-node is not installed
// (install: $OCTET_SOURCE_DIR/../shared/bench/setup_peers.sh).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "octet/frontends/onnx/compare.hpp"
#include "octet/frontends/onnx/importer.hpp"

namespace fs = std::filesystem;
namespace ox = octet::frontends::onnx;

namespace {

fs::path shared_dir() { return fs::path(OCTET_SOURCE_DIR) / ".." / "shared"; }

bool ort_available(std::string& why) {
  if (std::system("node --version >/dev/null 2>&1") != 0) {
    why = "node is not installed";
    return false;
  }
  const char* home = std::getenv("HOME");
  const fs::path d = fs::path(home ? home : "/root") / ".cache/octet-peers/node_modules/onnxruntime-node";
  const char* env = std::getenv("ORT_NODE_DIR");
  if (!fs::exists(d) && !(env && fs::exists(fs::path(env) / "onnxruntime-node"))) {
    why = "onnxruntime-node is not installed (run " + (shared_dir() / "bench/setup_peers.sh").string() + ")";
    return false;
  }
  if (!fs::exists(shared_dir() / "bench/ort_bench.js")) {
    why = "shared/bench/ort_bench.js not found next to the repository";
    return false;
  }
  return true;
}

std::vector<float> run_ort(const fs::path& model, const octet::Shape& shape, const fs::path& out) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  const std::string cmd = "node '" + (shared_dir() / "bench/ort_bench.js").string() + "' '" + model.string() +
                          "' --shape " + s + " --seed 1 --iters 1 --warmup 0 --out '" + out.string() + "' >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream f(out, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string b = ss.str();
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

}  // namespace

TEST_CASE("imported models match ONNX Runtime", "[onnx][models][ort]") {
  std::string why;
  if (!ort_available(why)) {
    std::cout << "SKIP ORT parity: " << why << "\n";
    WARN("ORT parity skipped: " << why);
    return;
  }
  const fs::path models = shared_dir() / "models";
  struct M {
    const char* file;
    octet::Shape shape;
  };
  const std::vector<M> list = {{"resnet8.onnx", {1, 1, 28, 28}},
                               {"tv_resnet18.onnx", {1, 3, 224, 224}},
                               {"tv_mobilenet_v2.onnx", {1, 3, 224, 224}},
                               {"tv_squeezenet1_1.onnx", {1, 3, 224, 224}},
                               {"tv_shufflenet_v2_x1_0.onnx", {1, 3, 224, 224}}};
  // PyTorch exports of one mixed net at opsets 11, 13 and 17 (tests/models/data; ONNX Runtime
  // refuses the opset-9 export: its ceil-mode AveragePool pads are not smaller than the kernel).
  const std::vector<std::string> torch_mix = {"torch_mix_opset11.onnx",
                                              "torch_mix_opset13.onnx", "torch_mix_opset17.onnx"};
  const fs::path tmp = fs::temp_directory_path() / ("octet_ort_parity_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::vector<std::pair<fs::path, octet::Shape>> all;
  for (const auto& m : list) all.push_back({models / m.file, m.shape});
  for (const auto& f : torch_mix) all.push_back({fs::path(OCTET_SOURCE_DIR) / "tests/models/data" / f, {1, 3, 16, 16}});
  for (const auto& [path, shape] : all) {
    const M m{nullptr, shape};
    if (!fs::exists(path)) {
      FAIL("missing shared model " << path);
      continue;
    }
    ox::ImportOptions opt;
    opt.input_shapes = {m.shape};
    opt.source = path.string();
    opt.net_name = path.stem().string();
    const auto model = ox::load_model(path.string());
    const ox::ImportResult r = ox::import_onnx(model, opt);
    octet::engine::Net net(r.net, ox::onnx_runtime_registry());
    const auto in = ox::seeded_input(octet::shape_count(m.shape), 1);
    octet::engine::FloatTensor t(m.shape);
    std::copy(in.begin(), in.end(), t.data());
    net.set_input(r.inputs.at(0), t);
    net.forward();
    const auto& got = net.blob(r.outputs.at(0));
    const auto want = run_ort(path, m.shape, tmp / (opt.net_name + ".f32"));
    REQUIRE(static_cast<int64_t>(want.size()) == got.size());
    std::vector<double> ref(want.begin(), want.end());
    const auto d = ox::diff_values(r.outputs[0], ref, got.data(), 1e-3, 0.99999);
    std::cout << "ORT parity " << path.filename().string() << ": max_abs_diff " << d.max_abs_diff << " (max|out| " << d.max_ref
              << ") cosine " << std::setprecision(10) << d.cosine << "\n";
    CHECK(d.cosine >= 0.99999);
    CHECK(d.max_abs_diff <= 1e-3 * d.max_ref);
  }
  fs::remove_all(tmp);
}

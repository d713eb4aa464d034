// The Caffe-syntax ResNet example (BatchNorm+Scale, Eltwise, Concat, ceil-mode pooling) through
// the real layer families in default_registry(): builds, runs with random weights, survives a
// save/load round trip, is batch-independent, and reads the same in all three Caffe input
// spellings. If a layer family has not registered a type yet, the test says which.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "octet/engine/init_weights.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/net_bench.hpp"
#include "octet/ir/umodel.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::engine;

namespace {

const std::string kModel = std::string(OCTET_SOURCE_DIR) + "/examples/resnet_caffe/deploy.prototxt";

std::string missing_types(const ufw::NetParameter& p) {
  std::set<std::string> missing;
  for (const auto& l : p.layer())
    if (l.type() != "Input" && !default_registry().has(l.type())) missing.insert(l.type());
  std::string s;
  for (const auto& t : missing) s += (s.empty() ? "" : ", ") + t;
  return s;
}

FloatTensor random_input(Shape s, uint64_t seed) {
  std::mt19937 g(static_cast<unsigned>(seed));
  std::normal_distribution<float> d;
  FloatTensor t(std::move(s));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = d(g);
  return t;
}

std::vector<float> run(const ufw::NetParameter& p, const FloatTensor& x, const std::string& blob = "prob") {
  Net net(p);
  if (net.blob_shape(net.input_names()[0]) != x.shape()) net.reshape_input(net.input_names()[0], x.shape());
  net.set_input(net.input_names()[0], x);
  net.forward();
  const auto& t = net.blob(blob);
  return {t.data(), t.data() + t.size()};
}

}  // namespace

TEST_CASE("the example prototxt parses and its graph is what the comments say") {
  auto p = ir::load_prototxt(kModel);
  ir::Graph g(ir::filter_phase(p), kModel);
  CHECK(g.inputs() == std::vector<std::string>{"data"});
  CHECK(g.outputs() == std::vector<std::string>{"prob"});
  CHECK(ir::net_inputs(p)[0].shape == Shape{1, 3, 64, 64});
  // conv1 is written in place by its BatchNorm, Scale and ReLU.
  CHECK(g.producers("conv1").size() == 4);
}

TEST_CASE("Caffe ResNet example builds and runs with random weights on the real layers") {
  auto p = ir::load_prototxt(kModel);
  const std::string missing = missing_types(p);
  if (!missing.empty()) FAIL("layer types not registered in default_registry() yet: " << missing);

  const auto w = init_random_weights(p, 11);
  for (const auto& l : w.layer()) {
    if (l.type() != "BatchNorm") continue;
    REQUIRE(l.blobs_size() == 3);
    for (float v : l.blobs(1).data()) CHECK(v > 0.f);  // variance
    CHECK(l.blobs(2).data(0) == 1.f);                   // moving-average factor
  }
  Net net(w);
  CHECK(net.blob_shape("pool1") == Shape{1, 16, 16, 16});  // ceil rounding: floor would give 15
  CHECK(net.blob_shape("concat3") == Shape{1, 96, 8, 8});
  CHECK(net.output_names() == std::vector<std::string>{"prob"});
  CHECK(net.param_count() == 52963);
  CHECK(net.flops() > 0);

  const auto x = random_input({1, 3, 64, 64}, 5);
  net.set_input("data", x);
  net.forward();
  const auto& prob = net.blob("prob");
  REQUIRE(prob.shape() == Shape{1, 10});
  double sum = 0;
  for (int64_t i = 0; i < 10; ++i) {
    CHECK(std::isfinite(prob[i]));
    sum += prob[i];
  }
  CHECK(sum == Approx(1.0).epsilon(1e-5));
  // The in-place chain conv1 -> BN -> Scale -> ReLU leaves the ReLU output in "conv1".
  const auto& c1 = net.blob("conv1");
  CHECK(std::count_if(c1.data(), c1.data() + c1.size(), [](float v) { return v < 0.f; }) == 0);
  // Running again gives bit-identical results.
  const std::vector<float> first(prob.data(), prob.data() + 10);
  net.forward();
  CHECK(std::vector<float>(prob.data(), prob.data() + 10) == first);

  SECTION("save/load round trip runs identically") {
    const fs::path d = fs::temp_directory_path() / ("octet_test_resnet_" + std::to_string(::getpid()));
    fs::create_directories(d);
    ir::save_umodel(w, (d / "r.prototxt").string(), (d / "r.fp32umodel").string());
    const auto back = ir::load_umodel((d / "r.prototxt").string(), (d / "r.fp32umodel").string());
    CHECK(run(back, x) == first);
    fs::remove_all(d);
  }
  SECTION("batch rows are independent") {
    const auto x2 = random_input({1, 3, 64, 64}, 6);
    FloatTensor both({2, 3, 64, 64});
    std::copy(x.data(), x.data() + x.size(), both.data());
    std::copy(x2.data(), x2.data() + x2.size(), both.data() + x.size());
    const auto out = run(w, both);
    const auto second = run(w, x2);
    REQUIRE(out.size() == 20);
    for (size_t i = 0; i < 10; ++i) {
      CHECK(out[i] == Approx(first[i]).margin(1e-6));
      CHECK(out[10 + i] == Approx(second[i]).margin(1e-6));
    }
  }
  SECTION("input_dim and Input-layer spellings of the same net agree") {
    auto dims = w;
    dims.clear_input_shape();
    for (int d : {1, 3, 64, 64}) dims.add_input_dim(d);
    CHECK(run(dims, x) == first);

    ufw::NetParameter layer_style = w;
    layer_style.clear_input();
    layer_style.clear_input_shape();
    ufw::NetParameter tmp;
    auto* in = tmp.add_layer();
    in->set_name("data");
    in->set_type("Input");
    in->add_top("data");
    auto* shape = in->mutable_input_param()->add_shape();
    for (int d : {1, 3, 64, 64}) shape->add_dim(d);
    for (const auto& l : layer_style.layer()) *tmp.add_layer() = l;
    *layer_style.mutable_layer() = tmp.layer();
    CHECK(run(layer_style, x) == first);
  }
  SECTION("the benchmark loop runs this net") {
    fill_random_inputs(net, 2);
    const auto s = bench_forward(net, 2, 1);
    CHECK(s.batch == 1);
    CHECK(s.min_ms > 0);
  }
}

// graph_transform: unique tops, BN/Scale folding (conv, grouped deconv, FC), no-op removal,
// preprocessing fusion, and the fp32 verification that reports the worst blob.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "octet/data/lmdb.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/engine/net.hpp"
#include "octet/ir/umodel.hpp"
#include "octet/passes/graph_transform.hpp"

using namespace octet;

namespace {

ufw::NetParameter with_weights(const std::string& text, uint64_t seed = 7) {
  return engine::init_random_weights(ir::parse_prototxt(text), seed);
}

int count_type(const ufw::NetParameter& n, const std::string& t) {
  int c = 0;
  for (const auto& l : n.layer()) c += l.type() == t;
  return c;
}

const char* kConvNet = R"(
name: "t"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" batch_norm_param { eps: 0.001 } }
layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
layer { name: "drop" type: "Dropout" bottom: "c" top: "d" }
layer { name: "split" type: "Split" bottom: "d" top: "s1" top: "s2" }
layer { name: "flat" type: "Flatten" bottom: "s1" top: "f" flatten_param { axis: 1 } }
layer { name: "keep" type: "Reshape" bottom: "s2" top: "r" reshape_param { shape { dim: 0 dim: -1 } } }
layer { name: "same" type: "Reshape" bottom: "r" top: "r2" reshape_param { shape { dim: 0 dim: -1 } } }
layer { name: "sum" type: "Eltwise" bottom: "f" bottom: "r2" top: "out" }
)";

}  // namespace

TEST_CASE("unique_tops renames in-place tops and later readers follow", "[passes]") {
  const auto net = passes::unique_tops(ir::parse_prototxt(kConvNet));
  std::set<std::string> tops;
  for (const auto& l : net.layer()) {
    for (const auto& t : l.top()) {
      CHECK(tops.insert(t).second);
      CHECK(std::find(l.bottom().begin(), l.bottom().end(), t) == l.bottom().end());
    }
  }
  CHECK(net.layer(2).top(0) == "c_bn");
  CHECK(net.layer(3).bottom(0) == "c_bn");
  CHECK(net.layer(5).bottom(0) == "c_relu");  // dropout reads the newest version
}

TEST_CASE("graph_transform folds BN+Scale, drops no-ops and keeps the function", "[passes]") {
  const auto orig = with_weights(kConvNet);
  passes::TransformReport rep;
  const auto opt = passes::graph_transform(orig, {}, rep);
  CHECK(count_type(opt, "BatchNorm") == 0);
  CHECK(count_type(opt, "Scale") == 0);
  CHECK(count_type(opt, "Dropout") == 0);
  CHECK(count_type(opt, "Split") == 0);
  CHECK(count_type(opt, "Reshape") == 1);  // "same" is an identity reshape; "keep" changes the shape
  CHECK(rep.merged.size() == 1);
  const auto& conv = opt.layer(1);
  REQUIRE(conv.type() == "Convolution");
  CHECK(conv.blobs_size() == 2);
  CHECK(conv.convolution_param().bias_term());
  CHECK(conv.top(0) == "c_sc");  // takes over the Scale's (renamed) top

  const auto ref = passes::unique_tops(orig);
  const auto v = passes::verify(ref, opt, 2, 1e-5, true);
  CHECK(v.ok);
  CHECK(v.compared >= 4);
  CHECK(v.worst_rel < 1e-5);
}

TEST_CASE("verify names the blob that differs", "[passes]") {
  const auto orig = with_weights(kConvNet);
  passes::TransformReport rep;
  auto opt = passes::graph_transform(orig, {}, rep);
  auto* w = opt.mutable_layer(1)->mutable_blobs(0);
  w->set_data(0, w->data(0) + 0.5f);
  const auto v = passes::verify(passes::unique_tops(orig), opt, 1, 1e-3, true);
  CHECK_FALSE(v.ok);
  CHECK(v.worst_blob == "c_sc");
  CHECK(v.worst_rel > 1e-3);
}

TEST_CASE("notmerge_conv_layer leaves the conv and its BN alone", "[passes]") {
  passes::TransformOptions o;
  o.notmerge.insert("conv");
  passes::TransformReport rep;
  const auto opt = passes::graph_transform(with_weights(kConvNet), o, rep);
  CHECK(count_type(opt, "BatchNorm") == 1);
  CHECK(rep.merged.empty());
}

TEST_CASE("BN folds into grouped Deconvolution and InnerProduct", "[passes]") {
  const char* text = R"(
name: "t"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }
layer { name: "dc" type: "Deconvolution" bottom: "x" top: "y"
  convolution_param { num_output: 6 kernel_size: 2 stride: 2 group: 2 } }
layer { name: "sc" type: "Scale" bottom: "y" top: "y2" scale_param { bias_term: true } }
layer { name: "fc" type: "InnerProduct" bottom: "y2" top: "z" inner_product_param { num_output: 5 } }
layer { name: "bn" type: "BatchNorm" bottom: "z" top: "z2" }
)";
  const auto orig = with_weights(text, 11);
  passes::TransformReport rep;
  const auto opt = passes::graph_transform(orig, {}, rep);
  CHECK(count_type(opt, "Scale") == 0);
  CHECK(count_type(opt, "BatchNorm") == 0);
  const auto v = passes::verify(passes::unique_tops(orig), opt, 2, 1e-5, true);
  CHECK(v.ok);
  CHECK(v.worst_rel < 1e-5);
}

TEST_CASE("a Scale read twice is not folded", "[passes]") {
  const char* text = R"(
name: "t"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "sc" type: "Scale" bottom: "c" top: "s" scale_param { bias_term: true } }
layer { name: "r" type: "ReLU" bottom: "c" top: "r" }
)";
  passes::TransformReport rep;
  const auto opt = passes::graph_transform(with_weights(text), {}, rep);
  CHECK(count_type(opt, "Scale") == 1);
}

TEST_CASE("fuse_preprocess folds mean/scale into an unpadded first conv", "[passes]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("octet_fuse_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    data::LmdbWriter w(dir);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.f, 255.f);
    for (int r = 0; r < 3; ++r) {
      std::vector<float> v(2 * 5 * 5);
      for (auto& x : v) x = u(rng);
      w.put(data::Sample::from<float>({1, 2, 5, 5}, v, DType::F32, r));
    }
    w.close();
  }
  const std::string text = R"(
name: "t"
layer { name: "data" type: "Data" top: "x" top: "label" include { phase: TEST }
  transform_param { scale: 0.0125 mean_value: 100 mean_value: 20 }
  data_param { source: ")" + dir.string() + R"(" batch_size: 0 backend: LMDB } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 3 kernel_size: 3 } }
layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
)";
  const auto orig = with_weights(text, 5);
  passes::TransformOptions o;
  o.fuse_preprocess = true;
  passes::TransformReport rep;
  const auto opt = passes::graph_transform(orig, o, rep);
  CHECK_FALSE(opt.layer(0).transform_param().has_scale());
  CHECK(opt.layer(0).transform_param().mean_value_size() == 0);
  const auto v = passes::verify(passes::unique_tops(orig), opt, 3, 1e-4, false);
  CHECK(v.ok);
  CHECK(v.compared >= 2);
  fs::remove_all(dir);
}

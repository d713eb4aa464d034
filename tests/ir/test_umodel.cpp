// The umodel pair: prototxt parse errors with positions, weights merge by name (Caffe's
// CopyTrainedLayersFrom), save/load round trip, corrupt and mismatched weights.
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../test_util.hpp"
#include "octet/ir/umodel.hpp"

namespace fs = std::filesystem;
using namespace octet;
using octet::test::scratch_dir;

namespace {

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

const char* kNet = R"(
name: "tiny"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer {
  name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 }
}
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer {
  name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc"
  inner_product_param { num_output: 2 }
}
)";

ufw::BlobProto filled(const Shape& s, float base) {
  ufw::BlobProto b;
  ir::set_blob_shape(b, s);
  for (int64_t i = 0; i < shape_count(s); ++i) b.add_data(base + static_cast<float>(i));
  return b;
}

ufw::NetParameter weights_for_tiny() {
  ufw::NetParameter w;
  auto* c = w.add_layer();
  c->set_name("conv1");
  c->set_type("Convolution");
  *c->add_blobs() = filled({4, 3, 3, 3}, 0.5f);
  *c->add_blobs() = filled({4}, -1.f);
  auto* f = w.add_layer();
  f->set_name("fc");
  f->set_type("InnerProduct");
  *f->add_blobs() = filled({2, 256}, 0.f);
  *f->add_blobs() = filled({2}, 3.f);
  auto* extra = w.add_layer();  // absent from the prototxt: ignored, as Caffe does
  extra->set_name("loss_only_in_training");
  *extra->add_blobs() = filled({7}, 1.f);
  return w;
}

}  // namespace

TEST_CASE("prototxt parses, and a syntax error names file, line and column") {
  auto net = ir::parse_prototxt(kNet, "tiny.prototxt");
  REQUIRE(net.layer_size() == 3);
  CHECK(net.layer(0).convolution_param().num_output() == 4);

  const std::string bad = "name: \"x\"\nlayer {\n  name: \"a\"\n  typo_field: 3\n}\n";
  try {
    ir::parse_prototxt(bad, "bad.prototxt");
    FAIL("expected a parse error");
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    CHECK(msg.rfind("bad.prototxt:4:", 0) == 0);
    CHECK(msg.find("typo_field") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("V1 'layers' prototxt gets an explanation") {
  try {
    ir::parse_prototxt("layers { name: \"a\" type: CONVOLUTION }\n", "old.prototxt");
    FAIL("expected a parse error");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("V1") != std::string::npos);
    CHECK(std::string(e.what()).rfind("old.prototxt:1:", 0) == 0);
  }
}

TEST_CASE("load_prototxt on a missing file is an IoError naming it") {
  CHECK_THROWS_AS(ir::load_prototxt("/nonexistent/dir/net.prototxt"), IoError);
  CHECK_THROWS_WITH(ir::load_prototxt("/nonexistent/dir/net.prototxt"),
                    Catch::Contains("/nonexistent/dir/net.prototxt"));
}

TEST_CASE("weights merge by layer name and ignore unknown layers") {
  auto net = ir::parse_prototxt(kNet);
  ir::MergeReport rep = ir::merge_weights(net, weights_for_tiny(), "w.fp32umodel");
  CHECK(rep.merged == std::vector<std::string>{"conv1", "fc"});
  CHECK(rep.ignored == std::vector<std::string>{"loss_only_in_training"});
  REQUIRE(net.layer(0).blobs_size() == 2);
  CHECK(ir::blob_shape(net.layer(0).blobs(0)) == Shape{4, 3, 3, 3});
  CHECK(net.layer(0).blobs(1).data(2) == -1.f + 2);
  CHECK(net.layer(1).blobs_size() == 0);
  CHECK(net.layer(2).blobs(1).data(0) == 3.f);
}

TEST_CASE("save then load gives the same net, prototxt without blobs, both written atomically") {
  const fs::path d = scratch_dir("roundtrip");
  auto net = ir::parse_prototxt(kNet);
  ir::merge_weights(net, weights_for_tiny());
  ir::save_umodel(net, d / "tiny.prototxt", d / "tiny.fp32umodel");
  // Nothing but the two outputs: the temporaries were renamed away.
  CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator()) == 2);

  auto topo = ir::load_prototxt(d / "tiny.prototxt");
  for (const auto& l : topo.layer()) CHECK(l.blobs_size() == 0);
  auto back = ir::load_umodel(d / "tiny.prototxt", d / "tiny.fp32umodel");
  CHECK(google::protobuf::util::MessageDifferencer::Equals(back, net));
}

TEST_CASE("a blob count or shape mismatch names file, layer and both shapes") {
  auto net = ir::parse_prototxt(kNet);
  ir::merge_weights(net, weights_for_tiny());
  auto w = weights_for_tiny();
  *w.mutable_layer(0)->mutable_blobs(0) = filled({4, 3, 5, 5}, 0.f);
  CHECK_THROWS_WITH(ir::merge_weights(net, w, "other.fp32umodel"),
                    Catch::Contains("other.fp32umodel") && Catch::Contains("layer conv1") &&
                        Catch::Contains("[4,3,5,5]") && Catch::Contains("[4,3,3,3]"));
  w = weights_for_tiny();
  w.mutable_layer(0)->mutable_blobs()->RemoveLast();
  CHECK_THROWS_WITH(ir::merge_weights(net, w, "other.fp32umodel"),
                    Catch::Contains("layer conv1") && Catch::Contains("1 blobs"));
}

TEST_CASE("legacy 4-D blobs and double data from old caffemodels are accepted") {
  auto net = ir::parse_prototxt(kNet);
  ir::merge_weights(net, weights_for_tiny());
  ufw::NetParameter w;
  auto* f = w.add_layer();
  f->set_name("fc");
  auto* b0 = f->add_blobs();
  b0->set_num(1);
  b0->set_channels(1);
  b0->set_height(2);
  b0->set_width(256);
  for (int i = 0; i < 512; ++i) b0->add_double_data(0.25 * i);
  *f->add_blobs() = filled({2}, 0.f);
  ir::merge_weights(net, w);
  CHECK(net.layer(2).blobs(0).data_size() == 512);
  CHECK(net.layer(2).blobs(0).double_data_size() == 0);
  CHECK(net.layer(2).blobs(0).data(4) == 1.0f);
}

TEST_CASE("truncated, empty and non-umodel weights files are errors naming the file") {
  const fs::path d = scratch_dir("truncated");
  std::string bytes;
  weights_for_tiny().SerializeToString(&bytes);
  write_text(d / "cut.fp32umodel", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(ir::load_weights(d / "cut.fp32umodel"),
                    Catch::Contains("cut.fp32umodel") && Catch::Contains("truncated"));
  write_text(d / "empty.fp32umodel", "");
  CHECK_THROWS_WITH(ir::load_weights(d / "empty.fp32umodel"), Catch::Contains("empty"));
  write_text(d / "text.fp32umodel", kNet);
  CHECK_THROWS_AS(ir::load_weights(d / "text.fp32umodel"), ModelError);

  // Cut at every length: never crash, never silently accept a blob with missing values.
  for (size_t n = 1; n < bytes.size(); n += 7) {
    try {
      auto w = ir::parse_weights(bytes.substr(0, n), "cut");
      for (const auto& l : w.layer())
        for (const auto& b : l.blobs()) CHECK((ir::blob_value_count(b) == 0 ||
                                               ir::blob_value_count(b) == ir::blob_element_count(b)));
    } catch (const ModelError&) {
    }
  }
}

TEST_CASE("a V1-format caffemodel is reported as such") {
  // Field 2 (V1 layers) holding an empty message: tag (2<<3)|2 = 0x12, length 0.
  const std::string v1("\x12\x00", 2);
  CHECK_THROWS_WITH(ir::parse_weights(v1, "old.caffemodel"), Catch::Contains("V1"));
}

TEST_CASE("int8 quantisation fields travel in the weights file and override the prototxt") {
  auto net = ir::parse_prototxt(kNet);
  ir::merge_weights(net, weights_for_tiny(), "w.fp32umodel");
  // A layer with blobs and one without (layer 1) both carry int8 fields.
  auto* conv = net.mutable_layer(0);
  conv->add_top_quant()->set_threshold(4.f);
  conv->mutable_int8_param()->add_multiplier(1 << 30);
  net.mutable_layer(1)->add_top_quant()->set_threshold(2.5f);
  const std::string bytes = ir::weights_bytes(net);

  auto fresh = ir::parse_prototxt(kNet);
  fresh.mutable_layer(0)->add_top_quant()->set_threshold(99.f);  // stale value in the prototxt
  ir::merge_weights(fresh, ir::parse_weights(bytes, "w.int8umodel"), "w.int8umodel");
  REQUIRE(fresh.layer(0).top_quant_size() == 1);
  CHECK(fresh.layer(0).top_quant(0).threshold() == 4.f);
  CHECK(fresh.layer(0).int8_param().multiplier(0) == (1 << 30));
  REQUIRE(fresh.layer(1).top_quant_size() == 1);
  CHECK(fresh.layer(1).top_quant(0).threshold() == 2.5f);
  CHECK(fresh.layer(0).blobs_size() == 2);
}
